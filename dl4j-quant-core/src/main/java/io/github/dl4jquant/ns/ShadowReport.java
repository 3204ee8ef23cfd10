package io.github.dl4jquant.ns;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * What {@link NumericSuite#shadow} found: per layer, the activation SQNR of each candidate QConfig and the best one,
 * printed like PyTorch's {@code print_comparisons_n_shadows_model} ({@code layer | best | SQNR per candidate}).
 *
 * <pre>{@code
 * ShadowReport r = NumericSuite.shadow(model, candidates, BackendConfigs.getX86BackendConfig(), calib, sample);
 * System.out.println(r);
 * QConfigMapping tuned = r.applyBest(QConfigs.getDefaultQConfigMapping("x86"));   // best candidate per layer
 * }</pre>
 */
public final class ShadowReport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Map<String, QConfig> candidates;
    private final List<ShadowComparison> rows;

    private ShadowReport(Map<String, QConfig> candidates, List<ShadowComparison> rows) {
        this.candidates = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(candidates));
        this.rows = List.copyOf(rows);
    }

    static ShadowReport of(ComputationGraph fp32Model, Map<String, QConfig> candidates,
                           Map<String, NumericSuiteReport> reports) {
        Map<String, VertexComparison> anyRow = new LinkedHashMap<>();
        reports.values().forEach(r -> r.rows().forEach(row -> anyRow.putIfAbsent(row.vertex(), row)));
        List<String> order = fp32Model.getConfiguration().getTopologicalOrderStr();
        List<VertexComparison> layers = new ArrayList<>(anyRow.values());
        layers.sort(Comparator.comparingInt(r -> order.indexOf(r.vertex())));
        List<ShadowComparison> rows = new ArrayList<>();
        for (VertexComparison layer : layers) {
            Map<String, Double> sqnr = new LinkedHashMap<>();
            Map<String, Double> weightSqnr = new LinkedHashMap<>();
            String best = null;
            for (Map.Entry<String, NumericSuiteReport> e : reports.entrySet()) {
                VertexComparison row = e.getValue().rows().stream().filter(r -> r.vertex().equals(layer.vertex()))
                        .findFirst().orElse(null);
                double s = row == null ? Double.NaN : row.alone().sqnr();
                sqnr.put(e.getKey(), s);
                weightSqnr.put(e.getKey(), row == null ? Double.NaN : row.weightSqnr());
                if (!Double.isNaN(s) && (best == null || s > sqnr.get(best))) {
                    best = e.getKey();
                }
            }
            rows.add(new ShadowComparison(layer.vertex(), layer.displayName(), layer.fp32Vertices(), sqnr, weightSqnr,
                    best));
        }
        return new ShadowReport(candidates, rows);
    }

    /** One row per layer, in graph order. */
    public List<ShadowComparison> rows() {
        return rows;
    }

    /** The row of a layer by vertex, display name, or any fp32 vertex of its pattern. */
    public ShadowComparison row(String name) {
        for (ShadowComparison r : rows) {
            if (r.vertex().equals(name) || r.displayName().equals(name) || r.fp32Vertices().contains(name)) {
                return r;
            }
        }
        throw new IllegalArgumentException("No layer named '" + name + "' in this shadow report; layers: "
                + rows.stream().map(ShadowComparison::displayName).collect(Collectors.joining(", ")));
    }

    /** The candidate names, in the order they were tried. */
    public List<String> candidateNames() {
        return List.copyOf(candidates.keySet());
    }

    /**
     * Adds a {@code module_name} entry with the best candidate to {@code mapping} for every vertex of every layer that
     * has one, and returns {@code mapping} (modified, like QConfigMapping's own setters).
     */
    public QConfigMapping applyBest(QConfigMapping mapping) {
        for (ShadowComparison r : rows) {
            if (r.best() != null) {
                for (String v : r.fp32Vertices()) {
                    mapping.setModuleName(v, candidates.get(r.best()));
                }
            }
        }
        return mapping;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("candidates", candidateNames());
        m.put("rows", rows.stream().map(ShadowComparison::toMap).collect(Collectors.toList()));
        return m;
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(toMap());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Could not serialise the shadow report", e);
        }
    }

    /** A table: layer, best candidate, then the activation SQNR (dB) of each candidate. */
    @Override
    public String toString() {
        List<String> header = new ArrayList<>(List.of("layer", "best"));
        header.addAll(candidates.keySet());
        List<List<String>> cells = new ArrayList<>();
        for (ShadowComparison r : rows) {
            List<String> c = new ArrayList<>(List.of(r.displayName(), r.best() == null ? "-" : r.best()));
            r.sqnr().values().forEach(s -> c.add(s.isNaN() ? "-" : String.format(Locale.ROOT, "%.2f", s)));
            cells.add(c);
        }
        int[] widths = new int[header.size()];
        for (int i = 0; i < widths.length; i++) {
            widths[i] = header.get(i).length();
            for (List<String> c : cells) {
                widths[i] = Math.max(widths[i], c.get(i).length());
            }
        }
        StringBuilder sb = new StringBuilder("Shadow comparison: activation SQNR alone (dB) per candidate QConfig\n");
        appendRow(sb, header, widths);
        cells.forEach(c -> appendRow(sb, c, widths));
        return sb.toString();
    }

    private static void appendRow(StringBuilder sb, List<String> cells, int[] widths) {
        for (int i = 0; i < cells.size(); i++) {
            sb.append(i == cells.size() - 1 ? cells.get(i) : String.format("%-" + widths[i] + "s  ", cells.get(i)));
        }
        sb.append('\n');
    }
}
