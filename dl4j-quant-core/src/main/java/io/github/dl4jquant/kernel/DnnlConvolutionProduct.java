package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_1;
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
 * The int8 product of a plan run as oneDNN's 1x1 int8 convolution: the batch rows are the convolution's pixels
 * ({@code nhwc [1, k, 1, m]} is the same buffer as the row-major {@code [m, k]} input), and the weight sits in the
 * convolution's blocked layout, reordered once per layer. oneDNN 2.5's int8 matmul repacks its weight on every call
 * and recomputes the zero-point compensation from it; the convolution does neither. Measured on AVX2 without VNNI, one
 * thread: 784x512 at batch 1 in 6 µs instead of 55, 4096x4096 in 0.33 ms instead of 3.2, and about 8% faster at
 * batch 256.
 *
 * <p>Two kinds. For qparams that stay the same between calls (static quantization, {@link #tryBuild}) the output
 * scales, output zero point and activation are built in and the input zero point is folded into the bias, so a plan
 * builds another whenever its qparams change. For qparams that change per call (dynamic quantization, {@link
 * #tryBuildRuntimeScaled}) only the weight scales are built in: the input scale and the float bias come at run time
 * through binary post-ops, and the input zero point through the convolution's bias, {@code -zp * colsum(w)}.
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
 * DnnlConvolutionProduct d = DnnlConvolutionProduct.tryBuildRuntimeScaled(plan, inputScale, zeroPointBias, bias);
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
        if (!plan.convolutions) {
            return null;
        }
        DnnlLinearParams params = plan.params;
        long reduction = twice ? 2L * params.k() : params.k();
        memory.desc out = pixels(params.n(), plan.rows, u8Output ? memory.data_type.u8 : memory.data_type.f32);
        convolution_forward.primitive_desc pd = primitiveOf(plan, reduction, out, scales,
                postOps(params, sumFirst, u8Output ? outZeroPoint : 0));
        if (pd == null) {
            return null;
        }
        memory dstView = new memory(out, Dnnl.engine(), dst.get_data_handle());
        IntMemoryMap a = argsOf(plan, pd, src, reduction, twice, dstView, plan.biasAcc);
        return new DnnlConvolutionProduct(new convolution_forward(pd), a, dstView, dst == plan.yF32 ? plan : null);
    }

    /** Null when oneDNN cannot create it with these attributes, or only has its reference kernel. */
    private static convolution_forward.primitive_desc primitiveOf(DnnlLinearPlan plan, long reduction,
                                                                  memory.desc out, float[] scales, post_ops ops) {
        int n = plan.params.n();
        memory.desc anyWeights = new memory.desc(new long[] {n, reduction, 1, 1}, memory.data_type.s8,
                memory.format_tag.any);
        primitive_attr attr = new primitive_attr();
        attr.set_output_scales(2, scales);
        attr.set_post_ops(ops);
        convolution_forward.primitive_desc pd;
        try {
            pd = new convolution_forward.primitive_desc(
                    new convolution_forward.desc(prop_kind.forward_inference, algorithm.convolution_direct,
                            pixels(reduction, plan.rows, memory.data_type.u8), anyWeights,
                            Dnnl.vector(n, memory.data_type.f32), out, new long[] {1, 1}, new long[] {0, 0},
                            new long[] {0, 0}),
                    attr, Dnnl.engine());
        } catch (RuntimeException unimplemented) {
            return null;   // e.g. a post-op this CPU's int8 convolution lacks: the matmul computes the same
        }
        return pd.impl_info_str().getString().startsWith("ref") ? null : pd;
    }

    /** Source, weights (in the primitive's layout, cached per layer), bias and destination. */
    private static IntMemoryMap argsOf(DnnlLinearPlan plan, convolution_forward.primitive_desc pd, memory src,
                                       long reduction, boolean twice, memory dst, memory bias) {
        IntMemoryMap a = args(DNNL_ARG_SRC, new memory(pixels(reduction, plan.rows, memory.data_type.u8),
                Dnnl.engine(), src.get_data_handle()), DNNL_ARG_DST, dst);
        a.put(DNNL_ARG_WEIGHTS, plan.params.convolutionWeights(pd.weights_desc(), twice));
        a.put(DNNL_ARG_BIAS, new memory(Dnnl.vector(plan.params.n(), memory.data_type.f32), Dnnl.engine(),
                bias.get_data_handle()));
        return a;
    }

    /**
     * The convolution for qparams that change per call, into the plan's bound float output:
     * {@code act(s_in * s_w[j] * (acc - zp * colsum[j]) + b[j])} with {@code s_w} built in and, read at each run,
     * {@code inputScale} ({@code [1, 1, 1, 1]} f32: s_in), {@code zeroPointBias} ({@code [n]} f32:
     * {@code -zp * colsum[j]}) and {@code bias} ({@code [1, n, 1, 1]} f32: b). Null when oneDNN has no jit
     * convolution with these post-ops on this CPU (the plan then runs its matmul).
     */
    static DnnlConvolutionProduct tryBuildRuntimeScaled(DnnlLinearPlan plan, memory inputScale, memory zeroPointBias,
                                                        memory bias) {
        if (!plan.convolutions) {
            return null;
        }
        DnnlLinearParams params = plan.params;
        int n = params.n();
        float[] weightScales = new float[n];
        for (int j = 0; j < n; j++) {
            weightScales[j] = params.weightScale(j);
        }
        post_ops ops = new post_ops();
        ops.append_binary(algorithm.binary_mul, inputScale.get_desc());
        ops.append_binary(algorithm.binary_add, bias.get_desc());
        if (params.eltwise() != null) {
            ops.append_eltwise(1f, params.eltwise(), 0f, 0f);
        }
        memory.desc out = pixels(n, plan.rows, memory.data_type.f32);
        convolution_forward.primitive_desc pd = primitiveOf(plan, params.k(), out, weightScales, ops);
        if (pd == null) {
            return null;
        }
        memory dstView = new memory(out, Dnnl.engine(), plan.yF32.get_data_handle());
        IntMemoryMap a = argsOf(plan, pd, plan.xU8, params.k(), false, dstView, zeroPointBias);
        a.put(DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE | DNNL_ARG_SRC_1, inputScale);
        a.put(DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE * 2 | DNNL_ARG_SRC_1, bias);
        return new DnnlConvolutionProduct(new convolution_forward(pd), a, dstView, plan);
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
