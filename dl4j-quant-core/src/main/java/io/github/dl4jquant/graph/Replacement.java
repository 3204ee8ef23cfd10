package io.github.dl4jquant.graph;

import java.util.Map;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a {@link PatternHandler} puts in place of a matched pattern: a layer, with the parameters to load into it
 * after the new graph is initialised, or a graph vertex (an int8 add), which replaces the whole pattern (an add with
 * the ReLU after it).
 *
 * <pre>{@code
 * return Replacement.of(referenceDense, Map.of("W", w, "b", b));
 * return Replacement.ofVertex(new QuantizedAdd(outputQParams, true, false));
 * }</pre>
 *
 * @param layer  the replacement layer configuration, or null for a vertex
 * @param vertex the replacement vertex configuration, or null for a layer
 * @param params the layer's parameters by key (may be empty for layers that keep their weights in the configuration)
 * @param note   shown beside the module in the report (e.g. why a layer stayed a reference module), or null
 */
public record Replacement(Layer layer, GraphVertex vertex, Map<String, INDArray> params, String note) {

    public Replacement {
        if ((layer == null) == (vertex == null)) {
            throw new IllegalArgumentException("A Replacement needs exactly one layer or vertex; return null from the "
                    + "handler to keep the pattern in fp32");
        }
        params = Map.copyOf(params);
    }

    public static Replacement of(Layer layer, Map<String, INDArray> params) {
        return new Replacement(layer, null, params, null);
    }

    /** A vertex that computes every vertex of the matched pattern. */
    public static Replacement ofVertex(GraphVertex vertex) {
        return new Replacement(null, vertex, Map.of(), null);
    }

    /** This replacement with a note for the report. */
    public Replacement withNote(String reportNote) {
        return new Replacement(layer, vertex, params, reportNote);
    }

    /** The layer or the vertex configuration. */
    public Object configuration() {
        return layer != null ? layer : vertex;
    }

    /** What the report's module column shows: the layer or vertex class, and the note if any. */
    String describe() {
        String module = configuration().getClass().getSimpleName();
        return note == null ? module : module + " (" + note + ")";
    }
}
