package io.github.dl4jquant.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import picocli.CommandLine;

/**
 * The main job end to end on the embedded subset in quick mode (one epoch), as CI runs it; the numbers in its JSON
 * report are recomputed from the two model files it wrote.
 */
class QuantizeFashionMnistTest {

    @TempDir
    Path out;

    @AfterEach
    void clearDataSource() {
        System.clearProperty(ExampleData.SOURCE_PROPERTY);
    }

    @Test
    void quickRunWritesModelsAndReportsWithConsistentNumbers() throws Exception {
        long start = System.nanoTime();
        int code = new CommandLine(new QuantizeFashionMnist()).execute("--quick", "--out", out.toString());
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(0, code);
        assertTrue(seconds < 60, "the quick run takes " + seconds + " s");

        JsonNode json = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        DataSet test = ExampleData.embedded().test();
        ComputationGraph fp32 = ModelSerializer.restoreComputationGraph(out.resolve("fashion-mlp-fp32.zip").toFile());
        ComputationGraph int8 = ModelSerializer.restoreComputationGraph(out.resolve("fashion-mlp-int8.zip").toFile());
        Agreement recomputed = Agreement.of(fp32.outputSingle(test.getFeatures()),
                int8.outputSingle(test.getFeatures()),
                test.getLabels());
        JsonNode accuracy = json.get("accuracy");
        assertEquals(recomputed.fp32Accuracy(), accuracy.get("fp32_accuracy").asDouble(), 1e-12);
        assertEquals(recomputed.int8Accuracy(), accuracy.get("int8_accuracy").asDouble(), 1e-12);
        assertEquals(recomputed.top1Agreement(), accuracy.get("top1_agreement").asDouble(), 1e-12);
        assertEquals(1000, accuracy.get("examples").asInt());
        assertTrue(recomputed.fp32Accuracy() > 0.7, "one epoch on 6000 images learns: " + recomputed);
        assertTrue(Math.abs(recomputed.accuracyDropPoints()) <= 1.5, "int8 stays close to fp32: " + recomputed);

        assertEquals(Files.size(out.resolve("fashion-mlp-int8.zip")), json.get("file_bytes").get("int8").asLong());
        assertEquals(2, json.get("latency").size());
        assertTrue(json.get("kernel").asText().length() > 0);
        assertTrue(json.get("quantization").get("quantized").asInt() >= 3, json.get("quantization").toString());
        assertTrue(json.get("diagnostics").get("layer_errors").size() >= 3);

        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.split("data:image/png;base64,", -1).length - 1 >= 4, "error bars and histograms embedded");
        assertTrue(html.contains("<td>d1</td>") && html.contains("<td>relu1</td>"), "the per-layer table");
    }
}
