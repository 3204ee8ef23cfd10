package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.global.dnnl.prop_kind;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.stream;

/**
 * The int8 product of a plan whose qparams do not change between calls (static quantization), run as oneDNN's 1x1
 * int8 convolution: the batch rows are the convolution's pixels ({@code nhwc [1, k, 1, m]} is the same buffer as the
 * row-major {@code [m, k]} input), and the weight sits in the convolution's blocked layout, reordered once per layer.
 * oneDNN 2.5's int8 matmul repacks its weight on every call and recomputes the zero-point compensation from it; the
 * convolution does neither, and the input zero point is folded into the bias. Measured on AVX2 without VNNI, one
 * thread: 784x512 at batch 1 in 6 µs instead of 55, 4096x4096 in 0.33 ms instead of 3.2, and about 8% faster at
 * batch 256. The price: its output scales, zero point and activation are fixed when it is built, so a plan builds a
 * new one whenever its qparams change (dynamic quantization keeps the matmul, which takes them at run time).
 *
 * <p>The rare paths for inputs above 128 on CPUs without VNNI use it too: the outlier correction's product (with a
 * sum post-op) and the split product (on the weight stacked twice).
 *
 * <pre>{@code
 * DnnlConvolutionProduct c = DnnlConvolutionProduct.tryBuild(plan, plan.xU8, false, plan.productDst,
 *         plan.productRequantizes, scales, outZeroPoint, false);
 * if (c != null) {           // null: oneDNN has no jit kernel for it here
 *     c.run(stream);         // reads src, writes dst (the plan's bound output array when dst is plan.yF32)
 * }
 * }</pre>
 */
final class DnnlConvolutionProduct {
    private final convolution_forward convolution;
    private final IntMemoryMap args;
    private final memory dst;
    /** The plan whose bound float output {@link #dst} follows per call; null when dst is a buffer the plan owns. */
    private final DnnlLinearPlan followsOutputOf;

    private DnnlConvolutionProduct(convolution_forward convolution, IntMemoryMap args, memory dst,
                                   DnnlLinearPlan followsOutputOf) {
        this.convolution = convolution;
        this.args = args;
        this.dst = dst;
        this.followsOutputOf = followsOutputOf;
    }

    /**
     * The convolution of the plan's weight (stacked twice when {@code twice}) on {@code src}, u8
     * {@code [rows, k or 2k]}, into {@code dst} ({@code [rows, n]}, u8 or f32), with the plan's bias, {@code scales}
     * per column and, for a u8 output, {@code outZeroPoint} fixed; with {@code sumFirst}, what dst holds is added
     * before the activation. Null when oneDNN has no jit convolution for it on this CPU (the plan then runs its
     * matmul).
     */
    static DnnlConvolutionProduct tryBuild(DnnlLinearPlan plan, memory src, boolean twice, memory dst,
                                           boolean u8Output, float[] scales, int outZeroPoint, boolean sumFirst) {
        if (!Dnnl.convolutionExact()) {
            return null;
        }
        DnnlLinearParams params = plan.params;
        long reduction = twice ? 2L * params.k() : params.k();
        int n = params.n();
        memory.desc in = pixels(reduction, plan.rows, memory.data_type.u8);
        memory.desc out = pixels(n, plan.rows, u8Output ? memory.data_type.u8 : memory.data_type.f32);
        memory.desc anyWeights = new memory.desc(new long[] {n, reduction, 1, 1}, memory.data_type.s8,
                memory.format_tag.any);
        memory.desc bias = Dnnl.vector(n, memory.data_type.f32);
        primitive_attr attr = new primitive_attr();
        attr.set_output_scales(2, scales);
        attr.set_post_ops(postOps(params, sumFirst, u8Output ? outZeroPoint : 0));
        convolution_forward.primitive_desc pd;
        try {
            pd = new convolution_forward.primitive_desc(
                    new convolution_forward.desc(prop_kind.forward_inference, algorithm.convolution_direct, in,
                            anyWeights, bias, out, new long[] {1, 1}, new long[] {0, 0}, new long[] {0, 0}),
                    attr, Dnnl.engine());
        } catch (RuntimeException unimplemented) {
            return null;   // e.g. a post-op this CPU's int8 convolution lacks: the matmul computes the same
        }
        if (pd.impl_info_str().getString().startsWith("ref")) {
            return null;
        }
        memory dstView = new memory(out, Dnnl.engine(), dst.get_data_handle());
        IntMemoryMap a = args(DNNL_ARG_SRC, new memory(in, Dnnl.engine(), src.get_data_handle()),
                DNNL_ARG_DST, dstView);
        a.put(DNNL_ARG_WEIGHTS, params.convolutionWeights(pd.weights_desc(), twice));
        a.put(DNNL_ARG_BIAS, new memory(bias, Dnnl.engine(), plan.biasAcc.get_data_handle()));
        return new DnnlConvolutionProduct(new convolution_forward(pd), a, dstView, dst == plan.yF32 ? plan : null);
    }

    void run(stream s) {
        if (followsOutputOf != null) {
            dst.set_data_handle(followsOutputOf.boundOutput);
        }
        convolution.execute(s, args);
    }

    /** {@code [1, channels, 1, rows]} in nhwc: row-major {@code [rows, channels]}. */
    private static memory.desc pixels(long channels, long rows, memory.data_type type) {
        return new memory.desc(new long[] {1, channels, 1, rows}, type, memory.format_tag.nhwc);
    }

    /** The activation, then the output zero point: oneDNN converts to u8 after the post-ops. */
    private static post_ops postOps(DnnlLinearParams params, boolean sumFirst, int outZeroPoint) {
        post_ops ops = params.postOps(sumFirst);
        if (outZeroPoint != 0) {
            ops.append_eltwise(1f, algorithm.eltwise_linear, 1f, outZeroPoint);
        }
        return ops;
    }
}
