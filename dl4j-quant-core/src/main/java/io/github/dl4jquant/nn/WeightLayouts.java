package io.github.dl4jquant.nn;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Where a DL4J layer's weight keeps its output channels, and the layout weight observers see. Dense weights are
 * observed as DL4J stores them, {@code [nIn, nOut]}, output channels on axis 1. Convolution weights are observed in
 * PyTorch's layout {@code [out, in / groups, kH, kW]}, output channels on axis 0: DL4J's ConvolutionLayer and
 * DepthwiseConvolution2D's {@code [kH, kW, in, multiplier]} is permuted to {@code [in * multiplier, 1, kH, kW]}
 * (output channel {@code c * multiplier + m}, as in PyTorch's grouped conv). Convolution1DLayer stores
 * {@code [out, in, k, 1]} but its forward pass ({@code Convolution1DUtils.reshapeWeightArrayOrGradientForFormat})
 * reads that memory as {@code [k, in, out]} without permuting it, so the kernel it computes with is
 * {@code [out, in, k, 1]} taken from the stored values as {@code w[t][i][o] = flat[(t * in + i) * out + o]}.
 *
 * <pre>{@code
 * INDArray w = WeightLayouts.observedWeight(depthwiseConf, graph.getLayer("dw").getParam("W"));   // [C*m, 1, kH, kW]
 * int axis = WeightLayouts.outputChannelAxis(depthwiseConf);                                     // 0
 * }</pre>
 */
public final class WeightLayouts {
    private WeightLayouts() {
    }

    /**
     * The output-channel axis of {@link #observedWeight}: 1 for dense layers, 0 for convolutions and for embeddings
     * (W {@code [nIn, nOut]} holds one row per index, quantized row by row as PyTorch's Embedding weight).
     */
    public static int outputChannelAxis(Layer layer) {
        return layer instanceof DenseLayer || layer instanceof BaseOutputLayer || isRecurrent(layer) ? 1 : 0;
    }

    /** Recurrent layers and their wrappers keep W [nIn, gates] and RW [nOut, gates]: gates are columns. */
    private static boolean isRecurrent(Layer layer) {
        return layer instanceof org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer
                || layer instanceof org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional
                || layer instanceof org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
    }

    /** The weight as weight observers see it (a view or a copy; never modified). */
    public static INDArray observedWeight(Layer layer, INDArray w) {
        if (layer instanceof DepthwiseConvolution2D) {
            return depthwiseToOihw(w);
        }
        if (layer instanceof Convolution1DLayer) {
            long out = w.size(0);
            long in = w.size(1);
            long k = w.size(2);
            return w.dup('c').reshape('c', k, in, out).permute(2, 1, 0).dup('c').reshape('c', out, in, k, 1);
        }
        return w;
    }

    /** {@code [kH, kW, in, m]} to {@code [in * m, 1, kH, kW]} in 'c' order. */
    public static INDArray depthwiseToOihw(INDArray w) {
        long kh = w.size(0);
        long kw = w.size(1);
        long channels = w.size(2) * w.size(3);
        return w.reshape('c', kh, kw, channels).permute(2, 0, 1).dup('c').reshape('c', channels, 1, kh, kw);
    }

    /**
     * {@code qdq(W)} with the weight qparams {@code q} (made on {@link #observedWeight}), in the layer's own layout:
     * what a reference quantized module multiplies with.
     */
    public static INDArray fakeQuantizedWeight(Layer layer, INDArray w, QParams q) {
        return fromObservedWeight(layer, QuantOps.fakeQuantize(observedWeight(layer, w), q)).reshape('c', w.shape());
    }

    /** {@link #observedWeight}'s layout back to the layer's own ({@code w}: OIHW for convolutions). */
    public static INDArray fromObservedWeight(Layer layer, INDArray w) {
        if (layer instanceof DepthwiseConvolution2D d) {
            long multiplier = d.getDepthMultiplier();
            return oihwToDepthwise(w, new long[] {w.size(2), w.size(3), w.size(0) / multiplier, multiplier});
        }
        if (layer instanceof Convolution1DLayer) {
            long out = w.size(0);
            long in = w.size(1);
            long k = w.size(2);
            return w.reshape('c', out, in, k).permute(2, 1, 0).dup('c').reshape('c', out, in, k, 1);
        }
        return w;
    }

    /** {@code [in * m, 1, kH, kW]} back to DL4J's depthwise {@code [kH, kW, in, m]}. */
    static INDArray oihwToDepthwise(INDArray oihw, long[] depthwiseShape) {
        long channels = oihw.size(0);
        return oihw.reshape('c', channels, oihw.size(2), oihw.size(3)).permute(1, 2, 0).dup('c')
                .reshape('c', depthwiseShape);
    }

    /** A human-readable description of the observed layout, for messages. */
    public static String describeObservedLayout(Layer layer) {
        if (layer instanceof EmbeddingLayer || layer instanceof EmbeddingSequenceLayer) {
            return "[nIn, nOut] with one row per index (DL4J's embedding layout), quantized per row";
        }
        return outputChannelAxis(layer) == 1 ? "[nIn, nOut] (DL4J's dense layout)"
                : "[nOut, nIn / groups, kH, kW] (PyTorch's convolution layout)";
    }
}
