package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * An int8 layer's input step for fixed qparams: one reorder quantizes DL4J's float array (NCHW or NHWC) to u8 NHWC
 * ({@code clamp(rint(x / s) + zp, 0, 255)}, round half to even, infinities saturating), after a native sum that
 * tells whether the batch holds NaN. Not thread safe; one per plan.
 *
 * <pre>{@code
 * DnnlQuantizeStep q = new DnnlQuantizeStep(floatDesc, Dnnl.owned(u8Desc), 0.02f, 0);
 * q.bind(x.data().addressPointer());
 * if (!q.run(stream, false)) { ... NaN ... }
 * Pointer u8 = q.quantized();
 * }</pre>
 */
final class DnnlQuantizeStep {
    private final memory source;
    /** The same floats as one row, for the NaN sum: oneDNN reduces a 4-d tensor to a scalar in reference code. */
    private final memory sourceRow;
    private final memory quantized;
    private final primitive quantize;
    private final primitive nanCheck;
    private final IntMemoryMap quantizeArgs;
    private final IntMemoryMap nanArgs;
    private final FloatPointer sum;

    /**
     * @param target where the u8 values go: a buffer of their own, or a view into a larger one (the interior of a
     *               padded input)
     */
    DnnlQuantizeStep(memory.desc floatDesc, memory target, float scale, int zeroPoint) {
        source = Dnnl.unbound(floatDesc);
        quantized = target;
        primitive_attr attr = new primitive_attr();
        attr.set_output_scales(0, new float[] {1.0f / scale});
        attr.set_zero_points(DNNL_ARG_DST, 0, new int[] {zeroPoint});
        quantize = new reorder(new reorder.primitive_desc(Dnnl.engine(), floatDesc, Dnnl.engine(),
                target.get_desc(), attr, false));
        quantizeArgs = args(DNNL_ARG_SRC, source, DNNL_ARG_DST, quantized);
        long elements = floatDesc.get_size() / Float.BYTES;
        memory.desc row = Dnnl.matrix(1, elements, memory.data_type.f32);
        memory.desc one = Dnnl.matrix(1, 1, memory.data_type.f32);
        memory sumMem = Dnnl.owned(one);
        sourceRow = Dnnl.unbound(row);
        nanCheck = Dnnl.reductionOf(algorithm.reduction_sum, row, one);
        nanArgs = args(DNNL_ARG_SRC, sourceRow, DNNL_ARG_DST, sumMem);
        sum = new FloatPointer(sumMem.get_data_handle()).capacity(1);
    }

    void bind(Pointer floats) {
        source.set_data_handle(floats);
        sourceRow.set_data_handle(floats);
    }

    /**
     * Quantizes the bound floats; false, with nothing quantized, when their sum is NaN (NaN, or both infinities)
     * unless {@code nanFree} says the caller has checked them.
     */
    boolean run(stream s, boolean nanFree) {
        if (!nanFree) {
            nanCheck.execute(s, nanArgs);
            s._wait();
            if (Float.isNaN(sum.get(0))) {
                return false;
            }
        }
        quantize.execute(s, quantizeArgs);
        return true;
    }

    /** Where the u8 values are written. */
    memory quantized() {
        return quantized;
    }
}
