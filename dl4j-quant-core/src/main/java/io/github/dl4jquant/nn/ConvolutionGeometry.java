package io.github.dl4jquant.nn;

import io.github.dl4jquant.kernel.ConvolutionSpec;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;

/**
 * A DL4J convolution configuration as the int8 kernel sees it: a grouped 2-D convolution ({@link ConvolutionSpec}),
 * the data layout, and the padding DL4J applies for an input size, by DL4J's rules
 * ({@code ConvolutionUtils.getSameModeTopLeftPadding}: Same pads {@code total / 2} top-left and the rest bottom-right;
 * Causal pads {@code (k - 1) * d} on the left only; Strict and Truncate use the configured padding on both sides).
 * A Convolution1DLayer is a 2-D convolution over the {@code [n, c, length, 1]} view of its {@code [n, c, length]}
 * input (NWC: {@code [n, length, 1, c]}), with the kernel along the first spatial axis as DL4J's weight
 * {@code [out, in, k, 1]} has it.
 *
 * <pre>{@code
 * ConvolutionGeometry g = ConvolutionGeometry.of(convConf);
 * int[] pads = g.pads(28, 28);          // {top, left, bottom, right}
 * g.channelsLast();                     // NHWC / NWC
 * }</pre>
 */
public record ConvolutionGeometry(ConvolutionSpec spec, ConvolutionMode mode, int[] padding, boolean channelsLast,
                                  boolean oneDimensional) {

    /**
     * The geometry of {@code conf}.
     *
     * @throws IllegalArgumentException for SeparableConvolution2D (two convolutions in one layer)
     */
    public static ConvolutionGeometry of(ConvolutionLayer conf) {
        if (conf instanceof SeparableConvolution2D) {
            throw new IllegalArgumentException("SeparableConvolution2D '" + conf.getLayerName() + "' is two "
                    + "convolutions in one layer and has no single int8 geometry");
        }
        ConvolutionMode mode = conf.getConvolutionMode() == null ? ConvolutionMode.Truncate : conf.getConvolutionMode();
        int in = (int) conf.getNIn();
        int out = (int) conf.getNOut();
        if (conf instanceof Convolution1DLayer c) {
            ConvolutionSpec spec = new ConvolutionSpec(1, in, out, c.getKernelSize()[0], 1, c.getStride()[0], 1,
                    c.getDilation()[0], 1);
            return new ConvolutionGeometry(spec, mode, new int[] {c.getPadding()[0], 0},
                    c.getRnnDataFormat() == RNNFormat.NWC, true);
        }
        int[] k = conf.getKernelSize();
        int[] s = conf.getStride();
        int[] d = conf.getDilation();
        int groups = 1;
        if (conf instanceof DepthwiseConvolution2D dw) {
            groups = in;
            out = in * dw.getDepthMultiplier();
        }
        ConvolutionSpec spec = new ConvolutionSpec(groups, in, out, k[0], k[1], s[0], s[1], d[0], d[1]);
        return new ConvolutionGeometry(spec, mode, conf.getPadding().clone(),
                conf.getCnn2dDataFormat() == CNN2DFormat.NHWC, false);
    }

    /** {@code {top, left, bottom, right}} for an input of {@code h x w}, as DL4J pads it. */
    public int[] pads(int h, int w) {
        if (mode == ConvolutionMode.Same) {
            int[] top = samePads(h, spec.kernelH(), spec.strideH(), spec.dilationH());
            int[] left = samePads(w, spec.kernelW(), spec.strideW(), spec.dilationW());
            return new int[] {top[0], left[0], top[1], left[1]};
        }
        if (mode == ConvolutionMode.Causal) {
            return new int[] {(spec.kernelH() - 1) * spec.dilationH(), 0, 0, 0};
        }
        return new int[] {padding[0], padding[1], padding[0], padding[1]};
    }

    /** Same mode: the output is {@code ceil(in / stride)}; the padding it needs goes half before, the rest after. */
    static int[] samePads(int in, int kernel, int stride, int dilation) {
        int out = (in + stride - 1) / stride;
        int effective = (kernel - 1) * dilation + 1;
        int total = Math.max(0, (out - 1) * stride + effective - in);
        return new int[] {total / 2, total - total / 2};
    }
}
