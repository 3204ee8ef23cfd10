package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static io.github.dl4jquant.kernel.Dnnl.owned;
import static io.github.dl4jquant.kernel.Dnnl.reductionOf;
import static io.github.dl4jquant.kernel.Dnnl.reorderOf;
import static io.github.dl4jquant.kernel.Dnnl.scalar;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_ATTR_OUTPUT_SCALES;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_ATTR_ZERO_POINTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_RUNTIME_F32_VAL;
import static org.bytedeco.dnnl.global.dnnl.DNNL_RUNTIME_S32_VAL;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.global.dnnl.prop_kind;
import org.bytedeco.dnnl.matmul;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.softmax_forward;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Everything one thread needs to run one {@link DnnlInt8Linear} at one batch size: the primitives (quantize reorder,
 * product, requantize and dequantize reorders, the NaN and range reductions), their memories and argument maps, and
 * the scales and zero points. The product is {@link DnnlConvolutionProduct}: with the qparams built in when they
 * are fixed (static quantization), or with the input scale, zero point and bias given at run time when they change
 * per call (dynamic). Where oneDNN has no jit convolution, a matmul taking its scales at run time computes the same.
 * The input zero point is never oneDNN's own zero-point support, which re-reads the whole weight on every call (2x at
 * batch 1): it is folded into the bias ({@code b / (s_in * s_w) - zp * colsum(w)}, or {@code -zp * colsum(w)} before
 * the run-time scale). Not thread safe; {@link DnnlInt8Linear} keeps one per thread and shape.
 *
 * <pre>{@code
 * DnnlLinearPlan p = new DnnlLinearPlan(params, 32, true, true);
 * p.bind(x, y);
 * p.setQParams(inScale, inZp, outScale, outZp);
 * boolean done = p.forward(stream, null, y);     // false: NaN in x
 * }</pre>
 */
final class DnnlLinearPlan {
    /** Largest u8 activation whose product pairs cannot saturate int16 on kernels without VNNI. */
    static final int MAX_SAFE_INPUT = OneDnnInt8Gemm.MAX_SAFE_INPUT;

    final DnnlLinearParams params;
    final int rows;
    /** True when the product itself writes u8 (fake-quantized output, activation ReLU or none). */
    final boolean productRequantizes;
    final memory xF32;
    final memory xU8;
    private final Pointer xU8Data;
    /** The output as u8 when the layer fake-quantizes it (valid after {@link #finish}); null otherwise. */
    final Pointer quantizedOutput;
    /** The memory that owns {@link #quantizedOutput}'s buffer, or null. */
    final memory quantizedOutputMemory;
    /** The bound output array's buffer, which {@link #yF32} and convolutions writing floats point at. */
    Pointer boundOutput;
    final memory yF32;
    final memory productDst;
    final memory outScales;
    /** Bias per column in accumulator units with the input zero point folded in. */
    final memory biasAcc;
    final memory quantZp = scalar(memory.data_type.s32);
    final memory outZeroPoint = scalar(memory.data_type.s32);
    /** s_in * s_w[j] per column, for the bound input scale. */
    final float[] dequant;
    /** The product's output scale per column: {@link #dequant}, divided by s_out when the product requantizes. */
    final float[] scales;
    private final memory quantScale = scalar(memory.data_type.f32);
    private final memory outQuantScale = scalar(memory.data_type.f32);
    private final memory dequantScale = scalar(memory.data_type.f32);
    private final memory sumMem = owned(Dnnl.matrix(1, 1, memory.data_type.f32));
    private final memory minValueMem = owned(Dnnl.matrix(1, 1, memory.data_type.f32));
    private final memory maxValueMem = owned(Dnnl.matrix(1, 1, memory.data_type.f32));
    private final FloatPointer sum = new FloatPointer(sumMem.get_data_handle()).capacity(1);
    private final FloatPointer minValue = new FloatPointer(minValueMem.get_data_handle()).capacity(1);
    private final FloatPointer maxValue = new FloatPointer(maxValueMem.get_data_handle()).capacity(1);
    private final FloatPointer quantScaleValue = new FloatPointer(quantScale.get_data_handle()).capacity(1);
    private final IntPointer quantZpValue = new IntPointer(quantZp.get_data_handle()).capacity(1);
    private final FloatPointer outQuantScaleValue = new FloatPointer(outQuantScale.get_data_handle()).capacity(1);
    private final FloatPointer dequantScaleValue = new FloatPointer(dequantScale.get_data_handle()).capacity(1);
    private final IntPointer outZeroPointValue = new IntPointer(outZeroPoint.get_data_handle()).capacity(1);
    private final primitive quantize;
    /** True when qparams are fixed: the products are convolutions with them built in, rebuilt when they change. */
    final boolean fixedQParams;
    /** False where oneDNN has no exact jit int8 convolution (or a test asks for the matmul): matmuls only. */
    final boolean convolutions;
    private DnnlConvolutionProduct convolution;
    /** The product when qparams change per call, with s_in and -zp * colsum read at run time; null otherwise. */
    private final DnnlConvolutionProduct runtimeScaled;
    /** s_in, -zp * colsum and b, which the run-time scaled product reads; held here for as long as it runs. */
    private final memory[] runtimeOperands;
    private final FloatPointer runtimeInputScale;
    private final FloatPointer zeroPointBias;
    private int zeroPointBiasFor = Integer.MIN_VALUE;
    /** Scratch for the per-column values written to native memory when qparams change. */
    private final float[] columnValues;
    /** Set when the per-column arrays lag the bound qparams (the run-time scaled product does not need them). */
    private boolean columnsStale;
    /** Built on first use: with fixed qparams the convolution runs instead. */
    private primitive matmul;
    /** f32 -> u8 when the output is fake-quantized and the product left floats in y; null otherwise. */
    private final primitive requantize;
    /** u8 -> f32 when the output is fake-quantized; null otherwise. */
    private final primitive dequantize;
    /** In place on the float output when the layer ends in softmax; null otherwise. */
    private final primitive softmax;
    private final IntMemoryMap softmaxArgs;
    private final primitive nanCheck;
    /** The largest quantized input per row: one reduction tells the plan and the outlier correction all they need. */
    private final primitive rowMaxCheck;
    private final BytePointer rowMaxes;
    /** Filled by {@link #quantizeInput} on kernels that saturate: the largest quantized input of each row. */
    final byte[] rowMax;
    private int inputMax;
    private final primitive minOf;
    private final primitive maxOf;
    private final IntMemoryMap quantizeArgs;
    private IntMemoryMap matmulArgs;
    private final IntMemoryMap requantizeArgs;
    private final IntMemoryMap dequantizeArgs;
    private final IntMemoryMap nanArgs;
    private final IntMemoryMap rowMaxArgs;
    private final IntMemoryMap minArgs;
    private final IntMemoryMap maxOfArgs;
    private DnnlOutlierCorrection outliers;
    private DnnlSplitProduct split;
    private float boundInScale = Float.NaN;
    private float boundOutScale = Float.NaN;
    private int boundInZp;
    private int boundOutZp;
    /** The address of the bound input, and of the last input {@link #range} found free of NaN (0: none). */
    private long boundInput;
    private long nanFreeInput;

    /**
     * @param fixedQParams true when every call sets the same qparams (static quantization): the product is then a
     *                     convolution with them built in; false for qparams that change per call (dynamic)
     */
    DnnlLinearPlan(DnnlLinearParams params, int rows, boolean fakeQuantizedOutput, boolean fixedQParams) {
        this(params, rows, fakeQuantizedOutput, fixedQParams, true);
    }

    /** @param convolutions false: matmuls only, as on a CPU where oneDNN has no jit int8 convolution (for tests) */
    DnnlLinearPlan(DnnlLinearParams params, int rows, boolean fakeQuantizedOutput, boolean fixedQParams,
                   boolean convolutions) {
        this.params = params;
        this.rows = rows;
        this.fixedQParams = fixedQParams;
        this.convolutions = convolutions && Dnnl.convolutionExact();
        int k = params.k();
        int n = params.n();
        this.productRequantizes = fakeQuantizedOutput && params.requantizesInProduct();
        this.dequant = new float[n];
        this.scales = new float[n];
        this.columnValues = new float[n];
        memory.desc xd = Dnnl.matrix(rows, k, memory.data_type.f32);
        memory.desc qd = Dnnl.matrix(rows, k, memory.data_type.u8);
        memory.desc yd = Dnnl.matrix(rows, n, memory.data_type.f32);
        memory.desc yq = Dnnl.matrix(rows, n, memory.data_type.u8);
        xF32 = Dnnl.unbound(xd);
        xU8 = owned(qd);
        xU8Data = xU8.get_data_handle();
        yF32 = Dnnl.unbound(yd);
        memory yU8 = fakeQuantizedOutput ? owned(yq) : null;
        quantizedOutputMemory = yU8;
        quantizedOutput = yU8 == null ? null : yU8.get_data_handle();
        productDst = productRequantizes ? yU8 : yF32;
        outScales = owned(Dnnl.vector(n, memory.data_type.f32));
        biasAcc = owned(Dnnl.matrix(1, n, memory.data_type.f32));

        quantize = reorderOf(xd, qd, true, DNNL_ARG_DST);
        quantizeArgs = args(DNNL_ARG_SRC, xF32, DNNL_ARG_DST, xU8);
        quantizeArgs.put(DNNL_ARG_ATTR_OUTPUT_SCALES, quantScale);
        quantizeArgs.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, quantZp);

        if (fakeQuantizedOutput) {
            requantize = reorderOf(yd, yq, true, DNNL_ARG_DST);
            requantizeArgs = args(DNNL_ARG_SRC, yF32, DNNL_ARG_DST, yU8);
            requantizeArgs.put(DNNL_ARG_ATTR_OUTPUT_SCALES, outQuantScale);
            requantizeArgs.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, outZeroPoint);
            dequantize = reorderOf(yq, yd, true, DNNL_ARG_SRC);
            dequantizeArgs = args(DNNL_ARG_SRC, yU8, DNNL_ARG_DST, yF32);
            dequantizeArgs.put(DNNL_ARG_ATTR_OUTPUT_SCALES, dequantScale);
            dequantizeArgs.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, outZeroPoint);
        } else {
            requantize = null;
            requantizeArgs = null;
            dequantize = null;
            dequantizeArgs = null;
        }

        if (params.softmax()) {
            softmax = new softmax_forward(new softmax_forward.primitive_desc(new softmax_forward.desc(
                    prop_kind.forward_inference, yd, 1), Dnnl.engine()));
            softmaxArgs = args(DNNL_ARG_SRC, yF32, DNNL_ARG_DST, yF32);
        } else {
            softmax = null;
            softmaxArgs = null;
        }

        memory.desc one = Dnnl.matrix(1, 1, memory.data_type.f32);
        nanCheck = reductionOf(algorithm.reduction_sum, xd, one);
        nanArgs = args(DNNL_ARG_SRC, xF32, DNNL_ARG_DST, sumMem);
        memory.desc perRow = Dnnl.matrix(rows, 1, memory.data_type.u8);
        memory rowMaxMem = owned(perRow);
        rowMaxCheck = reductionOf(algorithm.reduction_max, qd, perRow);
        rowMaxArgs = args(DNNL_ARG_SRC, xU8, DNNL_ARG_DST, rowMaxMem);
        rowMaxes = new BytePointer(rowMaxMem.get_data_handle()).capacity(rows);
        rowMax = new byte[rows];
        minOf = reductionOf(algorithm.reduction_min, xd, one);
        minArgs = args(DNNL_ARG_SRC, xF32, DNNL_ARG_DST, minValueMem);
        maxOf = reductionOf(algorithm.reduction_max, xd, one);
        maxOfArgs = args(DNNL_ARG_SRC, xF32, DNNL_ARG_DST, maxValueMem);

        if (fixedQParams) {
            runtimeOperands = null;
            runtimeScaled = null;
            runtimeInputScale = null;
            zeroPointBias = null;
        } else {
            memory inputScale = owned(new memory.desc(new long[] {1, 1, 1, 1}, memory.data_type.f32,
                    memory.format_tag.nhwc));
            memory zpBias = owned(Dnnl.vector(n, memory.data_type.f32));
            memory biasRow = owned(new memory.desc(new long[] {1, n, 1, 1}, memory.data_type.f32,
                    memory.format_tag.nhwc));
            float[] b = new float[n];
            for (int j = 0; j < n; j++) {
                b[j] = params.bias(j);
            }
            new FloatPointer(biasRow.get_data_handle()).capacity(n).put(b);
            runtimeOperands = new memory[] {inputScale, zpBias, biasRow};
            runtimeScaled = DnnlConvolutionProduct.tryBuildRuntimeScaled(this, inputScale, zpBias, biasRow);
            runtimeInputScale = new FloatPointer(inputScale.get_data_handle()).capacity(1);
            zeroPointBias = new FloatPointer(zpBias.get_data_handle()).capacity(n);
        }
    }

    /** Points the plan at this call's arrays (contiguous 'c'-order FLOAT, offset 0; checked by the caller). */
    void bind(INDArray x, INDArray y) {
        Pointer address = x.data().addressPointer();
        boundInput = address.address();
        xF32.set_data_handle(address);
        if (y != null) {
            boundOutput = y.data().addressPointer();
            yF32.set_data_handle(boundOutput);
        }
    }

    /** Writes the runtime scales and zero points; the per-column arrays only when a qparam changed. */
    void setQParams(float inScale, int inZp, float outScale, int outZp) {
        quantScaleValue.put(0, 1.0f / inScale);
        quantZpValue.put(0, inZp);
        if (outScale != 0f) {
            outQuantScaleValue.put(0, 1.0f / outScale);
            dequantScaleValue.put(0, outScale);
            outZeroPointValue.put(0, outZp);
        }
        if (inScale == boundInScale && outScale == boundOutScale && inZp == boundInZp && outZp == boundOutZp) {
            return;
        }
        boundInScale = inScale;
        boundOutScale = outScale;
        boundInZp = inZp;
        boundOutZp = outZp;
        if (runtimeScaled == null) {
            refreshColumns();
            return;
        }
        // only the rare saturating paths read the per-column arrays: they are refreshed when one runs
        runtimeInputScale.put(0, inScale);
        if (inZp != zeroPointBiasFor) {
            for (int j = 0; j < columnValues.length; j++) {
                columnValues[j] = (float) (-(double) inZp * params.columnSum(j));
            }
            zeroPointBias.put(columnValues);
            zeroPointBiasFor = inZp;
        }
        columnsStale = true;
    }

    /**
     * Quantizes the bound input, or copies {@code handed}, the u8 values it was dequantized from (see
     * {@link DnnlHandover}; null when there are none); false when the input holds NaN (or +inf with -inf) and
     * nothing more should run.
     */
    boolean quantizeInput(stream s, Pointer handed) {
        boolean nanFree = handed != null || boundInput == nanFreeInput;
        nanFreeInput = 0;
        if (handed != null) {
            Pointer.memcpy(xU8Data, handed, (long) rows * params.k());
        } else {
            if (!nanFree) {
                nanCheck.execute(s, nanArgs);
            }
            quantize.execute(s, quantizeArgs);
        }
        if (Dnnl.saturatesPairs()) {
            rowMaxCheck.execute(s, rowMaxArgs);
            s._wait();
            rowMaxes.get(rowMax);
            inputMax = 0;
            for (byte v : rowMax) {
                inputMax = Math.max(inputMax, v & 0xFF);
            }
        } else {
            s._wait();
        }
        return nanFree || !Float.isNaN(sum.get(0));
    }

    /**
     * One call on the bound arrays with the set qparams: quantize the input (or copy {@code handed}, see
     * {@link #quantizeInput}), multiply, activate into {@code y} and fake-quantize the output; false, with nothing
     * written, when the input holds NaN.
     */
    boolean forward(stream s, Pointer handed, INDArray y) {
        if (!quantizeInput(s, handed)) {
            return false;
        }
        boolean floatInY = multiply(s);
        activate(s, y);
        finish(s, floatInY);
        return true;
    }

    /**
     * Multiplies the quantized input into the bound output: one product, or on kernels that would saturate, the
     * outlier correction or the split product.
     *
     * @return true when y now holds floats that {@link #finish} must still requantize
     */
    boolean multiply(stream s) {
        boolean saturating = Dnnl.saturatesPairs() && inputMax > MAX_SAFE_INPUT;
        if (runtimeScaled != null && !saturating) {
            runtimeScaled.run(s);
            return true;
        }
        if (columnsStale) {
            refreshColumns();
        }
        if (saturating) {
            if (outliers().tryRun(s)) {
                return true;
            }
            split().run(s);
        } else if (convolution != null) {
            convolution.run(s);
        } else {
            if (matmul == null) {
                matmul = matmulOf(xU8.get_desc(), params.k());
                matmulArgs = matmulArgs(xU8, params.weights(), biasAcc);
            }
            matmul.execute(s, matmulArgs);
        }
        return !productRequantizes;
    }

    /** Applies what the product could not: softmax natively, other activations through ND4J on {@code y}. */
    void activate(stream s, INDArray y) {
        if (softmax != null) {
            softmax.execute(s, softmaxArgs);
        }
        IActivation activation = params.activation();
        if (activation != null) {
            s._wait();
            INDArray a = activation.getActivation(y, false);
            if (a != y) {
                y.assign(a);
            }
        }
    }

    /** Fake-quantizes the output when the layer has output qparams. */
    void finish(stream s, boolean floatInY) {
        if (dequantize != null) {
            if (floatInY) {
                requantize.execute(s, requantizeArgs);
            }
            dequantize.execute(s, dequantizeArgs);
        }
        s._wait();
    }

    /**
     * {min, max} of the bound input, or null when it holds NaN. A NaN-free input is remembered, so that the
     * {@link #quantizeInput} of dynamic quantization right after it does not sum it again.
     */
    float[] range(stream s) {
        nanCheck.execute(s, nanArgs);
        minOf.execute(s, minArgs);
        maxOf.execute(s, maxOfArgs);
        s._wait();
        if (Float.isNaN(sum.get(0))) {
            return null;
        }
        nanFreeInput = boundInput;
        return new float[] {minValue.get(0), maxValue.get(0)};
    }

    /**
     * A matmul on src {@code [rows, reduction]} with this plan's per-channel scales (given at run time), activation
     * and output; the input zero point is in the bias.
     */
    primitive matmulOf(memory.desc src, long reduction) {
        primitive_attr attr = new primitive_attr();
        attr.set_output_scales(2, new float[] {(float) DNNL_RUNTIME_F32_VAL});
        if (productRequantizes) {
            attr.set_zero_points(DNNL_ARG_DST, 0, new int[] {DNNL_RUNTIME_S32_VAL});
        }
        attr.set_post_ops(params.postOps(false));
        int n = params.n();
        memory.desc dst = Dnnl.matrix(rows, n, productRequantizes ? memory.data_type.u8 : memory.data_type.f32);
        return new matmul(new matmul.primitive_desc(new matmul.desc(src, params.weightDesc(reduction),
                Dnnl.matrix(1, n, memory.data_type.f32), dst), attr, Dnnl.engine()));
    }

    /** The bound output zero point, which convolutions build in. */
    int outputZeroPoint() {
        return boundOutZp;
    }

    /** True when the product runs as a convolution (with the bound qparams built in, or scaled at run time). */
    boolean usesConvolution() {
        return convolution != null || runtimeScaled != null;
    }

    /** The arguments of a {@link #matmulOf} primitive. */
    IntMemoryMap matmulArgs(memory src, memory weights, memory bias) {
        IntMemoryMap a = args(DNNL_ARG_SRC, src, DNNL_ARG_WEIGHTS, weights);
        a.put(DNNL_ARG_BIAS, bias);
        a.put(DNNL_ARG_DST, productDst);
        a.put(DNNL_ARG_ATTR_OUTPUT_SCALES, outScales);
        if (productRequantizes) {
            a.put(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, outZeroPoint);
        }
        return a;
    }

    /** Built on the first batch with quantized inputs above 127 (on kernels that saturate). */
    private DnnlOutlierCorrection outliers() {
        if (outliers == null) {
            outliers = new DnnlOutlierCorrection(this);
            outliers.refresh();
        }
        return outliers;
    }

    /** Built on the first batch with more outliers than the correction takes. */
    private DnnlSplitProduct split() {
        if (split == null) {
            split = new DnnlSplitProduct(this);
            split.refresh();
        }
        return split;
    }

    /**
     * The per-column output scales and biases for the bound qparams, here and in the correction paths, and the
     * convolution that has them built in.
     */
    private void refreshColumns() {
        columnsStale = false;
        int n = params.n();
        float[] bias = columnValues;
        for (int j = 0; j < n; j++) {
            dequant[j] = boundInScale * params.weightScale(j);
            // oneDNN 2.x adds the bias to the accumulator before scaling, so it is given in accumulator units
            bias[j] = (float) ((double) params.bias(j) / dequant[j] - (double) boundInZp * params.columnSum(j));
            scales[j] = productRequantizes ? dequant[j] / boundOutScale : dequant[j];
        }
        new FloatPointer(outScales.get_data_handle()).capacity(n).put(scales);
        new FloatPointer(biasAcc.get_data_handle()).capacity(n).put(bias);
        if (fixedQParams) {
            convolution = DnnlConvolutionProduct.tryBuild(this, xU8, false, productDst, productRequantizes, scales,
                    boundOutZp, false);
        }
        if (outliers != null) {
            outliers.refresh();
        }
        if (split != null) {
            split.refresh();
        }
    }
}
