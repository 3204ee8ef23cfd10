package io.github.dl4jquant.ns;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A quantized layer's place in {@link AccuracyControl}'s ranking, most sensitive first.
 *
 * <pre>{@code
 * LayerSensitivity first = result.ranking().get(0);    // e.g. d1, score 11.3, "sqnr_db"
 * }</pre>
 *
 * @param layer        the layer's root vertex
 * @param fp32Vertices every vertex of the layer's pattern (all are set to a null QConfig when it falls back)
 * @param score        the ranking score: SQNR in dB (lower is more sensitive) or metric gain (higher is more sensitive)
 * @param measure      "sqnr_db" or "fallback_gain"
 */
public record LayerSensitivity(String layer, List<String> fp32Vertices, double score, String measure) {

    public LayerSensitivity {
        fp32Vertices = List.copyOf(fp32Vertices);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer", layer);
        m.put("fp32_vertices", fp32Vertices);
        m.put(measure, Double.isFinite(score) ? score : String.valueOf(score));
        return m;
    }
}
