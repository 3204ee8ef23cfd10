package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static io.github.dl4jquant.kernel.Dnnl.owned;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_ATTR_OUTPUT_SCALES;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_RUNTIME_F32_VAL;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.matmul;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Quantized inputs above 128 that are few, on kernels that would saturate them (no VNNI): data a little beyond the
 * calibrated range, the common case with 7-bit activations. The product runs on {@code min(x, 127)}; the few
 * remainders {@code x - 127} are multiplied exactly in Java, as integers per output row, scaled, and written into the
 * output buffer, which the matmul adds through a sum post-op before its activation. The result is float; the plan
 * requantizes it. Refuses (and the plan falls back to {@link DnnlSplitProduct}) when more than 1 input in
 * {@value #MAX_OUTLIER_FRACTION} exceeds, or when the clamping reorder is not exact on this shape.
 *
 * <pre>{@code
 * DnnlOutlierCorrection c = new DnnlOutlierCorrection(plan);
 * c.refresh();                 // after the plan's qparams change
 * boolean done = c.tryRun(stream);
 * }</pre>
 */
final class DnnlOutlierCorrection {
    /** Above one outlier in this many inputs, the Java correction costs more than a second product. */
    static final int MAX_OUTLIER_FRACTION = 100;
    private static final int LOW_MAX = 127;
    private static final long HIGH_BITS = 0x8080808080808080L;
    private static final VarHandle EIGHT_BYTES = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);

    private final DnnlLinearPlan plan;
    private final int rows;
    private final int k;
    private final int n;
    private final memory dequantScales;
    private final BytePointer quantizedInput;
    private final primitive lowOf;
    /** The matmul, built on first use: with fixed qparams the convolution runs instead. */
    private primitive product;
    private final IntMemoryMap lowArgs;
    private IntMemoryMap productArgs;
    private final boolean lowExact;
    /** The product as a convolution when the plan's qparams are fixed, else null (the matmul runs). */
    private DnnlConvolutionProduct convolution;
    private final memory low;
    private final byte[] row;
    private final int[] rowAcc;
    private final float[] correction;
    private final boolean[] dirty;

    DnnlOutlierCorrection(DnnlLinearPlan plan) {
        this.plan = plan;
        this.rows = plan.rows;
        this.k = plan.params.k();
        this.n = plan.params.n();
        this.row = new byte[k];
        this.rowAcc = new int[n];
        this.correction = new float[rows * n];
        this.dirty = new boolean[rows];
        memory.desc qd = Dnnl.matrix(rows, k, memory.data_type.u8);
        memory.desc lowS8 = Dnnl.matrix(rows, k, memory.data_type.s8);
        low = owned(qd);
        dequantScales = owned(Dnnl.vector(n, memory.data_type.f32));
        quantizedInput = new BytePointer(plan.xU8.get_data_handle()).capacity((long) rows * k);
        // u8 -> s8 saturates at 127: min(x, 127), written as s8 and read by the matmul as u8
        lowOf = Dnnl.reorderOf(qd, lowS8, false);
        lowArgs = args(DNNL_ARG_SRC, plan.xU8, DNNL_ARG_DST, new memory(lowS8, Dnnl.engine(), low.get_data_handle()));
        lowExact = lowMatchesJava(qd, lowS8);
    }

    /**
     * Copies the plan's per-column dequantization scales, which the float output of this path needs, or builds them
     * into a convolution when the plan's qparams are fixed.
     */
    void refresh() {
        new FloatPointer(dequantScales.get_data_handle()).capacity(n).put(plan.dequant);
        convolution = plan.fixedQParams ? DnnlConvolutionProduct.tryBuild(plan, low, false, plan.yF32, false,
                plan.dequant, 0, true) : null;
    }

    /** Runs the corrected product into the plan's float output; false, with nothing run, when refused. */
    boolean tryRun(stream s) {
        if (!lowExact) {
            return false;
        }
        byte[] rowMax = plan.rowMax;
        long budget = (long) rows * k / MAX_OUTLIER_FRACTION;
        for (int i = 0; i < rows; i++) {
            if ((rowMax[i] & 0xFF) > LOW_MAX) {
                budget -= correctRow(i);
                if (budget < 0) {
                    return false;
                }
            } else if (dirty[i]) {
                Arrays.fill(correction, i * n, (i + 1) * n, 0f);
                dirty[i] = false;
            }
        }
        // the output buffer is the caller's array, bound per call
        new FloatPointer(plan.boundOutput).capacity((long) rows * n).put(correction);
        lowOf.execute(s, lowArgs);
        if (convolution != null) {
            convolution.run(s);
        } else {
            if (product == null) {
                product = sumThenReluMatmul(low.get_desc());
                productArgs = args(DNNL_ARG_SRC, low, DNNL_ARG_DST, plan.yF32);
                productArgs.put(DNNL_ARG_WEIGHTS, plan.params.weights());
                productArgs.put(DNNL_ARG_BIAS, plan.biasAcc);
                productArgs.put(DNNL_ARG_ATTR_OUTPUT_SCALES, dequantScales);
            }
            product.execute(s, productArgs);
        }
        return true;
    }

    /** dst = act(scale * (acc + bias) + dst): the correction already in dst is added before the activation. */
    private primitive sumThenReluMatmul(memory.desc src) {
        primitive_attr attr = new primitive_attr();
        attr.set_output_scales(2, new float[] {(float) DNNL_RUNTIME_F32_VAL});
        attr.set_post_ops(plan.params.postOps(true));
        return new matmul(new matmul.primitive_desc(new matmul.desc(src, plan.params.weightDesc(k),
                Dnnl.matrix(1, n, memory.data_type.f32), Dnnl.matrix(rows, n, memory.data_type.f32)), attr,
                Dnnl.engine()));
    }

    /** Writes row i's correction {@code sum_t (x - 127)+ * w[t, j] * s_in * s_w[j]}; returns its outlier count. */
    private int correctRow(int i) {
        quantizedInput.position((long) i * k).get(row);
        quantizedInput.position(0);
        Arrays.fill(rowAcc, 0);
        int count = 0;
        int t = 0;
        // inputs above 127 are the bytes with their high bit set: eight are skipped at once while none is
        for (; t + Long.BYTES <= k; t += Long.BYTES) {
            if (((long) EIGHT_BYTES.get(row, t) & HIGH_BITS) != 0) {
                count += addExcesses(t, t + Long.BYTES);
            }
        }
        count += addExcesses(t, k);
        int out = i * n;
        for (int j = 0; j < n; j++) {
            correction[out + j] = rowAcc[j] * plan.dequant[j];
        }
        dirty[i] = true;
        return count;
    }

    /** Adds the remainders {@code x - 127} of {@code row[from, to)} times their weight rows; returns their count. */
    private int addExcesses(int from, int to) {
        int count = 0;
        for (int t = from; t < to; t++) {
            int excess = (row[t] & 0xFF) - LOW_MAX;
            if (excess > 0) {
                count++;
                plan.params.addWeightRow(t, excess, rowAcc);
            }
        }
        return count;
    }

    /** The u8 -> s8 reorder must saturate at 127 on this shape: checked once against every byte value. */
    private boolean lowMatchesJava(memory.desc qd, memory.desc lowS8) {
        byte[] probe = Dnnl.everyByteValue(rows * k);
        memory out = owned(lowS8);
        stream s = Dnnl.stream();
        lowOf.execute(s, args(DNNL_ARG_SRC, Dnnl.bytes(qd, probe), DNNL_ARG_DST, out));
        s._wait();
        byte[] got = new byte[probe.length];
        new BytePointer(out.get_data_handle()).capacity(got.length).get(got);
        for (int i = 0; i < probe.length; i++) {
            if (got[i] != (byte) Math.min(probe[i] & 0xFF, LOW_MAX)) {
                return false;
            }
        }
        return true;
    }
}
