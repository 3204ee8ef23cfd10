package io.github.dl4jquant.backendconfig;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.Convolution1D;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.Convolution2D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.Layer;

/**
 * The registry of {@link FuserMethod}s by name, so that {@code "fuser_method": "fuse_conv_bn"} in a JSON config
 * resolves to code. Built in, with PyTorch's counterparts:
 * <ul>
 * <li>{@value #FUSE_DENSE_ACTIVATION}: (DenseLayer[IDENTITY], ActivationLayer) to a DenseLayer with that activation
 *     ({@code nni.LinearReLU});</li>
 * <li>{@value #FUSE_CONV_ACTIVATION}: (convolution[IDENTITY], ActivationLayer) to the convolution with that activation
 *     ({@code nni.ConvReLU2d});</li>
 * <li>{@value #FUSE_CONV_BN} and {@value #FUSE_CONV_BN_ACTIVATION}: the batch norm folded into the convolution
 *     ({@code fuse_conv_bn}, {@code fuse_conv_bn_relu});</li>
 * <li>{@value #FUSE_DENSE_BN} and {@value #FUSE_DENSE_BN_ACTIVATION}: the batch norm folded into the DenseLayer
 *     ({@code fuse_linear_bn}).</li>
 * </ul>
 * The convolutions are {@link #CONVOLUTIONS}.
 *
 * <pre>{@code
 * FuserMethods.register(myFuser);                        // once, at start-up
 * new BackendPatternConfig(Pattern.sequence(DenseLayer.class, DropoutLayer.class))
 *     .setFuserMethod(FuserMethods.get(myFuser.name()));
 * }</pre>
 */
public final class FuserMethods {

    public static final String FUSE_DENSE_ACTIVATION = "fuse_dense_activation";
    public static final String FUSE_CONV_ACTIVATION = "fuse_conv_activation";
    public static final String FUSE_CONV_BN = "fuse_conv_bn";
    public static final String FUSE_CONV_BN_ACTIVATION = "fuse_conv_bn_activation";
    public static final String FUSE_DENSE_BN = "fuse_dense_bn";
    public static final String FUSE_DENSE_BN_ACTIVATION = "fuse_dense_bn_activation";

    /** The convolution configuration classes the built-in convolution fusers accept (exact classes). */
    public static final List<Class<? extends Layer>> CONVOLUTIONS = List.of(ConvolutionLayer.class,
            Convolution2D.class, Convolution1DLayer.class, Convolution1D.class, DepthwiseConvolution2D.class);

    private static final Map<String, FuserMethod> REGISTRY = new LinkedHashMap<>();

    static {
        Set<Class<?>> dense = Set.of(DenseLayer.class);
        Set<Class<?>> convolutions = Set.copyOf(CONVOLUTIONS);
        register(new ActivationFuser(FUSE_DENSE_ACTIVATION, dense));
        register(new ActivationFuser(FUSE_CONV_ACTIVATION, convolutions));
        register(new BatchNormFuser(FUSE_CONV_BN, convolutions, false));
        register(new BatchNormFuser(FUSE_CONV_BN_ACTIVATION, convolutions, true));
        register(new BatchNormFuser(FUSE_DENSE_BN, dense, false));
        register(new BatchNormFuser(FUSE_DENSE_BN_ACTIVATION, dense, true));
    }

    private FuserMethods() {
    }

    /**
     * Registers {@code method} under its name. Registering the same instance again is a no-op.
     *
     * @throws IllegalArgumentException if the name is blank or already taken by another instance, since a config
     *     read from JSON would then silently run different code
     */
    public static synchronized void register(FuserMethod method) {
        String name = method == null ? null : method.name();
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("fuser_method: got " + (method == null ? "null" : "a method named '"
                    + name + "'") + "; accepted: a FuserMethod with a non-blank name()");
        }
        FuserMethod existing = REGISTRY.get(name);
        if (existing != null && existing != method) {
            throw new IllegalArgumentException("fuser_method: the name '" + name + "' is already registered to "
                    + existing.getClass().getName() + "; accepted: a name not in " + names());
        }
        REGISTRY.put(name, method);
    }

    /** @throws IllegalArgumentException naming the registered methods when {@code name} is unknown */
    public static synchronized FuserMethod get(String name) {
        FuserMethod method = REGISTRY.get(name);
        if (method == null) {
            throw new IllegalArgumentException("fuser_method: unknown name '" + name + "'; accepted: " + names()
                    + " (register custom ones with FuserMethods.register)");
        }
        return method;
    }

    /** True if {@code method} is the instance registered under its name. */
    public static synchronized boolean isRegistered(FuserMethod method) {
        return method != null && REGISTRY.get(method.name()) == method;
    }

    /** The registered names, sorted. */
    public static synchronized Set<String> names() {
        return new TreeSet<>(REGISTRY.keySet());
    }

    /** The root layer as a BaseLayer whose activation is IDENTITY; otherwise fusing would drop its activation. */
    static BaseLayer requireIdentity(String fuser, Layer root) {
        BaseLayer b = (BaseLayer) root;
        if (!ActivationFuser.isIdentity(b)) {
            throw new IllegalArgumentException(fuser + ": " + root.getClass().getSimpleName() + " '"
                    + root.getLayerName() + "' has activation " + b.getActivationFn()
                    + "; accepted: IDENTITY, otherwise fusing would drop it");
        }
        return b;
    }

    static String describe(List<LayerWithParams> layers) {
        return layers == null ? "null" : layers.stream().map(l -> l.layer().getClass().getSimpleName() + " '"
                + l.layer().getLayerName() + "'").collect(Collectors.joining(", ", "[", "]"));
    }

    static String simpleNames(Set<Class<?>> classes) {
        return classes.stream().map(Class::getSimpleName).sorted().collect(Collectors.joining(", "));
    }
}
