package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;

import java.util.Arrays;
import java.util.List;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.global.dnnl.prop_kind;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.pooling_forward;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch's quantized {@code max_pool2d} / {@code avg_pool2d} / {@code adaptive_avg_pool2d} on oneDNN's u8 pooling:
 * the input and output share one scale and zero point (PyTorch's share-qparams rule), so pooling runs on the u8
 * values directly: the maximum is exact, the average is {@code rint(mean(q))} (PyTorch's reference,
 * {@code quantize(avg(dequantize(q)))}, within float rounding). The u8 input is taken over from the previous int8
 * layer when it offered it (or the floats are quantized), the u8 output is dequantized into DL4J's float output and
 * offered to the next int8 layer.
 *
 * <pre>{@code
 * DnnlInt8Pooling pool = new DnnlInt8Pooling(DnnlInt8Pooling.Kind.MAX, 0.02f, 0, true);
 * boolean done = pool.forward(x, x, false, new int[] {2, 2}, new int[] {2, 2}, new int[4], y);   // NCHW floats
 * pool.offer(y);
 * }</pre>
 */
public final class DnnlInt8Pooling {
    private static final int MAX_PLANS_PER_THREAD = 16;

    /** The pooling function; averages count the padded positions or not. */
    public enum Kind {
        MAX(algorithm.pooling_max), AVG_INCLUDE_PADDING(algorithm.pooling_avg_include_padding),
        AVG_EXCLUDE_PADDING(algorithm.pooling_avg_exclude_padding);

        private final algorithm primitive;

        Kind(algorithm primitive) {
            this.primitive = primitive;
        }
    }

    private final Kind kind;
    private final float scale;
    private final int zeroPoint;
    private final boolean offersOutput;
    private final ThreadPlans<List<Long>, Plan> plans = new ThreadPlans<>(MAX_PLANS_PER_THREAD);

    /**
     * @param scale        the shared input and output scale (quint8)
     * @param offersOutput true when every consumer of the output is an int8 layer that takes it over
     */
    public DnnlInt8Pooling(Kind kind, float scale, int zeroPoint, boolean offersOutput) {
        if (Dnnl.unavailableReason() != null) {
            throw new IllegalStateException("oneDNN primitives are not available: " + Dnnl.unavailableReason());
        }
        this.kind = kind;
        this.scale = scale;
        this.zeroPoint = zeroPoint;
        this.offersOutput = offersOutput;
    }

    /**
     * Pools {@code x} into {@code y}.
     *
     * @param input the array the caller received (its u8 values may have been offered)
     * @param x     {@code input} as FLOAT {@code [n, c, h, w]} (or {@code [n, h, w, c]}), dense 'c' order
     * @param pads  {@code {top, left, bottom, right}}
     * @param y     FLOAT {@code [n, c, oh, ow]} (or channels last; a {@code [n, c]} matrix for a 1x1 output),
     *              dense 'c' order; written only on success
     * @return false when {@code x} holds NaN (or both infinities): nothing is written
     */
    public boolean forward(INDArray input, INDArray x, boolean channelsLast, int[] kernel, int[] strides, int[] pads,
                           INDArray y) {
        return run(input, x, channelsLast, kernel, strides, pads, y, false);
    }

    /** {@link #forward} for an input the caller checked holds no NaN. */
    public void forwardNanFree(INDArray input, INDArray x, boolean channelsLast, int[] kernel, int[] strides,
                               int[] pads, INDArray y) {
        run(input, x, channelsLast, kernel, strides, pads, y, true);
    }

    private boolean run(INDArray input, INDArray x, boolean channelsLast, int[] kernel, int[] strides, int[] pads,
                        INDArray y, boolean nanFree) {
        long[] s = x.shape();
        long[] dims = channelsLast ? new long[] {s[0], s[3], s[1], s[2]} : s;
        Plan p = plan(dims, channelsLast, kernel, strides, pads);
        if (y.length() != DnnlTensors.elements(p.outDims)) {
            throw new IllegalArgumentException("DnnlInt8Pooling: y has shape " + Arrays.toString(y.shape())
                    + "; expected " + Arrays.toString(p.outDims) + " (n, c, h, w)");
        }
        Pointer handed = DnnlHandover.current().take(input, scale, zeroPoint);
        boolean done = p.forward(Dnnl.stream(), x.data().addressPointer(), handed, y.data().addressPointer(),
                nanFree || handed != null);
        plans.setLast(done ? p : null);
        return done;
    }

    /** Offers this thread's last output as the u8 values behind {@code output}; a no-op unless offering. */
    public void offer(INDArray output) {
        Plan p = plans.last();
        if (offersOutput && p != null) {
            DnnlHandover.current().offer(p.output, output, p.output.get_data_handle(), scale, zeroPoint);
        }
    }

    /** {@code {oh, ow}} for an input of {@code h x w}. */
    public static int[] outputSize(int h, int w, int[] kernel, int[] strides, int[] pads) {
        return new int[] {(h + pads[0] + pads[2] - kernel[0]) / strides[0] + 1,
            (w + pads[1] + pads[3] - kernel[1]) / strides[1] + 1};
    }

    private Plan plan(long[] dims, boolean channelsLast, int[] kernel, int[] strides, int[] pads) {
        List<Long> key = List.of(dims[0], dims[1], dims[2], dims[3], channelsLast ? 1L : 0L, (long) kernel[0],
                (long) kernel[1], (long) strides[0], (long) strides[1], (long) pads[0], (long) pads[1],
                (long) pads[2], (long) pads[3]);
        Plan p = plans.get(key);
        if (p == null) {
            p = plans.put(key, new Plan(kind.primitive, scale, zeroPoint, dims, channelsLast, kernel, strides, pads));
        }
        return p;
    }

    @Override
    public String toString() {
        return "onednn-int8-pooling[" + kind + "]";
    }

    /** The primitives of one thread and input shape: u8 input, pooling, dequantize. */
    /**
     * Static, so that a thread's plans do not keep their kernel reachable: its per-kernel {@code ThreadLocal}s must
     * become unreachable with a discarded model for the plans (and their native memory) to be freed.
     */
    private static final class Plan {
        final long[] outDims;
        final memory output;
        private final DnnlInt8Input input;
        private final primitive pooling;
        private final IntMemoryMap poolingArgs;
        private final DnnlDequantizeStep dequantize;

        Plan(algorithm primitive, float scale, int zeroPoint, long[] dims, boolean channelsLast, int[] kernel,
             int[] strides, int[] pads) {
            int[] out = outputSize((int) dims[2], (int) dims[3], kernel, strides, pads);
            outDims = new long[] {dims[0], dims[1], out[0], out[1]};
            memory.desc u8In = DnnlTensors.quantized(dims);
            input = new DnnlInt8Input(DnnlTensors.floats(dims, channelsLast), u8In, scale, zeroPoint);
            memory.desc u8Out = DnnlTensors.quantized(outDims);
            output = Dnnl.owned(u8Out);
            pooling = new pooling_forward(new pooling_forward.primitive_desc(new pooling_forward.desc(
                    prop_kind.forward_inference, primitive, u8In, u8Out, new long[] {strides[0], strides[1]},
                    new long[] {kernel[0], kernel[1]}, new long[] {pads[0], pads[1]}, new long[] {pads[2], pads[3]}),
                    Dnnl.engine()));
            poolingArgs = args(DNNL_ARG_SRC, input.values(), DNNL_ARG_DST, output);
            dequantize = new DnnlDequantizeStep(output, DnnlTensors.floats(outDims, channelsLast), scale, zeroPoint);
        }

        boolean forward(stream s, Pointer x, Pointer handed, Pointer y, boolean nanFree) {
            if (!input.bind(s, x, handed, nanFree)) {
                return false;
            }
            pooling.execute(s, poolingArgs);
            dequantize.run(s, y);
            s._wait();
            return true;
        }
    }
}
