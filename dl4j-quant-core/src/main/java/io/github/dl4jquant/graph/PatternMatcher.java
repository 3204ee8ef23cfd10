package io.github.dl4jquant.graph;

import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.backendconfig.LayerWithParams;
import io.github.dl4jquant.backendconfig.Pattern;
import io.github.dl4jquant.backendconfig.PatternElement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Finds where a {@link BackendConfig}'s patterns occur in a graph, with PyTorch's rules: vertices are visited in
 * topological order, longer patterns win over shorter ones (and activation-constrained over unconstrained), and a chain matches only where each inner vertex has a
 * single consumer (otherwise fusing it would change what the other consumers see).
 *
 * <pre>{@code
 * Map<String, PatternMatch> byVertex = new PatternMatcher(backendConfig).match(graphModel);
 * byVertex.get("d1").patternDescription();   // "(DenseLayer, ActivationLayer[RELU])"
 * }</pre>
 *
 * <p>A fusion pattern (one with a fuser method) is matched, fused with its fuser method, and the fused layer is then
 * matched against the single-element patterns, as PyTorch fuses before it quantizes.
 */
public final class PatternMatcher {
    private final List<BackendPatternConfig> longestFirst;

    public PatternMatcher(BackendConfig backendConfig) {
        List<BackendPatternConfig> configs = new ArrayList<>(backendConfig.getConfigs());
        configs.sort(Comparator.comparing(BackendPatternConfig::getPattern, Pattern.MOST_SPECIFIC_FIRST));
        this.longestFirst = configs;
    }

    /** Every vertex that belongs to a match, mapped to that match (one match per vertex). */
    public Map<String, PatternMatch> match(GraphModel graph) {
        Map<String, PatternMatch> byVertex = new LinkedHashMap<>();
        Set<String> claimed = new HashSet<>();
        for (String vertex : graph.vertexNames()) {
            if (claimed.contains(vertex)) {
                continue;
            }
            for (BackendPatternConfig config : longestFirst) {
                List<String> chain = matchChain(graph, vertex, config.getPattern().elements(), claimed);
                if (chain == null) {
                    continue;
                }
                PatternMatch m = resolveFusion(graph, chain, config);
                if (m == null) {
                    continue;
                }
                for (String v : chain) {
                    byVertex.put(v, m);
                    claimed.add(v);
                }
                break;
            }
        }
        return byVertex;
    }

    private static List<String> matchChain(GraphModel graph, String start, List<PatternElement> elements,
                                           Set<String> claimed) {
        List<String> chain = new ArrayList<>();
        String current = start;
        for (int i = 0; i < elements.size(); i++) {
            if (current == null || claimed.contains(current) || !elements.get(i).matches(graph.matchableConf(current))) {
                return null;
            }
            chain.add(current);
            if (i < elements.size() - 1) {
                current = singleConsumer(graph, current);
            }
        }
        return chain;
    }

    private static String singleConsumer(GraphModel graph, String vertex) {
        List<String> consumers = graph.consumersOf(vertex);
        if (consumers.size() != 1 || graph.isNetworkOutput(vertex)) {
            return null;
        }
        String next = consumers.get(0);
        return graph.inputsOf(next).size() == 1 ? next : null;
    }

    private PatternMatch resolveFusion(GraphModel graph, List<String> chain, BackendPatternConfig config) {
        if (config.getFuserMethod() == null) {
            return PatternMatch.unfused(chain, config);
        }
        List<LayerWithParams> layers = new ArrayList<>();
        for (String v : chain) {
            Layer l = graph.layerConf(v);
            if (l == null) {
                return null;
            }
            layers.add(new LayerWithParams(l.clone(), paramCopies(graph, v)));
        }
        LayerWithParams fused = config.getFuserMethod().fuse(false, layers);
        for (BackendPatternConfig candidate : longestFirst) {
            if (candidate.getPattern().size() == 1 && candidate.getFuserMethod() == null
                    && candidate.getPattern().elements().get(0).matches(fused.layer())) {
                return new PatternMatch(chain, config, candidate, fused.layer(), fused.params());
            }
        }
        return new PatternMatch(chain, config, config, fused.layer(), fused.params());
    }

    /** Copies of a vertex's parameters, so that no fuser can reach the model's own arrays. */
    static Map<String, INDArray> paramCopies(GraphModel graph, String vertex) {
        Map<String, INDArray> copies = new LinkedHashMap<>();
        org.deeplearning4j.nn.api.Layer layer = graph.graph().getLayer(vertex);
        if (layer != null) {
            layer.paramTable().forEach((k, v) -> copies.put(k, v.dup()));
        }
        return copies;
    }
}
