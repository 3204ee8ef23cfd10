package io.github.dl4jquant.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.examples.Agreement;
import io.github.dl4jquant.examples.ExampleData;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.stream.Stream;
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
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The command-line tool on small models trained here on the embedded Fashion-MNIST subset: the happy path of
 * quantize, evaluate and compare (numbers checked against an independent computation from the written files), and
 * every bad input, which must give exit code 2, one line on stderr and no output file.
 */
class QuantCliTest {

    @TempDir
    static Path shared;
    static Path graphZip;
    static Path networkZip;
    static Path dataDir;
    static DataSet test;

    @TempDir
    Path dir;

    /** What one run of the tool printed and returned. */
    private record Run(int exitCode, String out, String err) {
    }

    @BeforeAll
    static void trainSmallModels() throws IOException {
        ExampleData data = ExampleData.embedded();
        test = data.test();
        dataDir = Files.createDirectories(shared.resolve("fashion"));
        for (String name : List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")) {
            try (InputStream in = QuantCliTest.class.getResourceAsStream(ExampleData.EMBEDDED_RESOURCE + name)) {
                Files.copy(in, dataDir.resolve(name));
            }
        }
        ComputationGraph graph = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .seed(3).dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).updater(new Adam(1e-3))
                .graphBuilder().addInputs("in")
                .addLayer("hidden", new DenseLayer.Builder().nIn(784).nOut(64).activation(Activation.RELU).build(),
                        "in")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(64).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "hidden")
                .setOutputs("out").build());
        graph.init();
        graph.fit(data.trainIterator(128), 1);
        graphZip = shared.resolve("graph.zip");
        ModelSerializer.writeModel(graph, graphZip.toFile(), false);

        MultiLayerNetwork network = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(4).dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).updater(new Adam(1e-3)).list()
                .layer(new DenseLayer.Builder().nIn(784).nOut(32).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(32).nOut(10)
                        .activation(Activation.SOFTMAX).build())
                .build());
        network.init();
        network.fit(data.trainIterator(128), 1);
        networkZip = shared.resolve("network.zip");
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
    void quantizeEvaluateAndCompareAComputationGraph() throws Exception {
        Path out = dir.resolve("graph-int8.zip");
        Path html = dir.resolve("report.html");
        Run q = cli("quantize", "--model", graphZip.toString(), "--calibration", dataDir.toString(),
                "--backend", "onednn", "--mode", "static", "--out", out.toString(), "--report", html.toString());
        assertEquals(0, q.exitCode(), q.err());
        assertTrue(q.out().contains("static int8 (onednn)"), q.out());
        assertTrue(Files.getPosixFilePermissions(out).contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ),
                "the model is readable like any other file, not owner-only like its temporary file");
        String page = Files.readString(html);
        assertTrue(page.contains("data:image/png;base64,"), "plots embedded");
        assertTrue(page.contains("<td>hidden</td>"), "the report table names the layers");

        ComputationGraph int8 = ModelSerializer.restoreComputationGraph(out.toFile(), false);
        double expected = 100 * Agreement.accuracy(int8.outputSingle(test.getFeatures()), test.getLabels());
        Run e = cli("evaluate", "--model", out.toString(), "--data", dataDir.toString());
        assertEquals(0, e.exitCode(), e.err());
        assertEquals(expected, percentAfter("accuracy", e.out()), 0.006);
        assertTrue(e.out().contains("on 1000 examples"), e.out());

        ComputationGraph fp32 = ModelSerializer.restoreComputationGraph(graphZip.toFile(), false);
        Agreement a = Agreement.of(fp32.outputSingle(test.getFeatures()), int8.outputSingle(test.getFeatures()),
                test.getLabels());
        Run c = cli("compare", "--fp32", graphZip.toString(), "--quantized", out.toString(), "--data",
                dataDir.toString());
        assertEquals(0, c.exitCode(), c.err());
        assertEquals(100 * a.fp32Accuracy(), percentAfter("fp32 accuracy", c.out()), 0.006);
        assertEquals(100 * a.int8Accuracy(), percentAfter("int8 accuracy", c.out()), 0.006);
        assertEquals(100 * a.top1Agreement(), percentAfter("top-1 agreement", c.out()), 0.006);
        assertTrue(a.top1Agreement() > 0.95, "int8 agrees with fp32 on most images: " + a);
        assertTrue(a.fp32Accuracy() > 0.7, "the small model learned something: " + a);
    }

    @Test
    void quantizesAMultiLayerNetworkDynamicallyFromASingleIdxFileWithAJsonReport() throws Exception {
        Path out = dir.resolve("network-int8.zip");
        Path json = dir.resolve("report.json");
        Run q = cli("quantize", "--model", networkZip.toString(), "--mode", "DYNAMIC", "--backend", "x86",
                "--calibration", dataDir.resolve("t10k-images-idx3-ubyte.gz").toString(),
                "--out", out.toString(), "--report", json.toString());
        assertEquals(0, q.exitCode(), q.err());
        assertTrue(q.out().contains("(MultiLayerNetwork)"), q.out());
        assertTrue(Files.readString(json).contains("\"layer_errors\""));
        Run e = cli("evaluate", "--model", out.toString(), "--data", dataDir.resolve("t10k-images-idx3-ubyte.gz")
                .toString());
        assertEquals(0, e.exitCode(), e.err());
        ComputationGraph int8 = ModelSerializer.restoreComputationGraph(out.toFile(), false);
        assertEquals(100 * Agreement.accuracy(int8.outputSingle(test.getFeatures()), test.getLabels()),
                percentAfter("accuracy", e.out()), 0.006);
    }

    @Test
    void evaluatesACsvWithTheLabelInTheLastColumn() throws Exception {
        StringBuilder csv = new StringBuilder("pixels...,label\n");
        float[] x = test.getFeatures().getRow(0).toFloatVector();
        for (int rep = 0; rep < 3; rep++) {
            for (float v : x) {
                csv.append(String.format(Locale.ROOT, "%.6f,", v));
            }
            csv.append(test.getLabels().getRow(0).argMax().getInt(0)).append('\n');
        }
        Path file = Files.writeString(dir.resolve("three.csv"), csv);
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(networkZip.toFile(), false);
        boolean right = net.output(test.getFeatures().getRow(0, true)).argMax(1).getInt(0)
                == test.getLabels().getRow(0).argMax().getInt(0);
        Run e = cli("evaluate", "--model", networkZip.toString(), "--data", file.toString());
        assertEquals(0, e.exitCode(), e.err());
        assertEquals(right ? 100.0 : 0.0, percentAfter("accuracy", e.out()), 1e-9);
    }

    // ------------------------------------------------------------------------------------------------ bad input

    /** Runs a bad command: exit code 2, exactly one line on stderr containing {@code expected}, no file in dir. */
    private void assertBadInput(String expected, String... args) throws IOException {
        Run r = cli(args);
        assertEquals(QuantCli.BAD_INPUT, r.exitCode(), "exit code; stderr: " + r.err());
        List<String> lines = r.err().strip().lines().toList();
        assertEquals(1, lines.size(), "one line on stderr: " + r.err());
        assertTrue(lines.get(0).startsWith("dl4j-quant: "), lines.get(0));
        assertTrue(lines.get(0).contains(expected), "'" + expected + "' in: " + lines.get(0));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(), files.filter(p -> !p.getFileName().toString().startsWith("input-")).toList(),
                    "nothing written");
        }
    }

    private String[] quantize(String model, String calibration, String backend, String out) {
        return new String[] {"quantize", "--model", model, "--calibration", calibration, "--backend", backend,
            "--out", out};
    }

    @Test
    void missingModelFile() throws IOException {
        assertBadInput("does not exist", quantize(dir.resolve("nope.zip").toString(), dataDir.toString(), "x86",
                dir.resolve("o.zip").toString()));
        assertBadInput("does not exist", "evaluate", "--model", dir.resolve("nope.zip").toString(), "--data",
                dataDir.toString());
    }

    @Test
    void unreadableModelFile() throws IOException {
        Path folder = Files.createDirectories(dir.resolve("input-folder.zip"));
        assertBadInput("is not a readable file", quantize(folder.toString(), dataDir.toString(), "x86",
                dir.resolve("o.zip").toString()));
    }

    @Test
    void fileThatIsNotADl4jModel() throws IOException {
        Path text = Files.writeString(dir.resolve("input-text.zip"), "hello");
        assertBadInput("not a DL4J model", quantize(text.toString(), dataDir.toString(), "x86",
                dir.resolve("o.zip").toString()));
        Path zip = dir.resolve("input-other.zip");
        try (var z = new java.util.zip.ZipOutputStream(Files.newOutputStream(zip))) {
            z.putNextEntry(new java.util.zip.ZipEntry("readme.txt"));
            z.write("not a model".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        assertBadInput("without configuration.json", "compare", "--fp32", graphZip.toString(), "--quantized",
                zip.toString(), "--data", dataDir.toString());
    }

    @Test
    void calibrationDataOfTheWrongShape() throws IOException {
        Path csv = Files.writeString(dir.resolve("input-five.csv"), "1,2,3,4,5\n5,4,3,2,1\n");
        assertBadInput("has 5 features per example", quantize(graphZip.toString(), csv.toString(), "x86",
                dir.resolve("o.zip").toString()));
    }

    @Test
    void emptyCalibrationFolder() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("input-empty"));
        assertBadInput("holds no IDX images file", quantize(graphZip.toString(), empty.toString(), "x86",
                dir.resolve("o.zip").toString()));
    }

    @Test
    void unknownBackendName() throws IOException {
        assertBadInput("backend: got 'tpu'", quantize(graphZip.toString(), dataDir.toString(), "tpu",
                dir.resolve("o.zip").toString()));
    }

    @Test
    void unknownModeAndMissingOptions() throws IOException {
        assertBadInput("'fast' is not a mode", "quantize", "--model", graphZip.toString(), "--mode", "fast",
                "--out", dir.resolve("o.zip").toString());
        assertBadInput("--calibration is required", "quantize", "--model", graphZip.toString(),
                "--out", dir.resolve("o.zip").toString());
        assertBadInput("Missing required option", "evaluate", "--model", graphZip.toString());
        assertBadInput("missing command", new String[0]);
    }

    /**
     * A real JVM, as users run the tool: even when DL4J loads (a zip whose configuration.json is broken), stderr holds
     * the one error line and nothing of ND4J's start-up logging.
     */
    @Test
    void realProcessPrintsExactlyOneLineOnStderr() throws Exception {
        Path zip = dir.resolve("input-broken.zip");
        try (var z = new java.util.zip.ZipOutputStream(Files.newOutputStream(zip))) {
            z.putNextEntry(new java.util.zip.ZipEntry("configuration.json"));
            z.write("{\"vertices\": [not json".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(javaBin.toString(), "-cp", System.getProperty("java.class.path"),
                QuantCli.class.getName(), "evaluate", "--model", zip.toString(), "--data", dataDir.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(QuantCli.BAD_INPUT, p.waitFor());
        List<String> lines = err.strip().lines().toList();
        assertEquals(1, lines.size(), "stderr: " + err);
        assertTrue(lines.get(0).startsWith("dl4j-quant: model file " + zip + " could not be restored"), lines.get(0));
    }

    @Test
    void outputPathNotWritable() throws IOException {
        Path file = Files.writeString(dir.resolve("input-plain-file"), "x");
        assertBadInput("does not exist", quantize(graphZip.toString(), dataDir.toString(), "x86",
                file.resolve("o.zip").toString()));
        Path folder = Files.createDirectories(dir.resolve("input-out-folder"));
        assertBadInput("is a directory", quantize(graphZip.toString(), dataDir.toString(), "x86",
                folder.toString()));
        assertBadInput("does not exist", "quantize", "--model", graphZip.toString(), "--calibration",
                dataDir.toString(), "--out", dir.resolve("o.zip").toString(), "--report",
                dir.resolve("no-such-dir").resolve("r.html").toString());
        assertFalse(Files.exists(dir.resolve("o.zip")));
    }
}
