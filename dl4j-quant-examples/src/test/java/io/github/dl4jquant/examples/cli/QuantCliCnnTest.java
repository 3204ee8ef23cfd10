package io.github.dl4jquant.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.examples.Agreement;
import io.github.dl4jquant.examples.ExampleData;
import io.github.dl4jquant.examples.FashionCnn;
import io.github.dl4jquant.examples.SmallCnn;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

/**
 * The command-line tool, unchanged, on CNN zips (conv-BN-ReLU-pool x2, dense, softmax on flat 784-pixel input) with
 * the embedded subset as IDX files: quantize, evaluate and compare a ComputationGraph, quantize a MultiLayerNetwork,
 * and the feature-count check against the convolution's flat input.
 */
class QuantCliCnnTest {

    @TempDir
    static Path shared;
    static Path graphZip;
    static Path networkZip;
    static Path dataDir;
    static DataSet test;

    @TempDir
    Path dir;

    private record Run(int exitCode, String out, String err) {
    }

    @BeforeAll
    static void saveModelsAndData() throws IOException {
        test = ExampleData.embedded().test();
        dataDir = Files.createDirectories(shared.resolve("fashion"));
        for (String name : List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")) {
            try (InputStream in = QuantCliCnnTest.class.getResourceAsStream(ExampleData.EMBEDDED_RESOURCE + name)) {
                Files.copy(in, dataDir.resolve(name));
            }
        }
        graphZip = shared.resolve("cnn-graph.zip");
        ModelSerializer.writeModel(SmallCnn.graph(), graphZip.toFile(), false);
        // untrained is enough for the MultiLayerNetwork: the test checks that it loads, quantizes and runs
        MultiLayerNetwork network = FashionCnn.buildNetwork(4, 8, 16);
        networkZip = shared.resolve("cnn-network.zip");
        ModelSerializer.writeModel(network, networkZip.toFile(), false);
    }

    private static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = QuantCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    private static double percentAfter(String label, String text) {
        Matcher m = java.util.regex.Pattern.compile(label + " ([0-9.]+)%").matcher(text);
        assertTrue(m.find(), "'" + label + "' in: " + text);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void quantizeEvaluateAndCompareACnnGraph() throws Exception {
        Path out = dir.resolve("cnn-int8.zip");
        Path html = dir.resolve("report.html");
        Run q = cli("quantize", "--model", graphZip.toString(), "--calibration", dataDir.toString(),
                "--calibration-examples", "512", "--out", out.toString(), "--report", html.toString());
        assertEquals(0, q.exitCode(), q.err());
        assertTrue(q.out().contains("(ComputationGraph) -> " + out + ": static int8 (x86), 10 vertices quantized, "
                + "0 kept fp32"), q.out());
        assertTrue(q.out().contains("QuantizedConvolution fused [conv1, bn1, relu1]"), q.out());
        assertTrue(q.out().contains("QuantizedConvolution fused [conv2, bn2, relu2]"), q.out());
        assertTrue(Files.size(out) < 0.4 * Files.size(graphZip), "int8 weights: " + Files.size(out) + " vs "
                + Files.size(graphZip) + " bytes");
        String page = Files.readString(html);
        assertTrue(page.contains("<td>conv1</td>") && page.contains("<td>pool2</td>"), "the report table");
        assertTrue(page.split("data:image/png;base64,", -1).length - 1 >= 1 + 4, "error bars and 4 histograms");

        ComputationGraph int8 = ModelSerializer.restoreComputationGraph(out.toFile(), false);
        assertEquals("QuantizedConvolution", int8.getLayer("conv2").conf().getLayer().getClass().getSimpleName());
        ComputationGraph fp32 = ModelSerializer.restoreComputationGraph(graphZip.toFile(), false);
        Agreement a = Agreement.of(fp32.outputSingle(test.getFeatures()), int8.outputSingle(test.getFeatures()),
                test.getLabels());
        assertTrue(a.fp32Accuracy() > 0.6, "the small CNN learned: " + a);
        assertTrue(Math.abs(a.accuracyDropPoints()) <= 2, "int8 stays within 2 points of fp32: " + a);
        assertTrue(a.top1Agreement() > 0.95, "int8 agrees with fp32: " + a);

        Run e = cli("evaluate", "--model", out.toString(), "--data", dataDir.toString());
        assertEquals(0, e.exitCode(), e.err());
        assertEquals(100 * a.int8Accuracy(), percentAfter("accuracy", e.out()), 0.006);
        assertTrue(e.out().contains("on 1000 examples"), e.out());

        Run c = cli("compare", "--fp32", graphZip.toString(), "--quantized", out.toString(), "--data",
                dataDir.toString());
        assertEquals(0, c.exitCode(), c.err());
        assertEquals(100 * a.fp32Accuracy(), percentAfter("fp32 accuracy", c.out()), 0.006);
        assertEquals(100 * a.int8Accuracy(), percentAfter("int8 accuracy", c.out()), 0.006);
        assertEquals(100 * a.top1Agreement(), percentAfter("top-1 agreement", c.out()), 0.006);
    }

    @Test
    void quantizesACnnMultiLayerNetworkWithAJsonReport() throws Exception {
        Path out = dir.resolve("network-int8.zip");
        Path json = dir.resolve("report.json");
        Run q = cli("quantize", "--model", networkZip.toString(), "--calibration",
                dataDir.resolve("t10k-images-idx3-ubyte.gz").toString(), "--calibration-examples", "256",
                "--out", out.toString(), "--report", json.toString());
        assertEquals(0, q.exitCode(), q.err());
        assertTrue(q.out().contains("(MultiLayerNetwork) -> " + out + ": static int8 (x86), 10 vertices quantized, "
                + "0 kept fp32"), q.out());
        String report = Files.readString(json);
        assertTrue(report.contains("\"name\" : \"conv1\"") && report.contains("\"layer_errors\""), report);
        ComputationGraph int8 = ModelSerializer.restoreComputationGraph(out.toFile(), false);
        MultiLayerNetwork fp32 = ModelSerializer.restoreMultiLayerNetwork(networkZip.toFile(), false);
        Agreement a = Agreement.of(fp32.output(test.getFeatures()), int8.outputSingle(test.getFeatures()),
                test.getLabels());
        assertTrue(a.top1Agreement() > 0.9, "int8 follows the (untrained) fp32 network: " + a);
        Run e = cli("evaluate", "--model", out.toString(), "--data", dataDir.toString());
        assertEquals(0, e.exitCode(), e.err());
        assertEquals(100 * a.int8Accuracy(), percentAfter("accuracy", e.out()), 0.006);
    }

    /** The check compares the data with the convolution's flat input, 28 x 28 x 1, not with its nIn (1 channel). */
    @Test
    void dataOfTheWrongSizeIsRejectedAgainstTheFlatInput() throws IOException {
        Path csv = Files.writeString(dir.resolve("five.csv"), "1,2,3,4,5\n5,4,3,2,1\n");
        for (Path model : List.of(graphZip, networkZip)) {
            Run r = cli("quantize", "--model", model.toString(), "--calibration", csv.toString(), "--out",
                    dir.resolve("o.zip").toString());
            assertEquals(QuantCli.BAD_INPUT, r.exitCode(), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().contains("has 5 features per example, but model " + model + " expects 784"),
                    r.err());
            assertFalse(Files.exists(dir.resolve("o.zip")));
        }
    }
}
