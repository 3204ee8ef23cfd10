package io.github.dl4jquant.nn;

import io.github.dl4jquant.DenseArrays;
import java.util.Arrays;
import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reads the indices fed to an embedding layer and checks them before any row is looked up. DL4J's own embedding
 * layers truncate a non-integer index ({@code getInt}) and report an out-of-range one without naming the layer; the
 * quantized and reference embeddings refuse both, naming the layer and the offending entry.
 *
 * <pre>{@code
 * int[] rows = EmbeddingIndices.read(input, 50_000, "QuantizedEmbedding 'emb'");   // 'c' order of input
 * }</pre>
 */
public final class EmbeddingIndices {
    private EmbeddingIndices() {
    }

    /**
     * The indices of {@code input} in 'c' order.
     *
     * @throws DL4JInvalidInputException naming {@code layer} when an entry is NaN, infinite, not an integer, or outside
     *                                   {@code [0, nIn)}
     */
    public static int[] read(INDArray input, long nIn, String layer) {
        double[] v = DenseArrays.denseC(input.dataType() == DataType.DOUBLE ? input : input.castTo(DataType.DOUBLE))
                .data().asDouble();
        int[] indices = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            double x = v[i];
            if (!(x >= 0 && x < nIn) || x != Math.rint(x)) {
                throw badIndex(input, i, x, nIn, layer);
            }
            indices[i] = (int) x;
        }
        return indices;
    }

    private static DL4JInvalidInputException badIndex(INDArray input, int flat, double x, long nIn, String layer) {
        long[] shape = input.shape();
        long[] position = new long[shape.length];
        long rest = flat;
        for (int d = shape.length - 1; d >= 0; d--) {
            position[d] = rest % shape[d];
            rest /= shape[d];
        }
        String what = Double.isNaN(x) || Double.isInfinite(x) ? "is " + x
                : x != Math.rint(x) ? "is not an integer (" + x + ")" : "is outside [0, nIn - 1] = [0, " + (nIn - 1) + "]";
        return new DL4JInvalidInputException(layer + ": input entry " + Arrays.toString(position) + " of shape "
                + Arrays.toString(shape) + " " + what + "; an embedding input holds integer row indices in [0, "
                + (nIn - 1) + "] (nIn = vocabulary size " + nIn + ")");
    }
}
