package io.github.dl4jquant.kernel;

import org.bytedeco.dnnl.memory;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Memory descriptors of 4-D activations: float ones as DL4J holds them (NCHW or NHWC, dense 'c' order) and the
 * quantized ones, always channels last (NHWC), the layout oneDNN's int8 kernels read and the one the int8 values
 * are handed over in (a {@code [n, c]} matrix is NHWC with {@code h = w = 1}).
 *
 * <pre>{@code
 * memory.desc f = DnnlTensors.floats(new long[] {32, 16, 28, 28}, false);   // NCHW f32
 * memory.desc q = DnnlTensors.quantized(new long[] {32, 16, 28, 28});       // NHWC u8
 * }</pre>
 */
final class DnnlTensors {
    private DnnlTensors() {
    }

    /** f32 {@code dims = {n, c, h, w}} in NHWC order when {@code channelsLast}, else NCHW. */
    static memory.desc floats(long[] dims, boolean channelsLast) {
        return new memory.desc(dims, memory.data_type.f32, channelsLast ? memory.format_tag.nhwc
                : memory.format_tag.nchw);
    }

    /** u8 {@code dims = {n, c, h, w}} in NHWC order. */
    static memory.desc quantized(long[] dims) {
        return new memory.desc(dims, memory.data_type.u8, memory.format_tag.nhwc);
    }

    /** f32 in NHWC order: the int8 kernels' float intermediates. */
    static memory.desc floatsChannelsLast(long[] dims) {
        return new memory.desc(dims, memory.data_type.f32, memory.format_tag.nhwc);
    }

    /**
     * The {@code dims} block at row {@code top}, column {@code left} of the u8 NHWC buffer {@code padded} (of
     * {@code paddedDims}), as a memory of its own: strides of the padded buffer, the offset in the data handle.
     * (A {@code submemory_desc} offset was ignored by oneDNN 2.5's NHWC-to-NHWC reorder.)
     */
    static memory interior(memory padded, long[] paddedDims, long[] dims, long top, long left) {
        long c = paddedDims[1];
        long w = paddedDims[3];
        long[] strides = {paddedDims[2] * w * c, 1, w * c, c};
        memory.desc view = new memory.desc(dims, memory.data_type.u8, strides);
        Pointer start = new BytePointer(padded.get_data_handle()).position((top * w + left) * c);
        return new memory(view, Dnnl.engine(), new Pointer(start));
    }

    static long elements(long[] dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    /** A one-element u8 tensor of rank 4, for broadcasting a constant in a binary primitive. */
    static memory.desc scalarU8() {
        return new memory.desc(new long[] {1, 1, 1, 1}, memory.data_type.u8, memory.format_tag.nhwc);
    }
}
