package io.github.dl4jquant.kernel;

import java.util.Arrays;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PyTorch's {@code quantized::conv2d} ({@code nnq.Conv2d}, {@code nniq.ConvReLU2d}) on oneDNN's int8 convolution: per
 * call, the float input is quantized to u8 (or the previous int8 layer's u8 values are taken over, see
 * {@link DnnlHandover}), one convolution applies the per-channel int8 weights, bias, activation and the output
 * requantization, and the u8 output is dequantized into DL4J's float output. Grouped, so it also runs depthwise
 * convolutions ({@code groups = channels}) and 1-D ones (a {@code [n, c, length, 1]} view).
 *
 * <pre>{@code
 * DnnlInt8Convolution conv = new DnnlInt8Convolution(spec, weightOihw, weightScales, bias, new ActivationReLU(),
 *         new DnnlInt8Convolution.QuantizedIO(0.02f, 0, 0.05f, 0), true);
 * int[] pads = {1, 1, 1, 1};                                    // top, left, bottom, right
 * boolean done = conv.forward(x, x, false, pads, y);             // x, y FLOAT NCHW; false: NaN in x
 * conv.offer(y);                                                // the next int8 layer takes the u8 values
 * }</pre>
 *
 * <p>Exactness: the integer convolution is exact (see {@link DnnlConvolutionPlan} for CPUs without VNNI); the float
 * epilogue rounds differently from PyTorch's reference module, so outputs agree with it within one output
 * quantization step, almost always exactly.
 *
 * <p>Thread safety: the weights are shared read-only; primitives and buffers are built per thread and input shape
 * (up to {@value #MAX_PLANS_PER_THREAD}), and oneDNN streams are per thread.
 */
public final class DnnlInt8Convolution {
    /** The kernel name reports show. */
    public static final String NAME = "onednn-int8-conv";
    private static final Logger LOG = LoggerFactory.getLogger(DnnlInt8Convolution.class);
    private static final int MAX_PLANS_PER_THREAD = 16;

    /**
     * The layer's fixed qparams: input (u8 affine) and output ({@code outScale == 0}: the output stays float).
     */
    public record QuantizedIO(float inScale, int inZp, float outScale, int outZp) {
        public QuantizedIO {
            if (!(inScale > 0f) || Float.isInfinite(inScale) || outScale < 0f || Float.isInfinite(outScale)
                    || inZp < 0 || inZp > 255 || outZp < 0 || outZp > 255) {
                throw new IllegalArgumentException("int8 convolution qparams: scales must be finite and > 0 (output "
                        + "0 for a float output) and zero points within 0..255 (quint8); got input " + inScale + "/"
                        + inZp + ", output " + outScale + "/" + outZp);
            }
        }
    }

    private final DnnlConvolutionWeights weights;
    private final DnnlEltwise eltwise;
    private final QuantizedIO io;
    private final boolean offersOutput;
    /** Per thread and shape, and the plan of the thread's last successful call, whose u8 output {@link #offer} hands. */
    private final ThreadPlans<Key, DnnlConvolutionPlan> plans = new ThreadPlans<>(MAX_PLANS_PER_THREAD);

    private record Key(long n, long c, long h, long w, boolean channelsLast) {
    }

    /**
     * @param weightOihw   qint8 weight {@code [out, in / groups, kH, kW]} row-major, zero points 0
     * @param weightScales per output channel
     * @param bias         per output channel, or null
     * @param activation   one oneDNN expresses as a post-op ({@link #expresses})
     * @param offersOutput true when every consumer of the output is an int8 layer that takes it over
     * @throws IllegalStateException when oneDNN's primitives are not available
     * @throws IllegalArgumentException when the activation has no oneDNN post-op or the shapes disagree
     */
    public DnnlInt8Convolution(ConvolutionSpec spec, byte[] weightOihw, float[] weightScales, float[] bias,
                               IActivation activation, QuantizedIO io, boolean offersOutput) {
        if (!isAvailable()) {
            throw new IllegalStateException("oneDNN primitives are not available: " + Dnnl.unavailableReason());
        }
        this.eltwise = DnnlEltwise.of(activation);
        if (eltwise == null) {
            throw new IllegalArgumentException("int8 convolution: activation " + activation + " has no oneDNN "
                    + "post-op; accepted: " + expressibleActivations());
        }
        this.weights = new DnnlConvolutionWeights(spec, weightOihw, weightScales, bias);
        this.io = io;
        this.offersOutput = offersOutput && io.outScale() != 0f;
    }

    /** True when oneDNN's primitives loaded here and their int8 products passed the start-up probe. */
    public static boolean isAvailable() {
        return Dnnl.unavailableReason() == null;
    }

    /** Why {@link #isAvailable()} is false, or null. */
    public static String unavailableReason() {
        return Dnnl.unavailableReason();
    }

    /** True when {@code activation} can be fused into the convolution. */
    public static boolean expresses(IActivation activation) {
        return DnnlEltwise.expresses(activation);
    }

    /** For messages: the activations {@link #expresses} accepts. */
    public static String expressibleActivations() {
        return "IDENTITY, RELU (default parameters), LEAKYRELU, RELU6, HARDTANH, ELU, TANH, SIGMOID";
    }

    /**
     * Runs the convolution of {@code x} into {@code y}.
     *
     * @param input        the array the caller received: if an int8 layer offered its u8 values, they are used
     * @param x            {@code input} as FLOAT {@code [n, c, h, w]} (or {@code [n, h, w, c]} when
     *                     {@code channelsLast}), contiguous 'c' order at offset 0: {@code input} itself, or its 4-D
     *                     view for 1-D convolutions
     * @param pads         {@code {top, left, bottom, right}}
     * @param y            FLOAT output of the shape {@link #outputShape} gives, same layout; written only on success
     * @return false when {@code x} holds NaN, or both +inf and -inf (which the native NaN check cannot tell apart):
     *         callers find the NaN and report it, or call {@link #forwardNanFree} when there is none
     */
    public boolean forward(INDArray input, INDArray x, boolean channelsLast, int[] pads, INDArray y) {
        return run(input, x, channelsLast, pads, y, false);
    }

    /** {@link #forward} for an input the caller has checked holds no NaN (infinities saturate). */
    public void forwardNanFree(INDArray input, INDArray x, boolean channelsLast, int[] pads, INDArray y) {
        run(input, x, channelsLast, pads, y, true);
    }

    private boolean run(INDArray input, INDArray x, boolean channelsLast, int[] pads, INDArray y, boolean nanFree) {
        long[] dims = logicalDims(x, channelsLast);
        check(x, "x", null);
        DnnlConvolutionPlan p = plan(dims, channelsLast, pads);
        check(y, "y", physicalDims(p.outDims, channelsLast));
        Pointer handed = DnnlHandover.current().take(input, io.inScale(), io.inZp());
        boolean done = p.forward(Dnnl.stream(), x.data().addressPointer(), handed, y.data().addressPointer(),
                nanFree || handed != null);
        plans.setLast(done ? p : null);
        return done;
    }

    /**
     * Offers the u8 output of this thread's last {@link #forward} as the values behind {@code output} (the array
     * the layer returns: {@code y} or a view of it) to the next int8 layers; a no-op unless {@code offersOutput}.
     */
    public void offer(INDArray output) {
        DnnlConvolutionPlan p = plans.last();
        if (offersOutput && p != null) {
            DnnlHandover.current().offer(p.quantizedOutputMemory(), output, p.quantizedOutput(), io.outScale(),
                    io.outZp());
        }
    }

    /** The output shape for an input of {@code x}'s shape: {@code [n, out, oh, ow]} (or channels last). */
    public long[] outputShape(long[] inputShape, boolean channelsLast, int[] pads) {
        long[] dims = channelsLast ? new long[] {inputShape[0], inputShape[3], inputShape[1], inputShape[2]}
                : inputShape;
        int[] out = weights.spec.outputSize((int) dims[2], (int) dims[3], pads);
        return physicalDims(new long[] {dims[0], weights.spec.outChannels(), out[0], out[1]}, channelsLast);
    }

    private DnnlConvolutionPlan plan(long[] dims, boolean channelsLast, int[] pads) {
        Key key = new Key(dims[0], dims[1], dims[2], dims[3], channelsLast);
        DnnlConvolutionPlan p = plans.get(key);
        if (p == null) {
            if (dims[1] != weights.spec.inChannels()) {
                throw new IllegalArgumentException("int8 convolution " + weights.spec + ": input has " + dims[1]
                        + " channels; expected " + weights.spec.inChannels());
            }
            p = plans.put(key, new DnnlConvolutionPlan(weights, eltwise, io, dims, channelsLast, pads));
            LOG.debug("int8 convolution {} on input {}: {}", weights.spec, Arrays.toString(dims), p.implementation());
        }
        return p;
    }

    private static long[] logicalDims(INDArray x, boolean channelsLast) {
        if (x.rank() != 4) {
            throw new IllegalArgumentException("DnnlInt8Convolution: x must have rank 4; got "
                    + Arrays.toString(x.shape()));
        }
        long[] s = x.shape();
        return channelsLast ? new long[] {s[0], s[3], s[1], s[2]} : s;
    }

    private static long[] physicalDims(long[] nchw, boolean channelsLast) {
        return channelsLast ? new long[] {nchw[0], nchw[2], nchw[3], nchw[1]} : nchw;
    }

    private static void check(INDArray a, String what, long[] shape) {
        boolean denseC = a.offset() == 0 && a.data().length() == a.length()
                && Arrays.equals(a.stride(), Nd4j.getStrides(a.shape(), 'c'));
        if (a.dataType() != DataType.FLOAT || !denseC || (shape != null && !Arrays.equals(a.shape(), shape))) {
            throw new IllegalArgumentException("DnnlInt8Convolution: " + what + " must be a contiguous 'c'-order "
                    + "FLOAT array at offset 0" + (shape == null ? "" : " of shape " + Arrays.toString(shape))
                    + "; got " + a.shapeInfoToString().replace('\n', ' '));
        }
    }

    @Override
    public String toString() {
        return NAME + "[" + weights.spec + ", " + eltwise + "]";
    }
}
