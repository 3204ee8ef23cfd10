package io.github.dl4jquant.backendconfig;

import java.lang.reflect.Modifier;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Layer;

/**
 * Checks that a class named in a config is a concrete DL4J configuration class, and resolves class names read from
 * dictionaries, so that a typo or a runtime class ({@code org.deeplearning4j.nn.layers.*}) fails with a clear message.
 */
final class LayerClasses {

    static final String LAYER_OR_VERTEX = "a concrete DL4J layer configuration class (subclass of "
            + Layer.class.getName() + ", e.g. DenseLayer) or graph vertex configuration class (subclass of "
            + GraphVertex.class.getName() + ", e.g. MergeVertex)";
    static final String LAYER = "a concrete DL4J layer configuration class (subclass of " + Layer.class.getName()
            + ", e.g. DenseLayer)";

    private LayerClasses() {
    }

    /** A class usable as a pattern element or module: a concrete layer or vertex config, never LayerVertex itself. */
    static Class<?> requireLayerOrVertex(String field, Class<?> type) {
        boolean ok = type != null && (Layer.class.isAssignableFrom(type) || GraphVertex.class.isAssignableFrom(type))
                && type != LayerVertex.class && isConcrete(type);
        if (!ok) {
            throw new IllegalArgumentException(field + ": got " + name(type) + "; accepted: " + LAYER_OR_VERTEX);
        }
        return type;
    }

    static Class<?> requireLayer(String field, Class<?> type) {
        if (type == null || !Layer.class.isAssignableFrom(type) || !isConcrete(type)) {
            throw new IllegalArgumentException(field + ": got " + name(type) + "; accepted: " + LAYER);
        }
        return type;
    }

    /** Loads a class named in a dictionary without initialising it; validation is left to the caller. */
    static Class<?> forName(String field, String className) {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        try {
            return Class.forName(className, false, loader != null ? loader : LayerClasses.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new IllegalArgumentException(field + ": class '" + className
                    + "' is not on the classpath; accepted: the fully qualified name of " + LAYER_OR_VERTEX, e);
        }
    }

    private static boolean isConcrete(Class<?> type) {
        return !type.isInterface() && !Modifier.isAbstract(type.getModifiers());
    }

    private static String name(Class<?> type) {
        return type == null ? "null" : type.getName();
    }
}
