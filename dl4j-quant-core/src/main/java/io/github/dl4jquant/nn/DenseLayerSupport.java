package io.github.dl4jquant.nn;

import io.github.dl4jquant.DenseArrays;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Input checks and primitive-array transfers shared by the quantized dense layers.
 *
 * <pre>{@code
 * INDArray x = DenseLayerSupport.floatMatrix(input, 784, "QuantizedDense 'd1'");   // [M,784] FLOAT 'c'
 * float[] v = DenseLayerSupport.readFloats(x, scratch);                            // bulk copy, no per-element calls
 * }</pre>
 */
public final class DenseLayerSupport {
    private DenseLayerSupport() {
    }

    /**
     * The input as a contiguous 'c'-order FLOAT matrix {@code [M, nIn]} at offset 0 (the input itself when it already
     * is one).
     *
     * @throws IllegalArgumentException naming the layer, nIn and the actual shape when it does not fit
     */
    public static INDArray floatMatrix(INDArray input, long nIn, String layer) {
        if (input.rank() != 2 || input.size(1) != nIn) {
            throw new IllegalArgumentException(layer + " expects input [batch, " + nIn + "] (nIn = " + nIn
                    + "); got shape " + Arrays.toString(input.shape()) + ". Check the feature size of the data and of"
                    + " the preceding layer");
        }
        INDArray x = input.dataType() == DataType.FLOAT ? input : input.castTo(DataType.FLOAT);
        return DenseArrays.denseC(x);
    }

    /** Copies the values of a contiguous FLOAT array into {@code reuse} (grown when too small) and returns it. */
    public static float[] readFloats(INDArray contiguous, float[] reuse) {
        int n = (int) contiguous.length();
        float[] out = reuse != null && reuse.length >= n ? reuse : new float[n];
        ((FloatPointer) contiguous.data().addressPointer()).get(out, 0, n);
        return out;
    }

    /** Writes the first {@code target.length()} values into a contiguous FLOAT array. */
    public static void writeFloats(INDArray contiguous, float[] values) {
        ((FloatPointer) contiguous.data().addressPointer()).put(values, 0, (int) contiguous.length());
    }

    /**
     * {min, max} of the first {@code n} values.
     *
     * @throws IllegalArgumentException naming {@code what} on NaN
     */
    public static float[] minMax(float[] v, int n, String what) {
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float x = v[i];
            if (x != x) {
                throw QuantMath.nanError(what, i);
            }
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        return new float[] {min, max};
    }
}
