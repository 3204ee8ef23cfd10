package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_0;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_1;

import java.util.Arrays;
import java.util.List;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.binary;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch's {@code quantized::add} / {@code add_relu} for two activations already on their quantization grids (the
 * dequantized outputs of int8 layers): one oneDNN binary primitive adds them, applies the ReLU and requantizes to
 * the output qparams ({@code x / s + zp}, rounding half to even, saturating) into u8 channels-last values, which a
 * reorder dequantizes into DL4J's float output and which the next int8 layer can take over. The float sum of two
 * on-grid values is exactly what PyTorch's reference add computes before its output quantization.
 *
 * <pre>{@code
 * DnnlInt8Add add = new DnnlInt8Add(0.05f, 0, true, true);
 * add.forward(a, b, false, y);     // a, b, y FLOAT, same shape, dense 'c' (NCHW, or [n, c])
 * add.offer(y);
 * }</pre>
 */
public final class DnnlInt8Add {
    private static final int MAX_PLANS_PER_THREAD = 16;

    private final float scale;
    private final int zeroPoint;
    private final boolean relu;
    private final boolean offersOutput;
    private final ThreadPlans<List<Long>, Plan> plans = new ThreadPlans<>(MAX_PLANS_PER_THREAD);

    public DnnlInt8Add(float scale, int zeroPoint, boolean relu, boolean offersOutput) {
        if (Dnnl.unavailableReason() != null) {
            throw new IllegalStateException("oneDNN primitives are not available: " + Dnnl.unavailableReason());
        }
        this.scale = scale;
        this.zeroPoint = zeroPoint;
        this.relu = relu;
        this.offersOutput = offersOutput;
    }

    /**
     * {@code y = q_out(relu(a + b))} dequantized. Ranks 2 ({@code [n, c]}), 3 ({@code [n, c, length]} or channels
     * last) and 4 ({@code [n, c, h, w]} or channels last); a, b and y dense 'c' order of one shape.
     */
    public void forward(INDArray a, INDArray b, boolean channelsLast, INDArray y) {
        long[] dims = logicalDims(a.shape(), channelsLast);
        if (!Arrays.equals(a.shape(), b.shape()) || !Arrays.equals(a.shape(), y.shape())) {
            throw new IllegalArgumentException("DnnlInt8Add: inputs and output must have one shape; got "
                    + Arrays.toString(a.shape()) + ", " + Arrays.toString(b.shape()) + " -> "
                    + Arrays.toString(y.shape()));
        }
        Plan p = plan(dims, channelsLast && a.rank() > 2);
        p.run(Dnnl.stream(), a, b, y);
        plans.setLast(p);
    }

    /** Offers this thread's last output as the u8 values behind {@code output}; a no-op unless offering. */
    public void offer(INDArray output) {
        Plan p = plans.last();
        if (offersOutput && p != null) {
            DnnlHandover.current().offer(p.output, output, p.output.get_data_handle(), scale, zeroPoint);
        }
    }

    /** {@code {n, c, h, w}} of a rank 2, 3 or 4 shape. */
    private static long[] logicalDims(long[] s, boolean channelsLast) {
        switch (s.length) {
            case 2:
                return new long[] {s[0], s[1], 1, 1};
            case 3:
                return channelsLast ? new long[] {s[0], s[2], s[1], 1} : new long[] {s[0], s[1], s[2], 1};
            case 4:
                return channelsLast ? new long[] {s[0], s[3], s[1], s[2]} : s;
            default:
                throw new IllegalArgumentException("DnnlInt8Add: rank 2, 3 or 4 activations; got shape "
                        + Arrays.toString(s));
        }
    }

    private Plan plan(long[] dims, boolean channelsLast) {
        List<Long> key = List.of(dims[0], dims[1], dims[2], dims[3], channelsLast ? 1L : 0L);
        Plan p = plans.get(key);
        if (p == null) {
            p = plans.put(key, new Plan(scale, zeroPoint, relu, offersOutput, dims, channelsLast));
        }
        return p;
    }

    @Override
    public String toString() {
        return "onednn-int8-add" + (relu ? "-relu" : "");
    }

    /**
     * The binary primitive and the dequantize step of one thread and shape. The binary writes u8 in the inputs'
     * layout (oneDNN 2.5's binary wrote NCHW order into an NHWC destination), copied to channels last only for a
     * hand-over. Static, so that a thread's plans do not keep their kernel reachable (see DnnlInt8Pooling.Plan).
     */
    private static final class Plan {
        final memory output;
        private final memory sum;
        private final primitive toChannelsLast;
        private final IntMemoryMap toChannelsLastArgs;
        private final memory a;
        private final memory b;
        private final primitive add;
        private final IntMemoryMap addArgs;
        private final DnnlDequantizeStep dequantize;

        Plan(float scale, int zeroPoint, boolean relu, boolean offersOutput, long[] dims, boolean channelsLast) {
            memory.desc floats = DnnlTensors.floats(dims, channelsLast);
            a = Dnnl.unbound(floats);
            b = Dnnl.unbound(floats);
            sum = Dnnl.owned(new memory.desc(dims, memory.data_type.u8, channelsLast ? memory.format_tag.nhwc
                    : memory.format_tag.nchw));
            output = channelsLast ? sum : Dnnl.owned(DnnlTensors.quantized(dims));
            toChannelsLast = channelsLast || !offersOutput ? null : new reorder(sum, output);
            toChannelsLastArgs = toChannelsLast == null ? null : args(DNNL_ARG_SRC, sum, DNNL_ARG_DST, output);
            post_ops ops = new post_ops();
            if (relu) {
                ops.append_eltwise(1f, algorithm.eltwise_relu, 0f, 0f);
            }
            ops.append_eltwise(1f, algorithm.eltwise_linear, 1.0f / scale, zeroPoint);
            primitive_attr attr = new primitive_attr();
            attr.set_post_ops(ops);
            add = new binary(new binary.primitive_desc(new binary.desc(algorithm.binary_add, floats, floats,
                    sum.get_desc()), attr, Dnnl.engine()));
            addArgs = args(DNNL_ARG_SRC_0, a, DNNL_ARG_SRC_1, b);
            addArgs.put(DNNL_ARG_DST, sum);
            dequantize = new DnnlDequantizeStep(sum, floats, scale, zeroPoint);
        }

        void run(stream s, INDArray x0, INDArray x1, INDArray y) {
            a.set_data_handle(x0.data().addressPointer());
            b.set_data_handle(x1.data().addressPointer());
            add.execute(s, addArgs);
            dequantize.run(s, y.data().addressPointer());
            if (toChannelsLast != null) {
                toChannelsLast.execute(s, toChannelsLastArgs);
            }
            s._wait();
        }
    }
}
