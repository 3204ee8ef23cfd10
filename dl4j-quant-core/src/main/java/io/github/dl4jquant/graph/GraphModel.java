package io.github.dl4jquant.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.IActivation;

/**
 * A read-only view of a {@link ComputationGraph}'s structure: vertices in topological order, each vertex's inputs and
 * consumers, its DL4J configuration object, and the name a user knows it by.
 *
 * <pre>{@code
 * GraphModel g = GraphModel.of(graph, Map.of());
 * for (String v : g.vertexNames()) {
 *     System.out.println(g.displayName(v) + " <- " + g.inputsOf(v));
 * }
 * }</pre>
 *
 * <p>A {@code MultiLayerNetwork} is viewed through {@code toComputationGraph()}, whose vertices are named "0", "1", ...;
 * {@code displayNames} maps them back to the user's layer names.
 */
public final class GraphModel {
    private final ComputationGraph graph;
    private final List<String> vertexNames;
    private final Map<String, List<String>> consumers;
    private final Map<String, String> displayNames;

    private GraphModel(ComputationGraph graph, Map<String, String> displayNames) {
        this.graph = graph;
        ComputationGraphConfiguration conf = graph.getConfiguration();
        List<String> order = new ArrayList<>();
        for (String name : conf.getTopologicalOrderStr()) {
            if (!conf.getNetworkInputs().contains(name)) {
                order.add(name);
            }
        }
        this.vertexNames = Collections.unmodifiableList(order);
        Map<String, List<String>> cons = new LinkedHashMap<>();
        for (String v : order) {
            for (String in : conf.getVertexInputs().get(v)) {
                cons.computeIfAbsent(in, k -> new ArrayList<>()).add(v);
            }
        }
        this.consumers = cons;
        this.displayNames = Map.copyOf(displayNames);
    }

    /** Views {@code graph}; {@code displayNames} maps vertex names to the names users know (may be empty). */
    public static GraphModel of(ComputationGraph graph, Map<String, String> displayNames) {
        return new GraphModel(graph, displayNames);
    }

    public ComputationGraph graph() {
        return graph;
    }

    public ComputationGraphConfiguration configuration() {
        return graph.getConfiguration();
    }

    /** All vertices except the network inputs, in topological order. */
    public List<String> vertexNames() {
        return vertexNames;
    }

    public List<String> networkInputs() {
        return configuration().getNetworkInputs();
    }

    public List<String> networkOutputs() {
        return configuration().getNetworkOutputs();
    }

    public boolean isNetworkInput(String name) {
        return networkInputs().contains(name);
    }

    public boolean isNetworkOutput(String name) {
        return networkOutputs().contains(name);
    }

    public boolean contains(String vertexName) {
        return configuration().getVertices().containsKey(vertexName);
    }

    /** Names of the tensors (vertex outputs or network inputs) that feed {@code vertex}, in order. */
    public List<String> inputsOf(String vertex) {
        return configuration().getVertexInputs().get(vertex);
    }

    /** Vertices that consume the output of {@code tensor} (a vertex or a network input). */
    public List<String> consumersOf(String tensor) {
        return consumers.getOrDefault(tensor, List.of());
    }

    public GraphVertex vertexConf(String vertex) {
        return configuration().getVertices().get(vertex);
    }

    /** The DL4J layer configuration of a layer vertex, or null for other vertices. */
    public Layer layerConf(String vertex) {
        GraphVertex v = vertexConf(vertex);
        return v instanceof LayerVertex ? ((LayerVertex) v).getLayerConf().getLayer() : null;
    }

    /**
     * The configuration object that patterns are matched against: the {@link Layer} of a layer vertex, otherwise the
     * {@link GraphVertex} itself (MergeVertex, ElementWiseVertex, ...).
     */
    public Object matchableConf(String vertex) {
        Layer layer = layerConf(vertex);
        return layer != null ? layer : vertexConf(vertex);
    }

    /** The name users know the vertex by: the MultiLayerNetwork layer name if any, else the vertex name. */
    public String displayName(String vertex) {
        return displayNames.getOrDefault(vertex, vertex);
    }

    /** The vertex whose display name or vertex name is {@code userName}, or null. */
    public String resolveUserName(String userName) {
        if (contains(userName) && !displayNames.containsKey(userName)) {
            return userName;
        }
        for (Map.Entry<String, String> e : displayNames.entrySet()) {
            if (e.getValue().equals(userName)) {
                return e.getKey();
            }
        }
        return contains(userName) ? userName : null;
    }

    /** A short description such as {@code DenseLayer[relu]} or {@code MergeVertex}. */
    public String typeDescription(String vertex) {
        Object conf = matchableConf(vertex);
        String type = conf.getClass().getSimpleName();
        IActivation act = activationOf(conf);
        return act == null ? type : type + "[" + act + "]";
    }

    /**
     * The activation a layer applies, or null for layers and vertices without one. DL4J's BatchNormalization layer
     * never applies the activation its configuration holds (DL4J's default sigmoid, as a rule).
     */
    public static IActivation activationOf(Object conf) {
        if (conf instanceof org.deeplearning4j.nn.conf.layers.BatchNormalization) {
            return null;
        }
        if (conf instanceof org.deeplearning4j.nn.conf.layers.BaseLayer) {
            return ((org.deeplearning4j.nn.conf.layers.BaseLayer) conf).getActivationFn();
        }
        if (conf instanceof org.deeplearning4j.nn.conf.layers.ActivationLayer) {
            return ((org.deeplearning4j.nn.conf.layers.ActivationLayer) conf).getActivationFn();
        }
        return null;
    }
}
