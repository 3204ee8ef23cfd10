package io.github.dl4jquant.graph;

import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One place in a graph where a {@link BackendPatternConfig}'s pattern matched.
 *
 * <pre>{@code
 * PatternMatch m = matches.get(0);
 * m.vertices();        // ["d1", "relu1"] in forward order
 * m.rootVertex();      // "d1": the vertex whose layer is swapped for the reference module
 * m.outputVertex();    // "relu1": the vertex whose output is observed
 * }</pre>
 *
 * @param vertices      the matched vertices in forward order
 * @param matchedConfig the config whose pattern matched (for a fusion pattern: the one with the fuser method)
 * @param config        the config that governs observation, dtypes and conversion: {@code matchedConfig}, or for a
 *                      fusion the config of the fused module
 * @param fusedLayer    the fused layer configuration built by the fuser method, or null when nothing was fused
 * @param fusedParams   the fused layer's parameters (e.g. with a batch norm folded in); empty when nothing was fused
 */
public record PatternMatch(List<String> vertices, BackendPatternConfig matchedConfig, BackendPatternConfig config,
                           Layer fusedLayer, Map<String, INDArray> fusedParams) {

    public PatternMatch {
        vertices = List.copyOf(vertices);
        fusedParams = fusedParams == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(fusedParams));
    }

    /** A match of a pattern without fusion. */
    static PatternMatch unfused(List<String> vertices, BackendPatternConfig config) {
        return new PatternMatch(vertices, config, config, null, Map.of());
    }

    /** The first vertex in forward order, which PyTorch calls the root node (e.g. the Linear of Linear-ReLU). */
    public String rootVertex() {
        return vertices.get(0);
    }

    /** The last vertex in forward order: its output is the pattern's output. */
    public String outputVertex() {
        return vertices.get(vertices.size() - 1);
    }

    public boolean isFused() {
        return fusedLayer != null;
    }

    /** The pattern as written in the matched config, e.g. {@code (DenseLayer, ActivationLayer[RELU])}. */
    public String patternDescription() {
        return String.valueOf(matchedConfig.getPattern());
    }
}
