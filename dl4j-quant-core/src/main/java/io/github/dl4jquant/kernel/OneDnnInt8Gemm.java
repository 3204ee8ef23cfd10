package io.github.dl4jquant.kernel;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.bytedeco.javacpp.BytePointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The oneDNN int8 GEMM: ND4J's {@code matmul} op on {@code u8 · s8 -> s32/f32}, which the oneDNN build of
 * nd4j-native (HAVE_ONEDNN) runs as {@code gemm:jit}. The default build rejects these dtype combinations, so use
 * {@link Int8Gemms#best()} rather than this class directly.
 *
 * <pre>{@code
 * Int8Gemm gemm = new OneDnnInt8Gemm();
 * gemm.gemmInt32(xUint8, gemm.pack(wInt8), accInt32);
 * }</pre>
 *
 * <p>The oneDNN 2.3 kernel bundled with ND4J M2.1 sums pairs of u8·s8 products in int16 ({@code vpmaddubsw}), which
 * saturates once an activation exceeds 128 (measured: wrong on every element of random full-range data; s8·s8 is
 * shifted to u8 internally and fails the same way). This is why PyTorch's x86 qconfig uses 7-bit activations.
 * A build whose kernel does not saturate (VNNI accumulates in int32) is detected once with a raw worst-case
 * product, and then never splits. Otherwise: activations that all fit in [0, 128] run as one product; otherwise each
 * value is split into
 * {@code lo = min(x, 127)} and {@code hi = x - lo} (both safe) and multiplied against the weight stacked twice, one
 * product of length 2K. Signed activations are shifted to unsigned ({@code x + 128}) and corrected with
 * {@code 128 * colsum(w)}.
 *
 * <p>One {@link OpContext} and one set of scratch buffers per thread are reused across calls: building a context
 * costs about as much as the op itself at batch 1 (dl4j-facts 3.1), and neither is safe to share between threads.
 */
public final class OneDnnInt8Gemm implements Int8Gemm {
    static final String NAME = "onednn-int8";
    /** Largest u8 activation whose product pairs cannot saturate int16: 2 * 128 * -128 = -32768. */
    static final int MAX_SAFE_INPUT = 128;

    private static final Mmul MATMUL = new Mmul();
    private static final int MAX_SCRATCH_SHAPES = 16;
    private static final ThreadLocal<OpContext> CONTEXT =
            ThreadLocal.withInitial(() -> Nd4j.getExecutioner().buildContext());
    private static final ThreadLocal<Map<Long, INDArray>> SCRATCH = ThreadLocal.withInitial(HashMap::new);
    private static final ThreadLocal<byte[][]> SPLIT_BYTES = ThreadLocal.withInitial(() -> new byte[1][0]);

    /** True when the bundled oneDNN sums u8·s8 pairs in saturating int16 (measured once per JVM). */
    public static boolean saturatesPairs() {
        return Saturation.SATURATES;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public PackedInt8Weight pack(INDArray w) {
        GemmChecks.checkWeight(w);
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            INDArray once = w.dup('c');
            INDArray twice = Nd4j.vstack(once, once).dup('c');
            INDArray shiftCorrection = once.castTo(DataType.INT).sum(0).muli(128).reshape(1, once.size(1));
            return new Packed(once, twice, shiftCorrection);
        }
    }

    @Override
    public void gemmInt32(INDArray x, PackedInt8Weight w, INDArray z) {
        GemmChecks.checkInput(x, w.rows());
        gemmInt32(GemmChecks.bytesOf(x), x.dataType() == DataType.UBYTE, (int) x.size(0), w, z);
    }

    @Override
    public void gemmInt32(byte[] x, boolean unsigned, int m, PackedInt8Weight w, INDArray z) {
        run(x, unsigned, m, w, z, DataType.INT, 1.0, 0.0);
    }

    @Override
    public void gemmFloat(INDArray x, PackedInt8Weight w, double alpha, double beta, INDArray z) {
        GemmChecks.checkInput(x, w.rows());
        run(GemmChecks.bytesOf(x), x.dataType() == DataType.UBYTE, (int) x.size(0), w, z, DataType.FLOAT, alpha,
                beta);
    }

    private void run(byte[] x, boolean unsigned, int m, PackedInt8Weight w, INDArray z, DataType zType,
                     double alpha, double beta) {
        Packed p = GemmChecks.unpack(w, Packed.class, NAME);
        int k = (int) p.rows();
        GemmChecks.checkBytes(x, m, k);
        GemmChecks.checkOutput(z, m, p.columns(), zType);
        boolean split = needsSplit(x, unsigned);
        // unsplit signed input stays s8 (s8·s8); split input is always shifted to u8
        INDArray xs = scratch(m, split ? 2 * k : k, split || unsigned ? DataType.UBYTE : DataType.BYTE);
        fill(xs, x, unsigned, m, k, split);
        OpContext ctx = CONTEXT.get();
        ctx.setInputArrays(xs, split ? p.twice : p.once);
        ctx.setOutputArrays(z);
        ctx.setTArguments(alpha, beta);
        ctx.setIArguments(0, 0, 0);
        Nd4j.getExecutioner().exec(MATMUL, ctx);
        if (!unsigned && split) {
            INDArray correction = zType == DataType.INT ? p.shiftCorrection
                    : p.shiftCorrection.castTo(DataType.FLOAT).muli(alpha);
            z.subiRowVector(correction);
        }
    }

    private static boolean needsSplit(byte[] x, boolean unsigned) {
        if (!Saturation.SATURATES) {
            return false;
        }
        if (!unsigned) {
            return true;   // shifted to u8 [0, 255]
        }
        // An OR of (MAX_SAFE_INPUT - v) has its sign bit set iff some v exceeds it; C2 vectorises the reduction
        int over = 0;
        for (byte b : x) {
            over |= MAX_SAFE_INPUT - (b & 0xFF);
        }
        return over < 0;
    }

    private static void fill(INDArray target, byte[] x, boolean unsigned, int m, int k, boolean split) {
        if (!split) {
            copyInto(target, x, m * k);
            return;
        }
        byte[][] holder = SPLIT_BYTES.get();
        if (holder[0].length != 2 * m * k) {
            holder[0] = new byte[2 * m * k];
        }
        byte[] out = holder[0];
        int flip = unsigned ? 0 : 0x80;   // x + 128 for qint8, corrected by 128 * colsum(w) after the product
        for (int i = 0; i < m; i++) {
            int src = i * k;
            int lo = 2 * i * k;
            int hi = lo + k;
            for (int t = 0; t < k; t++) {
                int v = (x[src + t] ^ flip) & 0xFF;
                int l = Math.min(v, 127);
                out[lo + t] = (byte) l;
                out[hi + t] = (byte) (v - l);
            }
        }
        copyInto(target, out, 2 * m * k);
    }

    /** One bulk copy into the native buffer (DataBuffer.setData(byte[]) writes element by element). */
    private static void copyInto(INDArray target, byte[] values, int length) {
        new BytePointer(target.data().addressPointer()).put(values, 0, length);
    }

    private static INDArray scratch(int rows, int cols, DataType type) {
        Map<Long, INDArray> buffers = SCRATCH.get();
        long key = ((long) rows << 32 | cols) * 2 + (type == DataType.UBYTE ? 0 : 1);
        INDArray b = buffers.get(key);
        if (b == null) {
            if (buffers.size() >= MAX_SCRATCH_SHAPES) {
                buffers.clear();
            }
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                b = Nd4j.create(type, new long[] {rows, cols}, 'c');
            }
            buffers.put(key, b);
        }
        return b;
    }

    /** Runs the raw op once on 255 * -128 pairs: a saturating kernel returns 2 * -32768 per pair instead. */
    private static final class Saturation {
        static final boolean SATURATES = measure();

        private static boolean measure() {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                INDArray x = Nd4j.create(DataType.UBYTE, new long[] {1, 64}, 'c');
                byte[] ones = new byte[64];
                Arrays.fill(ones, (byte) 255);
                x.data().setData(ones);
                INDArray w = Nd4j.valueArrayOf(new long[] {64, 1}, (byte) -128, DataType.BYTE).dup('c');
                INDArray z = Nd4j.create(DataType.INT, new long[] {1, 1}, 'c');
                Nd4j.exec(new Mmul(x, w, z, 1.0, 0.0, MMulTranspose.allFalse()));
                return z.getInt(0) != 64 * 255 * -128;
            } catch (RuntimeException e) {
                return true;   // the op cannot run at all: Int8Gemms' probe rejects this kernel anyway
            }
        }
    }

    private static final class Packed implements PackedInt8Weight {
        private final INDArray once;
        private final INDArray twice;
        private final INDArray shiftCorrection;

        Packed(INDArray once, INDArray twice, INDArray shiftCorrection) {
            this.once = once;
            this.twice = twice;
            this.shiftCorrection = shiftCorrection;
        }

        @Override
        public long rows() {
            return once.size(0);
        }

        @Override
        public long columns() {
            return once.size(1);
        }

        @Override
        public String kernelName() {
            return NAME;
        }
    }
}
