package io.github.dl4jquant.backendconfig;

import java.util.List;
import org.deeplearning4j.nn.conf.layers.Layer;

/**
 * A named function that fuses the layers matched by a fusion pattern into one layer configuration, as PyTorch's
 * {@code fuser_method}. It is named and registered in {@link FuserMethods} so that a {@link BackendPatternConfig}
 * holding it can be written to JSON and read back.
 *
 * <p>The fused layer keeps the parameters of the pattern's root (first) layer: a fuser may only change how the
 * layer computes from those parameters, e.g. which activation it applies.
 * <pre>{@code
 * FuserMethod fuser = FuserMethods.get(FuserMethods.FUSE_DENSE_ACTIVATION);
 * Layer fused = fuser.fuse(false, List.of(
 *     new DenseLayer.Builder().nIn(3).nOut(2).activation(Activation.IDENTITY).build(),
 *     new ActivationLayer.Builder().activation(Activation.RELU).build()));
 * // fused is a DenseLayer with RELU
 * }</pre>
 */
public interface FuserMethod {

    /** The registry name written to JSON, e.g. {@code "fuse_dense_activation"}. */
    String name();

    /**
     * Returns a new fused layer configuration; the inputs are not modified.
     *
     * @param isQat true when preparing for quantization-aware training (PyTorch's first fuser argument)
     * @param layersInForwardOrder the matched layer configurations, in the order of the pattern
     * @throws IllegalArgumentException if the layers are not what this fuser fuses
     */
    Layer fuse(boolean isQat, List<Layer> layersInForwardOrder);
}
