package io.github.dl4jquant.kernel;

import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.Pointer;

/**
 * The u8 input of an int8 layer for one input shape: the values the previous int8 layer handed over
 * ({@link DnnlHandover}), or DL4J's floats quantized by a {@link DnnlQuantizeStep}. Not thread safe; one per plan.
 *
 * <pre>{@code
 * DnnlInt8Input in = new DnnlInt8Input(floatDesc, u8Desc, inScale, inZp);
 * if (!in.bind(stream, x.data().addressPointer(), handed, false)) { ... NaN ... }
 * primitiveArgs.put(DNNL_ARG_SRC, in.values());
 * }</pre>
 */
final class DnnlInt8Input {
    private final DnnlQuantizeStep quantize;
    private final memory values;

    DnnlInt8Input(memory.desc floatDesc, memory.desc u8Desc, float scale, int zeroPoint) {
        quantize = new DnnlQuantizeStep(floatDesc, Dnnl.owned(u8Desc), scale, zeroPoint);
        values = Dnnl.unbound(u8Desc);
    }

    /** The u8 values (channels last) a primitive reads: valid after {@link #bind}. */
    memory values() {
        return values;
    }

    /**
     * Points {@link #values()} at {@code handed} when not null, else quantizes the floats at {@code x}; false, with
     * nothing quantized, when they hold NaN (or both infinities) unless {@code nanFree}.
     */
    boolean bind(stream s, Pointer x, Pointer handed, boolean nanFree) {
        if (handed != null) {
            values.set_data_handle(handed);
            return true;
        }
        quantize.bind(x);
        if (!quantize.run(s, nanFree)) {
            return false;
        }
        values.set_data_handle(quantize.quantized().get_data_handle());
        return true;
    }
}
