package io.github.dl4jquant.kernel;

import java.util.Arrays;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the int8 kernels this JVM runs, once, and logs the choice once.
 *
 * <p>Quantized dense layers run on {@link DnnlInt8Linear} (oneDNN primitives, everything fused) when
 * {@link #fusedLinearEnabled()}; batches it refuses, and layers it cannot express, run Java glue around
 * {@link #best()}: ND4J's oneDNN matmul when the loaded nd4j-native build has it and a probe product with a known
 * exact answer comes back right, otherwise the exact float fallback.
 *
 * <pre>{@code
 * Int8Gemm gemm = Int8Gemms.best();        // detects on first call
 * Int8Gemms.kernelName();                  // "onednn-fused-int8", "onednn-int8" or "exact-float-fallback"
 * Int8Gemms.describe();                    // the same with what it means on this CPU, for reports
 * // -Ddl4jquant.kernel=auto|fused|onednn|fallback; tests can also force one GEMM (this disables the fused path):
 * Int8Gemms.override(new ExactFloatInt8Gemm());
 * Int8Gemms.clearOverride();
 * }</pre>
 */
public final class Int8Gemms {
    /**
     * System property choosing the kernels: {@code auto} (default: fused oneDNN primitives when they load, ND4J's
     * oneDNN matmul or the exact fallback beneath), {@code fused} (require the fused primitives), {@code onednn}
     * (ND4J's matmul with Java glue, no fused primitives) or {@code fallback} (the exact float GEMM only).
     */
    public static final String KERNEL_PROPERTY = "dl4jquant.kernel";

    private static final Logger LOG = LoggerFactory.getLogger(Int8Gemms.class);
    private static volatile Int8Gemm detected;
    private static volatile Int8Gemm override;
    private static volatile Boolean fused;

    private Int8Gemms() {
    }

    /** The kernel to use: the programmatic override if set, else the (once) detected one. */
    public static Int8Gemm best() {
        Int8Gemm o = override;
        if (o != null) {
            return o;
        }
        Int8Gemm d = detected;
        if (d == null) {
            synchronized (Int8Gemms.class) {
                if (detected == null) {
                    detected = detect();
                }
                d = detected;
            }
        }
        return d;
    }

    /**
     * True when quantized layers should run {@link DnnlInt8Linear}: the primitives loaded and passed their probe,
     * {@code -Ddl4jquant.kernel} is {@code auto} or {@code fused}, and no GEMM is forced by {@link #override}.
     *
     * @throws IllegalStateException when {@code fused} was requested and the primitives are not available
     */
    public static boolean fusedLinearEnabled() {
        if (override != null) {
            return false;
        }
        Boolean f = fused;
        if (f == null) {
            synchronized (Int8Gemms.class) {
                if (fused == null) {
                    fused = detectFused();
                }
                f = fused;
            }
        }
        return f;
    }

    /** The name of the kernel quantized dense layers run on: {@link DnnlInt8Linear#NAME} or {@link #bestName()}. */
    public static String kernelName() {
        return fusedLinearEnabled() ? DnnlInt8Linear.NAME : bestName();
    }

    /** The name of {@link #best()}. */
    public static String bestName() {
        return best().name();
    }

    /**
     * {@link #kernelName()} with what it means on this CPU, for reports: e.g. that without VNNI oneDNN's u8*s8 kernel
     * is exact only up to 128, so larger activations cost a correction or a second product.
     */
    public static String describe() {
        if (!fusedLinearEnabled()) {
            return describeGeneral();
        }
        return DnnlInt8Linear.NAME + " (oneDNN int8 1x1 convolution, qparams built in or, for dynamic ones, read at "
                + "run time, with fused quantize, scales, bias, activation and requantize"
                + (DnnlInt8Linear.saturatesPairs() ? "; no VNNI: activations above 128 cost an exact correction, or a "
                + "second product when many" : "") + "; general path " + bestName() + ")";
    }

    private static String describeGeneral() {
        Int8Gemm k = best();
        if (k instanceof OneDnnInt8Gemm && OneDnnInt8Gemm.saturatesPairs()) {
            return k.name() + " (no VNNI: 8-bit activations run as two exact GEMMs, 7-bit (reduce_range) as one)";
        }
        return k.name();
    }

    /**
     * Makes {@link #best()} return {@code kernel}, and turns the fused path off, until {@link #clearOverride()}
     * (tests, benchmarks).
     */
    public static void override(Int8Gemm kernel) {
        if (kernel == null) {
            throw new IllegalArgumentException("Int8Gemms.override needs a kernel; use clearOverride() to reset");
        }
        LOG.info("int8 GEMM kernel overridden programmatically: {}", kernel.name());
        override = kernel;
    }

    /** Removes the override; {@link #best()} returns the detected kernel again. */
    public static void clearOverride() {
        override = null;
    }

    /** True when the loaded nd4j-native build reports HAVE_ONEDNN. */
    public static boolean nd4jHasOneDnn() {
        return nd4jBuildInfo().contains("HAVE_ONEDNN");
    }

    /** The native build description ND4J prints at start-up (compiler, HAVE_ONEDNN, HAVE_OPENBLAS, ...). */
    public static String nd4jBuildInfo() {
        return Nd4j.getBackend().buildInfo();
    }

    private static String requestedKernel() {
        return System.getProperty(KERNEL_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
    }

    private static boolean detectFused() {
        String requested = requestedKernel();
        String reason = DnnlInt8Linear.unavailableReason();
        if (requested.equals("fused") && reason != null) {
            throw new IllegalStateException("-D" + KERNEL_PROPERTY + "=fused was requested but oneDNN's primitives "
                    + "are not available: " + reason + ". Keep org.bytedeco:dnnl-platform on the classpath for this "
                    + "platform, or use " + KERNEL_PROPERTY + "=auto");
        }
        if (!requested.equals("auto") && !requested.equals("fused")) {
            LOG.info("fused int8 linear: off (-D{}={})", KERNEL_PROPERTY, requested);
            return false;
        }
        if (reason != null) {
            LOG.warn("fused int8 linear: unavailable because {}; quantized layers use {} with Java glue", reason,
                    best().name());
            return false;
        }
        LOG.info("fused int8 linear: {} (oneDNN u8 x s8 1x1 convolution, static qparams built in, dynamic ones read "
                + "at run time, with fused zero point, per-channel scales, bias, activation and requantization){}",
                DnnlInt8Linear.NAME, DnnlInt8Linear.saturatesPairs()
                ? "; no VNNI here, so activations above 128 cost an exact correction, or a second product when many"
                : "");
        return true;
    }

    private static Int8Gemm detect() {
        DnnlCpuIsa.capBelowAmx();
        String buildInfo = nd4jBuildInfo();
        boolean hasOneDnn = buildInfo.contains("HAVE_ONEDNN");
        LOG.info("ND4J native build: {} ({})", hasOneDnn ? "with oneDNN (HAVE_ONEDNN)" : "without oneDNN",
                buildInfo.trim().replaceAll("\\s*\\n\\s*", ", "));
        String requested = requestedKernel();
        switch (requested) {
            case "fallback":
                LOG.warn("int8 GEMM kernel: {} (forced by -D{}=fallback); int8 layers run exact but slower than "
                        + "oneDNN", ExactFloatInt8Gemm.NAME, KERNEL_PROPERTY);
                return new ExactFloatInt8Gemm();
            case "onednn":
                return requireOneDnn(hasOneDnn);
            case "auto":
            case "fused":
                return autoDetect(hasOneDnn);
            default:
                throw new IllegalArgumentException("System property " + KERNEL_PROPERTY + "='" + requested
                        + "' is not understood; accepted: auto, fused, onednn, fallback");
        }
    }

    private static Int8Gemm requireOneDnn(boolean hasOneDnn) {
        String failure = hasOneDnn ? probe(new OneDnnInt8Gemm()) : "the loaded nd4j-native build lacks HAVE_ONEDNN";
        if (failure != null) {
            throw new IllegalStateException("-D" + KERNEL_PROPERTY + "=onednn was requested but the oneDNN int8 "
                    + "GEMM does not work here: " + failure + ". Put nd4j-native with a '-onednn' classifier on the "
                    + "classpath (and -Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2), or use "
                    + KERNEL_PROPERTY + "=auto");
        }
        LOG.info("int8 GEMM kernel: {} (requested by -D{}=onednn)", OneDnnInt8Gemm.NAME, KERNEL_PROPERTY);
        logSaturation();
        return new OneDnnInt8Gemm();
    }

    private static Int8Gemm autoDetect(boolean hasOneDnn) {
        // Without HAVE_ONEDNN the probe would only trigger ND4J's own ERROR log for an op that cannot run
        String failure = hasOneDnn ? probe(new OneDnnInt8Gemm()) : "the loaded nd4j-native build lacks HAVE_ONEDNN";
        if (failure == null) {
            LOG.info("int8 GEMM kernel: {} (ND4J matmul u8/s8 x s8 -> s32 on oneDNN)", OneDnnInt8Gemm.NAME);
            logSaturation();
            return new OneDnnInt8Gemm();
        }
        LOG.warn("int8 GEMM kernel: {} because {}. Quantized layers stay exact but run several times slower; for "
                + "int8 speed use nd4j-native with a '-onednn' classifier", ExactFloatInt8Gemm.NAME, failure);
        return new ExactFloatInt8Gemm();
    }

    private static void logSaturation() {
        if (OneDnnInt8Gemm.saturatesPairs()) {
            LOG.info("This oneDNN build sums u8*s8 pairs in saturating int16 (no VNNI kernel): batches whose "
                    + "activations exceed 128 run as a split product of twice the length to stay exact. 7-bit "
                    + "activations (reduce_range=True, PyTorch's x86/fbgemm default) avoid the split");
        }
    }

    /** Runs a small product with a known exact answer through both output types; null when all is right. */
    static String probe(Int8Gemm kernel) {
        if (kernel instanceof OneDnnInt8Gemm && DnnlCpuIsa.amxUncapped()) {
            return "oneDNN runs its AMX kernels, which corrupt memory in ND4J M2.1's oneDNN 2.5 (set "
                    + "DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI)";
        }
        // Row 0 and column 0 are extreme values: int16 pair sums of u8*s8 products saturate on them
        int m = 3;
        int k = 6;
        int n = 4;
        byte[] xs = {(byte) 255, (byte) 255, (byte) 255, (byte) 255, (byte) 255, (byte) 255,
            3, (byte) 128, 127, 9, (byte) 255, 0, 1, 2, 3, 4, (byte) 200, -128};
        byte[] ws = {-128, 127, 5, -3, -128, 0, -1, 100, -128, -128, 7, 8, -128, 10, -11, 12, -128, -14, 15, -128,
            -128, 1, 2, 3};
        try {
            PackedInt8Weight w = kernel.pack(Nd4j.createFromArray(ws).reshape('c', k, n));
            for (DataType xType : new DataType[] {DataType.UBYTE, DataType.BYTE}) {
                INDArray x = Nd4j.create(xType, new long[] {m, k}, 'c');
                x.data().setData(xs);
                int[] expected = expectedProduct(xs, xType == DataType.UBYTE, ws, m, k, n);
                INDArray z = Nd4j.create(DataType.INT, new long[] {m, n}, 'c');
                kernel.gemmInt32(x, w, z);
                int[] got = z.data().asInt();
                if (!Arrays.equals(expected, got)) {
                    return "its probe " + xType + " x BYTE -> INT returned " + Arrays.toString(got) + " instead of "
                            + Arrays.toString(expected);
                }
                INDArray zf = Nd4j.create(DataType.FLOAT, new long[] {m, n}, 'c');
                kernel.gemmFloat(x, w, 1.0, 0.0, zf);
                float[] gotF = zf.data().asFloat();
                for (int i = 0; i < expected.length; i++) {
                    if (gotF[i] != expected[i]) {
                        return "its probe " + xType + " x BYTE -> FLOAT returned " + Arrays.toString(gotF);
                    }
                }
            }
            return null;
        } catch (RuntimeException e) {
            return "its probe failed with " + e;
        }
    }

    private static int[] expectedProduct(byte[] xs, boolean unsigned, byte[] ws, int m, int k, int n) {
        int[] out = new int[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                int s = 0;
                for (int t = 0; t < k; t++) {
                    int xv = unsigned ? xs[i * k + t] & 0xFF : xs[i * k + t];
                    s += xv * ws[t * n + j];
                }
                out[i * n + j] = s;
            }
        }
        return out;
    }
}
