package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.Pointer;

/**
 * An int8 layer's output step for fixed qparams: one reorder writes {@code (q - zp) * s} from the u8 NHWC values
 * into DL4J's float array (NCHW or NHWC), which is what DL4J, listeners and the numeric suite read. Not thread safe;
 * one per plan.
 *
 * <pre>{@code
 * DnnlDequantizeStep d = new DnnlDequantizeStep(u8Memory, floatDesc, 0.05f, 0);
 * d.run(stream, y.data().addressPointer());
 * }</pre>
 */
final class DnnlDequantizeStep {
    private final memory target;
    private final primitive dequantize;
    private final IntMemoryMap dequantizeArgs;

    DnnlDequantizeStep(memory quantized, memory.desc floatDesc, float scale, int zeroPoint) {
        target = Dnnl.unbound(floatDesc);
        primitive_attr attr = new primitive_attr();
        attr.set_output_scales(0, new float[] {scale});
        attr.set_zero_points(DNNL_ARG_SRC, 0, new int[] {zeroPoint});
        dequantize = new reorder(new reorder.primitive_desc(Dnnl.engine(), quantized.get_desc(), Dnnl.engine(),
                floatDesc, attr, false));
        dequantizeArgs = args(DNNL_ARG_SRC, quantized, DNNL_ARG_DST, target);
    }

    /** Writes the dequantized values into {@code floats}. */
    void run(stream s, Pointer floats) {
        target.set_data_handle(floats);
        dequantize.execute(s, dequantizeArgs);
    }
}
