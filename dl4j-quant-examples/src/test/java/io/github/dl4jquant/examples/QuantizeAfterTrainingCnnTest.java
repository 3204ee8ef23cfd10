package io.github.dl4jquant.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dl4jquant.graph.QuantizationReport;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.training.QuantizationOutcome;
import io.github.dl4jquant.training.QuantizeAfterTraining;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

/** The training hook on a CNN MultiLayerNetwork: it fires after the epoch, writes three files, and keeps accuracy. */
class QuantizeAfterTrainingCnnTest {

    @TempDir
    Path dir;

    @Test
    void quantizesACnnMultiLayerNetworkWhenTrainingEnds() throws Exception {
        ExampleData data = ExampleData.embedded();
        DataSet train = data.train();
        DataSet test = data.test();
        Path fp32File = dir.resolve("cnn.zip");
        QuantizeAfterTraining hook = QuantizeAfterTraining.builder(fp32File)
                .calibrationData(io.github.dl4jquant.data.FashionMnist.iterator(
                        (DataSet) train.getRange(5000, 5512), 256))
                .evaluationData(data.testIterator(500))
                .afterEpochs(1)
                .build();
        MultiLayerNetwork network = FashionCnn.buildNetwork(SmallCnn.C1, SmallCnn.C2, SmallCnn.HIDDEN);
        network.addListeners(hook);
        network.fit(SmallCnn.trainIterator(), 1);

        QuantizationOutcome outcome = hook.outcome().orElseThrow();
        assertEquals(1, outcome.epochsCompleted());
        assertEquals(dir.resolve("cnn-int8.zip"), outcome.quantizedModelFile());
        assertEquals(dir.resolve("cnn-int8-report.json"), outcome.reportFile());
        assertTrue(outcome.fp32Accuracy() > 0.6, "the CNN learned: " + outcome.fp32Accuracy());
        assertTrue(Math.abs(outcome.fp32Accuracy() - outcome.int8Accuracy()) <= 0.02,
                "fp32 " + outcome.fp32Accuracy() + ", int8 " + outcome.int8Accuracy());

        QuantizationReport report = outcome.report();
        for (String conv : List.of("conv1", "conv2")) {
            ReportEntry e = report.entry(conv);
            assertEquals(ReportEntry.Status.QUANTIZED, e.status(), conv);
            assertTrue(e.pattern().contains("BatchNormalization"), e.pattern());
            assertEquals("QuantizedConvolution", e.module(), conv);
        }
        for (String fused : List.of("bn1", "relu1", "bn2", "relu2")) {
            assertEquals(ReportEntry.Status.FUSED, report.entry(fused).status(), fused);
        }
        for (String shared : List.of("pool1", "pool2", "fc", "out")) {
            assertEquals(ReportEntry.Status.QUANTIZED, report.entry(shared).status(), shared);
        }
        assertEquals(0, report.keptFp32().size(), report.toString());

        // the files hold what the outcome says: fp32 as trained, int8 with the reported accuracy
        MultiLayerNetwork savedFp32 = ModelSerializer.restoreMultiLayerNetwork(fp32File.toFile(), false);
        ComputationGraph savedInt8 = ModelSerializer.restoreComputationGraph(outcome.quantizedModelFile().toFile(),
                false);
        assertEquals(network.output(test.getFeatures()), savedFp32.output(test.getFeatures()));
        assertEquals(outcome.int8Accuracy(), Agreement.accuracy(savedInt8.outputSingle(test.getFeatures()),
                test.getLabels()), 1e-9);
        long quantizedConvs = java.util.Arrays.stream(savedInt8.getLayers())
                .filter(l -> l.conf().getLayer().getClass().getSimpleName().equals("QuantizedConvolution")).count();
        assertEquals(2, quantizedConvs);
        JsonNode json = new ObjectMapper().readTree(outcome.reportFile().toFile());
        assertEquals(outcome.int8Accuracy(), json.get("int8_accuracy").asDouble(), 1e-12);
        assertEquals(10, json.get("quantization").get("quantized").asInt());
        assertTrue(Files.size(outcome.quantizedModelFile()) < 0.4 * Files.size(fp32File));
    }
}
