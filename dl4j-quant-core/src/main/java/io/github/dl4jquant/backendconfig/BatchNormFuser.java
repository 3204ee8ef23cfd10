package io.github.dl4jquant.backendconfig;

import io.github.dl4jquant.nn.Fusion;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * (layer[IDENTITY], BatchNormalization) and (layer[IDENTITY], BatchNormalization, ActivationLayer[act]) become one
 * layer whose weight and bias have the batch norm folded in ({@link Fusion#foldBatchNorm}), as PyTorch's
 * {@code fuse_conv_bn}, {@code fuse_conv_bn_relu} and {@code fuse_linear_bn} do for post-training quantization. The
 * folded layer always has a bias. Registered as {@value FuserMethods#FUSE_CONV_BN},
 * {@value FuserMethods#FUSE_CONV_BN_ACTIVATION}, {@value FuserMethods#FUSE_DENSE_BN} and
 * {@value FuserMethods#FUSE_DENSE_BN_ACTIVATION}.
 *
 * <pre>{@code
 * LayerWithParams folded = FuserMethods.get("fuse_conv_bn").fuse(false, List.of(conv, bn));
 * }</pre>
 *
 * <p>QAT would keep the batch norm as a separate module (PyTorch's {@code nni.ConvBn2d}); there are no QAT modules
 * here yet, so {@code isQat = true} is refused rather than folded silently.
 */
final class BatchNormFuser implements FuserMethod {
    private final String name;
    private final Set<Class<?>> roots;
    private final boolean withActivation;

    BatchNormFuser(String name, Set<Class<?>> roots, boolean withActivation) {
        this.name = name;
        this.roots = Set.copyOf(roots);
        this.withActivation = withActivation;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public LayerWithParams fuse(boolean isQat, List<LayerWithParams> layers) {
        int expected = withActivation ? 3 : 2;
        if (layers == null || layers.size() != expected || !roots.contains(layers.get(0).layer().getClass())
                || !(layers.get(1).layer() instanceof BatchNormalization bn)
                || (withActivation && !(layers.get(2).layer() instanceof ActivationLayer))) {
            throw new IllegalArgumentException(name + ": got " + FuserMethods.describe(layers) + "; accepted: [one of "
                    + FuserMethods.simpleNames(roots) + ", BatchNormalization" + (withActivation ? ", ActivationLayer"
                    : "") + "] in forward order");
        }
        if (isQat) {
            throw new IllegalArgumentException(name + ": quantization-aware training keeps the batch norm as its own "
                    + "module (PyTorch's ConvBn2d), which dl4j-quant does not provide yet; fuse for post-training "
                    + "quantization (isQat = false)");
        }
        LayerWithParams root = layers.get(0);
        BaseLayer fused = (BaseLayer) FuserMethods.requireIdentity(name, root.layer()).clone();
        if (withActivation) {
            ActivationLayer act = (ActivationLayer) layers.get(2).layer();
            if (act.getActivationFn() == null) {
                throw new IllegalArgumentException(name + ": ActivationLayer '" + act.getLayerName()
                        + "' has no activation; accepted: an ActivationLayer with its activation set");
            }
            fused.setActivationFn(act.getActivationFn());
        }
        Map<String, INDArray> folded = Fusion.foldBatchNorm(root.layer(), root.params(), bn, layers.get(1).params());
        setHasBias(fused);
        return new LayerWithParams(fused, folded);
    }

    /** The folded layer gets a bias even if the original had none: the batch norm's shift lives there. */
    private static void setHasBias(BaseLayer layer) {
        if (layer instanceof ConvolutionLayer c) {
            c.setHasBias(true);   // every convolution class, depthwise included
        } else if (layer instanceof DenseLayer d) {
            d.setHasBias(true);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
