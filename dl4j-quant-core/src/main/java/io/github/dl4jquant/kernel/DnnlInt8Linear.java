package io.github.dl4jquant.kernel;

import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch's {@code quantized::linear} on oneDNN primitives: the whole quantized dense layer in native code, with no
 * Java pass over the data. Per call: a reorder quantizes the float input to u8, one int8 product computes
 * {@code act(s_in * s_w[j] * (x_q - zp_in) · w + b)} with the zero point (folded into the bias), per-channel
 * scales, bias and activation fused, writing either float (no output quantization) or u8 requantized to the output
 * qparams, which a second reorder dequantizes into the float output (PyTorch's reference semantics: the output is
 * fake-quantized). The product is a 1x1 convolution (2-9x faster than oneDNN's matmul for small batches) with the
 * qparams built in ({@link #forward}, static quantization) or read at run time ({@link #forwardDynamic}).
 * Softmax runs as a oneDNN primitive after it; activations oneDNN does not express run as one ND4J op on the float
 * product, before the requantization.
 *
 * <pre>{@code
 * DnnlInt8Linear linear = new DnnlInt8Linear(wInt8KN, k, n, weightScales, bias, new ActivationReLU(), false);
 * boolean done = linear.forward(x, 0.02f, 0, 0.05f, 0, y);   // x FLOAT [m,k], y FLOAT [m,n]
 * if (!done) {
 *     // NaN in x: report it
 * }
 * }</pre>
 *
 * <p>Exactness: the integer product is always exact. Where the kernel sums u8*s8 pairs in saturating int16 (CPUs
 * without VNNI, {@link #saturatesPairs()}), a batch whose quantized input exceeds 127 (PyTorch's x86 qconfig keeps
 * calibrated activations within 7 bits, but later data can exceed the calibrated range) is detected after the input
 * quantization: a few such inputs run on {@code min(x, 127)} with the remainders added exactly in Java
 * ({@link DnnlOutlierCorrection}); many run as one product of twice the length ({@link DnnlSplitProduct}). The float
 * epilogue rounds differently from a Java loop (oneDNN scales {@code acc + b / (s_in * s_w) - zp * colsum(w)}), so
 * outputs agree with the reference layer within one output quantization step, almost always exactly.
 *
 * <p>Thread safety: the weights ({@link DnnlLinearParams}) are shared read-only; primitives, memories and argument
 * maps ({@link DnnlLinearPlan}) are built per thread and batch size ({@link ThreadPlans}: freed with a discarded
 * model), and oneDNN streams are per thread. The rare paths live in {@link DnnlOutlierCorrection} and
 * {@link DnnlSplitProduct}.
 */
public final class DnnlInt8Linear {
    /** The kernel name reports show. */
    public static final String NAME = "onednn-fused-int8";
    private static final int MAX_PLANS_PER_THREAD = 16;

    private final DnnlLinearParams params;
    private final boolean offersOutput;
    private final ThreadPlans<Long, DnnlLinearPlan> plans = new ThreadPlans<>(MAX_PLANS_PER_THREAD);

    /**
     * @param weightKN     int8 weight, row-major {@code [k, n]}; oneDNN gets its own copy, but the array itself is kept
     *                     (for the exact outlier correction), not copied: do not change it afterwards
     * @param weightScales per output column (per-channel symmetric; repeat one value for per-tensor)
     * @param bias         float bias per output column, or null
     * @param activation   ReLU, tanh and sigmoid are fused into the product, softmax is a oneDNN primitive after it,
     *                     identity costs nothing; others run as an ND4J op
     * @param offersOutput true when every consumer of the output is an int8 layer that takes its u8 values over
     *                     ({@link DnnlHandover}); then nothing may change the output array in place
     * @throws IllegalStateException when oneDNN's primitives are not available ({@link #unavailableReason()})
     */
    public DnnlInt8Linear(byte[] weightKN, int k, int n, float[] weightScales, float[] bias,
                          IActivation activation, boolean offersOutput) {
        if (!isAvailable()) {
            throw new IllegalStateException("oneDNN primitives are not available: " + unavailableReason()
                    + ". Use Int8Gemms.best() kernels instead");
        }
        this.params = new DnnlLinearParams(weightKN, k, n, weightScales, bias, activation);
        this.offersOutput = offersOutput;
    }

    /** True when oneDNN's primitives loaded here and their int8 products passed the start-up probe. */
    public static boolean isAvailable() {
        return Dnnl.unavailableReason() == null;
    }

    /** Why {@link #isAvailable()} is false, or null. */
    public static String unavailableReason() {
        return Dnnl.unavailableReason();
    }

    /**
     * True when u8 activations above 128 would saturate the kernel (no VNNI): such batches run an exact correction
     * or a second product.
     */
    public static boolean saturatesPairs() {
        return Dnnl.saturatesPairs();
    }

    /**
     * Runs the layer on {@code x} into {@code y} with qparams that stay the same from call to call (static
     * quantization): the first call per batch size and thread builds a kernel with them built in, and any change of
     * qparams builds another (milliseconds), so qparams computed per batch belong in {@link #forwardDynamic}.
     *
     * <p>When {@code x} is an array an int8 layer on this thread offered as its output ({@code offersOutput}), and
     * {@code inScale} and {@code inZp} are that layer's output qparams, its u8 values are reused instead of quantizing
     * {@code x} again ({@link DnnlHandover}).
     *
     * @param x         FLOAT {@code [m, k]}, contiguous 'c' order, offset 0
     * @param inScale   input quantization scale (quint8)
     * @param inZp      input zero point
     * @param outScale  output quantization scale, or 0 for a float output without fake-quantization
     * @param outZp     output zero point (ignored when {@code outScale} is 0)
     * @param y         FLOAT {@code [m, n]}, contiguous 'c' order, offset 0; written only when this returns true
     * @return false, leaving {@code y} untouched, when {@code x} holds NaN (callers report it), or both +inf and
     *         -inf, which the NaN check (a native sum) cannot tell from NaN (callers take their exact path)
     */
    public boolean forward(INDArray x, float inScale, int inZp, float outScale, int outZp, INDArray y) {
        return run(x, inScale, inZp, outScale, outZp, y, true);
    }

    /**
     * {@link #forward} for qparams that change from call to call (dynamic quantization, from {@link #range}): the
     * product reads the input scale and zero point at run time, with nothing rebuilt per call.
     */
    public boolean forwardDynamic(INDArray x, float inScale, int inZp, float outScale, int outZp, INDArray y) {
        return run(x, inScale, inZp, outScale, outZp, y, false);
    }

    private boolean run(INDArray x, float inScale, int inZp, float outScale, int outZp, INDArray y,
                        boolean fixedQParams) {
        DnnlHandover handover = DnnlHandover.current();
        Pointer handed = handover.take(x, inScale, inZp);
        int m = (int) x.size(0);
        check(x, m, params.k(), "x");
        check(y, m, params.n(), "y");
        DnnlLinearPlan p = plan(m, outScale != 0f, fixedQParams);
        p.bind(x, y);
        p.setQParams(inScale, inZp, outScale, outZp);
        if (!p.forward(Dnnl.stream(), handed, y)) {
            return false;
        }
        if (offersOutput && p.quantizedOutput != null) {
            handover.offer(p.quantizedOutputMemory, y, p.quantizedOutput, outScale, outZp);
        }
        return true;
    }

    /**
     * {min, max} of {@code x} computed natively, for dynamic quantization, or null when {@code x} holds NaN (the
     * exact path then reports it).
     */
    public float[] range(INDArray x) {
        int m = (int) x.size(0);
        check(x, m, params.k(), "x");
        DnnlLinearPlan p = plan(m, false, false);
        p.bind(x, null);
        return p.range(Dnnl.stream());
    }

    @Override
    public String toString() {
        return params.toString();
    }

    private static void check(INDArray a, int rows, int cols, String what) {
        if (a.dataType() != DataType.FLOAT || a.rank() != 2 || a.size(0) != rows || a.size(1) != cols
                || a.ordering() != 'c' || a.offset() != 0 || a.elementWiseStride() != 1) {
            throw new IllegalArgumentException("DnnlInt8Linear: " + what + " must be a contiguous 'c'-order FLOAT ["
                    + rows + ", " + cols + "] array at offset 0; got " + a.shapeInfoToString().replace('\n', ' '));
        }
    }

    private DnnlLinearPlan plan(int m, boolean fakeQuantizedOutput, boolean fixedQParams) {
        long key = (long) m << 2 | (fakeQuantizedOutput ? 2 : 0) | (fixedQParams ? 1 : 0);
        DnnlLinearPlan p = plans.get(key);
        if (p == null) {
            p = plans.put(key, new DnnlLinearPlan(params, m, fakeQuantizedOutput, fixedQParams));
        }
        return p;
    }
}
