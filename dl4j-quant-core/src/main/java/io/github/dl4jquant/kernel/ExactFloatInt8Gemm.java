package io.github.dl4jquant.kernel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The exact int8 GEMM for ND4J builds without oneDNN: int8 values are held in float and multiplied with sgemm.
 *
 * <p>A float sum of integers is exact while every partial sum stays below 2^24. One product is at most
 * 255 * 128 = 32640 in magnitude, so K is split into chunks of at most {@link #MAX_EXACT_K} = 514 rows; each chunk's
 * float product is exact and the chunks are summed in int32.
 * <pre>{@code
 * Int8Gemm gemm = new ExactFloatInt8Gemm();
 * gemm.gemmInt32(xUint8, gemm.pack(wInt8), accInt32);   // bit-identical to OneDnnInt8Gemm
 * }</pre>
 */
public final class ExactFloatInt8Gemm implements Int8Gemm {
    static final String NAME = "exact-float-fallback";
    /** The longest reduction whose float partial sums are exact: floor(2^24 / (255 * 128)). */
    public static final int MAX_EXACT_K = (1 << 24) / (255 * 128);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public PackedInt8Weight pack(INDArray w) {
        GemmChecks.checkWeight(w);
        List<INDArray> chunks = new ArrayList<>();
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            for (long k0 = 0; k0 < w.size(0); k0 += MAX_EXACT_K) {
                long k1 = Math.min(w.size(0), k0 + MAX_EXACT_K);
                chunks.add(w.get(NDArrayIndex.interval(k0, k1), NDArrayIndex.all()).castTo(DataType.FLOAT)
                        .dup('c'));
            }
        }
        return new Packed(chunks, w.size(0), w.size(1));
    }

    @Override
    public void gemmInt32(INDArray x, PackedInt8Weight w, INDArray z) {
        Packed p = GemmChecks.unpack(w, Packed.class, NAME);
        GemmChecks.checkInput(x, p.rows);
        GemmChecks.checkOutput(z, x.size(0), p.columns, DataType.INT);
        accumulate(x, p, z);
    }

    @Override
    public void gemmInt32(byte[] x, boolean unsigned, int m, PackedInt8Weight w, INDArray z) {
        GemmChecks.checkBytes(x, m, w.rows());
        INDArray xa = Nd4j.create(unsigned ? DataType.UBYTE : DataType.BYTE, new long[] {m, w.rows()}, 'c');
        xa.data().setData(m * w.rows() == x.length ? x : Arrays.copyOf(x, (int) (m * w.rows())));
        gemmInt32(xa, w, z);
    }

    @Override
    public void gemmFloat(INDArray x, PackedInt8Weight w, double alpha, double beta, INDArray z) {
        Packed p = GemmChecks.unpack(w, Packed.class, NAME);
        GemmChecks.checkInput(x, p.rows);
        GemmChecks.checkOutput(z, x.size(0), p.columns, DataType.FLOAT);
        INDArray acc = Nd4j.create(DataType.INT, new long[] {x.size(0), p.columns}, 'c');
        accumulate(x, p, acc);
        INDArray scaled = acc.castTo(DataType.FLOAT).muli(alpha);
        if (beta == 0.0) {
            z.assign(scaled);   // beta 0 ignores z entirely (it may hold garbage), as BLAS does
        } else {
            z.muli(beta).addi(scaled);
        }
    }

    private static void accumulate(INDArray x, Packed p, INDArray z) {
        long k0 = 0;
        for (int c = 0; c < p.chunks.size(); c++) {
            INDArray wc = p.chunks.get(c);
            long k1 = k0 + wc.size(0);
            INDArray xc = x.get(NDArrayIndex.all(), NDArrayIndex.interval(k0, k1)).castTo(DataType.FLOAT);
            INDArray exact = xc.mmul(wc);
            if (c == 0) {
                z.assign(exact);
            } else {
                z.addi(exact.castTo(DataType.INT));
            }
            k0 = k1;
        }
    }

    private static final class Packed implements PackedInt8Weight {
        private final List<INDArray> chunks;
        private final long rows;
        private final long columns;

        Packed(List<INDArray> chunks, long rows, long columns) {
            this.chunks = List.copyOf(chunks);
            this.rows = rows;
            this.columns = columns;
        }

        @Override
        public long rows() {
            return rows;
        }

        @Override
        public long columns() {
            return columns;
        }

        @Override
        public String kernelName() {
            return NAME;
        }
    }
}
