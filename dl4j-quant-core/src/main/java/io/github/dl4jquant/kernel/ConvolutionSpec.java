package io.github.dl4jquant.kernel;

/**
 * The shape of an int8 convolution's weight and how it slides, independent of the input size: a grouped 2-D
 * convolution, which also expresses 1-D ({@code kernelW = 1} on an {@code [n, c, length, 1]} view) and depthwise
 * ({@code groups = in channels}) ones. Dilation counts as DL4J and PyTorch count it: 1 is none.
 *
 * <pre>{@code
 * ConvolutionSpec conv3x3 = new ConvolutionSpec(1, 16, 32, 3, 3, 1, 1, 1, 1);
 * ConvolutionSpec depthwise = new ConvolutionSpec(32, 32, 32, 3, 3, 1, 1, 1, 1);
 * int[] out = conv3x3.outputSize(28, 28, new int[] {1, 1, 1, 1});   // {28, 28}
 * }</pre>
 */
public record ConvolutionSpec(int groups, int inChannels, int outChannels, int kernelH, int kernelW, int strideH,
                              int strideW, int dilationH, int dilationW) {

    public ConvolutionSpec {
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0 || kernelH < 1 || kernelW < 1
                || strideH < 1 || strideW < 1 || dilationH < 1 || dilationW < 1) {
            throw new IllegalArgumentException("Invalid convolution: groups " + groups + " must divide in channels "
                    + inChannels + " and out channels " + outChannels + "; kernel " + kernelH + "x" + kernelW
                    + ", strides " + strideH + "x" + strideW + " and dilations " + dilationH + "x" + dilationW
                    + " must be >= 1");
        }
    }

    /** Weight elements: {@code out * in / groups * kH * kW}. */
    public long weightLength() {
        return (long) outChannels * (inChannels / groups) * kernelH * kernelW;
    }

    /** The length of one output channel's dot product: {@code in / groups * kH * kW}. */
    public long reductionLength() {
        return (long) (inChannels / groups) * kernelH * kernelW;
    }

    /** {@code {outH, outW}} for an input of {@code h x w} with {@code pads = {top, left, bottom, right}}. */
    public int[] outputSize(int h, int w, int[] pads) {
        int effH = (kernelH - 1) * dilationH + 1;
        int effW = (kernelW - 1) * dilationW + 1;
        return new int[] {(h + pads[0] + pads[2] - effH) / strideH + 1, (w + pads[1] + pads[3] - effW) / strideW + 1};
    }
}
