package io.github.dl4jquant.backendconfig;

import java.util.List;
import java.util.Set;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.nd4j.linalg.activations.impl.ActivationIdentity;

/**
 * (layer[IDENTITY], ActivationLayer[act]) becomes one layer[act] with the same parameters: PyTorch's
 * {@code nni.LinearReLU} / {@code nni.ConvReLU2d} in DL4J terms. Exact because DL4J's dense and convolution layers
 * compute {@code act(x * W + b)}, which is what the pair computes; QAT and PTQ fuse the same way. Registered as
 * {@value FuserMethods#FUSE_DENSE_ACTIVATION} (DenseLayer) and {@value FuserMethods#FUSE_CONV_ACTIVATION}
 * (the convolution layers).
 *
 * <pre>{@code
 * LayerWithParams fused = FuserMethods.get("fuse_conv_activation").fuse(false, List.of(conv, reluLayer));
 * }</pre>
 */
final class ActivationFuser implements FuserMethod {
    private final String name;
    private final Set<Class<?>> roots;

    ActivationFuser(String name, Set<Class<?>> roots) {
        this.name = name;
        this.roots = Set.copyOf(roots);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public LayerWithParams fuse(boolean isQat, List<LayerWithParams> layers) {
        if (layers == null || layers.size() != 2 || !roots.contains(layers.get(0).layer().getClass())
                || !(layers.get(1).layer() instanceof ActivationLayer act)) {
            throw new IllegalArgumentException(name + ": got " + FuserMethods.describe(layers) + "; accepted: [one of "
                    + FuserMethods.simpleNames(roots) + ", ActivationLayer] in forward order");
        }
        BaseLayer root = FuserMethods.requireIdentity(name, layers.get(0).layer());
        if (act.getActivationFn() == null) {
            throw new IllegalArgumentException(name + ": ActivationLayer '" + act.getLayerName()
                    + "' has no activation; accepted: an ActivationLayer with its activation set");
        }
        BaseLayer fused = (BaseLayer) root.clone();
        fused.setActivationFn(act.getActivationFn());
        return new LayerWithParams(fused, layers.get(0).params());
    }

    @Override
    public String toString() {
        return name;
    }

    static boolean isIdentity(BaseLayer layer) {
        return layer.getActivationFn() instanceof ActivationIdentity;
    }
}
