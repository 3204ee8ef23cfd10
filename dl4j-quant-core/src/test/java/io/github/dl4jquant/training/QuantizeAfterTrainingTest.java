package io.github.dl4jquant.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * Trains small MLPs on a learnable synthetic task (the class is the argmax of a fixed random projection of the
 * features) and checks what the hook writes against accuracies recomputed from the saved files.
 */
class QuantizeAfterTrainingTest {
    private static final int FEATURES = 20;
    private static final int CLASSES = 3;
    private static DataSet train;
    private static DataSet heldOut;
    private static DataSet test;

    @TempDir
    Path dir;

    @BeforeAll
    static void makeData() {
        Random rnd = new Random(7);
        float[] projection = new float[FEATURES * CLASSES];
        for (int i = 0; i < projection.length; i++) {
            projection[i] = (float) rnd.nextGaussian();
        }
        train = synthetic(2000, projection, rnd);
        heldOut = synthetic(300, projection, rnd);
        test = synthetic(1000, projection, rnd);
    }

    private static DataSet synthetic(int n, float[] projection, Random rnd) {
        float[] x = new float[n * FEATURES];
        float[] y = new float[n * CLASSES];
        for (int i = 0; i < n; i++) {
            int best = 0;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int f = 0; f < FEATURES; f++) {
                x[i * FEATURES + f] = (float) rnd.nextGaussian();
            }
            for (int c = 0; c < CLASSES; c++) {
                double s = 0;
                for (int f = 0; f < FEATURES; f++) {
                    s += x[i * FEATURES + f] * projection[f * CLASSES + c];
                }
                if (s > bestScore) {
                    bestScore = s;
                    best = c;
                }
            }
            y[i * CLASSES + best] = 1;
        }
        return new DataSet(Nd4j.createFromArray(x).reshape(n, FEATURES), Nd4j.createFromArray(y).reshape(n, CLASSES));
    }

    private static ComputationGraph graph() {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).updater(new Adam(1e-2))
                .graphBuilder()
                .addInputs("in")
                .addLayer("hidden", new DenseLayer.Builder().nIn(FEATURES).nOut(32).activation(Activation.RELU)
                        .build(), "in")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(32).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build(), "hidden")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    private static MultiLayerNetwork network() {
        MultiLayerNetwork n = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(2).dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).updater(new Adam(1e-2))
                .list()
                .layer(new DenseLayer.Builder().nIn(FEATURES).nOut(32).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(32).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build())
                .build());
        n.init();
        return n;
    }

    private static DataSetIterator batches(DataSet ds) {
        return new ViewIterator(ds, 50);
    }

    /** Top-1 accuracy computed here, independently of DL4J's Evaluation. */
    private static double accuracy(INDArray probabilities, INDArray labels) {
        INDArray hits = probabilities.argMax(1).eq(labels.argMax(1)).castTo(DataType.INT);
        return hits.sumNumber().doubleValue() / labels.size(0);
    }

    @Test
    void firesAfterTheGivenEpochAndWritesModelsAndReportNextToTheFp32File() throws Exception {
        ComputationGraph model = graph();
        Path fp32File = dir.resolve("mlp.zip");
        QuantizeAfterTraining hook = QuantizeAfterTraining.builder(fp32File)
                .calibrationData(batches(heldOut))
                .evaluationData(batches(test))
                .afterEpochs(2)
                .build();
        model.addListeners(hook);
        model.fit(batches(train), 3);

        QuantizationOutcome o = hook.outcome().orElseThrow();
        assertEquals(2, o.epochsCompleted());
        assertEquals(dir.resolve("mlp-int8.zip"), o.quantizedModelFile());
        assertEquals(dir.resolve("mlp-int8-report.json"), o.reportFile());

        ComputationGraph savedFp32 = ModelSerializer.restoreComputationGraph(fp32File.toFile(), false);
        ComputationGraph savedInt8 = ModelSerializer.restoreComputationGraph(o.quantizedModelFile().toFile(), false);
        double fp32 = accuracy(savedFp32.outputSingle(test.getFeatures()), test.getLabels());
        double int8 = accuracy(savedInt8.outputSingle(test.getFeatures()), test.getLabels());
        assertEquals(fp32, o.fp32Accuracy(), 1e-9, "the fp32 file is the model as it was after epoch 2");
        assertEquals(int8, o.int8Accuracy(), 1e-9);
        assertTrue(fp32 > 0.8, "the synthetic task is learnable in 2 epochs: fp32 accuracy " + fp32);
        assertEquals(fp32, int8, 0.03, "int8 accuracy close to fp32");
        assertTrue(o.report().quantized().size() >= 2, o.report().toString());

        JsonNode json = new ObjectMapper().readTree(o.reportFile().toFile());
        assertEquals(int8, json.get("int8_accuracy").asDouble(), 1e-9);
        assertEquals("mlp-int8.zip", json.get("int8_model").asText());
        assertEquals(o.report().entries().size(), json.get("quantization").get("vertices").size());
        try (var files = Files.list(dir)) {
            assertEquals(3, files.count(), "no temporary files are left behind");
        }
    }

    @Test
    void customTriggerOnMultiLayerNetworkFiresOnceAndLeavesTheModelUntouched() {
        MultiLayerNetwork model = network();
        int[] calls = {0};
        QuantizeAfterTraining hook = QuantizeAfterTraining.builder(dir.resolve("net.zip"))
                .calibrationData(batches(heldOut))
                .backend("onednn")
                .when(p -> {
                    calls[0]++;
                    return p.epochsCompleted() >= 1;
                })
                .build();
        model.addListeners(hook);
        model.fit(batches(train), 2);

        QuantizationOutcome o = hook.outcome().orElseThrow();
        assertEquals(1, o.epochsCompleted());
        assertEquals(1, calls[0], "the trigger is not consulted again after it fired");
        assertTrue(Double.isNaN(o.int8Accuracy()), "no evaluation data, no accuracy");
        assertEquals("onednn", o.report().backend());
        assertTrue(Files.isRegularFile(o.quantizedModelFile()));

        INDArray before = model.params().dup();
        INDArray outBefore = model.output(test.getFeatures());
        hook.quantizeNow(model);
        assertEquals(before, model.params());
        assertEquals(outBefore, model.output(test.getFeatures()));
    }

    @Test
    void staticHelperQuantizesWithoutAListener() throws Exception {
        ComputationGraph model = graph();
        model.fit(batches(train), 2);
        QuantizationOutcome o = QuantizeAfterTraining.quantizeAndSave(model, dir.resolve("plain.zip"),
                batches(heldOut), batches(test));
        assertEquals(0, o.epochsCompleted());
        double expected = accuracy(model.outputSingle(test.getFeatures()), test.getLabels());
        assertEquals(expected, o.fp32Accuracy(), 1e-9);
        ComputationGraph int8 = ModelSerializer.restoreComputationGraph(o.quantizedModelFile().toFile(), false);
        assertEquals(o.int8Accuracy(), accuracy(int8.outputSingle(test.getFeatures()), test.getLabels()), 1e-9);
    }

    @Test
    void missingCalibrationDataOrBadEpochCountIsRejected() {
        IllegalArgumentException noData = assertThrows(IllegalArgumentException.class,
                () -> QuantizeAfterTraining.builder(dir.resolve("m.zip")).build());
        assertTrue(noData.getMessage().contains("calibrationData"), noData.getMessage());
        IllegalArgumentException badEpochs = assertThrows(IllegalArgumentException.class,
                () -> QuantizeAfterTraining.builder(dir.resolve("m.zip")).afterEpochs(0));
        assertTrue(badEpochs.getMessage().contains("got 0"), badEpochs.getMessage());
        assertFalse(Files.exists(dir.resolve("m.zip")));
    }
}
