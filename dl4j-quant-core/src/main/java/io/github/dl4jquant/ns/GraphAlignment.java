package io.github.dl4jquant.ns;

import io.github.dl4jquant.nn.reference.QuantDequantLayer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * Pairs the tensors of an fp32 graph with those of its quantized version, using only the structure the converter
 * leaves behind: a vertex keeps its name; the non-root members of a fused pattern vanish, so the fused root computes
 * the output of the last vanished vertex of its chain; a quantize-dequantize layer added after a vertex carries that
 * vertex's tensor onward. PyTorch's numeric suite does the same job with its subgraph matcher.
 *
 * <pre>{@code
 * GraphAlignment a = GraphAlignment.of(fp32, quantized);
 * for (GraphAlignment.Group g : a.groups()) {
 *     // g.fp32Tensor() "relu1" is computed by g.quantizedVertices() ["d1"] in the quantized graph
 * }
 * }</pre>
 */
final class GraphAlignment {

    /**
     * One compared point.
     *
     * @param root              the first quantized vertex of the group that also exists in the fp32 graph (the
     *                          pattern's root, e.g. the DenseLayer of a fused dense + ReLU)
     * @param fp32Vertices      the fp32 vertices the group replaces, in forward order (root first)
     * @param fp32Tensor        the fp32 tensor the group computes
     * @param quantizedVertices the quantized graph's vertices that compute it, in topological order
     */
    record Group(String root, List<String> fp32Vertices, String fp32Tensor, List<String> quantizedVertices) {

        /** The quantized graph's tensor compared with {@link #fp32Tensor()}. */
        String quantizedTensor() {
            return quantizedVertices.get(quantizedVertices.size() - 1);
        }
    }

    private final ComputationGraphConfiguration quantizedConf;
    private final Map<String, String> fp32TensorOf;
    private final List<Group> groups;

    private GraphAlignment(ComputationGraphConfiguration quantizedConf, Map<String, String> fp32TensorOf,
                           List<Group> groups) {
        this.quantizedConf = quantizedConf;
        this.fp32TensorOf = fp32TensorOf;
        this.groups = List.copyOf(groups);
    }

    static GraphAlignment of(ComputationGraph fp32, ComputationGraph quantized) {
        ComputationGraphConfiguration fc = fp32.getConfiguration();
        ComputationGraphConfiguration qc = quantized.getConfiguration();
        if (!fc.getNetworkInputs().equals(qc.getNetworkInputs())) {
            throw new IllegalArgumentException("The quantized model's inputs " + qc.getNetworkInputs() + " differ from "
                    + "the fp32 model's " + fc.getNetworkInputs() + ": compare a model with its own quantized version");
        }
        Map<String, List<String>> fp32Consumers = consumers(fc);
        Map<String, String> tensorOf = new HashMap<>();
        Map<String, List<String>> chains = new HashMap<>();
        Map<String, List<String>> byFp32Tensor = new LinkedHashMap<>();
        for (String v : qc.getTopologicalOrderStr()) {
            String fp32Tensor = null;
            if (qc.getNetworkInputs().contains(v)) {
                fp32Tensor = v;
            } else if (fc.getVertices().containsKey(v)) {
                List<String> chain = chain(v, fc, qc, fp32Consumers);
                chains.put(v, chain);
                fp32Tensor = chain.get(chain.size() - 1);
            } else if (isQuantDequant(qc.getVertices().get(v))) {
                fp32Tensor = tensorOf.get(qc.getVertexInputs().get(v).get(0));
            }
            if (fp32Tensor != null) {
                tensorOf.put(v, fp32Tensor);
                if (!qc.getNetworkInputs().contains(v)) {
                    byFp32Tensor.computeIfAbsent(fp32Tensor, t -> new ArrayList<>()).add(v);
                }
            }
        }
        List<Group> groups = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : byFp32Tensor.entrySet()) {
            List<String> members = e.getValue();
            String root = members.stream().filter(chains::containsKey).findFirst().orElse(null);
            if (root != null && members.stream().anyMatch(m -> isChanged(m, fc, qc))) {
                groups.add(new Group(root, chains.get(root), e.getKey(), members));
            }
        }
        return new GraphAlignment(qc, tensorOf, groups);
    }

    /** The groups in which the quantized model computes something differently, in topological order. */
    List<Group> groups() {
        return groups;
    }

    /** The fp32 tensor a quantized graph tensor stands for, or null when it has no counterpart. */
    String fp32TensorOf(String quantizedTensor) {
        return fp32TensorOf.get(quantizedTensor);
    }

    /** The inputs of a quantized graph vertex, in order. */
    List<String> quantizedInputsOf(String quantizedVertex) {
        return quantizedConf.getVertexInputs().get(quantizedVertex);
    }

    boolean isNetworkInput(String tensor) {
        return quantizedConf.getNetworkInputs().contains(tensor);
    }

    /** The vertex and its single-consumer successors that vanished from the quantized graph (fused into it). */
    private static List<String> chain(String vertex, ComputationGraphConfiguration fc,
                                      ComputationGraphConfiguration qc, Map<String, List<String>> fp32Consumers) {
        List<String> chain = new ArrayList<>();
        chain.add(vertex);
        String current = vertex;
        while (true) {
            List<String> next = fp32Consumers.getOrDefault(current, List.of());
            if (next.size() != 1 || qc.getVertices().containsKey(next.get(0))) {
                return chain;
            }
            current = next.get(0);
            chain.add(current);
        }
    }

    private static Map<String, List<String>> consumers(ComputationGraphConfiguration c) {
        Map<String, List<String>> consumers = new HashMap<>();
        for (Map.Entry<String, List<String>> e : c.getVertexInputs().entrySet()) {
            for (String in : e.getValue()) {
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(e.getKey());
            }
        }
        return consumers;
    }

    /** A vertex the converter added, or whose layer it replaced with another class. */
    private static boolean isChanged(String v, ComputationGraphConfiguration fc, ComputationGraphConfiguration qc) {
        GraphVertex f = fc.getVertices().get(v);
        return f == null || !Objects.equals(confClass(f), confClass(qc.getVertices().get(v)));
    }

    private static Class<?> confClass(GraphVertex v) {
        return v instanceof LayerVertex ? ((LayerVertex) v).getLayerConf().getLayer().getClass() : v.getClass();
    }

    private static boolean isQuantDequant(GraphVertex v) {
        return v instanceof LayerVertex && ((LayerVertex) v).getLayerConf().getLayer() instanceof QuantDequantLayer;
    }
}
