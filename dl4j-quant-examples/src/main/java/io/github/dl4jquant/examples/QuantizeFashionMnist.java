package io.github.dl4jquant.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job: train (or load from the cache) the Fashion-MNIST MLP 784-256-128-10, quantize it to static int8 with
 * the x86 BackendConfig and {@code QConfigs.getDefaultQConfigMapping("x86")} (PyTorch 2.x's default; 7-bit activations,
 * which CPUs without VNNI multiply in one pass; {@code --backend onednn} for 8-bit), and report fp32 vs int8 accuracy,
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
    private static final int DIAGNOSTIC_EXAMPLES = 512;

    @Option(names = "--epochs", defaultValue = "2", description = "training epochs (default ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--data", defaultValue = "auto",
            description = "auto (Debian's full set when installed, else the embedded subset), debian or embedded")
    String data;

    @Option(names = "--backend", defaultValue = "x86", description = "x86, fbgemm, onednn, qnnpack or native")
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
        Files.createDirectories(out);
        Path fp32File = out.resolve("fashion-mlp-fp32.zip");
        Path int8File = out.resolve("fashion-mlp-int8.zip");
        if (retrain) {
            Files.deleteIfExists(fp32File);
        }
        JobResult result = run(source, fp32File, int8File);
        Path jsonFile = out.resolve("report.json");
        ModelFiles.writeAtomically(jsonFile, tmp -> JSON.writeValue(tmp.toFile(), result.toMap()));
        Path htmlFile = out.resolve("report.html");
        result.toHtml().write(htmlFile);
        print(result);
        line("wrote", fp32File + ", " + int8File + ", " + jsonFile + ", " + htmlFile);
        line("total time", String.format(Locale.ROOT, "%.1f s", seconds(start)));
        return 0;
    }

    /** Trains or loads, quantizes, saves the int8 model and measures it against the fp32 one. */
    private JobResult run(ExampleData source, Path fp32File, Path int8File) throws IOException {
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
        ModelFiles.save(int8, int8File);

        INDArray x = test.getFeatures();
        Agreement agreement = Agreement.of(fp32.outputSingle(x), int8.outputSingle(x), test.getLabels());
        QuantizationDiagnostics diagnostics = QuantizationDiagnostics.of(prepared, int8,
                x.get(NDArrayIndex.interval(0, DIAGNOSTIC_EXAMPLES), NDArrayIndex.all()), 4);
        List<Latency> latencies = List.of(Latency.measure(fp32, int8, x, 1, quick ? 50 : 300),
                Latency.measure(fp32, int8, x, 256, quick ? 10 : 40));
        return new JobResult(source.description(), backend, epochs, modelSeconds, n, quantizeSeconds,
                Int8Gemms.kernelName(), agreement, Files.size(fp32File), Files.size(int8File), latencies,
                prepared.report(), diagnostics);
    }

    private void print(JobResult r) {
        console.println();
        console.println("== dl4j-quant: Fashion-MNIST MLP 784-256-128-10, fp32 -> static int8 (" + backend + ") ==");
        line("data", r.data());
        line("fp32 model", String.format(Locale.ROOT, "%d epoch(s), ready in %.1f s", epochs, r.modelSeconds()));
        line("quantization", String.format(Locale.ROOT, "calibrated on %d examples, converted in %.1f s",
                r.calibrationExamples(), r.quantizeSeconds()));
        line("int8 kernel", r.kernel());
        line("accuracy", r.agreement().toString());
        line("model files", r.sizes());
        r.latencies().forEach(l -> line("latency", l.toString()));
        console.println();
        console.print(r.report());
        console.println();
        console.println("Per-layer error of the int8 model (the first " + DIAGNOSTIC_EXAMPLES + " test images):");
        r.diagnostics().layers().forEach(l -> console.printf(Locale.ROOT,
                "  %-8s SQNR alone %5.1f dB, end to end %5.1f dB, max |err| %.5f%n", l.displayName(),
                l.alone().sqnr(), l.propagated().sqnr(), l.propagated().maxAbsError()));
        console.println();
    }

    private void line(String key, String value) {
        console.printf(Locale.ROOT, "%-13s %s%n", key, value);
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
