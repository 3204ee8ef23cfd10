package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.observer.HistogramObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.Golden;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * PyTorch 1.13 quantized a conv-relu-pool-conv-bn-relu-pool-flatten-linear CNN end to end with FX
 * ({@code cnn_e2e.json}, fbgemm qconfig mapping). Rebuilt in DL4J from the same weights (the batch norm as its own
 * layer, folded by the (conv, BN, ReLU) pattern as FX folds it), quantized with the same observers and calibrated on
 * the same data: the activation qparams, the folded weights and the reference model's outputs must be PyTorch's.
 */
class GoldenCnnParityTest {
    private static JsonNode golden;
    private static ComputationGraph fp32;

    @BeforeAll
    static void load() {
        golden = Golden.load("cnn_e2e.json");
        fp32 = build(golden.get("weights"));
    }

    static ComputationGraph build(JsonNode w) {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .graphBuilder()
                .addInputs("x")
                .setInputTypes(InputType.convolutional(28, 28, 1))
                .addLayer("conv1", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(8)
                        .activation(Activation.IDENTITY).build(), "x")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "conv1")
                .addLayer("pool1", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2)
                        .stride(2, 2).build(), "relu1")
                .addLayer("conv2", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(16)
                        .activation(Activation.IDENTITY).build(), "pool1")
                .addLayer("bn2", new BatchNormalization.Builder().eps(1e-5).build(), "conv2")
                .addLayer("relu2", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn2")
                .addLayer("pool2", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2)
                        .stride(2, 2).build(), "relu2")
                .addLayer("fc", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(10)
                        .activation(Activation.IDENTITY).build(), "pool2")
                .setOutputs("fc")
                .build());
        g.init();
        g.getLayer("conv1").setParam("W", Golden.tensor(w.get("conv1.weight")));
        g.getLayer("conv1").setParam("b", Golden.tensor(w.get("conv1.bias")).reshape(1, 8));
        g.getLayer("conv2").setParam("W", Golden.tensor(w.get("conv2.weight")));
        g.getLayer("conv2").setParam("b", Golden.tensor(w.get("conv2.bias")).reshape(1, 16));
        org.deeplearning4j.nn.api.Layer bn = g.getLayer("bn2");
        bn.setParam("gamma", Golden.tensor(w.get("bn2.weight")).reshape(1, 16));
        bn.setParam("beta", Golden.tensor(w.get("bn2.bias")).reshape(1, 16));
        bn.setParam("mean", Golden.tensor(w.get("bn2.running_mean")).reshape(1, 16));
        // DL4J's default keeps log10(stdev): sqrt(var) in log10
        INDArray var = Golden.tensor(w.get("bn2.running_var")).reshape(1, 16);
        bn.setParam("log10stdev", org.nd4j.linalg.ops.transforms.Transforms.log(
                org.nd4j.linalg.ops.transforms.Transforms.sqrt(var), 10.0));
        g.getLayer("fc").setParam("W", Golden.matrix(w.get("fc.weight")).transpose().dup());
        g.getLayer("fc").setParam("b", Golden.tensor(w.get("fc.bias")).reshape(1, 10));
        return g;
    }

    static QConfigMapping pytorch113Mapping() {
        QConfigMapping defaults = QConfigs.getDefaultQConfigMapping("fbgemm");
        QConfig dense = defaults.resolve("fc", OutputLayer.class, 0).qconfig();
        QConfig conv = defaults.resolve("conv1", ConvolutionLayer.class, 0).qconfig();
        // PyTorch 1.13's HistogramObserver built its histogram over int(min)..int(max): reproduce that to compare.
        HistogramObserver.Builder act = HistogramObserver.builder().reduceRange(true).truncateHistcRange(true);
        return new QConfigMapping().setGlobal(new QConfig(act, dense.weight()))
                .setObjectType(ConvolutionLayer.class, new QConfig(act, conv.weight()));
    }

    private static PreparedModel calibrated() {
        PreparedModel p = Quantizer.prepare(fp32, pytorch113Mapping(), BackendConfigs.getFbgemmBackendConfig());
        return p.calibrate(Golden.tensor(golden.get("calibration_input")));
    }

    @Test
    void fp32ModelReproducesPyTorchFloatOutputs() {
        INDArray out = fp32.outputSingle(Golden.tensor(golden.get("test_input")));
        assertTrue(out.equalsWithEps(Golden.tensor(golden.get("output_fp32")), 1e-4),
                "DL4J fp32 rebuild differs from PyTorch's fp32 outputs");
    }

    @Test
    void batchNormIsFoldedAsFxFoldsIt() {
        PreparedModel p = calibrated();
        PatternMatch m = p.plans().get("conv2").match();
        assertEquals(java.util.List.of("conv2", "bn2", "relu2"), m.vertices());
        JsonNode fused = golden.get("fused_weights");
        INDArray w = m.fusedParams().get("W");
        INDArray expected = Golden.tensor(fused.get("conv2.0.weight"));
        double rel = w.sub(expected).amaxNumber().doubleValue() / expected.amaxNumber().doubleValue();
        assertTrue(rel < 1e-6, "folded weight differs from fuse_conv_bn_eval by " + rel + " (relative)");
        INDArray b = m.fusedParams().get("b").reshape(16);
        INDArray expectedB = Golden.tensor(fused.get("conv2.0.bias"));
        assertTrue(b.sub(expectedB).amaxNumber().doubleValue() < 1e-5 * expectedB.amaxNumber().doubleValue(),
                "folded bias differs: " + b + " vs " + expectedB);
    }

    @Test
    void activationQParamsMatchPyTorch() {
        QuantizationReport r = calibrated().report();
        JsonNode byNode = golden.get("activation_qparams_by_node");
        assertQParams(byNode.get("activation_post_process_0"), r.entry("conv1").inputQParams(), "network input");
        assertQParams(byNode.get("activation_post_process_1"), r.entry("conv1").outputQParams(), "conv1 + relu1");
        assertQParams(byNode.get("activation_post_process_3"), r.entry("conv2").outputQParams(), "conv2 + bn2 + relu2");
        // PyTorch 1.13 gives the flatten its own observer (_5); PyTorch 2.x, like this library, shares pool2's (_4)
        assertQParams(byNode.get("activation_post_process_4"), r.entry("fc").inputQParams(), "pool2 (fc's input)");
        assertQParams(byNode.get("activation_post_process_6"), r.entry("fc").outputQParams(), "fc");
    }

    private static void assertQParams(JsonNode expected, QParams ours, String what) {
        double scale = expected.get("scale").asDouble();
        assertEquals(scale, ours.scale(), 1e-3 * scale, what + " scale");
        assertTrue(Math.abs(expected.get("zero_point").asInt() - ours.zeroPoint()) <= 1, what + " zero point: PyTorch "
                + expected.get("zero_point").asInt() + ", ours " + ours.zeroPoint());
    }

    @Test
    void referenceOutputsWithinOneOutputStepOfPyTorchWithSameArgmax() {
        assertWithinOneStepOfPyTorch(Quantizer.convertToReference(calibrated()));
    }

    @Test
    void int8OutputsWithinOneOutputStepOfPyTorchWithSameArgmax() {
        ComputationGraph int8 = Quantizer.convert(calibrated());
        assertEquals("QuantizedConvolution", int8.getLayer("conv2").conf().getLayer().getClass().getSimpleName());
        assertWithinOneStepOfPyTorch(int8);
    }

    private static void assertWithinOneStepOfPyTorch(ComputationGraph quantized) {
        INDArray out = quantized.outputSingle(Golden.tensor(golden.get("test_input")));
        INDArray expected = Golden.tensor(golden.get("output_reference_quantized"));
        double step = golden.get("activation_qparams_by_node").get("activation_post_process_6").get("scale")
                .asDouble();
        double maxDiff = out.sub(expected).amaxNumber().doubleValue();
        assertTrue(maxDiff <= step * 1.0001, "max |ours - PyTorch| = " + maxDiff + " exceeds one output step " + step);
        assertEquals(expected.argMax(1), out.argMax(1), "argmax must agree on every row");
    }

    static INDArray zeros(long n) {
        return Nd4j.zeros(DataType.FLOAT, 1, n);
    }
}
