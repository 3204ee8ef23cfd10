package io.github.dl4jquant.backendconfig;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A DL4J layer configuration with its parameters, what PyTorch calls a module: the unit a {@link FuserMethod} fuses.
 * The parameter map is unmodifiable; its arrays belong to whoever built the record (a fuser never changes them).
 *
 * <pre>{@code
 * LayerWithParams conv = new LayerWithParams(convConf, Map.of("W", w, "b", b));
 * LayerWithParams fused = FuserMethods.get(FuserMethods.FUSE_CONV_BN).fuse(false, List.of(conv, bn));
 * fused.params().get("W");   // the batch norm folded in
 * }</pre>
 *
 * @param layer  the layer configuration
 * @param params its parameters by DL4J key ("W", "b", "gamma", ...); empty for layers without parameters
 */
public record LayerWithParams(Layer layer, Map<String, INDArray> params) {

    public LayerWithParams {
        if (layer == null) {
            throw new IllegalArgumentException("LayerWithParams: the layer configuration is null");
        }
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params == null ? Map.of() : params));
    }

    /** A layer without parameters (an ActivationLayer, a pooling layer). */
    public static LayerWithParams of(Layer layer) {
        return new LayerWithParams(layer, Map.of());
    }

    /** The parameter {@code key}; throws naming the layer when it has none of that name. */
    public INDArray param(String key) {
        INDArray p = params.get(key);
        if (p == null) {
            throw new IllegalArgumentException("Layer '" + layer.getLayerName() + "' ("
                    + layer.getClass().getSimpleName() + ") has no parameter '" + key + "'; it has " + params.keySet());
        }
        return p;
    }
}
