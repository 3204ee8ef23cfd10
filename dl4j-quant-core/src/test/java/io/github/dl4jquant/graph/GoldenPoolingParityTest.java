package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.quantized.QuantizedPooling;
import io.github.dl4jquant.testing.Golden;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.Subsampling1DLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch 1.13's pooling on quint8 tensors ({@code pool_ref.json}): max and average pooling (2-D with and without
 * padding, the divisor counting the padding or not, global average, 1-D), each rebuilt as a one-layer DL4J graph
 * (SubsamplingLayer, GlobalPoolingLayer, Subsampling1DLayer), prepared with MinMax quint8 activations as the
 * generator observed the input, calibrated on the case's input and converted. The input qparams must be PyTorch's;
 * the pooling keeps them for its output; the reference model's and the int8 QuantizedPooling's integers must be
 * within one step of both PyTorch's quantized op ({@code quantized_y_int_repr}) and PyTorch's reference
 * ({@code reference_y_int_repr}, float pooling of the dequantized input, requantized).
 */
class GoldenPoolingParityTest {

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : Golden.load("pool_ref.json").get("cases")) {
            out.add(Arguments.of(c.get("name").asText(), c));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void referencePoolingMatchesPyTorchIntegers(String name, JsonNode c) {
        checkAgainstPyTorch(name, c, false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void int8PoolingMatchesPyTorchIntegers(String name, JsonNode c) {
        checkAgainstPyTorch(name, c, true);
    }

    private static void checkAgainstPyTorch(String name, JsonNode c, boolean lowered) {
        INDArray x = Golden.tensor(c.get("input"));
        ComputationGraph fp32 = singlePooling(c);
        PreparedModel p = Quantizer.prepare(fp32, GoldenConvParityTest.minMaxMapping(),
                BackendConfigs.getX86BackendConfig());
        p.calibrate(x);
        ReportEntry e = p.report().entry("pool");
        assertEquals(ReportEntry.Status.QUANTIZED, e.status(), p.report().toString());
        double scale = c.get("input_scale").asDouble();
        int zp = c.get("input_zero_point").asInt();
        assertEquals(scale, e.inputQParams().scale(), 1e-6 * scale, "input scale");
        assertEquals(zp, e.inputQParams().zeroPoint(), "input zero point");
        QParams out = e.outputQParams();
        assertEquals(e.inputQParams().scale(), out.scale(), 0.0, "pooling shares its input's qparams");
        assertEquals(zp, out.zeroPoint(), "pooling shares its input's zero point");

        ComputationGraph q = lowered ? Quantizer.convert(p) : Quantizer.convertToReference(p);
        if (lowered) {
            assertEquals(QuantizedPooling.class, q.getLayer("pool").conf().getLayer().getClass(),
                    "the int8 pooling runs: " + p.report());
        }
        int[] got = GoldenConvParityTest.intRepr(q.outputSingle(x), out);
        for (String target : new String[] {"quantized_y_int_repr", "reference_y_int_repr"}) {
            int[] expected = GoldenConvParityTest.ints(Golden.tensor(c.get(target)));
            assertEquals(expected.length, got.length, "output size");
            int worst = 0;
            for (int i = 0; i < expected.length; i++) {
                worst = Math.max(worst, Math.abs(expected[i] - got[i]));
            }
            assertTrue(worst <= 1, name + ": an output differs from PyTorch's " + target + " by " + worst
                    + " steps");
        }
    }

    /** The case as a one-layer DL4J graph: NCHW images, or NCW sequences for the 1-D ops. */
    static ComputationGraph singlePooling(JsonNode c) {
        String op = c.get("op").asText();
        boolean max = op.startsWith("max");
        PoolingType type = max ? PoolingType.MAX : PoolingType.AVG;
        Layer pool;
        if (op.equals("adaptive_avg_pool2d")) {
            pool = new GlobalPoolingLayer.Builder(PoolingType.AVG).collapseDimensions(false).build();
        } else if (op.endsWith("1d")) {
            // not new Subsampling1DLayer.Builder(type): in DL4J 1.0.0-M2.1 that constructor (taking
            // org.deeplearning4j.nn.conf.layers.PoolingType) drops the type and the layer max-pools; poolingType() sets it
            Subsampling1DLayer.Builder b = new Subsampling1DLayer.Builder().poolingType(type)
                    .kernelSize(c.get("kernel").get(0).asInt()).stride(c.get("stride").get(0).asInt())
                    .padding(c.get("padding").get(0).asInt());
            if (!max) {
                b.avgPoolIncludePadInDivisor(c.get("count_include_pad").asBoolean());
            }
            pool = b.convolutionMode(ConvolutionMode.Truncate).build();
            assertEquals(type, ((Subsampling1DLayer) pool).getPoolingType(), "DL4J kept the pooling type");
        } else {
            SubsamplingLayer.Builder b = new SubsamplingLayer.Builder(type).kernelSize(Golden.ints(c.get("kernel")))
                    .stride(Golden.ints(c.get("stride"))).padding(Golden.ints(c.get("padding")));
            if (!max) {
                // DL4J: true divides by the whole window, padding included = PyTorch's count_include_pad
                b.avgPoolIncludePadInDivisor(c.get("count_include_pad").asBoolean());
            }
            pool = b.convolutionMode(ConvolutionMode.Truncate).build();
        }
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .graphBuilder().addInputs("in").addLayer("pool", pool, "in").setOutputs("pool").build());
        g.init();
        return g;
    }
}
