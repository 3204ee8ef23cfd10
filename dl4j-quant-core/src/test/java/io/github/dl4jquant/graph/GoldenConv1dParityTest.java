package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.WeightLayouts;
import io.github.dl4jquant.testing.Golden;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch 1.13's reference quantized Conv1d ({@code conv1d_ref.json}): each case is rebuilt as a one-layer DL4J
 * graph with a Convolution1DLayer (input {@code [N, C, L]}, NCW), PyTorch's OIW weight converted to the layout DL4J's
 * forward pass reads with {@link WeightLayouts#fromObservedWeight}, prepared with the observers PyTorch used (MinMax
 * quint8 activations, per-channel symmetric qint8 weights), calibrated on the case's input and converted: the input
 * and weight qparams and the output integers (reference and int8) must be PyTorch's reference integers.
 */
class GoldenConv1dParityTest {

    /** The cases DL4J's own float layer can run (see {@link #dl4jItselfCannotRunADilatedConvolution1d}). */
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : Golden.load("conv1d_ref.json").get("cases")) {
            if (!isDilated(c)) {
                out.add(Arguments.of(c.get("name").asText(), c));
            }
        }
        return out.stream();
    }

    private static boolean isDilated(JsonNode c) {
        return c.get("dilation").get(0).asInt() != 1;
    }

    /**
     * DL4J 1.0.0-M2.1's own float Convolution1DLayer cannot run a dilated convolution on this build: its oneDNN helper
     * fails with "could not create a descriptor for a dilated convolution forward propagation primitive", before
     * anything of ours runs (calibration needs the float forward pass). Should DL4J fix it, this fails and the dilated
     * cases join the others.
     */
    @org.junit.jupiter.api.Test
    void dl4jItselfCannotRunADilatedConvolution1d() {
        JsonNode dilated = null;
        for (JsonNode c : Golden.load("conv1d_ref.json").get("cases")) {
            dilated = isDilated(c) ? c : dilated;
        }
        INDArray x = Golden.tensor(dilated.get("input"));
        ComputationGraph fp32 = singleConvolution1d(dilated, x.size(1));
        org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> fp32.outputSingle(x));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void fp32RebuildComputesPyTorchsConvolution(String name, JsonNode c) {
        // sanity of the weight layout: DL4J's float Conv1D on the unquantized input and weight is within a few
        // output steps of the generator's y_float_before_output_quant (which used the quantize-dequantized ones)
        INDArray x = Golden.tensor(c.get("input"));
        ComputationGraph fp32 = singleConvolution1d(c, x.size(1));
        double step = c.get("output_scale").asDouble();
        INDArray y = fp32.outputSingle(x);
        INDArray expected = Golden.tensor(c.get("y_float_before_output_quant"));
        assertEquals(java.util.Arrays.toString(expected.shape()), java.util.Arrays.toString(y.shape()), "shape");
        double maxDiff = y.sub(expected).amaxNumber().doubleValue();
        assertTrue(maxDiff < 8 * step, name + ": fp32 DL4J conv1d far from PyTorch's (" + maxDiff
                + "): weight layout wrong?");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void referenceConvolution1dMatchesPyTorchIntegers(String name, JsonNode c) {
        checkAgainstPyTorch(name, c, false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void int8Convolution1dMatchesPyTorchIntegers(String name, JsonNode c) {
        checkAgainstPyTorch(name, c, true);
    }

    private static void checkAgainstPyTorch(String name, JsonNode c, boolean lowered) {
        INDArray x = Golden.tensor(c.get("input"));
        ComputationGraph fp32 = singleConvolution1d(c, x.size(1));
        PreparedModel p = Quantizer.prepare(fp32, GoldenConvParityTest.minMaxMapping(),
                BackendConfigs.getX86BackendConfig());
        p.calibrate(x);
        ReportEntry e = p.report().entry("conv");
        assertEquals(ReportEntry.Status.QUANTIZED, e.status(), e.toString());
        double inScale = c.get("input_scale").asDouble();
        assertEquals(inScale, e.inputQParams().scale(), 1e-6 * inScale, "input scale");
        assertEquals(c.get("input_zero_point").asInt(), e.inputQParams().zeroPoint(), "input zero point");
        float[] wScales = Golden.floats(c.get("weight_scales"));
        float[] ours = e.weightQParams().scales();
        assertEquals(wScales.length, ours.length, "one weight scale per output channel");
        for (int i = 0; i < wScales.length; i++) {
            assertEquals(wScales[i], ours[i], 1e-6 * wScales[i], "weight scale " + i);
        }

        QParams out = QParams.perTensor((float) c.get("output_scale").asDouble(), c.get("output_zero_point").asInt(),
                QuantDType.QUINT8);
        ComputationGraph q = lowered
                ? Quantizer.convert(p, GoldenConvParityTest.withOutputQParams(p, out))
                : Quantizer.convertToReference(p, GoldenConvParityTest.withOutputQParams(p, out));
        if (lowered) {
            assertEquals("QuantizedConvolution", q.getLayer("conv").conf().getLayer().getClass().getSimpleName(),
                    "the int8 layer runs");
        }
        INDArray y = q.outputSingle(x);
        int[] expected = GoldenConvParityTest.ints(Golden.tensor(c.get("y_int_repr")));
        int[] got = GoldenConvParityTest.intRepr(y, out);
        assertEquals(expected.length, got.length, "output size");
        int off = 0;
        int worst = 0;
        for (int i = 0; i < expected.length; i++) {
            int d = Math.abs(expected[i] - got[i]);
            off += d > 0 ? 1 : 0;
            worst = Math.max(worst, d);
        }
        assertTrue(worst <= 1, name + ": an output differs from PyTorch's by " + worst + " steps");
        assertTrue(off <= Math.max(1, expected.length / 100), name + ": " + off + " of " + expected.length
                + " outputs one step off (at most 1% allowed, from float summation order)");
    }

    /**
     * The case as a DL4J graph: a Convolution1DLayer with PyTorch's weight [out, in, k] given to
     * {@link WeightLayouts#fromObservedWeight} as [out, in, k, 1] (DL4J reads its stored [out, in, k, 1] memory as
     * [k, in, out]).
     */
    static ComputationGraph singleConvolution1d(JsonNode c, long channels) {
        INDArray w = Golden.tensor(c.get("weight"));
        long out = w.size(0);
        int k = (int) w.size(2);
        INDArray b = Golden.tensor(c.get("bias")).reshape(1, out);
        assertEquals(1, c.get("groups").asInt(), "grouped 1-D convolutions are not mapped");
        Activation act = c.get("relu").asBoolean() ? Activation.RELU : Activation.IDENTITY;
        Convolution1DLayer conv = new Convolution1DLayer.Builder().kernelSize(k)
                .stride(c.get("stride").get(0).asInt()).padding(c.get("padding").get(0).asInt())
                .dilation(c.get("dilation").get(0).asInt()).nIn(channels).nOut(out)
                .convolutionMode(ConvolutionMode.Truncate).activation(act).build();
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .graphBuilder().addInputs("in").addLayer("conv", conv, "in").setOutputs("conv").build());
        g.init();
        INDArray dl4jW = WeightLayouts.fromObservedWeight(conv, w.reshape('c', out, channels, k, 1));
        g.getLayer("conv").setParam("W", dl4jW.reshape('c', g.getLayer("conv").getParam("W").shape()));
        g.getLayer("conv").setParam("b", b);
        return g;
    }
}
