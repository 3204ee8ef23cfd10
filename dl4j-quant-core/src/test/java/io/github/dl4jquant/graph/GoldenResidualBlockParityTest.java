package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.quantized.QuantizedAdd;
import io.github.dl4jquant.nn.quantized.QuantizedConvolution;
import io.github.dl4jquant.testing.Golden;
import java.util.HashMap;
import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * PyTorch 1.13 quantized a residual CNN end to end with FX ({@code cnn_residual_block_e2e.json}, made by
 * {@code src/test/python/gen_golden_residual.py}): conv-bn-relu, a basic block whose add and ReLU FX fuses into
 * {@code quantized::add_relu}, global average pooling, linear. Rebuilt in DL4J with the same weights (batch norms and
 * ReLUs as layers, the shortcut an {@code ElementWiseVertex(Add)}), quantized with the same observers on the same
 * calibration data: every activation's qparams, and the reference and int8 outputs, must be PyTorch's.
 */
class GoldenResidualBlockParityTest {
    private static JsonNode golden;
    private static PreparedModel prepared;

    @BeforeAll
    static void calibrate() {
        golden = Golden.load("cnn_residual_block_e2e.json");
        ComputationGraph fp32 = build(golden.get("weights"));
        prepared = Quantizer.prepare(fp32, GoldenCnnParityTest.pytorch113Mapping(),
                BackendConfigs.getFbgemmBackendConfig()).calibrate(Golden.tensor(golden.get("calibration_input")));
    }

    private static ComputationGraph build(JsonNode w) {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .graphBuilder()
                .addInputs("x")
                .setInputTypes(InputType.convolutional(12, 12, 1))
                .addLayer("conv1", conv(), "x")
                .addLayer("bn1", new BatchNormalization.Builder().eps(1e-5).build(), "conv1")
                .addLayer("relu1", new ActivationLayer(Activation.RELU), "bn1")
                .addLayer("conv2", conv(), "relu1")
                .addLayer("bn2", new BatchNormalization.Builder().eps(1e-5).build(), "conv2")
                .addLayer("relu2", new ActivationLayer(Activation.RELU), "bn2")
                .addLayer("conv3", conv(), "relu2")
                .addLayer("bn3", new BatchNormalization.Builder().eps(1e-5).build(), "conv3")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "bn3", "relu1")
                .addLayer("relu", new ActivationLayer(Activation.RELU), "add")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "relu")
                .addLayer("fc", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(4)
                        .activation(Activation.IDENTITY).build(), "pool")
                .setOutputs("fc")
                .build());
        g.init();
        for (String c : new String[] {"conv1", "conv2", "conv3"}) {
            g.getLayer(c).setParam("W", Golden.tensor(w.get(c + ".weight")));
            g.getLayer(c).setParam("b", Golden.tensor(w.get(c + ".bias")).reshape(1, 8));
        }
        for (String b : new String[] {"bn1", "bn2", "bn3"}) {
            org.deeplearning4j.nn.api.Layer bn = g.getLayer(b);
            bn.setParam("gamma", Golden.tensor(w.get(b + ".weight")).reshape(1, 8));
            bn.setParam("beta", Golden.tensor(w.get(b + ".bias")).reshape(1, 8));
            bn.setParam("mean", Golden.tensor(w.get(b + ".running_mean")).reshape(1, 8));
            // DL4J keeps log10(sqrt(var)) and divides by sqrt(var + eps), as PyTorch does
            INDArray var = Golden.tensor(w.get(b + ".running_var")).reshape(1, 8);
            bn.setParam("log10stdev", Transforms.log(Transforms.sqrt(var), 10.0));
        }
        g.getLayer("fc").setParam("W", Golden.matrix(w.get("fc.weight")).transpose().dup());
        g.getLayer("fc").setParam("b", Golden.tensor(w.get("fc.bias")).reshape(1, 4));
        return g;
    }

    private static ConvolutionLayer conv() {
        return new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(8).activation(Activation.IDENTITY).build();
    }

    @Test
    void fp32ModelReproducesPyTorchFloatOutputs() {
        INDArray out = prepared.graphModel().graph().outputSingle(Golden.tensor(golden.get("test_input")));
        assertTrue(out.equalsWithEps(Golden.tensor(golden.get("output_fp32")), 1e-4), "fp32 rebuild differs");
    }

    @Test
    void activationQParamsMatchPyTorch() {
        Map<String, JsonNode> observing = new HashMap<>();
        golden.get("activation_observers").forEach(o -> observing.put(o.get("observes").asText(), o));
        QuantizationReport r = prepared.report();
        assertQParams(observing.get("x"), r.entry("conv1").inputQParams(), "network input");
        assertQParams(observing.get("conv1"), r.entry("conv1").outputQParams(), "conv1 + bn1 + relu1");
        assertQParams(observing.get("conv2"), r.entry("conv2").outputQParams(), "conv2 + bn2 + relu2");
        assertQParams(observing.get("conv3"), r.entry("conv3").outputQParams(), "conv3 + bn3 (no ReLU)");
        assertQParams(observing.get("relu"), r.entry("add").outputQParams(), "add + relu");
        assertQParams(observing.get("pool"), r.entry("pool").outputQParams(), "average pool (shares add_relu's)");
        assertQParams(observing.get("fc"), r.entry("fc").outputQParams(), "fc");
    }

    private static void assertQParams(JsonNode expected, QParams ours, String what) {
        double scale = expected.get("scale").asDouble();
        assertEquals(scale, ours.scale(), 1e-3 * scale, what + " scale");
        assertTrue(Math.abs(expected.get("zero_point").asInt() - ours.zeroPoint()) <= 1, what + " zero point: PyTorch "
                + expected.get("zero_point").asInt() + ", ours " + ours.zeroPoint());
    }

    @Test
    void referenceOutputsWithinOneOutputStepOfPyTorchWithSameArgmax() {
        assertWithinOneStepOf("output_reference_quantized", Quantizer.convertToReference(prepared));
    }

    @Test
    void int8OutputsWithinOneOutputStepOfPyTorchsLoweredModelWithSameArgmax() {
        ComputationGraph int8 = Quantizer.convert(prepared);
        assertEquals(QuantizedConvolution.class, int8.getLayer("conv3").conf().getLayer().getClass());
        assertTrue(int8.getConfiguration().getVertices().get("add") instanceof QuantizedAdd, "add_relu is int8");
        assertWithinOneStepOf("output_lowered", int8);
        assertWithinOneStepOf("output_reference_quantized", int8);
    }

    private static void assertWithinOneStepOf(String pytorchOutput, ComputationGraph quantized) {
        INDArray out = quantized.outputSingle(Golden.tensor(golden.get("test_input")));
        INDArray expected = Golden.tensor(golden.get(pytorchOutput));
        double step = prepared.report().entry("fc").outputQParams().scale();
        double maxDiff = out.sub(expected).amaxNumber().doubleValue();
        assertTrue(maxDiff <= step * 1.0001, pytorchOutput + ": max |ours - PyTorch| = " + maxDiff
                + " exceeds one output step " + step);
        assertEquals(expected.argMax(1), out.argMax(1), pytorchOutput + ": argmax must agree on every row");
    }
}
