package io.github.dl4jquant.backendconfig;

import java.util.List;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.activations.impl.ActivationIdentity;

/**
 * {@value #NAME}: (DenseLayer[IDENTITY], ActivationLayer[act]) becomes one DenseLayer[act], PyTorch's
 * {@code nni.LinearReLU} in DL4J terms. Exact because DL4J's DenseLayer computes {@code act(xW + b)} (after its
 * optional layer norm), which is what the pair computes; QAT and PTQ fuse the same way since no QAT layers exist.
 *
 * <pre>{@code
 * Layer fused = FuserMethods.get("fuse_dense_activation").fuse(false, List.of(dense, reluLayer));
 * }</pre>
 */
final class DenseActivationFuser implements FuserMethod {

    static final String NAME = "fuse_dense_activation";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Layer fuse(boolean isQat, List<Layer> layersInForwardOrder) {
        if (layersInForwardOrder == null || layersInForwardOrder.size() != 2
                || !(layersInForwardOrder.get(0) instanceof DenseLayer dense)
                || dense.getClass() != DenseLayer.class
                || !(layersInForwardOrder.get(1) instanceof ActivationLayer act)) {
            throw new IllegalArgumentException(NAME + ": got " + layersInForwardOrder
                    + "; accepted: [DenseLayer, ActivationLayer] in forward order");
        }
        if (!(dense.getActivationFn() instanceof ActivationIdentity)) {
            throw new IllegalArgumentException(NAME + ": DenseLayer '" + dense.getLayerName() + "' has activation "
                    + dense.getActivationFn() + "; accepted: IDENTITY, otherwise fusing would drop it");
        }
        if (act.getActivationFn() == null) {
            throw new IllegalArgumentException(NAME + ": ActivationLayer '" + act.getLayerName()
                    + "' has no activation; accepted: an ActivationLayer with its activation set");
        }
        DenseLayer fused = (DenseLayer) dense.clone();
        fused.setActivationFn(act.getActivationFn());
        return fused;
    }

    @Override
    public String toString() {
        return NAME;
    }
}
