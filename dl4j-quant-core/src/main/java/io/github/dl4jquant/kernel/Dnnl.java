package io.github.dl4jquant.kernel;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_RUNTIME_F32_VAL;
import static org.bytedeco.dnnl.global.dnnl.DNNL_RUNTIME_S32_VAL;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;

import java.util.Arrays;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.global.dnnl.prop_kind;
import org.bytedeco.dnnl.matmul;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reduction;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * oneDNN itself, through the bytedeco {@code dnnl} presets (the same oneDNN family ND4J's '-onednn' builds link
 * statically, but with its primitive API exposed): one CPU engine per JVM, one stream per thread, and what a probe
 * found about the int8 kernel. Loading and probing happen once, on first use; a missing native library (a platform
 * without the presets' binaries) makes {@link #unavailableReason()} non-null instead of failing.
 *
 * <pre>{@code
 * if (Dnnl.unavailableReason() == null) {
 *     memory.desc d = Dnnl.matrix(m, k, memory.data_type.u8);
 * }
 * }</pre>
 */
final class Dnnl {
    private Dnnl() {
    }

    /** Null when oneDNN loaded and its int8 matmul gave exact answers; else why not. */
    static String unavailableReason() {
        return State.UNAVAILABLE;
    }

    /**
     * True when the loaded kernels (matmul or convolution) sum u8*s8 pairs in saturating int16 (CPUs without VNNI).
     */
    static boolean saturatesPairs() {
        return State.SATURATES;
    }

    /** False when the int8 convolution was wrong even for activations up to 128: the matmul then runs instead. */
    static boolean convolutionExact() {
        return State.CONVOLUTION_EXACT;
    }

    static engine engine() {
        return State.ENGINE;
    }

    /** oneDNN streams must not be shared between threads. */
    static stream stream() {
        return State.STREAM.get();
    }

    static memory.desc matrix(long rows, long cols, memory.data_type type) {
        return new memory.desc(new long[] {rows, cols}, type, memory.format_tag.ab);
    }

    static memory.desc vector(long length, memory.data_type type) {
        return new memory.desc(new long[] {length}, type, memory.format_tag.a);
    }

    /** A memory that owns its buffer, filled with {@code values}. */
    static memory bytes(memory.desc desc, byte[] values) {
        memory m = owned(desc);
        new BytePointer(m.get_data_handle()).capacity(values.length).put(values);
        return m;
    }

    /** A memory that owns its (uninitialised) buffer. */
    static memory owned(memory.desc desc) {
        return new memory(desc, engine());
    }

    /** A memory for a value set at run time: a scale or a zero point. */
    static memory scalar(memory.data_type type) {
        return owned(vector(1, type));
    }

    /** A memory whose buffer is set per call with {@code set_data_handle}, e.g. an ND4J array's. */
    static memory unbound(memory.desc desc) {
        return new memory(desc, engine(), null);
    }

    /** An argument map for a primitive with two arguments, e.g. {@code DNNL_ARG_SRC} and {@code DNNL_ARG_DST}. */
    static IntMemoryMap args(int a1, memory m1, int a2, memory m2) {
        IntMemoryMap args = new IntMemoryMap();
        args.put(a1, m1);
        args.put(a2, m2);
        return args;
    }

    static primitive reductionOf(algorithm alg, memory.desc src, memory.desc dst) {
        return new reduction(new reduction.primitive_desc(new reduction.desc(alg, src, dst, 0f, 0f), engine()));
    }

    /** A reorder whose output scale (when {@code scale}) and zero points (of the args named) are given per call. */
    static primitive reorderOf(memory.desc src, memory.desc dst, boolean scale, int... zeroPointArgs) {
        primitive_attr attr = new primitive_attr();
        if (scale) {
            attr.set_output_scales(0, new float[] {(float) DNNL_RUNTIME_F32_VAL});
        }
        for (int arg : zeroPointArgs) {
            attr.set_zero_points(arg, 0, new int[] {DNNL_RUNTIME_S32_VAL});
        }
        return new reorder(new reorder.primitive_desc(engine(), src, engine(), dst, attr, false));
    }

    /**
     * Probe data for checking a primitive against Java once per shape: every byte value, in a pattern that puts
     * each at many positions and in every vector lane.
     */
    static byte[] everyByteValue(int length) {
        byte[] probe = new byte[length];
        for (int i = 0; i < length; i++) {
            probe[i] = (byte) (i * 37 + i / 256);
        }
        return probe;
    }

    private static final class State {
        static final engine ENGINE;
        static final ThreadLocal<stream> STREAM;
        static final String UNAVAILABLE;
        static final boolean SATURATES;
        static final boolean CONVOLUTION_EXACT;

        static {
            engine e = null;
            String reason;
            boolean saturates = true;
            boolean convolutionExact = false;
            try {
                DnnlCpuIsa.capBelowAmx();
                e = new engine(engine.kind.cpu, 0);
                boolean matmulSaturates = !exact(e, (byte) 255, false);
                reason = matmulSaturates && !exact(e, (byte) 128, false)
                        ? "its u8*s8 matmul is wrong even for activations <= 128" : null;
                // the convolution is a different kernel: its saturation is probed too, never assumed
                convolutionExact = exact(e, (byte) 128, true);
                saturates = matmulSaturates || convolutionExact && !exact(e, (byte) 255, true);
            } catch (Throwable t) {   // UnsatisfiedLinkError, NoClassDefFoundError, dnnl's own errors
                reason = "oneDNN (org.bytedeco:dnnl) could not be loaded: " + t;
            }
            if (reason == null && DnnlCpuIsa.amxUncapped()) {
                reason = "oneDNN runs its AMX kernels, which corrupt memory in ND4J M2.1's oneDNN 2.5; start the JVM "
                        + "with DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI";
            }
            ENGINE = e;
            UNAVAILABLE = reason;
            SATURATES = saturates;
            CONVOLUTION_EXACT = convolutionExact;
            engine owner = e;
            STREAM = ThreadLocal.withInitial(() -> new stream(owner));
        }

        private static final int PROBE_K = 64;
        private static final byte PROBE_W = -128;

        /** True when the product of 64 activations {@code x} with weights -128 comes out exact. */
        private static boolean exact(engine e, byte x, boolean convolution) {
            int expected = PROBE_K * (x & 0xFF) * PROBE_W;
            return (convolution ? convolutionProductOf(e, x, PROBE_W, PROBE_K) : productOf(e, x, PROBE_W, PROBE_K))
                    == expected;
        }

        /**
         * Sum over k of x * w for constant x and w, through a 1x1 u8 * s8 -> s32 convolution with its weight in the
         * layout it chose (as {@link DnnlConvolutionProduct} runs it); {@code Integer.MIN_VALUE} when it cannot be
         * built.
         */
        private static int convolutionProductOf(engine e, byte x, byte w, int k) {
            int oc = 16;
            memory.desc src = new memory.desc(new long[] {1, k, 1, 1}, memory.data_type.u8, memory.format_tag.nhwc);
            memory.desc dst = new memory.desc(new long[] {1, oc, 1, 1}, memory.data_type.s32,
                    memory.format_tag.nhwc);
            memory.desc anyWeights = new memory.desc(new long[] {oc, k, 1, 1}, memory.data_type.s8,
                    memory.format_tag.any);
            convolution_forward.primitive_desc pd;
            try {
                pd = new convolution_forward.primitive_desc(new convolution_forward.desc(prop_kind.forward_inference,
                        algorithm.convolution_direct, src, anyWeights, dst, new long[] {1, 1}, new long[] {0, 0},
                        new long[] {0, 0}), e);
            } catch (RuntimeException unimplemented) {
                return Integer.MIN_VALUE;
            }
            byte[] xs = new byte[k];
            byte[] ws = new byte[oc * k];
            Arrays.fill(xs, x);
            Arrays.fill(ws, w);
            memory xm = new memory(src, e);
            memory plain = new memory(new memory.desc(new long[] {oc, k, 1, 1}, memory.data_type.s8,
                    memory.format_tag.oihw), e);
            memory wm = new memory(pd.weights_desc(), e);
            memory zm = new memory(dst, e);
            new BytePointer(xm.get_data_handle()).capacity(k).put(xs);
            new BytePointer(plain.get_data_handle()).capacity(ws.length).put(ws);
            stream s = new stream(e);
            new reorder(plain, wm).execute(s, plain, wm);
            IntMemoryMap args = new IntMemoryMap();
            args.put(DNNL_ARG_SRC, xm);
            args.put(DNNL_ARG_WEIGHTS, wm);
            args.put(DNNL_ARG_DST, zm);
            new convolution_forward(pd).execute(s, args);
            s._wait();
            return new IntPointer(zm.get_data_handle()).capacity(1).get(0);
        }

        /** Sum over k of x * w for constant x and w, through a plain u8 * s8 -> s32 matmul. */
        private static int productOf(engine e, byte x, byte w, int k) {
            byte[] xs = new byte[k];
            byte[] ws = new byte[k];
            Arrays.fill(xs, x);
            Arrays.fill(ws, w);
            memory.desc xd = new memory.desc(new long[] {1, k}, memory.data_type.u8, memory.format_tag.ab);
            memory.desc wd = new memory.desc(new long[] {k, 1}, memory.data_type.s8, memory.format_tag.ab);
            memory.desc zd = new memory.desc(new long[] {1, 1}, memory.data_type.s32, memory.format_tag.ab);
            memory xm = new memory(xd, e);
            memory wm = new memory(wd, e);
            memory zm = new memory(zd, e);
            new BytePointer(xm.get_data_handle()).capacity(k).put(xs);
            new BytePointer(wm.get_data_handle()).capacity(k).put(ws);
            IntMemoryMap args = new IntMemoryMap();
            args.put(DNNL_ARG_SRC, xm);
            args.put(DNNL_ARG_WEIGHTS, wm);
            args.put(DNNL_ARG_DST, zm);
            stream s = new stream(e);
            new matmul(new matmul.primitive_desc(new matmul.desc(xd, wd, zd), e)).execute(s, args);
            s._wait();
            Pointer handle = zm.get_data_handle();
            return new IntPointer(handle).capacity(1).get(0);
        }
    }
}
