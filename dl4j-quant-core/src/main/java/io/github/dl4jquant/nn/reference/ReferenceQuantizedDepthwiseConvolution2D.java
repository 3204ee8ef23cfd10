package io.github.dl4jquant.nn.reference;

import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import io.github.dl4jquant.nn.LayerCopies;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch's {@code torch.ao.nn.quantized.reference.Conv2d} with {@code groups = in_channels} for DL4J's {@code DepthwiseConvolution2D}: the float layer's configuration and parameters,
 * with the input, weight and output fake-quantized as {@link ReferenceQuantizedConvolution} describes. Inference only.
 *
 * <pre>{@code
 * ReferenceQuantizedDepthwiseConvolution2D ref = ReferenceQuantizedDepthwiseConvolution2D.fromFloat(floatConf,
 *         new ReferenceQuantization(inputQParams, weightQParams, outputQParams));
 * // in a graph: ref's "W" and "b" are the float layer's (set after init, as for the float layer)
 * }</pre>
 */
public class ReferenceQuantizedDepthwiseConvolution2D extends DepthwiseConvolution2D implements ReferenceQuantizedConvolution {
    private ReferenceQuantization quantization;

    /** For Jackson. */
    public ReferenceQuantizedDepthwiseConvolution2D() {
    }

    /** A copy of {@code floatConf} (every DL4J field) that fake-quantizes with {@code quantization}. */
    public static ReferenceQuantizedDepthwiseConvolution2D fromFloat(DepthwiseConvolution2D floatConf, ReferenceQuantization quantization) {
        ReferenceQuantizedDepthwiseConvolution2D ref = LayerCopies.asSubclass(floatConf, ReferenceQuantizedDepthwiseConvolution2D.class);
        ref.setQuantization(quantization);
        return ref;
    }

    @Override
    public ReferenceQuantization getQuantization() {
        return quantization;
    }

    public void setQuantization(ReferenceQuantization quantization) {
        this.quantization = quantization;
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        if (quantization == null) {
            throw new IllegalStateException(getClass().getSimpleName() + " '" + getLayerName() + "' has no "
                    + "quantization parameters; build it with fromFloat(...)");
        }
        ReferenceQuantizedDepthwiseConvolution2DLayer layer = new ReferenceQuantizedDepthwiseConvolution2DLayer(conf, networkDataType);
        layer.setListeners(listeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        Map<String, INDArray> params = initializer().init(conf, layerParamsView, initializeParams);
        layer.setParamTable(params);
        layer.setConf(conf);
        return layer;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReferenceQuantizedDepthwiseConvolution2D r && super.equals(o) && Objects.equals(quantization, r.quantization);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), quantization);
    }

    @Override
    public String toString() {
        return "ReferenceQuantizedDepthwiseConvolution2D(" + super.toString() + ", " + quantization + ")";
    }
}
