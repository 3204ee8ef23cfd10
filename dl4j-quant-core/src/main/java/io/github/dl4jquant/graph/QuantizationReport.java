package io.github.dl4jquant.graph;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dl4jquant.QParams;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Where every vertex of a model ended up: quantized (pattern, DTypeConfig, qparams), fused, or kept fp32 with the
 * reason. Prints as a table and serialises to JSON.
 *
 * <pre>{@code
 * PreparedModel prepared = Quantizer.prepare(model, qconfigMapping, backendConfig);
 * prepared.calibrate(calibrationData);
 * QuantizationReport report = prepared.report();
 * System.out.println(report);                      // a readable table
 * Files.writeString(Path.of("report.json"), report.toJson());
 * }</pre>
 */
public final class QuantizationReport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final String backend;
    private final String kernel;
    private final List<ReportEntry> entries;
    private final CalibrationSummary calibration;

    /**
     * How much calibration data was seen.
     *
     * @param batches  batches observed
     * @param examples examples observed
     * @param seconds  wall time spent calibrating
     */
    public record CalibrationSummary(long batches, long examples, double seconds) {
    }

    QuantizationReport(String backend, String kernel, List<ReportEntry> entries, CalibrationSummary calibration) {
        this.backend = backend;
        this.kernel = kernel;
        this.entries = List.copyOf(entries);
        this.calibration = calibration;
    }

    /** The BackendConfig's name. */
    public String backend() {
        return backend;
    }

    /** The int8 GEMM kernel the converted model runs on, or null before {@code convert}. */
    public String kernel() {
        return kernel;
    }

    public CalibrationSummary calibration() {
        return calibration;
    }

    /** One entry per vertex, in topological order. */
    public List<ReportEntry> entries() {
        return entries;
    }

    /** The entry of a vertex, by vertex name or the user's layer name. */
    public ReportEntry entry(String name) {
        for (ReportEntry e : entries) {
            if (e.vertex().equals(name) || e.displayName().equals(name)) {
                return e;
            }
        }
        throw new IllegalArgumentException("No vertex named '" + name + "' in this report; vertices: "
                + entries.stream().map(ReportEntry::displayName).collect(Collectors.joining(", ")));
    }

    public List<ReportEntry> quantized() {
        return entries.stream().filter(ReportEntry::isQuantized).collect(Collectors.toList());
    }

    public List<ReportEntry> keptFp32() {
        return entries.stream().filter(e -> !e.isQuantized()).collect(Collectors.toList());
    }

    QuantizationReport withKernel(String newKernel) {
        return new QuantizationReport(backend, newKernel, entries, calibration);
    }

    QuantizationReport withEntries(List<ReportEntry> newEntries) {
        return new QuantizationReport(backend, kernel, newEntries, calibration);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backend", backend);
        if (kernel != null) {
            m.put("kernel", kernel);
        }
        m.put("quantized", quantized().size());
        m.put("kept_fp32", keptFp32().size());
        if (calibration != null) {
            m.put("calibration", Map.of("batches", calibration.batches(), "examples", calibration.examples(),
                    "seconds", calibration.seconds()));
        }
        m.put("vertices", entries.stream().map(ReportEntry::toMap).collect(Collectors.toList()));
        return m;
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(toMap());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Could not serialise the quantization report", e);
        }
    }

    /** The report as a fixed-width table, one row per vertex. */
    @Override
    public String toString() {
        String[] header = {"vertex", "type", "status", "pattern", "dtype config", "input qparams", "output qparams",
            "module / reason"};
        List<String[]> rows = entries.stream().map(QuantizationReport::row).collect(Collectors.toList());
        int[] widths = new int[header.length];
        for (int i = 0; i < header.length; i++) {
            widths[i] = header[i].length();
            for (String[] r : rows) {
                widths[i] = Math.max(widths[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append("Quantization report (backend ").append(backend);
        if (kernel != null) {
            sb.append(", kernel ").append(kernel);
        }
        sb.append("): ").append(quantized().size()).append(" quantized, ").append(keptFp32().size())
                .append(" kept fp32");
        if (calibration != null) {
            sb.append(String.format(Locale.ROOT, ", calibrated on %d examples in %d batches (%.1f s)",
                    calibration.examples(), calibration.batches(), calibration.seconds()));
        }
        sb.append('\n');
        appendRow(sb, header, widths);
        for (String[] r : rows) {
            appendRow(sb, r, widths);
        }
        return sb.toString();
    }

    private static String[] row(ReportEntry e) {
        String last = e.status() == ReportEntry.Status.KEPT_FP32
                ? e.reason().label() + (e.detail() == null || e.detail().isEmpty() ? "" : ": " + e.detail())
                : (e.module() != null ? e.module() : "") + (e.detail() == null || e.detail().isEmpty() ? ""
                        : (e.module() != null ? " " : "") + e.detail());
        return new String[] {e.displayName(), e.type(), e.status().name().toLowerCase(Locale.ROOT),
            nullToDash(e.pattern()), nullToDash(e.dtypeConfig()), qp(e.inputQParams()), qp(e.outputQParams()), last};
    }

    private static String qp(QParams q) {
        if (q == null) {
            return "-";
        }
        if (q.isPerChannel()) {
            return q.numChannels() + " channels";
        }
        return String.format(Locale.ROOT, "s=%.5g zp=%d", q.scale(), q.zeroPoint());
    }

    private static String nullToDash(String s) {
        return s == null ? "-" : s;
    }

    private static void appendRow(StringBuilder sb, String[] cells, int[] widths) {
        for (int i = 0; i < cells.length; i++) {
            sb.append(i == cells.length - 1 ? cells[i] : String.format("%-" + widths[i] + "s  ", cells[i]));
        }
        sb.append('\n');
    }
}
