package io.github.dl4jquant.examples;

import io.github.dl4jquant.graph.QuantizationReport;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one run of {@link QuantizeFashionMnist} measured; rendered as the console printout, {@code report.json} and the
 * summary of {@code report.html}.
 *
 * <pre>{@code
 * JobResult r = ...;                  // filled in by QuantizeFashionMnist
 * r.agreement().int8Accuracy();
 * Map<String, Object> json = r.toMap();
 * }</pre>
 *
 * @param data                where the data came from
 * @param backend             the predefined backend quantized for
 * @param epochs              training epochs of the fp32 model
 * @param modelSeconds        time to train or load the fp32 model
 * @param calibrationExamples examples the observers saw
 * @param quantizeSeconds     time to prepare, calibrate and convert
 * @param kernel              the int8 GEMM kernel that ran
 * @param agreement           fp32 vs int8 on the test split
 * @param fp32Bytes           size of the fp32 model zip
 * @param int8Bytes           size of the int8 model zip
 * @param latencies           demo timings, one per batch size
 * @param report              the per-vertex quantization report
 * @param diagnostics         histograms and per-layer errors
 */
public record JobResult(String data, String backend, int epochs, double modelSeconds, int calibrationExamples,
                        double quantizeSeconds, String kernel, Agreement agreement, long fp32Bytes, long int8Bytes,
                        List<Latency> latencies, QuantizationReport report, QuantizationDiagnostics diagnostics) {

    /** "fp32 873,288 bytes, int8 242,305 bytes (0.28x)". */
    public String sizes() {
        return String.format(Locale.ROOT, "fp32 %,d bytes, int8 %,d bytes (%.2fx)", fp32Bytes, int8Bytes,
                (double) int8Bytes / fp32Bytes);
    }

    /** The content of {@code report.json}. */
    public Map<String, Object> toMap() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("data", data);
        json.put("model", "ComputationGraph MLP 784-256-128-10 (Dense+ActivationLayer ReLU, Dense ReLU, softmax)");
        json.put("epochs", epochs);
        json.put("backend", backend);
        json.put("kernel", kernel);
        json.put("calibration_examples", calibrationExamples);
        json.put("accuracy", agreement.toMap());
        json.put("file_bytes", Map.of("fp32", fp32Bytes, "int8", int8Bytes, "ratio", (double) int8Bytes / fp32Bytes));
        json.put("latency", latencies.stream().map(Latency::toMap).toList());
        json.put("quantization", report.toMap());
        json.put("diagnostics", diagnostics.toMap());
        return json;
    }

    /** The self-contained HTML page: summary, per-layer table, error bars and histograms. */
    public HtmlReport toHtml() {
        HtmlReport html = new HtmlReport("Fashion-MNIST MLP: fp32 vs static int8 (" + backend + ")")
                .addSummary("data", data)
                .addSummary("test accuracy", agreement.toString())
                .addSummary("model files", sizes())
                .addSummary("int8 kernel", kernel);
        latencies.forEach(l -> html.addSummary("latency, batch " + l.batchSize(), l.timings()));
        html.addQuantizationReport(report);
        return diagnostics.addTo(html);
    }
}
