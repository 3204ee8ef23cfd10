package io.github.dl4jquant.backendconfig;

import java.util.List;

/**
 * A named function that fuses the layers matched by a fusion pattern into one layer, as PyTorch's
 * {@code fuser_method} ({@code fuse_conv_bn}, {@code fuse_linear_bn}, ...). It is named and registered in
 * {@link FuserMethods} so that a {@link BackendPatternConfig} holding it can be written to JSON and read back.
 *
 * <p>A fuser receives the matched layers with their parameters, in forward order, and returns the fused layer with
 * its parameters: moving an activation into the layer keeps the root's parameters, folding a batch norm computes new
 * ones. It must not change its inputs.
 * <pre>{@code
 * FuserMethod fuser = FuserMethods.get(FuserMethods.FUSE_DENSE_ACTIVATION);
 * LayerWithParams fused = fuser.fuse(false, List.of(
 *     new LayerWithParams(new DenseLayer.Builder().nIn(3).nOut(2).activation(Activation.IDENTITY).build(),
 *             Map.of("W", w, "b", b)),
 *     LayerWithParams.of(new ActivationLayer.Builder().activation(Activation.RELU).build())));
 * // fused.layer() is a DenseLayer with RELU, fused.params() holds w and b
 * }</pre>
 */
public interface FuserMethod {

    /** The registry name written to JSON, e.g. {@code "fuse_dense_activation"}. */
    String name();

    /**
     * Returns the fused layer and its parameters; the inputs are not modified.
     *
     * @param isQat true when preparing for quantization-aware training (PyTorch's first fuser argument)
     * @param layersInForwardOrder the matched layers with their parameters, in the order of the pattern
     * @throws IllegalArgumentException if the layers are not what this fuser fuses
     */
    LayerWithParams fuse(boolean isQat, List<LayerWithParams> layersInForwardOrder);
}
