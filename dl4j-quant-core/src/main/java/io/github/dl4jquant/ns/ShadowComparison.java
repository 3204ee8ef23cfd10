package io.github.dl4jquant.ns;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One layer of a {@link ShadowReport}: its SQNR (alone, on fp32 inputs) under each candidate QConfig, and the best one.
 *
 * <pre>{@code
 * ShadowComparison row = shadowReport.row("d1");
 * row.best();                          // "per-channel"
 * row.sqnr().get("per-tensor");        // 31.2 (dB)
 * }</pre>
 *
 * @param vertex       the layer's (root) vertex
 * @param displayName  the name the user knows it by
 * @param fp32Vertices the fp32 vertices the layer covers (a fused pattern's members); a QConfigMapping entry for the
 *                     layer must name all of them
 * @param sqnr         activation SQNR alone in dB by candidate name, NaN where the candidate left the layer fp32
 * @param weightSqnr   weight SQNR in dB by candidate name, NaN for layers without weights
 * @param best         the candidate with the highest activation SQNR (the first one on ties), or null when no
 *                     candidate quantized the layer
 */
public record ShadowComparison(String vertex, String displayName, List<String> fp32Vertices, Map<String, Double> sqnr,
                               Map<String, Double> weightSqnr, String best) {

    public ShadowComparison {
        fp32Vertices = List.copyOf(fp32Vertices);
        sqnr = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(sqnr));
        weightSqnr = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(weightSqnr));
    }

    /** A JSON-friendly map; NaN values are left out. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vertex", vertex);
        m.put("name", displayName);
        m.put("fp32_vertices", fp32Vertices);
        m.put("sqnr_db", finite(sqnr));
        m.put("weight_sqnr_db", finite(weightSqnr));
        if (best != null) {
            m.put("best", best);
        }
        return m;
    }

    private static Map<String, Double> finite(Map<String, Double> values) {
        Map<String, Double> m = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (!v.isNaN()) {
                m.put(k, v);
            }
        });
        return m;
    }
}
