package io.github.dl4jquant.kernel;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_ATTR_OUTPUT_SCALES;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_ATTR_ZERO_POINTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_RUNTIME_F32_VAL;
import static org.bytedeco.dnnl.global.dnnl.DNNL_RUNTIME_S32_VAL;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.matmul;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reduction;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch's {@code quantized::linear} on oneDNN primitives: the whole quantized dense layer in native code, with no
 * Java pass over the data. Per call: a reorder quantizes the float input to u8, one matmul computes
 * {@code act(s_in * s_w[j] * (x_q - zp_in) · w + b)} with the zero point, per-channel scales, bias and ReLU fused,
 * writing either float (no output quantization) or u8 requantized to the output qparams, which a second reorder
 * dequantizes into the float output (PyTorch's reference semantics: the output is fake-quantized). Activations
 * other than ReLU and identity (sigmoid, tanh, softmax, ...) run as one ND4J op on the float matmul output, before
 * the requantization.
 *
 * <pre>{@code
 * DnnlInt8Linear linear = new DnnlInt8Linear(wInt8KN, k, n, weightScales, bias, new ActivationReLU());
 * boolean done = linear.forward(x, 0.02f, 0, 0.05f, 0, y);   // x FLOAT [m,k], y FLOAT [m,n]
 * if (!done) {
 *     // NaN in x: report it
 * }
 * }</pre>
 *
 * <p>Exactness: the integer product is always exact. Where the kernel sums u8*s8 pairs in saturating int16 (CPUs
 * without VNNI, {@link #saturatesPairs()}), a batch whose quantized input exceeds 128 (PyTorch's x86 qconfig keeps
 * calibrated activations within 7 bits, but later data can exceed the calibrated range) is detected after the input
 * quantization and computed as one product of twice the length: two reorders split each value into
 * {@code min(x, 127)} and {@code max(x - 127, 0)}, multiplied against the weight stacked twice, with the zero point
 * folded into the bias. The float epilogue rounds differently from a Java loop (oneDNN scales
 * {@code acc + b / (s_in * s_w)}), so outputs agree with the reference layer within one output quantization step,
 * almost always exactly.
 *
 * <p>Thread safety: primitives are built per thread and per batch size, with their memories and argument maps, and
 * oneDNN streams are per thread; the weights are shared read-only.
 */
public final class DnnlInt8Linear {
    /** The kernel name reports show. */
    public static final String NAME = "onednn-fused-int8";
    /** Largest u8 activation whose product pairs cannot saturate int16. */
    private static final int MAX_SAFE_INPUT = OneDnnInt8Gemm.MAX_SAFE_INPUT;
    private static final int MAX_PLANS_PER_THREAD = 16;
    private static final int SPLIT = 127;

    private final int k;
    private final int n;
    private final boolean relu;
    /** Applied by ND4J between the matmul and the requantization; null for ReLU (fused) and identity. */
    private final IActivation activation;
    private final float[] weightScales;
    private final float[] bias;
    private final byte[] weightKN;
    private final long[] colSums;
    private final memory weights;
    private volatile memory weightsTwice;
    private final ThreadLocal<Map<Long, Plan>> plans = ThreadLocal.withInitial(HashMap::new);

    /**
     * @param weightKN     int8 weight, row-major {@code [k, n]} (copied)
     * @param weightScales per output column (per-channel symmetric; repeat one value for per-tensor)
     * @param bias         float bias per output column, or null
     * @param activation   ReLU is fused into the matmul; identity costs nothing; others run as an ND4J op
     */
    public DnnlInt8Linear(byte[] weightKN, int k, int n, float[] weightScales, float[] bias,
                          IActivation activation) {
        requireAvailable();
        if (weightKN.length != (long) k * n || weightScales.length != n || (bias != null && bias.length != n)) {
            throw new IllegalArgumentException("DnnlInt8Linear: weight must hold k * n = " + (long) k * n
                    + " values and scales/bias n = " + n + "; got " + weightKN.length + ", " + weightScales.length
                    + ", " + (bias == null ? "no bias" : bias.length));
        }
        this.k = k;
        this.n = n;
        this.relu = new ActivationReLU().equals(activation);
        this.activation = relu || activation instanceof ActivationIdentity ? null : activation;
        this.weightScales = weightScales.clone();
        this.bias = bias == null ? new float[n] : bias.clone();
        this.weightKN = weightKN.clone();
        this.colSums = columnSums(weightKN, k, n);
        this.weights = Dnnl.bytes(weightDesc(k, n), columnMajor(weightKN, k, n, 1));
    }

    /** True when oneDNN's primitives loaded here and their int8 matmul passed the start-up probe. */
    public static boolean isAvailable() {
        return Dnnl.unavailableReason() == null;
    }

    /** Why {@link #isAvailable()} is false, or null. */
    public static String unavailableReason() {
        return Dnnl.unavailableReason();
    }

    /** True when u8 activations above 128 would saturate (no VNNI): such batches run a split product. */
    public static boolean saturatesPairs() {
        return Dnnl.saturatesPairs();
    }

    /**
     * Runs the layer on {@code x} into {@code y}.
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
        int m = (int) x.size(0);
        check(x, m, k, "x");
        check(y, m, n, "y");
        Plan p = plan(m, outScale != 0f);
        p.bind(x, y);
        p.quantizeParams(inScale, inZp, outScale, outZp);
        stream s = Dnnl.stream();
        p.nanCheck.execute(s, p.nanArgs);
        p.quantize.execute(s, p.quantizeArgs);
        if (Dnnl.saturatesPairs()) {
            p.maxCheck.execute(s, p.maxArgs);
        }
        s._wait();
        if (Float.isNaN(p.sum.get(0))) {
            return false;
        }
        boolean floatInY = !p.matmulRequantizes;
        if (Dnnl.saturatesPairs() && (p.max.get(0) & 0xFF) > MAX_SAFE_INPUT) {
            if (p.outliers().tryRun(s)) {
                floatInY = true;
            } else {
                p.split().run(s);
            }
        } else {
            p.matmul.execute(s, p.matmulArgs);
        }
        if (activation != null) {
            s._wait();
            INDArray a = activation.getActivation(y, false);
            if (a != y) {
                y.assign(a);
            }
        }
        if (p.dequantize != null) {
            if (floatInY) {
                p.requantize.execute(s, p.requantizeArgs);
            }
            p.dequantize.execute(s, p.dequantizeArgs);
        }
        s._wait();
        return true;
    }

    /**
     * {min, max} of {@code x} computed natively, for dynamic quantization, or null when {@code x} holds NaN (the
     * exact path then reports it).
     */
    public float[] range(INDArray x) {
        int m = (int) x.size(0);
        check(x, m, k, "x");
        Plan p = plan(m, false);
        p.bind(x, null);
        stream s = Dnnl.stream();
        p.nanCheck.execute(s, p.nanArgs);
        p.minOf.execute(s, p.minArgs);
        p.maxOf.execute(s, p.maxOfArgs);
        s._wait();
        return Float.isNaN(p.sum.get(0)) ? null : new float[] {p.minValue.get(0), p.maxValue.get(0)};
    }

    @Override
    public String toString() {
        return NAME + "[k=" + k + ", n=" + n + (relu ? ", relu" : activation != null ? ", " + activation : "")
                + "]";
    }

    private static void check(INDArray a, int rows, int cols, String what) {
        if (a.dataType() != DataType.FLOAT || a.rank() != 2 || a.size(0) != rows || a.size(1) != cols
                || a.ordering() != 'c' || a.offset() != 0 || a.elementWiseStride() != 1) {
            throw new IllegalArgumentException("DnnlInt8Linear: " + what + " must be a contiguous 'c'-order FLOAT ["
                    + rows + ", " + cols + "] array at offset 0; got " + a.shapeInfoToString().replace('\n', ' '));
        }
    }

    private static void requireAvailable() {
        if (!isAvailable()) {
            throw new IllegalStateException("oneDNN primitives are not available: " + unavailableReason()
                    + ". Use Int8Gemms.best() kernels instead");
        }
    }

    /**
     * The weight {@code [rows, n]} stored column by column ({@code ba}): oneDNN 2.5's int8 GEMM runs about twice as
     * fast on it as on row-major weights for one input row, and no slower for 256 (measured on 784x512 and 4096^2).
     */
    private static memory.desc weightDesc(long rows, int n) {
        return new memory.desc(new long[] {rows, n}, memory.data_type.s8, memory.format_tag.ba);
    }

    /** Row-major {@code [k, n]} to column-major, each column repeated {@code times} along the reduction. */
    private static byte[] columnMajor(byte[] w, int k, int n, int times) {
        byte[] out = new byte[w.length * times];
        for (int j = 0; j < n; j++) {
            int column = j * k * times;
            for (int r = 0; r < k; r++) {
                byte v = w[r * n + j];
                for (int c = 0; c < times; c++) {
                    out[column + c * k + r] = v;
                }
            }
        }
        return out;
    }

    private static long[] columnSums(byte[] w, int k, int n) {
        long[] sums = new long[n];
        for (int r = 0; r < k; r++) {
            for (int j = 0; j < n; j++) {
                sums[j] += w[r * n + j];
            }
        }
        return sums;
    }

    /** The weight stacked on itself, {@code [2k, n]} (column-major), built on the first split batch. */
    private memory weightsTwice() {
        memory w = weightsTwice;
        if (w == null) {
            synchronized (this) {
                if (weightsTwice == null) {
                    weightsTwice = Dnnl.bytes(weightDesc(2L * k, n), columnMajor(weightKN, k, n, 2));
                }
                w = weightsTwice;
            }
        }
        return w;
    }

    private Plan plan(int m, boolean requantize) {
        Map<Long, Plan> byShape = plans.get();
        long key = (long) m << 1 | (requantize ? 1 : 0);
        Plan p = byShape.get(key);
        if (p == null) {
            if (byShape.size() >= MAX_PLANS_PER_THREAD) {
                byShape.clear();
            }
            p = new Plan(m, requantize);
            byShape.put(key, p);
        }
        return p;
    }

    private static primitive reductionOf(algorithm alg, memory.desc src, memory.desc dst) {
        return new reduction(new reduction.primitive_desc(new reduction.desc(alg, src, dst, 0f, 0f),
                Dnnl.engine()));
    }

    /** A reorder whose output scale and zero points (those named) are given at run time. */
    private static primitive reorderOf(memory.desc src, memory.desc dst, boolean scale, int... zeroPointArgs) {
        primitive_attr attr = new primitive_attr();
        if (scale) {
            attr.set_output_scales(0, new float[] {(float) DNNL_RUNTIME_F32_VAL});
        }
        for (int arg : zeroPointArgs) {
            attr.set_zero_points(arg, 0, new int[] {DNNL_RUNTIME_S32_VAL});
        }
        return new reorder(new reorder.primitive_desc(Dnnl.engine(), src, Dnnl.engine(), dst, attr, false));
    }

    private static IntMemoryMap args(int a1, memory m1, int a2, memory m2) {
        IntMemoryMap args = new IntMemoryMap();
        args.put(a1, m1);
        args.put(a2, m2);
        return args;
    }

    private static memory owned(memory.desc d) {
        return new memory(d, Dnnl.engine());
    }

    private static memory scalar(memory.data_type type) {
        return owned(Dnnl.vector(1, type));
    }

    /** Everything one thread needs to run one batch size. */
    private final class Plan {
        final memory xF32;
        final memory xU8;
        final memory yF32;
        final memory outScales = owned(Dnnl.vector(n, memory.data_type.f32));
        final memory biasAcc = owned(Dnnl.matrix(1, n, memory.data_type.f32));
        final memory quantScale = scalar(memory.data_type.f32);
        final memory quantZp = scalar(memory.data_type.s32);
        final memory outQuantScale = scalar(memory.data_type.f32);
        final memory outZeroPoint = scalar(memory.data_type.s32);
        final memory dequantScale = scalar(memory.data_type.f32);
        final memory sumMem = owned(Dnnl.matrix(1, 1, memory.data_type.f32));
        final memory maxMem = owned(Dnnl.matrix(1, 1, memory.data_type.u8));
        final memory minValueMem = owned(Dnnl.matrix(1, 1, memory.data_type.f32));
        final memory maxValueMem = owned(Dnnl.matrix(1, 1, memory.data_type.f32));
        final FloatPointer sum = new FloatPointer(sumMem.get_data_handle()).capacity(1);
        final FloatPointer quantScaleValue = new FloatPointer(quantScale.get_data_handle()).capacity(1);
        final IntPointer quantZpValue = new IntPointer(quantZp.get_data_handle()).capacity(1);
        final FloatPointer outQuantScaleValue = new FloatPointer(outQuantScale.get_data_handle()).capacity(1);
        final FloatPointer dequantScaleValue = new FloatPointer(dequantScale.get_data_handle()).capacity(1);
        final IntPointer outZeroPointValue = new IntPointer(outZeroPoint.get_data_handle()).capacity(1);
        final BytePointer max = new BytePointer(maxMem.get_data_handle()).capacity(1);
        final FloatPointer minValue = new FloatPointer(minValueMem.get_data_handle()).capacity(1);
        final FloatPointer maxValue = new FloatPointer(maxValueMem.get_data_handle()).capacity(1);
        final primitive quantize;
        final primitive matmul;
        /** f32 -> u8 when the output is fake-quantized and the product left floats in y; null otherwise. */
        final primitive requantize;
        /** u8 -> f32 when the output is fake-quantized; null otherwise. */
        final primitive dequantize;
        final primitive nanCheck;
        final primitive maxCheck;
        final primitive minOf;
        final primitive maxOf;
        final IntMemoryMap quantizeArgs;
        final IntMemoryMap matmulArgs;
        final IntMemoryMap requantizeArgs;
        final IntMemoryMap dequantizeArgs;
        final IntMemoryMap nanArgs;
        final IntMemoryMap maxArgs;
        final IntMemoryMap minArgs;
        final IntMemoryMap maxOfArgs;
        private final int rows;
        /** True when the matmul itself writes u8 (requantized output, no activation in between). */
        final boolean matmulRequantizes;
        private final memory matmulDst;
        private Split split;
        private Outliers outliers;
        private float boundInScale = Float.NaN;
        private float boundOutScale = Float.NaN;
        private int boundInZp;

        Plan(int m, boolean fakeQuantizedOutput) {
            this.rows = m;
            this.matmulRequantizes = fakeQuantizedOutput && activation == null;
            memory.desc xd = Dnnl.matrix(m, k, memory.data_type.f32);
            memory.desc qd = Dnnl.matrix(m, k, memory.data_type.u8);
            memory.desc yd = Dnnl.matrix(m, n, memory.data_type.f32);
            memory.desc yq = Dnnl.matrix(m, n, memory.data_type.u8);
            xF32 = new memory(xd, Dnnl.engine(), null);
            xU8 = owned(qd);
            yF32 = new memory(yd, Dnnl.engine(), null);
            memory yU8 = fakeQuantizedOutput ? owned(yq) : null;
            matmulDst = matmulRequantizes ? yU8 : yF32;

            quantize = reorderOf(xd, qd, true, DNNL_ARG_DST);
            quantizeArgs = args(DNNL_ARG_SRC, xF32, DNNL_ARG_DST, xU8);
            quantizeArgs.put(DNNL_ARG_ATTR_OUTPUT_SCALES, quantScale);
            quantizeArgs.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, quantZp);

            matmul = matmulOf(qd, k, true);
            matmulArgs = matmulArgs(xU8, weights, biasAcc);
            matmulArgs.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, quantZp);

            if (fakeQuantizedOutput) {
                requantize = reorderOf(yd, yq, true, DNNL_ARG_DST);
                requantizeArgs = args(DNNL_ARG_SRC, yF32, DNNL_ARG_DST, yU8);
                requantizeArgs.put(DNNL_ARG_ATTR_OUTPUT_SCALES, outQuantScale);
                requantizeArgs.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, outZeroPoint);
            } else {
                requantize = null;
                requantizeArgs = null;
            }
            if (fakeQuantizedOutput) {
                dequantize = reorderOf(yq, yd, true, DNNL_ARG_SRC);
                dequantizeArgs = args(DNNL_ARG_SRC, yU8, DNNL_ARG_DST, yF32);
                dequantizeArgs.put(DNNL_ARG_ATTR_OUTPUT_SCALES, dequantScale);
                dequantizeArgs.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, outZeroPoint);
            } else {
                dequantize = null;
                dequantizeArgs = null;
            }

            memory.desc one = Dnnl.matrix(1, 1, memory.data_type.f32);
            nanCheck = reductionOf(algorithm.reduction_sum, xd, one);
            nanArgs = args(DNNL_ARG_SRC, xF32, DNNL_ARG_DST, sumMem);
            maxCheck = reductionOf(algorithm.reduction_max, qd, Dnnl.matrix(1, 1, memory.data_type.u8));
            maxArgs = args(DNNL_ARG_SRC, xU8, DNNL_ARG_DST, maxMem);
            minOf = reductionOf(algorithm.reduction_min, xd, one);
            minArgs = args(DNNL_ARG_SRC, xF32, DNNL_ARG_DST, minValueMem);
            maxOf = reductionOf(algorithm.reduction_max, xd, one);
            maxOfArgs = args(DNNL_ARG_SRC, xF32, DNNL_ARG_DST, maxValueMem);
        }

        /** The matmul for src {@code [m, reduction]}; the split one takes no zero point (folded into its bias). */
        private primitive matmulOf(memory.desc src, long reduction, boolean srcZeroPoint) {
            primitive_attr mm = new primitive_attr();
            mm.set_output_scales(2, new float[] {(float) DNNL_RUNTIME_F32_VAL});
            if (srcZeroPoint) {
                mm.set_zero_points(DNNL_ARG_SRC, 0, new int[] {DNNL_RUNTIME_S32_VAL});
            }
            if (matmulRequantizes) {
                mm.set_zero_points(DNNL_ARG_DST, 0, new int[] {DNNL_RUNTIME_S32_VAL});
            }
            if (relu) {
                post_ops ops = new post_ops();
                ops.append_eltwise(1f, algorithm.eltwise_relu, 0f, 0f);
                mm.set_post_ops(ops);
            }
            memory.desc wd = weightDesc(reduction, n);
            memory.desc bd = Dnnl.matrix(1, n, memory.data_type.f32);
            memory.desc dd = Dnnl.matrix(rows, n, matmulRequantizes ? memory.data_type.u8 : memory.data_type.f32);
            return new matmul(new matmul.primitive_desc(new matmul.desc(src, wd, bd, dd), mm, Dnnl.engine()));
        }

        private IntMemoryMap matmulArgs(memory src, memory w, memory b) {
            IntMemoryMap a = args(DNNL_ARG_SRC, src, DNNL_ARG_WEIGHTS, w);
            a.put(DNNL_ARG_BIAS, b);
            a.put(DNNL_ARG_DST, matmulDst);
            a.put(DNNL_ARG_ATTR_OUTPUT_SCALES, outScales);
            if (matmulRequantizes) {
                a.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, outZeroPoint);
            }
            return a;
        }

        /** Built on the first batch that needs it: most batches never do. */
        Outliers outliers() {
            if (outliers == null) {
                outliers = new Outliers();
                refreshScalesAndBias();
            }
            return outliers;
        }

        /** Built on the first batch that needs it: most batches never do. */
        Split split() {
            if (split == null) {
                split = new Split();
                refreshScalesAndBias();
            }
            return split;
        }

        void bind(INDArray x, INDArray y) {
            xF32.set_data_handle(x.data().addressPointer());
            if (y != null) {
                yF32.set_data_handle(y.data().addressPointer());
            }
        }

        /** Writes the runtime scales and zero points; the per-column arrays only when a qparam changed. */
        void quantizeParams(float inScale, int inZp, float outScale, int outZp) {
            quantScaleValue.put(0, 1.0f / inScale);
            quantZpValue.put(0, inZp);
            if (outScale != 0f) {
                outQuantScaleValue.put(0, 1.0f / outScale);
                dequantScaleValue.put(0, outScale);
                outZeroPointValue.put(0, outZp);
            }
            if (inScale == boundInScale && outScale == boundOutScale && inZp == boundInZp) {
                return;
            }
            boundInScale = inScale;
            boundOutScale = outScale;
            boundInZp = inZp;
            refreshScalesAndBias();
        }

        /** The per-column output scales and biases for the bound qparams. */
        private void refreshScalesAndBias() {
            float[] scales = new float[n];
            float[] biasInAcc = new float[n];
            float[] biasFolded = new float[n];
            for (int j = 0; j < n; j++) {
                float dequant = boundInScale * weightScales[j];
                // oneDNN 2.x adds the bias to the accumulator before scaling, so it is given in accumulator units
                biasInAcc[j] = bias[j] / dequant;
                biasFolded[j] = (float) ((double) biasInAcc[j] - (double) boundInZp * colSums[j]);
                scales[j] = matmulRequantizes ? dequant / boundOutScale : dequant;
            }
            new FloatPointer(outScales.get_data_handle()).capacity(n).put(scales);
            new FloatPointer(biasAcc.get_data_handle()).capacity(n).put(biasInAcc);
            if (split != null) {
                new FloatPointer(split.bias.get_data_handle()).capacity(n).put(biasFolded);
            }
            if (outliers != null) {
                for (int j = 0; j < n; j++) {
                    outliers.dequant[j] = boundInScale * weightScales[j];
                }
                new FloatPointer(outliers.dequantScales.get_data_handle()).capacity(n).put(outliers.dequant);
            }
        }

        /**
         * Inputs above 128 that are few (data a little beyond the calibrated range, the common case with 7-bit
         * activations): the product runs on {@code min(x, 127)} and the few remainders {@code x - 127} are added
         * exactly in Java, as integers per output row, then scaled into the output buffer, which the matmul adds
         * through a sum post-op before its ReLU. The result is float, requantized by a reorder. Refuses (returns
         * false) when more than {@link #MAX_OUTLIER_FRACTION} of the inputs are outliers: the dense split is then
         * cheaper.
         */
        private final class Outliers {
            static final int MAX_OUTLIER_FRACTION = 100;
            final memory low = owned(Dnnl.matrix(rows, k, memory.data_type.u8));
            final memory rowMaxMem = owned(Dnnl.matrix(rows, 1, memory.data_type.u8));
            final memory dequantScales = owned(Dnnl.vector(n, memory.data_type.f32));
            final float[] dequant = new float[n];
            final BytePointer rowMaxes = new BytePointer(rowMaxMem.get_data_handle()).capacity(rows);
            final BytePointer quantizedInput = new BytePointer(xU8.get_data_handle()).capacity((long) rows * k);
            final primitive lowOf;
            final primitive rowMaxOf;
            final primitive product;
            final IntMemoryMap lowArgs;
            final IntMemoryMap rowMaxArgs;
            final IntMemoryMap productArgs;
            final boolean lowExact;
            final byte[] rowMax = new byte[rows];
            final byte[] row = new byte[k];
            final int[] rowAcc = new int[n];
            final float[] correction = new float[rows * n];
            private final boolean[] dirty = new boolean[rows];

            Outliers() {
                memory.desc qd = Dnnl.matrix(rows, k, memory.data_type.u8);
                memory.desc lowS8 = Dnnl.matrix(rows, k, memory.data_type.s8);
                lowOf = reorderOf(qd, lowS8, false);
                lowArgs = args(DNNL_ARG_SRC, xU8, DNNL_ARG_DST,
                        new memory(lowS8, Dnnl.engine(), low.get_data_handle()));
                rowMaxOf = reductionOf(algorithm.reduction_max, qd, Dnnl.matrix(rows, 1, memory.data_type.u8));
                rowMaxArgs = args(DNNL_ARG_SRC, xU8, DNNL_ARG_DST, rowMaxMem);
                primitive_attr attr = new primitive_attr();
                attr.set_output_scales(2, new float[] {(float) DNNL_RUNTIME_F32_VAL});
                attr.set_zero_points(DNNL_ARG_SRC, 0, new int[] {DNNL_RUNTIME_S32_VAL});
                post_ops ops = new post_ops();
                ops.append_sum();
                if (relu) {
                    ops.append_eltwise(1f, algorithm.eltwise_relu, 0f, 0f);
                }
                attr.set_post_ops(ops);
                product = new matmul(new matmul.primitive_desc(new matmul.desc(qd,
                        weightDesc(k, n), Dnnl.matrix(1, n, memory.data_type.f32),
                        Dnnl.matrix(rows, n, memory.data_type.f32)), attr, Dnnl.engine()));
                productArgs = args(DNNL_ARG_SRC, low, DNNL_ARG_WEIGHTS, weights);
                productArgs.put(DNNL_ARG_BIAS, biasAcc);
                productArgs.put(DNNL_ARG_DST, yF32);
                productArgs.put(DNNL_ARG_ATTR_OUTPUT_SCALES, dequantScales);
                productArgs.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, quantZp);
                lowExact = lowMatchesJava(qd, lowS8);
            }

            boolean tryRun(stream s) {
                if (!lowExact) {
                    return false;
                }
                rowMaxOf.execute(s, rowMaxArgs);
                s._wait();
                rowMaxes.get(rowMax);
                long budget = (long) rows * k / MAX_OUTLIER_FRACTION;
                for (int i = 0; i < rows; i++) {
                    if ((rowMax[i] & 0xFF) > SPLIT) {
                        budget -= correctRow(i);
                        if (budget < 0) {
                            return false;
                        }
                    } else if (dirty[i]) {
                        Arrays.fill(correction, i * n, (i + 1) * n, 0f);
                        dirty[i] = false;
                    }
                }
                new FloatPointer(yF32.get_data_handle()).capacity((long) rows * n).put(correction);
                lowOf.execute(s, lowArgs);
                product.execute(s, productArgs);
                return true;
            }

            /** Writes row i's correction {@code sum_t (x - 127)+ * w[t, j] * s_in * s_w[j]}; returns the outliers. */
            private int correctRow(int i) {
                quantizedInput.position((long) i * k).get(row);
                quantizedInput.position(0);
                Arrays.fill(rowAcc, 0);
                int count = 0;
                for (int t = 0; t < k; t++) {
                    int excess = (row[t] & 0xFF) - SPLIT;
                    if (excess > 0) {
                        count++;
                        int w0 = t * n;
                        for (int j = 0; j < n; j++) {
                            rowAcc[j] += excess * weightKN[w0 + j];
                        }
                    }
                }
                int out = i * n;
                for (int j = 0; j < n; j++) {
                    correction[out + j] = rowAcc[j] * dequant[j];
                }
                dirty[i] = true;
                return count;
            }

            /** The u8 -> s8 reorder must saturate at 127 on this shape: checked once against every byte value. */
            private boolean lowMatchesJava(memory.desc qd, memory.desc lowS8) {
                byte[] probe = new byte[rows * k];
                for (int i = 0; i < probe.length; i++) {
                    probe[i] = (byte) (i * 37 + i / 256);
                }
                memory in = Dnnl.bytes(qd, probe);
                memory out = owned(lowS8);
                stream s = Dnnl.stream();
                lowOf.execute(s, args(DNNL_ARG_SRC, in, DNNL_ARG_DST, out));
                s._wait();
                byte[] got = new byte[probe.length];
                new BytePointer(out.get_data_handle()).capacity(got.length).get(got);
                for (int i = 0; i < probe.length; i++) {
                    if (got[i] != (byte) Math.min(probe[i] & 0xFF, SPLIT)) {
                        return false;
                    }
                }
                return true;
            }
        }

        /**
         * The product of twice the length for inputs above 128: {@code [min(x, 127) | max(x - 127, 0)]} in the
         * halves of one {@code [m, 2k]} buffer, against the weight stacked twice. Two reorders write the halves (the
         * first saturates u8 to s8, the second subtracts 127 as a zero point and saturates at 0), but oneDNN 2.5's
         * reorder ignores that zero point for some small strided shapes, so each shape is checked once against
         * Java on every byte value; where it fails, a Java pass writes the halves instead.
         */
        private final class Split {
            final memory bias = owned(Dnnl.matrix(1, n, memory.data_type.f32));
            final memory halves;
            final primitive low;
            final primitive high;
            final primitive product;
            final IntMemoryMap lowArgs;
            final IntMemoryMap highArgs;
            final IntMemoryMap productArgs;
            final boolean nativeHalvesExact;
            private byte[] quantized;
            private byte[] wideBytes;

            Split() {
                memory.desc wide = Dnnl.matrix(rows, 2L * k, memory.data_type.u8);
                halves = owned(wide);
                memory.desc lowDesc = Dnnl.matrix(rows, 2L * k, memory.data_type.s8)
                        .submemory_desc(new long[] {rows, k}, new long[] {0, 0});
                memory.desc highDesc = wide.submemory_desc(new long[] {rows, k}, new long[] {0, k});
                memory.desc qd = Dnnl.matrix(rows, k, memory.data_type.u8);
                low = reorderOf(qd, lowDesc, false);
                primitive_attr shift = new primitive_attr();
                shift.set_zero_points(DNNL_ARG_SRC, 0, new int[] {SPLIT});
                high = new reorder(new reorder.primitive_desc(Dnnl.engine(), qd, Dnnl.engine(), highDesc, shift,
                        false));
                lowArgs = args(DNNL_ARG_SRC, xU8, DNNL_ARG_DST, new memory(lowDesc, Dnnl.engine(),
                        halves.get_data_handle()));
                highArgs = args(DNNL_ARG_SRC, xU8, DNNL_ARG_DST, new memory(highDesc, Dnnl.engine(),
                        halves.get_data_handle()));
                product = matmulOf(wide, 2L * k, false);
                productArgs = matmulArgs(halves, weightsTwice(), bias);
                nativeHalvesExact = nativeHalvesMatchJava(qd, lowDesc, highDesc);
            }

            void run(stream s) {
                if (nativeHalvesExact) {
                    low.execute(s, lowArgs);
                    high.execute(s, highArgs);
                } else {
                    splitInJava();
                }
                product.execute(s, productArgs);
            }

            /** Runs both reorders on a probe input holding every byte value and compares with {@link #halve}. */
            private boolean nativeHalvesMatchJava(memory.desc qd, memory.desc lowDesc, memory.desc highDesc) {
                byte[] probe = new byte[rows * k];
                for (int i = 0; i < probe.length; i++) {
                    probe[i] = (byte) (i * 37 + i / 256);
                }
                memory in = Dnnl.bytes(qd, probe);
                memory out = owned(Dnnl.matrix(rows, 2L * k, memory.data_type.u8));
                stream s = Dnnl.stream();
                low.execute(s, args(DNNL_ARG_SRC, in, DNNL_ARG_DST, new memory(lowDesc, Dnnl.engine(),
                        out.get_data_handle())));
                high.execute(s, args(DNNL_ARG_SRC, in, DNNL_ARG_DST, new memory(highDesc, Dnnl.engine(),
                        out.get_data_handle())));
                s._wait();
                byte[] got = new byte[2 * rows * k];
                new BytePointer(out.get_data_handle()).capacity(got.length).get(got);
                byte[] expected = new byte[2 * rows * k];
                halve(probe, expected);
                return Arrays.equals(got, expected);
            }

            private void splitInJava() {
                if (quantized == null) {
                    quantized = new byte[rows * k];
                    wideBytes = new byte[2 * rows * k];
                }
                new BytePointer(xU8.get_data_handle()).capacity(quantized.length).get(quantized);
                halve(quantized, wideBytes);
                new BytePointer(halves.get_data_handle()).capacity(wideBytes.length).put(wideBytes);
            }

            /** Row i of {@code out}: {@code min(q, 127)} for the row's k values, then {@code max(q - 127, 0)}. */
            private void halve(byte[] q, byte[] out) {
                for (int i = 0; i < rows; i++) {
                    int src = i * k;
                    int lo = 2 * i * k;
                    int hi = lo + k;
                    for (int t = 0; t < k; t++) {
                        int v = q[src + t] & 0xFF;
                        int l = Math.min(v, SPLIT);
                        out[lo + t] = (byte) l;
                        out[hi + t] = (byte) (v - l);
                    }
                }
            }
        }
    }
}
