package io.github.dl4jquant.nn;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * Copies a DL4J layer configuration into a subclass of its class (a reference quantized convolution from a
 * {@code ConvolutionLayer}) through DL4J's own JSON form, so that every field DL4J serialises, now or in a later
 * version, is carried over.
 *
 * <pre>{@code
 * ReferenceQuantizedConvolution2D ref = LayerCopies.asSubclass(convConf, ReferenceQuantizedConvolution2D.class);
 * }</pre>
 */
public final class LayerCopies {
    private LayerCopies() {
    }

    /**
     * A copy of {@code conf} as an instance of {@code target}, which must be a subclass of {@code conf}'s class with
     * DL4J-serialisable extra properties (left at their defaults).
     */
    public static <T extends Layer> T asSubclass(Layer conf, Class<T> target) {
        if (!conf.getClass().isAssignableFrom(target)) {
            throw new IllegalArgumentException(target.getName() + " does not extend " + conf.getClass().getName());
        }
        return copy(conf, target);
    }

    /**
     * A copy of {@code conf} as an instance of its superclass {@code target}, without the properties only the subclass
     * has ({@code dropped}).
     */
    public static <T extends Layer> T asSuperclass(Layer conf, Class<T> target, String... dropped) {
        if (!target.isAssignableFrom(conf.getClass())) {
            throw new IllegalArgumentException(conf.getClass().getName() + " does not extend " + target.getName());
        }
        return copy(conf, target, dropped);
    }

    private static <T extends Layer> T copy(Layer conf, Class<T> target, String... dropped) {
        ObjectMapper mapper = NeuralNetConfiguration.mapper();
        ObjectNode tree = mapper.valueToTree(conf);
        tree.put("@class", target.getName());
        tree.remove(java.util.List.of(dropped));
        try {
            return target.cast(mapper.treeToValue(tree, Layer.class));
        } catch (Exception e) {
            throw new IllegalStateException("Could not copy layer '" + conf.getLayerName() + "' ("
                    + conf.getClass().getSimpleName() + ") into " + target.getSimpleName() + ": " + e.getMessage(), e);
        }
    }
}
