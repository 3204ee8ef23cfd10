package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static io.github.dl4jquant.kernel.Dnnl.owned;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;

import java.util.Arrays;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;

/**
 * The exact product for many quantized inputs above 128 on kernels that would saturate them (no VNNI), e.g. 8-bit
 * activations: one product of twice the length, {@code [min(x, 127) | max(x - 127, 0)]} in the halves of one
 * {@code [m, 2k]} buffer against the weight stacked twice, with the input zero point folded into the bias. Two
 * reorders write the halves (the first saturates u8 to s8, the second subtracts 127 as a zero point and saturates at
 * 0); oneDNN 2.5's reorder ignores that zero point on some small strided shapes, so each shape is checked once
 * against Java on every byte value, and where it fails a Java pass writes the halves instead.
 *
 * <pre>{@code
 * DnnlSplitProduct p = new DnnlSplitProduct(plan);
 * p.refresh();          // after the plan's qparams change
 * p.run(stream);        // writes the plan's matmul output
 * }</pre>
 */
final class DnnlSplitProduct {
    private static final int LOW_MAX = 127;

    private final DnnlLinearPlan plan;
    private final int rows;
    private final int k;
    private final memory halves;
    private final primitive low;
    private final primitive high;
    /** The matmul, built on first use: with fixed qparams the convolution runs instead. */
    private primitive product;
    private final IntMemoryMap lowArgs;
    private final IntMemoryMap highArgs;
    private IntMemoryMap productArgs;
    /** The product as a convolution when the plan's qparams are fixed, else null (the matmul runs). */
    private DnnlConvolutionProduct convolution;
    private final boolean nativeHalvesExact;
    private byte[] quantized;
    private byte[] wideBytes;

    DnnlSplitProduct(DnnlLinearPlan plan) {
        this.plan = plan;
        this.rows = plan.rows;
        this.k = plan.params.k();
        memory.desc wide = Dnnl.matrix(rows, 2L * k, memory.data_type.u8);
        memory.desc lowDesc = Dnnl.matrix(rows, 2L * k, memory.data_type.s8)
                .submemory_desc(new long[] {rows, k}, new long[] {0, 0});
        memory.desc highDesc = wide.submemory_desc(new long[] {rows, k}, new long[] {0, k});
        memory.desc qd = Dnnl.matrix(rows, k, memory.data_type.u8);
        halves = owned(wide);
        low = Dnnl.reorderOf(qd, lowDesc, false);
        primitive_attr shift = new primitive_attr();
        shift.set_zero_points(DNNL_ARG_SRC, 0, new int[] {LOW_MAX});
        high = new reorder(new reorder.primitive_desc(Dnnl.engine(), qd, Dnnl.engine(), highDesc, shift, false));
        lowArgs = args(DNNL_ARG_SRC, plan.xU8, DNNL_ARG_DST, view(lowDesc, halves));
        highArgs = args(DNNL_ARG_SRC, plan.xU8, DNNL_ARG_DST, view(highDesc, halves));
        nativeHalvesExact = nativeHalvesMatchJava(qd, lowDesc, highDesc);
    }

    /** Rebuilds the convolution for the plan's current qparams, when they are fixed. */
    void refresh() {
        convolution = plan.fixedQParams ? DnnlConvolutionProduct.tryBuild(plan, halves, true, plan.productDst,
                plan.productRequantizes, plan.scales, plan.outputZeroPoint(), false) : null;
    }

    /** Writes the halves of the plan's quantized input and runs the product into the plan's matmul output. */
    void run(stream s) {
        if (nativeHalvesExact) {
            low.execute(s, lowArgs);
            high.execute(s, highArgs);
        } else {
            splitInJava();
        }
        if (convolution != null) {
            convolution.run(s);
        } else {
            if (product == null) {
                // the plan's bias holds the zero point: the stacked product sums (x_low + x_high) * w = x * w
                product = plan.matmulOf(halves.get_desc(), 2L * k);
                productArgs = plan.matmulArgs(halves, plan.params.weightsTwice(), plan.biasAcc);
            }
            product.execute(s, productArgs);
        }
    }

    private static memory view(memory.desc desc, memory of) {
        return new memory(desc, Dnnl.engine(), of.get_data_handle());
    }

    /** Runs both reorders on every byte value and compares with {@link #halve}. */
    private boolean nativeHalvesMatchJava(memory.desc qd, memory.desc lowDesc, memory.desc highDesc) {
        byte[] probe = Dnnl.everyByteValue(rows * k);
        memory in = Dnnl.bytes(qd, probe);
        memory out = owned(Dnnl.matrix(rows, 2L * k, memory.data_type.u8));
        stream s = Dnnl.stream();
        low.execute(s, args(DNNL_ARG_SRC, in, DNNL_ARG_DST, view(lowDesc, out)));
        high.execute(s, args(DNNL_ARG_SRC, in, DNNL_ARG_DST, view(highDesc, out)));
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
        new BytePointer(plan.xU8.get_data_handle()).capacity(quantized.length).get(quantized);
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
                int l = Math.min(v, LOW_MAX);
                out[lo + t] = (byte) l;
                out[hi + t] = (byte) (v - l);
            }
        }
    }
}
