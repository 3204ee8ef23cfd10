package io.github.dl4jquant.graph;

import java.util.Map;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The layer a {@link PatternHandler} puts in place of a matched pattern, with the parameters to load into it after
 * the new graph is initialised.
 *
 * <pre>{@code
 * return Replacement.of(referenceDense, Map.of("W", w, "b", b));
 * }</pre>
 *
 * @param layer  the replacement layer configuration
 * @param params its parameters by key (may be empty for layers that keep their weights in the configuration)
 * @param note   shown beside the module in the report (e.g. why a layer stayed a reference module), or null
 */
public record Replacement(Layer layer, Map<String, INDArray> params, String note) {

    public Replacement {
        if (layer == null) {
            throw new IllegalArgumentException("A Replacement needs a layer; return null from the handler to keep the "
                    + "pattern in fp32");
        }
        params = Map.copyOf(params);
    }

    public static Replacement of(Layer layer, Map<String, INDArray> params) {
        return new Replacement(layer, params, null);
    }

    /** This replacement with a note for the report. */
    public Replacement withNote(String reportNote) {
        return new Replacement(layer, params, reportNote);
    }

    /** What the report's module column shows: the layer class, and the note if any. */
    String describe() {
        String module = layer.getClass().getSimpleName();
        return note == null ? module : module + " (" + note + ")";
    }
}
