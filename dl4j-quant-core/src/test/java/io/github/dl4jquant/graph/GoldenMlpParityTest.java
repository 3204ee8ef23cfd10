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
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * PyTorch 1.13 quantized an MLP Linear(20,32)-ReLU-Linear(32,16)-ReLU-Linear(16,4) end to end with FX graph mode
 * (onednn qconfig mapping). We rebuild it in DL4J from the same weights, quantize with the equivalent configuration,
 * and compare observers' qparams and the reference model's outputs with PyTorch's.
 */
class GoldenMlpParityTest {
    private static JsonNode golden;
    private static ComputationGraph fp32;

    @BeforeAll
    static void load() {
        golden = Golden.load("mlp_e2e.json");
        fp32 = buildMlp(golden.get("weights"));
    }

    /**
     * The first ReLU is a separate ActivationLayer (fused by the (DenseLayer, ActivationLayer) pattern), the second is
     * inside the DenseLayer, and the last Linear is an OutputLayer with identity activation: three DL4J spellings.
     */
    static ComputationGraph buildMlp(JsonNode weights) {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .dataType(DataType.FLOAT)
                .graphBuilder()
                .addInputs("in")
                .addLayer("fc0", new DenseLayer.Builder().nIn(20).nOut(32).activation(Activation.IDENTITY).build(), "in")
                .addLayer("relu0", new ActivationLayer.Builder().activation(Activation.RELU).build(), "fc0")
                .addLayer("fc1", new DenseLayer.Builder().nIn(32).nOut(16).activation(Activation.RELU).build(), "relu0")
                .addLayer("fc2", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(16).nOut(4)
                        .activation(Activation.IDENTITY).build(), "fc1")
                .setOutputs("fc2")
                .build());
        g.init();
        String[][] map = {{"fc0", "0"}, {"fc1", "2"}, {"fc2", "4"}};
        for (String[] m : map) {
            g.getLayer(m[0]).setParam("W", matrix(weights.get(m[1] + ".weight")).transpose().dup());
            g.getLayer(m[0]).setParam("b", vector(weights.get(m[1] + ".bias")));
        }
        return g;
    }

    static INDArray matrix(JsonNode rows) {
        float[][] a = new float[rows.size()][];
        for (int i = 0; i < rows.size(); i++) {
            a[i] = new float[rows.get(i).size()];
            for (int j = 0; j < a[i].length; j++) {
                a[i][j] = (float) rows.get(i).get(j).asDouble();
            }
        }
        return Nd4j.createFromArray(a);
    }

    static INDArray vector(JsonNode values) {
        float[] a = new float[values.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) values.get(i).asDouble();
        }
        return Nd4j.createFromArray(a).reshape(1, a.length);
    }

    private static PreparedModel calibrated() {
        // PyTorch 1.13's HistogramObserver built its histogram over int(min)..int(max): reproduce that to compare.
        QConfig pytorch113 = new QConfig(HistogramObserver.builder().truncateHistcRange(true),
                QConfigs.getDefaultQConfig("onednn").weight());
        PreparedModel p = Quantizer.prepare(fp32, new QConfigMapping().setGlobal(pytorch113),
                BackendConfigs.getOnednnBackendConfig());
        return p.calibrate(matrix(golden.get("calibration_input")));
    }

    @Test
    void fp32ModelReproducesPyTorchFloatOutputs() {
        INDArray out = fp32.outputSingle(matrix(golden.get("test_input")));
        INDArray expected = matrix(golden.get("output_fp32"));
        assertTrue(out.equalsWithEps(expected, 1e-4), "DL4J fp32 rebuild differs from PyTorch's fp32 outputs");
    }

    @Test
    void activationQParamsMatchPyTorchInGraphOrder() {
        PreparedModel p = calibrated();
        QuantizationReport r = p.report();
        JsonNode qp = golden.get("activation_qparams_in_graph_order");
        QParams[] ours = {
            r.entry("fc0").inputQParams(),    // activation_post_process_0: the network input
            r.entry("fc0").outputQParams(),   // _1: after the first ReLU (the fused pattern's output)
            r.entry("fc1").outputQParams(),   // _2: after the second ReLU
            r.entry("fc2").outputQParams(),   // _3: the last Linear's output
        };
        for (int i = 0; i < ours.length; i++) {
            JsonNode expected = qp.get("activation_post_process_" + i);
            double scale = expected.get("scale").get(0).asDouble();
            int zp = expected.get("zero_point").get(0).asInt();
            assertEquals(scale, ours[i].scale(), 1e-3 * scale, "scale of activation_post_process_" + i);
            assertTrue(Math.abs(zp - ours[i].zeroPoint()) <= 1,
                    "zero point of activation_post_process_" + i + ": PyTorch " + zp + ", ours " + ours[i].zeroPoint());
        }
    }

    @Test
    void referenceOutputsWithinOneOutputStepOfPyTorchWithSameArgmax() {
        PreparedModel p = calibrated();
        ComputationGraph ref = Quantizer.convertToReference(p);
        INDArray out = ref.outputSingle(matrix(golden.get("test_input")));
        INDArray expected = matrix(golden.get("output_reference_quantized"));
        double step = golden.get("activation_qparams_in_graph_order").get("activation_post_process_3").get("scale")
                .get(0).asDouble();
        double maxDiff = out.sub(expected).amaxNumber().doubleValue();
        assertTrue(maxDiff <= step * 1.0001, "max |ours - PyTorch| = " + maxDiff + " exceeds one output step " + step);
        assertEquals(expected.argMax(1), out.argMax(1), "argmax must agree on every row");
    }
}
