package io.github.dl4jquant.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.QuantizationReport;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job: train (or load from the cache) the Fashion-MNIST MLP 784-256-128-10, quantize it to static int8 with
 * the oneDNN BackendConfig and {@code QConfigs.getDefaultQConfigMapping("onednn")}, and report fp32 vs int8 accuracy,
 * top-1 agreement, the per-layer quantization table, model file sizes, latency and the int8 kernel. Writes both
 * models, {@code report.json} and a self-contained {@code report.html} (plots inline) to {@code --out}.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package
 * java -cp ... io.github.dl4jquant.examples.QuantizeFashionMnist --quick --out /tmp/fm   # embedded subset, 1 epoch
 * }</pre>
 */
@Command(name = "QuantizeFashionMnist", mixinStandardHelpOptions = true,
        description = "Train or load the Fashion-MNIST MLP, quantize it to int8 and report.")
public final class QuantizeFashionMnist implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Option(names = "--epochs", defaultValue = "2", description = "training epochs (default ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--data", defaultValue = "auto",
            description = "auto (Debian's full set when installed, else the embedded subset), debian or embedded")
    String data;

    @Option(names = "--backend", defaultValue = "onednn", description = "x86, fbgemm, onednn, qnnpack or native")
    String backend;

    @Option(names = "--calibration-examples", defaultValue = "2048",
            description = "training examples the observers see (default ${DEFAULT-VALUE})")
    int calibrationExamples;

    @Option(names = "--out", defaultValue = "target/fashion-mnist", description = "output directory")
    Path out;

    @Option(names = "--retrain", description = "ignore the cached fp32 model")
    boolean retrain;

    @Option(names = "--quick", description = "embedded subset, 1 epoch, short timing loops (for CI)")
    boolean quick;

    private final PrintStream console = System.out;

    public static void main(String[] args) {
        LaunchDefaults.apply(true);
        System.exit(new CommandLine(new QuantizeFashionMnist()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        if (quick) {
            epochs = 1;
            data = "embedded";
        }
        System.setProperty(ExampleData.SOURCE_PROPERTY, data);
        ExampleData source = ExampleData.load();
        Path fp32File = out.resolve("fashion-mlp-fp32.zip");
        Path int8File = out.resolve("fashion-mlp-int8.zip");
        Files.createDirectories(out);
        if (retrain) {
            Files.deleteIfExists(fp32File);
        }

        long t = System.nanoTime();
        ComputationGraph fp32 = FashionMlp.loadOrTrain(source, epochs, fp32File);
        double modelSeconds = seconds(t);
        DataSet train = source.train();
        DataSet test = source.test();

        t = System.nanoTime();
        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping(backend),
                BackendConfigs.get(backend));
        int n = Math.min(calibrationExamples, train.numExamples());
        prepared.calibrate(FashionMnist.iterator((DataSet) train.getRange(0, n), 256));
        ComputationGraph int8 = Quantizer.convert(prepared);
        double quantizeSeconds = seconds(t);
        QuantizationReport report = prepared.report();
        ModelFiles.save(int8, int8File);

        Agreement agreement = Agreement.of(fp32.outputSingle(test.getFeatures()),
                int8.outputSingle(test.getFeatures()), test.getLabels());
        QuantizationDiagnostics diagnostics = QuantizationDiagnostics.of(prepared, int8,
                test.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 512),
                        org.nd4j.linalg.indexing.NDArrayIndex.all()), 4);
        List<Latency> latencies = List.of(Latency.measure(fp32, int8, test.getFeatures(), 1, quick ? 50 : 300),
                Latency.measure(fp32, int8, test.getFeatures(), 256, quick ? 10 : 40));
        long fp32Bytes = Files.size(fp32File);
        long int8Bytes = Files.size(int8File);
        String kernel = Int8Gemms.best().name();

        Map<String, Object> json = new LinkedHashMap<>();
        json.put("data", source.description());
        json.put("model", "ComputationGraph MLP 784-256-128-10 (Dense+ActivationLayer ReLU, Dense ReLU, softmax)");
        json.put("epochs", epochs);
        json.put("backend", backend);
        json.put("kernel", kernel);
        json.put("calibration_examples", n);
        json.put("accuracy", agreement.toMap());
        json.put("file_bytes", Map.of("fp32", fp32Bytes, "int8", int8Bytes, "ratio", (double) int8Bytes / fp32Bytes));
        json.put("latency", latencies.stream().map(Latency::toMap).toList());
        json.put("quantization", report.toMap());
        json.put("diagnostics", diagnostics.toMap());
        Path jsonFile = out.resolve("report.json");
        ModelFiles.writeAtomically(jsonFile, tmp -> JSON.writeValue(tmp.toFile(), json));

        HtmlReport html = new HtmlReport("Fashion-MNIST MLP: fp32 vs static int8 (" + backend + ")")
                .addSummary("data", source.description())
                .addSummary("test accuracy", agreement.toString())
                .addSummary("model files", sizes(fp32Bytes, int8Bytes))
                .addSummary("int8 kernel", kernel);
        latencies.forEach(l -> html.addSummary("latency, batch " + l.batchSize(), l.timings()));
        html.addQuantizationReport(report);
        diagnostics.addTo(html);
        Path htmlFile = out.resolve("report.html");
        html.write(htmlFile);

        console.println();
        console.println("== dl4j-quant: Fashion-MNIST MLP 784-256-128-10, fp32 -> static int8 (" + backend + ") ==");
        line("data", source.description());
        line("fp32 model", String.format(Locale.ROOT, "%d epoch(s), ready in %.1f s", epochs, modelSeconds));
        line("quantization", String.format(Locale.ROOT, "calibrated on %d examples, converted in %.1f s", n,
                quantizeSeconds));
        line("int8 kernel", kernel);
        line("accuracy", agreement.toString());
        line("model files", sizes(fp32Bytes, int8Bytes));
        latencies.forEach(l -> line("latency", l.toString()));
        console.println();
        console.print(report);
        console.println();
        console.println("Per-layer error of the int8 model (same " + 512 + " test images):");
        diagnostics.layerErrors().forEach(e -> console.printf(Locale.ROOT, "  %-8s SQNR %s   max |err| %.5f%n",
                e.layer(), Double.isInfinite(e.sqnrDb()) ? "exact" : String.format(Locale.ROOT, "%5.1f dB",
                        e.sqnrDb()), e.maxAbsError()));
        console.println();
        line("wrote", fp32File + ", " + int8File + ", " + jsonFile + ", " + htmlFile);
        line("total time", String.format(Locale.ROOT, "%.1f s", seconds(start)));
        return 0;
    }

    private void line(String key, String value) {
        console.printf(Locale.ROOT, "%-13s %s%n", key, value);
    }

    private static String sizes(long fp32Bytes, long int8Bytes) {
        return String.format(Locale.ROOT, "fp32 %,d bytes, int8 %,d bytes (%.2fx)", fp32Bytes, int8Bytes,
                (double) int8Bytes / fp32Bytes);
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
