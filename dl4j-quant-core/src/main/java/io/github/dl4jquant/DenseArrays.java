package io.github.dl4jquant;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Whether an ND4J array's buffer holds exactly its elements in 'c' order, which code that reads the buffer directly
 * (native kernels, bulk copies) needs. The strides decide: a permuted view can report 'c' ordering (DL4J's NWC
 * convolutions return {@code permute(0, 2, 1)} views), and a view can have offset 0.
 *
 * <pre>{@code
 * INDArray x = DenseArrays.denseC(input);      // input itself, or a 'c'-order copy
 * float[] v = x.data().asFloat();              // v[i] is element i in 'c' order
 * }</pre>
 */
public final class DenseArrays {
    private DenseArrays() {
    }

    /** True when {@code x}'s buffer is exactly its elements in 'c' order, from offset 0. */
    public static boolean isDenseC(INDArray x) {
        return x.offset() == 0 && x.data().length() == x.length()
                && Arrays.equals(x.stride(), Nd4j.getStrides(x.shape(), 'c'));
    }

    /** {@code x} when {@link #isDenseC}, else a 'c'-order copy. */
    public static INDArray denseC(INDArray x) {
        return isDenseC(x) ? x : x.dup('c');
    }
}
