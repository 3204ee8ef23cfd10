package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.testing.Golden;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch 1.13's reference quantized Conv2d ({@code conv_ref.json}, {@code conv_ref_extra.json}): each case is rebuilt as a one-layer DL4J graph
 * (a ConvolutionLayer, or a DepthwiseConvolution2D for {@code groups == in_channels}), prepared with the observers
 * PyTorch used (MinMax quint8 activations, per-channel symmetric qint8 weights on the output channel), calibrated
 * on the case's input and converted; the observers' qparams and the output integers must be PyTorch's.
 */
class GoldenConvParityTest {

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : Golden.load("conv_ref.json").get("cases")) {
            out.add(Arguments.of(c.get("name").asText(), c));
        }
        // more cases from the same generator (dilation, 1x1, padding "same", stride 2 with ReLU, one input channel)
        for (JsonNode c : Golden.load("conv_ref_extra.json").get("cases")) {
            out.add(Arguments.of("extra " + c.get("name").asText(), c));
        }
        return out.stream();
    }

    static QConfigMapping minMaxMapping() {
        QConfig q = new QConfig(MinMaxObserver.builder().dtype(QuantDType.QUINT8).qscheme(QScheme.PER_TENSOR_AFFINE),
                PerChannelMinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_CHANNEL_SYMMETRIC)
                        .chAxis(0));
        return new QConfigMapping().setGlobal(q);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void referenceConvolutionMatchesPyTorchIntegers(String name, JsonNode c) {
        checkAgainstPyTorch(name, c, false);
    }

    /** The int8 kernel against PyTorch's reference integers: the same tolerance as the reference module. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void int8ConvolutionMatchesPyTorchIntegers(String name, JsonNode c) {
        checkAgainstPyTorch(name, c, true);
    }

    private static void checkAgainstPyTorch(String name, JsonNode c, boolean lowered) {
        INDArray x = Golden.tensor(c.get("input"));
        ComputationGraph fp32 = singleConvolution(c, x.size(1));
        PreparedModel p = Quantizer.prepare(fp32, minMaxMapping(), BackendConfigs.getX86BackendConfig());
        p.calibrate(x);
        ReportEntry e = p.report().entry("conv");
        assertEquals(ReportEntry.Status.QUANTIZED, e.status(), e.toString());
        assertQParams(c.get("input_scale").asDouble(), c.get("input_zero_point").asInt(), e.inputQParams(), "input");
        float[] wScales = Golden.floats(c.get("weight_scales"));
        float[] ours = e.weightQParams().scales();
        for (int i = 0; i < wScales.length; i++) {
            assertEquals(wScales[i], ours[i], 1e-6 * wScales[i], "weight scale " + i);
        }

        // the generator took the output qparams from the reference conv's own float output: use them as given
        QParams out = QParams.perTensor((float) c.get("output_scale").asDouble(), c.get("output_zero_point").asInt(),
                QuantDType.QUINT8);
        ComputationGraph q = lowered ? Quantizer.convert(p, withOutputQParams(p, out))
                : Quantizer.convertToReference(p, withOutputQParams(p, out));
        assertEquals(lowered ? "QuantizedConvolution" : "", lowered ? q.getLayer("conv").conf().getLayer().getClass()
                .getSimpleName() : "", "the int8 layer runs");
        INDArray y = q.outputSingle(x);
        int[] expected = ints(Golden.tensor(c.get("y_int_repr")));
        int[] got = intRepr(y, out);
        assertEquals(expected.length, got.length, "output size");
        int off = 0;
        int worst = 0;
        for (int i = 0; i < expected.length; i++) {
            int d = Math.abs(expected[i] - got[i]);
            off += d > 0 ? 1 : 0;
            worst = Math.max(worst, d);
        }
        assertTrue(worst <= 1, name + ": an output differs from PyTorch's by " + worst + " steps");
        assertTrue(off <= expected.length / 100, name + ": " + off + " of " + expected.length
                + " outputs one step off (at most 1% allowed, from float summation order)");
    }

    /** The built-in conversion of the one matched convolution, with output qparams given by PyTorch's file. */
    static ConvertCustomConfig withOutputQParams(PreparedModel p, QParams out) {
        return new ConvertCustomConfig().registerPatternHandler(
                p.plans().get("conv").match().matchedConfig().getPattern(),
                ctx -> PatternHandlers.convolution().convert(ctx.withOutputQParams(out)));
    }

    private static void assertQParams(double scale, int zp, QParams ours, String what) {
        assertEquals(scale, ours.scale(), 1e-6 * scale, what + " scale");
        assertEquals(zp, ours.zeroPoint(), what + " zero point");
    }

    /** The case as a DL4J graph with PyTorch's weights: OIHW as is, or [C*m, 1, kH, kW] to [kH, kW, C, m]. */
    static ComputationGraph singleConvolution(JsonNode c, long channels) {
        INDArray w = Golden.tensor(c.get("weight"));
        INDArray b = Golden.tensor(c.get("bias")).reshape(1, w.size(0));
        int groups = c.get("groups").asInt();
        int[] k = {(int) w.size(2), (int) w.size(3)};
        int[] stride = Golden.ints(c.get("stride"));
        int[] dilation = Golden.ints(c.get("dilation"));
        boolean same = c.get("padding").isTextual();
        int[] padding = same ? new int[] {0, 0} : Golden.ints(c.get("padding"));
        Activation act = c.get("relu").asBoolean() ? Activation.RELU : Activation.IDENTITY;
        ConvolutionMode mode = same ? ConvolutionMode.Same : ConvolutionMode.Truncate;
        Layer conv;
        INDArray dl4jW;
        if (groups == 1) {
            conv = new ConvolutionLayer.Builder(k, stride, padding).dilation(dilation).nIn(channels).nOut(w.size(0))
                    .convolutionMode(mode).activation(act).build();
            dl4jW = w;
        } else {
            long m = w.size(0) / channels;
            conv = new DepthwiseConvolution2D.Builder(k, stride, padding).dilation(dilation).nIn(channels)
                    .depthMultiplier((int) m).convolutionMode(mode).activation(act).build();
            dl4jW = w.reshape('c', channels * m, k[0], k[1]).permute(1, 2, 0).dup('c')
                    .reshape('c', k[0], k[1], channels, m);
        }
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .graphBuilder().addInputs("in").addLayer("conv", conv, "in").setOutputs("conv").build());
        g.init();
        g.getLayer("conv").setParam("W", dl4jW);
        g.getLayer("conv").setParam("b", b);
        return g;
    }

    static int[] intRepr(INDArray dequantized, QParams q) {
        float[] v = dequantized.castTo(DataType.FLOAT).dup('c').data().asFloat();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.round(v[i] / q.scale()) + q.zeroPoint();
        }
        return out;
    }

    static int[] ints(INDArray a) {
        float[] v = a.dup('c').data().asFloat();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.round(v[i]);
        }
        return out;
    }
}
