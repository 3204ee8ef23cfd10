package io.github.dl4jquant.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class Int8GemmTest {
    private static final Int8Gemm ONEDNN = new OneDnnInt8Gemm();
    private static final Int8Gemm FALLBACK = new ExactFloatInt8Gemm();

    @Test
    void bothKernelsMatchInt64ReferenceExactly() {
        Random rnd = new Random(42);
        int[][] shapes = {{1, 1, 1}, {1, 784, 512}, {7, 100, 10}, {33, 1500, 64}, {256, 784, 256}, {5, 3000, 3}};
        for (int[] s : shapes) {
            for (DataType xType : new DataType[] {DataType.UBYTE, DataType.BYTE}) {
                byte[] xs = randomBytes(rnd, s[0] * s[1]);
                byte[] ws = randomBytes(rnd, s[1] * s[2]);
                long[] expected = int64Product(xs, xType == DataType.UBYTE, ws, s[0], s[1], s[2]);
                for (Int8Gemm kernel : new Int8Gemm[] {ONEDNN, FALLBACK}) {
                    INDArray z = Nd4j.create(DataType.INT, new long[] {s[0], s[2]}, 'c');
                    kernel.gemmInt32(bytes(xType, xs, s[0], s[1]), kernel.pack(bytes(DataType.BYTE, ws, s[1], s[2])),
                            z);
                    assertArrayEquals(toInt(expected), z.data().asInt(),
                            kernel.name() + " " + xType + " shape " + s[0] + "x" + s[1] + "x" + s[2]);
                }
            }
        }
    }

    @Test
    void byteArrayEntryMatchesForSmallAndFullRangeActivations() {
        Random rnd = new Random(3);
        int m = 6;
        int k = 300;
        int n = 17;
        byte[] ws = randomBytes(rnd, k * n);
        for (boolean sevenBit : new boolean[] {true, false}) {
            byte[] xs = randomBytes(rnd, m * k);
            if (sevenBit) {
                for (int i = 0; i < xs.length; i++) {
                    xs[i] = (byte) ((xs[i] & 0xFF) % 129);   // [0, 128]: oneDNN's single-product path
                }
            }
            for (boolean unsigned : new boolean[] {true, false}) {
                long[] expected = int64Product(xs, unsigned, ws, m, k, n);
                for (Int8Gemm kernel : new Int8Gemm[] {ONEDNN, FALLBACK}) {
                    INDArray z = Nd4j.create(DataType.INT, new long[] {m, n}, 'c');
                    kernel.gemmInt32(xs, unsigned, m, kernel.pack(bytes(DataType.BYTE, ws, k, n)), z);
                    assertArrayEquals(toInt(expected), z.data().asInt(),
                            kernel.name() + " unsigned=" + unsigned + " sevenBit=" + sevenBit);
                }
            }
        }
    }

    @Test
    void saturationDetectionMatchesTheRawOp() {
        if (!Int8Gemms.nd4jHasOneDnn()) {
            return;   // the raw op cannot run without oneDNN; the fallback never saturates
        }
        Random rnd = new Random(5);
        int m = 4;
        int k = 784;
        int n = 16;
        byte[] xs = randomBytes(rnd, m * k);
        byte[] ws = randomBytes(rnd, k * n);
        INDArray z = Nd4j.create(DataType.INT, new long[] {m, n}, 'c');
        Nd4j.exec(new org.nd4j.linalg.api.ops.impl.reduce.Mmul(bytes(DataType.UBYTE, xs, m, k),
                bytes(DataType.BYTE, ws, k, n), z, 1.0, 0.0,
                org.nd4j.linalg.api.blas.params.MMulTranspose.allFalse()));
        boolean rawWrong = !java.util.Arrays.equals(toInt(int64Product(xs, true, ws, m, k, n)), z.data().asInt());
        assertEquals(rawWrong, OneDnnInt8Gemm.saturatesPairs(),
                "the split is needed exactly when the raw oneDNN product is wrong on full-range data");
    }

    @Test
    void worstCaseMagnitudesNeedTheSplitAndStayExact() {
        int m = 2;
        int k = 4 * ExactFloatInt8Gemm.MAX_EXACT_K + 3;
        byte[] xs = new byte[m * k];
        byte[] ws = new byte[k];
        java.util.Arrays.fill(xs, (byte) 255);
        java.util.Arrays.fill(ws, (byte) -128);
        ws[k - 1] = -127;   // an odd final value: a float sum beyond 2^24 would lose it
        long exact = -255L * 128 * (k - 1) - 255L * 127;
        assertTrue(Math.abs(exact) > (1 << 24), "the case must exceed float's exact integer range");
        for (Int8Gemm kernel : new Int8Gemm[] {ONEDNN, FALLBACK}) {
            INDArray z = Nd4j.create(DataType.INT, new long[] {m, 1}, 'c');
            kernel.gemmInt32(bytes(DataType.UBYTE, xs, m, k), kernel.pack(bytes(DataType.BYTE, ws, k, 1)), z);
            assertArrayEquals(new int[] {(int) exact, (int) exact}, z.data().asInt(), kernel.name());
        }
    }

    @Test
    void floatOutputFoldsScaleAndBias() {
        Random rnd = new Random(7);
        int m = 9;
        int k = 700;
        int n = 13;
        byte[] xs = randomBytes(rnd, m * k);
        byte[] ws = randomBytes(rnd, k * n);
        long[] exact = int64Product(xs, true, ws, m, k, n);
        float[] bias = new float[m * n];
        for (int i = 0; i < bias.length; i++) {
            bias[i] = (float) rnd.nextGaussian();
        }
        double alpha = 1.7e-4;
        for (Int8Gemm kernel : new Int8Gemm[] {ONEDNN, FALLBACK}) {
            INDArray x = bytes(DataType.UBYTE, xs, m, k);
            INDArray z = Nd4j.createFromArray(bias).reshape('c', m, n).dup('c');
            kernel.gemmFloat(x, kernel.pack(bytes(DataType.BYTE, ws, k, n)), alpha, 1.0, z);
            float[] got = z.data().asFloat();
            for (int i = 0; i < got.length; i++) {
                double want = alpha * exact[i] + bias[i];
                assertEquals(want, got[i], 1e-5 * Math.max(1, Math.abs(want)), kernel.name() + " element " + i);
            }
        }
    }

    @Test
    void floatOutputWithBetaZeroIgnoresGarbageInOutput() {
        byte[] xs = {1, 2, 3, 4};
        byte[] ws = {5, 6, 7, 8};
        for (Int8Gemm kernel : new Int8Gemm[] {ONEDNN, FALLBACK}) {
            INDArray z = Nd4j.valueArrayOf(new long[] {2, 2}, Float.NaN, DataType.FLOAT);
            kernel.gemmFloat(bytes(DataType.BYTE, xs, 2, 2), kernel.pack(bytes(DataType.BYTE, ws, 2, 2)), 2.0, 0.0, z);
            assertArrayEquals(new float[] {2 * 19, 2 * 22, 2 * 43, 2 * 50}, z.data().asFloat(), kernel.name());
        }
    }

    @Test
    void detectionPicksOneDnnOnTheOneDnnBuildAndOverrideWins() {
        String expected = Int8Gemms.nd4jHasOneDnn() ? OneDnnInt8Gemm.NAME : ExactFloatInt8Gemm.NAME;
        assertEquals(expected, Int8Gemms.bestName());
        assertSame(Int8Gemms.best(), Int8Gemms.best(), "detection runs once");
        Int8Gemm forced = new ExactFloatInt8Gemm();
        Int8Gemms.override(forced);
        try {
            assertSame(forced, Int8Gemms.best());
        } finally {
            Int8Gemms.clearOverride();
        }
        assertEquals(expected, Int8Gemms.bestName());
    }

    @Test
    void probeAcceptsWorkingKernelsAndRejectsWrongNumbers() {
        assertNull(Int8Gemms.probe(FALLBACK));
        if (Int8Gemms.nd4jHasOneDnn()) {
            assertNull(Int8Gemms.probe(ONEDNN));
        }
        Int8Gemm wrapping = new WrappingKernel();
        String failure = Int8Gemms.probe(wrapping);
        assertNotNull(failure);
        assertTrue(failure.contains("instead of"), failure);
    }

    @Test
    void badOperandsFailLoudly() {
        INDArray w = bytes(DataType.BYTE, new byte[6], 3, 2);
        for (Int8Gemm kernel : new Int8Gemm[] {ONEDNN, FALLBACK}) {
            PackedInt8Weight p = kernel.pack(w);
            INDArray x = bytes(DataType.UBYTE, new byte[6], 2, 3);
            assertThrows(IllegalArgumentException.class, () -> kernel.pack(Nd4j.zeros(DataType.FLOAT, 3, 2)));
            assertThrows(IllegalArgumentException.class,
                    () -> kernel.gemmInt32(bytes(DataType.UBYTE, new byte[8], 2, 4), p,
                            Nd4j.create(DataType.INT, new long[] {2, 2}, 'c')));
            IllegalArgumentException fOrder = assertThrows(IllegalArgumentException.class,
                    () -> kernel.gemmInt32(x, p, Nd4j.create(DataType.INT, new long[] {2, 2}, 'f')));
            assertTrue(fOrder.getMessage().contains("'c'-order"), fOrder.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> kernel.gemmFloat(x, p, 1, 0, Nd4j.create(DataType.INT, new long[] {2, 2}, 'c')));
        }
        PackedInt8Weight fromOneDnn = ONEDNN.pack(w);
        IllegalArgumentException mixed = assertThrows(IllegalArgumentException.class,
                () -> FALLBACK.gemmInt32(bytes(DataType.UBYTE, new byte[6], 2, 3), fromOneDnn,
                        Nd4j.create(DataType.INT, new long[] {2, 2}, 'c')));
        assertTrue(mixed.getMessage().contains(OneDnnInt8Gemm.NAME), mixed.getMessage());
    }

    static INDArray bytes(DataType type, byte[] values, int rows, int cols) {
        INDArray a = Nd4j.create(type, new long[] {rows, cols}, 'c');
        a.data().setData(values);
        return a;
    }

    static byte[] randomBytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    static long[] int64Product(byte[] xs, boolean unsigned, byte[] ws, int m, int k, int n) {
        long[] out = new long[m * n];
        for (int i = 0; i < m; i++) {
            for (int t = 0; t < k; t++) {
                long xv = unsigned ? xs[i * k + t] & 0xFF : xs[i * k + t];
                for (int j = 0; j < n; j++) {
                    out[i * n + j] += xv * ws[t * n + j];
                }
            }
        }
        return out;
    }

    private static int[] toInt(long[] v) {
        int[] r = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = Math.toIntExact(v[i]);
        }
        return r;
    }

    /** A kernel that wraps int32 accumulators to int8, like ND4J's generic s8 matmul does. */
    private static final class WrappingKernel implements Int8Gemm {
        @Override
        public String name() {
            return "wrapping";
        }

        @Override
        public PackedInt8Weight pack(INDArray w) {
            return FALLBACK.pack(w);
        }

        @Override
        public void gemmInt32(INDArray x, PackedInt8Weight w, INDArray z) {
            FALLBACK.gemmInt32(x, w, z);
            z.assign(z.castTo(DataType.BYTE));
        }

        @Override
        public void gemmInt32(byte[] x, boolean unsigned, int m, PackedInt8Weight w, INDArray z) {
            FALLBACK.gemmInt32(x, unsigned, m, w, z);
            z.assign(z.castTo(DataType.BYTE));
        }

        @Override
        public void gemmFloat(INDArray x, PackedInt8Weight w, double alpha, double beta, INDArray z) {
            FALLBACK.gemmFloat(x, w, alpha, beta, z);
        }
    }
}
