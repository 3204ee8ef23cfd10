package io.github.dl4jquant.ns;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Per-layer error of a quantized model against its fp32 original, worst layer first: what
 * {@link NumericSuite#compare} returns. Rows are sorted by the layer's own activation SQNR (measured alone on fp32
 * inputs, so one bad layer does not make every later layer look bad), lowest first, ties by vertex name.
 *
 * <pre>{@code
 * NumericSuiteReport r = NumericSuite.compare(prepared, quantized, sample);
 * System.out.println(r);                     // a table, worst first
 * String worst = r.rows().get(0).displayName();
 * Files.writeString(Path.of("ns.json"), r.toJson());
 * }</pre>
 */
public final class NumericSuiteReport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Comparator<VertexComparison> WORST_FIRST = Comparator
            .comparingDouble((VertexComparison r) -> sortKey(r.alone().sqnr()))
            .thenComparing(VertexComparison::vertex);

    private final List<VertexComparison> rows;
    private final long examples;
    private final double seconds;

    NumericSuiteReport(List<VertexComparison> rows, long examples, double seconds) {
        List<VertexComparison> sorted = new ArrayList<>(rows);
        sorted.sort(WORST_FIRST);
        this.rows = List.copyOf(sorted);
        this.examples = examples;
        this.seconds = seconds;
    }

    private static double sortKey(double sqnr) {
        return Double.isNaN(sqnr) ? Double.POSITIVE_INFINITY : sqnr;
    }

    /** One row per compared vertex, worst first. */
    public List<VertexComparison> rows() {
        return rows;
    }

    /** The row of a vertex, by quantized vertex name, display name, or any of the fp32 vertices it replaces. */
    public VertexComparison row(String name) {
        for (VertexComparison r : rows) {
            if (r.vertex().equals(name) || r.displayName().equals(name) || r.fp32Vertices().contains(name)) {
                return r;
            }
        }
        throw new IllegalArgumentException("No compared vertex named '" + name + "'; compared: "
                + rows.stream().map(VertexComparison::displayName).collect(Collectors.joining(", ")));
    }

    /** Number of examples the comparison ran on. */
    public long examples() {
        return examples;
    }

    /** Wall time of the comparison. */
    public double seconds() {
        return seconds;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("examples", examples);
        m.put("seconds", seconds);
        m.put("sorted_by", "alone.sqnr_db ascending");
        m.put("rows", rows.stream().map(VertexComparison::toMap).collect(Collectors.toList()));
        return m;
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(toMap());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Could not serialise the numeric suite report", e);
        }
    }

    /** A fixed-width table, worst layer first; "alone" is without and "e2e" with error propagation. */
    @Override
    public String toString() {
        String[] header = {"layer", "compared as", "module", "weight SQNR", "SQNR alone", "SQNR e2e", "L2 e2e",
            "cosine e2e", "max|err| e2e", "rmse/scale alone", "rmse/scale e2e"};
        List<String[]> cells = rows.stream().map(NumericSuiteReport::cells).collect(Collectors.toList());
        int[] widths = new int[header.length];
        for (int i = 0; i < header.length; i++) {
            widths[i] = header[i].length();
            for (String[] c : cells) {
                widths[i] = Math.max(widths[i], c[i].length());
            }
        }
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "Numeric suite: %d layer(s) on %d examples (%.2f s), worst first; SQNR in dB%n", rows.size(), examples,
                seconds));
        appendRow(sb, header, widths);
        cells.forEach(c -> appendRow(sb, c, widths));
        return sb.toString();
    }

    private static String[] cells(VertexComparison r) {
        String comparedAs = r.fp32Tensor().equals(r.quantizedTensor()) ? r.fp32Tensor()
                : r.fp32Tensor() + " ~ " + r.quantizedTensor();
        return new String[] {r.displayName(), comparedAs, r.module(), num(r.weightSqnr(), "%.2f"),
            num(r.alone().sqnr(), "%.2f"), num(r.propagated().sqnr(), "%.2f"),
            num(r.propagated().normalizedL2(), "%.4f"), num(r.propagated().cosineSimilarity(), "%.5f"),
            num(r.propagated().maxAbsError(), "%.4g"), num(r.alone().rmseOverScale(), "%.3f"),
            num(r.propagated().rmseOverScale(), "%.3f")};
    }

    private static String num(double v, String format) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, format, v);
    }

    private static void appendRow(StringBuilder sb, String[] cells, int[] widths) {
        for (int i = 0; i < cells.length; i++) {
            sb.append(i == cells.length - 1 ? cells[i] : String.format("%-" + widths[i] + "s  ", cells[i]));
        }
        sb.append('\n');
    }
}
