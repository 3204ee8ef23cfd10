package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_1;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.binary;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.global.dnnl.prop_kind;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Everything one thread needs to run one {@link DnnlInt8Convolution} on one input shape: the quantize step, the int8
 * convolution with the per-channel scales, bias, activation and output requantization built in, the dequantize step
 * into DL4J's float output, and, on CPUs whose int8 kernels saturate, the exact path for inputs above 127.
 *
 * <p>Per call: u8 input (quantized, or handed over by the previous int8 layer) -> convolution -> u8 NHWC output ->
 * float output. The convolution computes {@code post_ops(s_in * s_w[j] * (acc + bias_acc[j]))} with post-ops the
 * activation and {@code x / s_out + zp_out}, then converts to u8 with rounding half to even and saturation. The
 * input zero point is always folded into {@code bias_acc} ({@code - zp * sum(w)}), which is exact when every window
 * holds a full set of inputs: a convolution that pads and has a non-zero input zero point therefore reads a padded
 * copy of its input whose border holds the zero point (the float 0 DL4J pads with), written once; each call copies
 * the u8 input into its interior. (oneDNN 2.5's own source zero points compute wrong borders for depthwise
 * convolutions on AVX-512 VNNI, by up to 2 output steps in the tests here.)
 *
 * <p>Exactness on CPUs without VNNI ({@link Dnnl#saturatesPairs()}): their u8*s8 kernels add pairs of products in
 * saturating int16, exact while activations stay within 0..128. PyTorch's x86 qconfig keeps calibrated activations
 * within 0..127; data beyond the calibrated range can exceed it. A native max over the quantized input finds such
 * batches, which then run as two convolutions on {@code lo = min(x, 127)} and {@code hi = x - lo} (each within 0..128),
 * summed before the activation and the requantization. Not thread safe.
 *
 * <pre>{@code
 * DnnlConvolutionPlan p = new DnnlConvolutionPlan(weights, eltwise, io, new long[] {32, 16, 28, 28}, false, pads);
 * boolean done = p.forward(stream, x, null, y, false);   // false: NaN in x
 * }</pre>
 */
final class DnnlConvolutionPlan {
    static final int MAX_SAFE_INPUT = 127;

    final long[] inDims;
    final long[] outDims;
    private final DnnlConvolutionWeights weights;
    private final DnnlEltwise eltwise;
    private final DnnlInt8Convolution.QuantizedIO io;
    /** The convolution's own padding: none when it reads a padded copy of its input. */
    private final int[] pads;
    /** The dims the convolution reads: the input's, or its padded copy's. */
    private final long[] convolutionInDims;
    private final DnnlInt8Input input;
    /** What the convolution reads: the input's u8 values, or the padded copy they are written into. */
    private final memory source;
    /** Copies the u8 input into the padded copy's interior; null without explicit padding. */
    private final primitive copyToInterior;
    private final IntMemoryMap copyToInteriorArgs;
    private final convolution_forward.primitive_desc convolutionDesc;
    private final convolution_forward convolution;
    private final IntMemoryMap convolutionArgs;
    /** The u8 NHWC output, or null when the output stays float. */
    private final memory quantizedOutput;
    /** f32 NHWC output of a float-output layer, reordered into DL4J's array. */
    private final memory floatOutput;
    private final DnnlDequantizeStep dequantize;
    private final memory finalTarget;
    private final primitive toFinalLayout;
    private final IntMemoryMap toFinalLayoutArgs;
    private final primitive maxCheck;
    private final IntMemoryMap maxArgs;
    private final BytePointer inputMax;
    private SaturationSplit split;

    DnnlConvolutionPlan(DnnlConvolutionWeights weights, DnnlEltwise eltwise, DnnlInt8Convolution.QuantizedIO io,
                        long[] inDims, boolean channelsLast, int[] pads) {
        this.weights = weights;
        this.eltwise = eltwise;
        this.io = io;
        this.inDims = inDims.clone();
        ConvolutionSpec spec = weights.spec;
        int[] out = spec.outputSize((int) inDims[2], (int) inDims[3], pads);
        if (out[0] < 1 || out[1] < 1) {
            throw new IllegalArgumentException("int8 convolution " + spec + ": input " + inDims[2] + "x" + inDims[3]
                    + " with padding (top, left, bottom, right) " + java.util.Arrays.toString(pads)
                    + " leaves no output pixel");
        }
        this.outDims = new long[] {inDims[0], spec.outChannels(), out[0], out[1]};
        boolean explicitPadding = io.inZp() != 0 && isPadded(pads);
        this.pads = explicitPadding ? new int[4] : pads.clone();
        this.convolutionInDims = explicitPadding ? new long[] {inDims[0], inDims[1], inDims[2] + pads[0] + pads[2],
            inDims[3] + pads[1] + pads[3]} : this.inDims;
        memory.desc u8In = DnnlTensors.quantized(inDims);
        memory.desc floatIn = DnnlTensors.floats(inDims, channelsLast);
        input = new DnnlInt8Input(floatIn, u8In, io.inScale(), io.inZp());
        if (explicitPadding) {
            memory padded = Dnnl.owned(DnnlTensors.quantized(convolutionInDims));
            Pointer.memset(padded.get_data_handle(), io.inZp(), DnnlTensors.elements(convolutionInDims));
            memory interior = DnnlTensors.interior(padded, convolutionInDims, inDims, pads[0], pads[1]);
            // the u8 input is copied in rather than quantized straight into the strided interior: oneDNN 2.5's
            // quantizing reorder from NHWC floats wrote wrong values there (its plain copy is right)
            source = padded;
            copyToInterior = new reorder(input.values(), interior);
            copyToInteriorArgs = args(DNNL_ARG_SRC, input.values(), DNNL_ARG_DST, interior);
        } else {
            source = input.values();
            copyToInterior = null;
            copyToInteriorArgs = null;
        }

        boolean quantizedOut = io.outScale() != 0f;
        memory.desc dst = quantizedOut ? DnnlTensors.quantized(outDims) : DnnlTensors.floatsChannelsLast(outDims);
        convolutionDesc = primitiveDesc(dst, postOps(false), true);
        convolution = new convolution_forward(convolutionDesc);
        memory outMem = Dnnl.owned(dst);
        convolutionArgs = args(DNNL_ARG_SRC, source, DNNL_ARG_DST, outMem);
        convolutionArgs.put(DNNL_ARG_WEIGHTS, weights.blocked(convolutionDesc.weights_desc()));
        convolutionArgs.put(DNNL_ARG_BIAS, biasMemory());
        memory.desc target = DnnlTensors.floats(outDims, channelsLast);
        if (quantizedOut) {
            quantizedOutput = outMem;
            floatOutput = null;
            dequantize = new DnnlDequantizeStep(outMem, target, io.outScale(), io.outZp());
            finalTarget = null;
            toFinalLayout = null;
            toFinalLayoutArgs = null;
        } else {
            quantizedOutput = null;
            floatOutput = outMem;
            dequantize = null;
            finalTarget = Dnnl.unbound(target);
            toFinalLayout = new reorder(floatOutput, finalTarget);
            toFinalLayoutArgs = args(DNNL_ARG_SRC, floatOutput, DNNL_ARG_DST, finalTarget);
        }
        if (Dnnl.saturatesPairs()) {
            memory.desc one = DnnlTensors.scalarU8();
            memory maxMem = Dnnl.owned(one);
            maxCheck = Dnnl.reductionOf(algorithm.reduction_max, source.get_desc(), one);
            maxArgs = args(DNNL_ARG_SRC, source, DNNL_ARG_DST, maxMem);
            inputMax = new BytePointer(maxMem.get_data_handle()).capacity(1);
        } else {
            maxCheck = null;
            maxArgs = null;
            inputMax = null;
        }
    }

    private static boolean isPadded(int[] pads) {
        for (int p : pads) {
            if (p != 0) {
                return true;
            }
        }
        return false;
    }

    /** {@code s_in * s_w[j]}: the dequantizing scale of each output channel's accumulator. */
    private float[] outputScales() {
        int oc = weights.spec.outChannels();
        float[] s = new float[oc];
        for (int j = 0; j < oc; j++) {
            s[j] = io.inScale() * weights.scale(j);
        }
        return s;
    }

    /**
     * The bias in accumulator units ({@code b / (s_in * s_w)}: oneDNN 2.x adds it before scaling), minus the input
     * zero point's share {@code zp * sum(w)}.
     */
    private memory biasMemory() {
        int foldedZeroPoint = io.inZp();
        int oc = weights.spec.outChannels();
        float[] b = new float[oc];
        for (int j = 0; j < oc; j++) {
            double dequant = (double) io.inScale() * weights.scale(j);
            b[j] = (float) (weights.bias(j) / dequant - (double) foldedZeroPoint * weights.sum(j));
        }
        memory m = Dnnl.owned(Dnnl.vector(oc, memory.data_type.f32));
        new FloatPointer(m.get_data_handle()).capacity(oc).put(b);
        return m;
    }

    /** The activation and, for a u8 output, {@code x / s_out + zp_out}; with {@code sumFirst}, a sum before them. */
    private post_ops postOps(boolean sumFirst) {
        post_ops ops = new post_ops();
        if (sumFirst) {
            ops.append_sum();
        }
        eltwise.appendTo(ops);
        if (io.outScale() != 0f) {
            ops.append_eltwise(1f, algorithm.eltwise_linear, 1.0f / io.outScale(), io.outZp());
        }
        return ops;
    }

    private convolution_forward.primitive_desc primitiveDesc(memory.desc dst, post_ops ops, boolean withBias) {
        ConvolutionSpec spec = weights.spec;
        primitive_attr attr = new primitive_attr();
        attr.set_output_scales(2, outputScales());
        attr.set_post_ops(ops);
        memory.desc anyWeights = new memory.desc(weights.dims(), memory.data_type.s8, memory.format_tag.any);
        long[] strides = {spec.strideH(), spec.strideW()};
        long[] dilates = {spec.dilationH() - 1, spec.dilationW() - 1};
        long[] padL = {pads[0], pads[1]};
        long[] padR = {pads[2], pads[3]};
        memory.desc u8In = DnnlTensors.quantized(convolutionInDims);
        convolution_forward.desc d = withBias
                ? new convolution_forward.desc(prop_kind.forward_inference, algorithm.convolution_direct, u8In,
                        anyWeights, Dnnl.vector(spec.outChannels(), memory.data_type.f32), dst, strides, dilates, padL,
                        padR)
                : new convolution_forward.desc(prop_kind.forward_inference, algorithm.convolution_direct, u8In,
                        anyWeights, dst, strides, dilates, padL, padR);
        return new convolution_forward.primitive_desc(d, attr, Dnnl.engine());
    }

    /** The implementation oneDNN picked, e.g. {@code brgconv:avx512_core_vnni}. */
    String implementation() {
        return convolutionDesc.impl_info_str().getString();
    }

    /**
     * One call: {@code x} (DL4J's floats) quantized, or {@code handed} (the previous int8 layer's u8 NHWC values of
     * the same tensor) used as is; the convolution; the float output into {@code y}. False, with nothing written,
     * when {@code x} holds NaN (or both infinities) unless {@code nanFree}.
     */
    boolean forward(stream s, Pointer x, Pointer handed, Pointer y, boolean nanFree) {
        if (!input(s, x, handed, nanFree)) {
            return false;
        }
        if (needsSplit(s)) {
            split().run(s);
        } else {
            convolution.execute(s, convolutionArgs);
        }
        if (dequantize != null) {
            dequantize.run(s, y);
        } else {
            finalTarget.set_data_handle(y);
            toFinalLayout.execute(s, toFinalLayoutArgs);
        }
        s._wait();
        return true;
    }

    /** Points the convolution at its u8 input: the handed-over values or the quantized floats (false: NaN). */
    private boolean input(stream s, Pointer x, Pointer handed, boolean nanFree) {
        if (!input.bind(s, x, handed, nanFree)) {
            return false;
        }
        if (copyToInterior != null) {
            copyToInterior.execute(s, copyToInteriorArgs);
        }
        return true;
    }

    private boolean needsSplit(stream s) {
        if (maxCheck == null) {
            return false;
        }
        maxCheck.execute(s, maxArgs);
        s._wait();
        return (inputMax.get(0) & 0xFF) > MAX_SAFE_INPUT;
    }

    /** The u8 NHWC output of the last call, or null for a float-output layer. */
    Pointer quantizedOutput() {
        return quantizedOutput == null ? null : quantizedOutput.get_data_handle();
    }

    /** The memory that owns {@link #quantizedOutput()}'s buffer, or null. */
    memory quantizedOutputMemory() {
        return quantizedOutput;
    }

    private SaturationSplit split() {
        if (split == null) {
            split = new SaturationSplit();
        }
        return split;
    }

    /**
     * The exact path for inputs above 127 on saturating CPUs: {@code conv(x) = conv(lo) + conv(hi)} with
     * {@code lo = min(x, 127)} and {@code hi = x - lo}, each within 0..128; the zero point's share stays in the bias.
     * Built on the first such batch.
     */
    private final class SaturationSplit {
        private final primitive low;
        private final primitive high;
        private final IntMemoryMap lowArgs;
        private final IntMemoryMap highArgs;
        private final convolution_forward lowConvolution;
        private final convolution_forward highConvolution;
        private final IntMemoryMap lowConvolutionArgs;
        private final IntMemoryMap highConvolutionArgs;
        private final primitive finish;
        private final IntMemoryMap finishArgs;

        SaturationSplit() {
            memory.desc u8In = DnnlTensors.quantized(convolutionInDims);
            memory lo = Dnnl.owned(u8In);
            memory hi = Dnnl.owned(u8In);
            memory limit = Dnnl.bytes(DnnlTensors.scalarU8(), new byte[] {(byte) MAX_SAFE_INPUT});
            low = new binary(new binary.primitive_desc(new binary.desc(algorithm.binary_min, u8In,
                    DnnlTensors.scalarU8(), u8In), Dnnl.engine()));
            lowArgs = args(DNNL_ARG_SRC, source, DNNL_ARG_DST, lo);
            lowArgs.put(DNNL_ARG_SRC_1, limit);
            high = new binary(new binary.primitive_desc(new binary.desc(algorithm.binary_sub, u8In, u8In, u8In),
                    Dnnl.engine()));
            highArgs = args(DNNL_ARG_SRC, source, DNNL_ARG_DST, hi);
            highArgs.put(DNNL_ARG_SRC_1, lo);

            memory.desc partial = DnnlTensors.floatsChannelsLast(outDims);
            memory sum = Dnnl.owned(partial);
            // the zero point's share is in the low half's bias; padding (the zero point) splits like any input
            convolution_forward.primitive_desc lowDesc = primitiveDesc(partial, new post_ops(), true);
            lowConvolution = new convolution_forward(lowDesc);
            lowConvolutionArgs = args(DNNL_ARG_SRC, lo, DNNL_ARG_DST, sum);
            lowConvolutionArgs.put(DNNL_ARG_WEIGHTS, weights.blocked(lowDesc.weights_desc()));
            lowConvolutionArgs.put(DNNL_ARG_BIAS, biasMemory());
            convolution_forward.primitive_desc highDesc = primitiveDesc(partial, postOps(true), false);
            highConvolution = new convolution_forward(highDesc);
            highConvolutionArgs = args(DNNL_ARG_SRC, hi, DNNL_ARG_DST, sum);
            highConvolutionArgs.put(DNNL_ARG_WEIGHTS, weights.blocked(highDesc.weights_desc()));
            memory target = quantizedOutput != null ? quantizedOutput : floatOutput;
            finish = new reorder(sum, target);
            finishArgs = args(DNNL_ARG_SRC, sum, DNNL_ARG_DST, target);
        }

        void run(stream s) {
            low.execute(s, lowArgs);
            high.execute(s, highArgs);
            lowConvolution.execute(s, lowConvolutionArgs);
            highConvolution.execute(s, highConvolutionArgs);
            finish.execute(s, finishArgs);
        }
    }
}
