package io.github.dl4jquant.nn;

import java.util.Arrays;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.Subsampling1DLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;

/**
 * A DL4J pooling configuration (SubsamplingLayer, Subsampling1DLayer, GlobalPoolingLayer over images) as the int8
 * pooling kernel sees it: max or average, window, strides and the padding DL4J applies for an input size, by the
 * rules of {@link ConvolutionGeometry}. A Subsampling1DLayer pools the {@code [n, c, length, 1]} view of its input;
 * a GlobalPoolingLayer pools the whole image. DL4J's average pooling divides by the whole window, padding included,
 * when {@code avgPoolIncludePadInDivisor} is true (the builder's default is false: only the positions inside the
 * image count), as the name says and as measured against DL4J (SubsamplingLayer's comments say the opposite).
 *
 * <pre>{@code
 * PoolingGeometry g = PoolingGeometry.of(maxPoolConf);
 * int[] k = g.kernel(28, 28);      // {2, 2}
 * int[] pads = g.pads(28, 28);     // {0, 0, 0, 0}
 * }</pre>
 *
 * @param averageCountsPadding true when an average divides by the whole window, padding included
 */
public record PoolingGeometry(boolean max, boolean averageCountsPadding, int[] window, int[] stride, int[] padding,
                              ConvolutionMode mode, boolean channelsLast, boolean oneDimensional, boolean global,
                              boolean collapse) {

    /**
     * The geometry of {@code pooling}, or null when the int8 kernel cannot pool it; {@link #unsupportedReason} says
     * why.
     */
    public static PoolingGeometry of(Layer pooling) {
        if (unsupportedReason(pooling) != null) {
            return null;
        }
        if (pooling instanceof GlobalPoolingLayer g) {
            boolean channelsLast = Arrays.equals(g.getPoolingDimensions(), new int[] {1, 2});
            return new PoolingGeometry(g.getPoolingType() == PoolingType.MAX, true, null, null, new int[2],
                    ConvolutionMode.Truncate, channelsLast, false, true, g.isCollapseDimensions());
        }
        SubsamplingLayer s = (SubsamplingLayer) pooling;
        boolean oneD = s instanceof Subsampling1DLayer;
        int[] k = oneD ? new int[] {s.getKernelSize()[0], 1} : s.getKernelSize();
        int[] st = oneD ? new int[] {s.getStride()[0], 1} : s.getStride();
        int[] p = oneD ? new int[] {s.getPadding()[0], 0} : s.getPadding();
        ConvolutionMode mode = s.getConvolutionMode() == null ? ConvolutionMode.Truncate : s.getConvolutionMode();
        return new PoolingGeometry(s.getPoolingType() == PoolingType.MAX, s.isAvgPoolIncludePadInDivisor(),
                k.clone(), st.clone(), p.clone(), mode, s.getCnn2dDataFormat() == CNN2DFormat.NHWC, oneD, false, false);
    }

    /** Why the int8 kernel cannot pool as {@code pooling} does (before any input is seen), or null. */
    public static String unsupportedReason(Layer pooling) {
        if (pooling instanceof GlobalPoolingLayer g) {
            if (g.getPoolingType() != PoolingType.MAX && g.getPoolingType() != PoolingType.AVG) {
                return g.getPoolingType() + " global pooling has no quantized counterpart (PyTorch quantizes max and "
                        + "average pooling)";
            }
            int[] dims = g.getPoolingDimensions();
            if (dims != null && !Arrays.equals(dims, new int[] {2, 3}) && !Arrays.equals(dims, new int[] {1, 2})) {
                return "the int8 global pooling reduces the spatial axes of images, [2, 3] (NCHW) or [1, 2] (NHWC); "
                        + "this layer pools dimensions " + Arrays.toString(dims);
            }
            return null;
        }
        if (pooling instanceof SubsamplingLayer s) {
            if (s.getPoolingType() != PoolingType.MAX && s.getPoolingType() != PoolingType.AVG) {
                return s.getPoolingType() + " pooling has no quantized counterpart (PyTorch quantizes max and average "
                        + "pooling)";
            }
            int[] d = s.getDilation();
            if (d != null && Arrays.stream(d).anyMatch(v -> v != 1)) {
                return "the int8 pooling has no dilation; this layer's is " + Arrays.toString(d);
            }
            return null;
        }
        return pooling.getClass().getSimpleName() + " is not a pooling layer";
    }

    /** The pooling window for an input of {@code h x w}: the whole image when global. */
    public int[] kernel(int h, int w) {
        return global ? new int[] {h, w} : window.clone();
    }

    /** The strides for an input of {@code h x w}. */
    public int[] strides(int h, int w) {
        return global ? new int[] {h, w} : stride.clone();
    }

    /** {@code {top, left, bottom, right}} for an input of {@code h x w}, as DL4J pads it. */
    public int[] pads(int h, int w) {
        if (global) {
            return new int[4];
        }
        if (mode == ConvolutionMode.Same) {
            int[] top = ConvolutionGeometry.samePads(h, window[0], stride[0], 1);
            int[] left = ConvolutionGeometry.samePads(w, window[1], stride[1], 1);
            return new int[] {top[0], left[0], top[1], left[1]};
        }
        return new int[] {padding[0], padding[1], padding[0], padding[1]};
    }

    /** True when windows reach into the padding for an input of {@code h x w}. */
    public boolean padded(int h, int w) {
        return Arrays.stream(pads(h, w)).anyMatch(p -> p != 0);
    }
}
