package io.github.dl4jquant.nn.reference;

import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;

/**
 * What PyTorch's reference quantized convolutions ({@code torch.ao.nn.quantized.reference.Conv1d/Conv2d}) are in
 * DL4J: a subclass of the float convolution configuration that keeps its float {@code W} and {@code b} and computes
 * <pre>
 *   forward(x) = qdq_out( act( conv( qdq_in(x), qdq_w(W) ) + b ) )
 * </pre>
 * with DL4J's own convolution (every stride, padding, {@code ConvolutionMode}, dilation and data format as DL4J
 * computes them). One class per DL4J convolution class: {@link ReferenceQuantizedConvolution2D},
 * {@link ReferenceQuantizedConvolution1D}, {@link ReferenceQuantizedDepthwiseConvolution2D}. Inference only.
 *
 * <pre>{@code
 * ReferenceQuantizedConvolution2D ref = ReferenceQuantizedConvolution2D.fromFloat(convConf,
 *         new ReferenceQuantization(inputQParams, weightQParams, outputQParams));
 * ref.getQuantization().weight();     // per channel along the output channel
 * }</pre>
 */
public interface ReferenceQuantizedConvolution {

    /** The qparams around and inside the module. */
    ReferenceQuantization getQuantization();

    /** The configuration itself, as the float convolution class it extends. */
    default ConvolutionLayer asConvolution() {
        return (ConvolutionLayer) this;
    }
}
