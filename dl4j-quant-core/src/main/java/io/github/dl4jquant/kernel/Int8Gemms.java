package io.github.dl4jquant.kernel;

import java.util.Arrays;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the {@link Int8Gemm} this JVM runs: oneDNN when the loaded nd4j-native build has it and a probe product with
 * a known exact answer comes back right, otherwise the exact float fallback. Detection runs once and is logged once.
 *
 * <pre>{@code
 * Int8Gemm gemm = Int8Gemms.best();        // detects on first call
 * Int8Gemms.bestName();                    // "onednn-int8" or "exact-float-fallback", e.g. for reports
 * // -Ddl4jquant.kernel=fallback forces the fallback; tests can also call:
 * Int8Gemms.override(new ExactFloatInt8Gemm());
 * Int8Gemms.clearOverride();
 * }</pre>
 */
public final class Int8Gemms {
    /** System property choosing the kernel: {@code auto} (default), {@code onednn} or {@code fallback}. */
    public static final String KERNEL_PROPERTY = "dl4jquant.kernel";

    private static final Logger LOG = LoggerFactory.getLogger(Int8Gemms.class);
    private static volatile Int8Gemm detected;
    private static volatile Int8Gemm override;

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

    /** The name of {@link #best()}. */
    public static String bestName() {
        return best().name();
    }

    /**
     * {@link #best()}'s name with what it means on this CPU, for reports: e.g. that without VNNI the oneDNN kernel
     * saturates u8*s8 pair sums, so 8-bit activations take two exact GEMMs and 7-bit ones (reduce_range) one.
     */
    public static String describe() {
        Int8Gemm k = best();
        if (k instanceof OneDnnInt8Gemm && OneDnnInt8Gemm.saturatesPairs()) {
            return k.name() + " (no VNNI: 8-bit activations run as two exact GEMMs, 7-bit (reduce_range) as one)";
        }
        return k.name();
    }

    /** Makes {@link #best()} return {@code kernel} until {@link #clearOverride()} (tests, benchmarks). */
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

    private static Int8Gemm detect() {
        String buildInfo = nd4jBuildInfo();
        boolean hasOneDnn = buildInfo.contains("HAVE_ONEDNN");
        LOG.info("ND4J native build: {} ({})", hasOneDnn ? "with oneDNN (HAVE_ONEDNN)" : "without oneDNN",
                buildInfo.trim().replaceAll("\\s*\\n\\s*", ", "));
        String requested = System.getProperty(KERNEL_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        switch (requested) {
            case "fallback":
                LOG.warn("int8 GEMM kernel: {} (forced by -D{}=fallback); int8 layers run exact but slower than "
                        + "oneDNN", ExactFloatInt8Gemm.NAME, KERNEL_PROPERTY);
                return new ExactFloatInt8Gemm();
            case "onednn":
                return requireOneDnn(hasOneDnn);
            case "auto":
                return autoDetect(hasOneDnn);
            default:
                throw new IllegalArgumentException("System property " + KERNEL_PROPERTY + "='" + requested
                        + "' is not understood; accepted: auto, onednn, fallback");
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
