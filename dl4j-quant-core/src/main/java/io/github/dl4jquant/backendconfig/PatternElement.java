package io.github.dl4jquant.backendconfig;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.IActivation;

/**
 * One op of a {@link Pattern}: a DL4J layer or vertex configuration class, optionally with the activation the layer
 * must have. DL4J folds activations into layers, so "dense followed by ReLU" is either a {@code DenseLayer} whose
 * activation is RELU or a {@code DenseLayer} with IDENTITY followed by an {@code ActivationLayer} with RELU.
 *
 * <p>Matching is by exact class, as PyTorch's {@code type(module)}: a subclass of {@code DenseLayer} does not match
 * {@code DenseLayer}. The activation is compared through the class of the layer's {@code getActivationFn()}, so a
 * ReLU with custom parameters ({@code new ActivationReLU(6.0, 0, 0)}) still matches RELU.
 * <pre>{@code
 * PatternElement relu = PatternElement.of(ActivationLayer.class, Activation.RELU);
 * relu.matches(new ActivationLayer.Builder().activation(Activation.RELU).build());   // true
 * relu.matches(new ActivationLayer.Builder().activation(Activation.TANH).build());   // false
 * PatternElement.of(MergeVertex.class).matches(new MergeVertex());                   // true
 * }</pre>
 */
public final class PatternElement {

    static final List<String> KEYS = List.of("type", "activation");

    private final Class<?> type;
    private final Activation activation;
    private final Class<?> activationClass;

    private PatternElement(Class<?> type, Activation activation) {
        this.type = LayerClasses.requireLayerOrVertex("pattern element type", type);
        this.activation = activation;
        this.activationClass = activation == null ? null : activation.getActivationFunction().getClass();
        if (activation != null && !hasActivation(type)) {
            throw new IllegalArgumentException("pattern element " + type.getSimpleName() + "[" + activation
                    + "]: " + type.getName() + " has no activation to constrain; accepted: an activation only on "
                    + "subclasses of " + BaseLayer.class.getName() + " or on " + ActivationLayer.class.getName());
        }
    }

    /** Matches any configuration of exactly class {@code type}, whatever its activation. */
    public static PatternElement of(Class<?> type) {
        return new PatternElement(type, null);
    }

    /** Matches configurations of exactly class {@code type} whose activation is {@code activation}. */
    public static PatternElement of(Class<?> type, Activation activation) {
        return new PatternElement(type, activation);
    }

    public Class<?> type() {
        return type;
    }

    /** The required activation; {@code null} means any. */
    public Activation activation() {
        return activation;
    }

    /**
     * True if {@code conf} (a DL4J {@code Layer} or {@code GraphVertex} configuration; a {@code LayerVertex} is
     * looked through to its layer) has exactly this element's class and, if constrained, its activation.
     */
    public boolean matches(Object conf) {
        Object c = conf instanceof LayerVertex lv && lv.getLayerConf() != null ? lv.getLayerConf().getLayer() : conf;
        if (c == null || c.getClass() != type) {
            return false;
        }
        if (activation == null) {
            return true;
        }
        IActivation fn = activationFnOf(c);
        return fn != null && fn.getClass() == activationClass;
    }

    private static boolean hasActivation(Class<?> type) {
        return BaseLayer.class.isAssignableFrom(type) || ActivationLayer.class.isAssignableFrom(type);
    }

    private static IActivation activationFnOf(Object conf) {
        if (conf instanceof BaseLayer b) {
            return b.getActivationFn();
        }
        return conf instanceof ActivationLayer a ? a.getActivationFn() : null;
    }

    /** The class name, or {@code {"type": ..., "activation": "RELU"}} when the activation is constrained. */
    Object toDictValue() {
        if (activation == null) {
            return type.getName();
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("type", type.getName());
        d.put("activation", activation.name());
        return d;
    }

    static PatternElement fromDictValue(String field, Object value) {
        if (value instanceof String className) {
            return of(LayerClasses.forName(field, className));
        }
        if (value instanceof Map<?, ?>) {
            DictReader r = DictReader.of(field, value, KEYS);
            String className = r.string("type", "a fully qualified class name");
            if (className == null) {
                throw r.bad("type", null, "the fully qualified name of " + LayerClasses.LAYER_OR_VERTEX);
            }
            return of(LayerClasses.forName(field + " type", className), r.enumValue("activation", Activation.class));
        }
        throw new IllegalArgumentException(field + ": got " + DictReader.describe(value)
                + "; accepted: a class name string or {\"type\": class name, \"activation\": one of "
                + Arrays.toString(Activation.values()) + "}");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PatternElement other && type == other.type && activation == other.activation;
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, activation);
    }

    /** {@code DenseLayer} or {@code ActivationLayer[RELU]}. */
    @Override
    public String toString() {
        return type.getSimpleName() + (activation == null ? "" : "[" + activation + "]");
    }
}
