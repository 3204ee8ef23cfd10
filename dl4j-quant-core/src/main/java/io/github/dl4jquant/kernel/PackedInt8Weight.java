package io.github.dl4jquant.kernel;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An int8 weight {@code [K,N]} prepared once for one {@link Int8Gemm} (PyTorch's packed params). Immutable.
 *
 * <pre>{@code
 * PackedInt8Weight w = Int8Gemms.best().pack(Nd4j.createFromArray(bytes).reshape('c', k, n));
 * w.rows();      // k
 * w.columns();   // n
 * }</pre>
 */
public interface PackedInt8Weight {

    /** K: the reduction length. */
    long rows();

    /** N: the number of output columns. */
    long columns();

    /** The name of the kernel that packed it ({@link Int8Gemm#name()}); only that kernel accepts it. */
    String kernelName();

    /**
     * The sum of each column of a row-major int8 weight {@code [k, n]}: the input zero-point correction is
     * {@code zp * colsum(w)[j]}.
     */
    static long[] columnSums(byte[] weightKN, int k, int n) {
        long[] sums = new long[n];
        for (int r = 0; r < k; r++) {
            for (int j = 0; j < n; j++) {
                sums[j] += weightKN[r * n + j];
            }
        }
        return sums;
    }
}
