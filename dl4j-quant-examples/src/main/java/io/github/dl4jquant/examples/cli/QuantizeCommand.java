package io.github.dl4jquant.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.examples.HtmlReport;
import io.github.dl4jquant.examples.LoadedModel;
import io.github.dl4jquant.examples.ModelFiles;
import io.github.dl4jquant.examples.QuantizationDiagnostics;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.QuantizationReport;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code quantize}: static (calibrated) or dynamic int8 quantization of a model zip with a predefined backend, writing
 * the int8 model and optionally a report (HTML with plots, or JSON when the name ends in {@code .json}).
 *
 * <pre>{@code
 * dl4j-quant quantize --model mlp.zip --calibration train-images-idx3-ubyte.gz --backend onednn --out int8.zip
 * dl4j-quant quantize --model mlp.zip --mode dynamic --backend x86 --out dyn.zip --report dyn.json
 * }</pre>
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Quantize a DL4J model zip to int8 with a predefined backend.")
final class QuantizeCommand implements Callable<Integer> {

    /** How the activations are quantized. */
    enum Mode { STATIC, DYNAMIC }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final int DIAGNOSTIC_EXAMPLES = 512;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "DL4J model zip (ComputationGraph or MultiLayerNetwork)")
    Path model;

    @Option(names = "--calibration",
            description = "IDX directory (train split preferred), IDX images file, or CSV of features; "
                    + "required for static mode")
    Path calibration;

    @Option(names = "--calibration-examples", defaultValue = "2048",
            description = "at most this many calibration examples (default ${DEFAULT-VALUE})")
    int calibrationExamples;

    @Option(names = "--backend", defaultValue = "x86", description = "x86, onednn, fbgemm, qnnpack or native")
    String backend;

    @Option(names = "--mode", defaultValue = "static", converter = ModeConverter.class,
            description = "static or dynamic (default ${DEFAULT-VALUE})")
    Mode mode;

    @Option(names = "--out", required = true, description = "the int8 model zip to write")
    Path out;

    @Option(names = "--report", description = "report file: .html (with plots) or .json")
    Path report;

    @Override
    public Integer call() throws IOException {
        BackendConfig backendConfig = BackendConfigs.get(backend);
        requireWritable(out, "--out");
        if (report != null) {
            requireWritable(report, "--report");
        }
        if (mode == Mode.STATIC && calibration == null) {
            throw new IllegalArgumentException("--calibration is required for --mode static (or use --mode dynamic)");
        }
        LoadedModel fp32 = ModelFiles.load(model);
        CliData data = calibration == null ? null : CliData.features(calibration);
        if (data != null) {
            ModelInputs.checkFeatures(fp32, data, "calibration data");
        }
        // PyTorch has no default qconfig for its "native" backend config; prepare_fx pairs it with the default (x86)
        String qconfigBackend = backend.equals("native") ? "x86" : backend;
        QConfigMapping mapping = mode == Mode.STATIC ? QConfigs.getDefaultQConfigMapping(qconfigBackend)
                : QConfigs.getDefaultDynamicQConfigMapping(qconfigBackend);
        PreparedModel prepared = fp32.prepare(mapping, backendConfig);
        if (mode == Mode.STATIC) {
            long n = Math.min(calibrationExamples, data.numExamples());
            prepared.calibrate(batches(rows(data.features(), n), 256));
        }
        ComputationGraph int8 = Quantizer.convert(prepared);
        QuantizationReport quantizationReport = prepared.report();
        ModelFiles.save(int8, out);
        if (report != null) {
            writeReport(prepared, int8, data, quantizationReport);
        }
        var console = spec.commandLine().getOut();
        console.printf(Locale.ROOT, "%s (%s) -> %s: %s int8 (%s), %d vertices quantized, %d kept fp32; "
                        + "%,d -> %,d bytes%n", model, fp32.kind(), out, mode.name().toLowerCase(Locale.ROOT),
                backend, quantizationReport.quantized().size(), quantizationReport.keptFp32().size(),
                Files.size(model), Files.size(out));
        console.print(quantizationReport);
        console.flush();
        return 0;
    }

    private void writeReport(PreparedModel prepared, ComputationGraph int8, CliData data, QuantizationReport qr)
            throws IOException {
        QuantizationDiagnostics diagnostics = data == null ? null
                : QuantizationDiagnostics.of(prepared, int8, rows(data.features(), DIAGNOSTIC_EXAMPLES), 4);
        String name = report.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".json")) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("model", model.toString());
            json.put("mode", mode.name().toLowerCase(Locale.ROOT));
            json.put("quantization", qr.toMap());
            if (diagnostics != null) {
                json.put("diagnostics", diagnostics.toMap());
            }
            ModelFiles.writeAtomically(report, tmp -> JSON.writeValue(tmp.toFile(), json));
            return;
        }
        HtmlReport html = new HtmlReport("Quantization of " + model.getFileName())
                .addSummary("model", model.toString())
                .addSummary("mode", mode.name().toLowerCase(Locale.ROOT) + " int8, backend " + backend)
                .addSummary("calibration data", data == null ? "none" : data.source().toString())
                .addQuantizationReport(qr);
        if (diagnostics != null) {
            diagnostics.addTo(html);
        }
        html.write(report);
    }

    private static INDArray[] batches(INDArray features, int batchSize) {
        int n = (int) features.size(0);
        INDArray[] batches = new INDArray[(n + batchSize - 1) / batchSize];
        for (int i = 0; i < batches.length; i++) {
            batches[i] = features.get(NDArrayIndex.interval(i * batchSize, Math.min(n, (i + 1) * batchSize)),
                    NDArrayIndex.all());
        }
        return batches;
    }

    private static INDArray rows(INDArray features, long n) {
        return features.get(NDArrayIndex.interval(0, Math.min(n, features.size(0))), NDArrayIndex.all());
    }

    /** Fails before any work when {@code path} cannot be written, so that nothing is half-written. */
    private static void requireWritable(Path path, String option) {
        Path dir = path.toAbsolutePath().getParent();
        if (Files.isDirectory(path)) {
            throw new IllegalArgumentException(option + " " + path + " is a directory; give a file name");
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(option + " " + path + ": directory " + dir + " does not exist");
        }
        if (!Files.isWritable(dir) || (Files.exists(path) && !Files.isWritable(path))) {
            throw new IllegalArgumentException(option + " " + path + " is not writable");
        }
    }

    /** Accepts static/dynamic in any case, with a one-line error otherwise. */
    static final class ModeConverter implements picocli.CommandLine.ITypeConverter<Mode> {
        @Override
        public Mode convert(String value) {
            for (Mode m : Mode.values()) {
                if (m.name().equalsIgnoreCase(value)) {
                    return m;
                }
            }
            throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not a mode; use static or "
                    + "dynamic");
        }
    }
}
