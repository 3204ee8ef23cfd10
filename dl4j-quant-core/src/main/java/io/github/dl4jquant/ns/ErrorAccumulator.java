package io.github.dl4jquant.ns;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;

/**
 * Running sums behind a {@link TensorComparison}, so that a comparison can stream over batches. Sums are kept in double
 * over the float values, read in the reference's memory order, which makes the result deterministic.
 *
 * <pre>{@code
 * ErrorAccumulator acc = new ErrorAccumulator();
 * acc.add(fp32Batch1, quantizedBatch1).add(fp32Batch2, quantizedBatch2);
 * TensorComparison c = acc.result(outputScale);
 * }</pre>
 */
final class ErrorAccumulator {
    private long count;
    private double sumRef2;
    private double sumAct2;
    private double sumRefAct;
    private double sumErr2;
    private double maxAbsErr;

    /** Adds one pair of same-shaped tensors: {@code reference} from the fp32 model, {@code actual} from the other. */
    ErrorAccumulator add(INDArray reference, INDArray actual) {
        if (!Arrays.equals(reference.shape(), actual.shape())) {
            throw new IllegalArgumentException("Cannot compare tensors of different shapes: reference "
                    + Arrays.toString(reference.shape()) + " vs " + Arrays.toString(actual.shape()));
        }
        // read both in an order one of them is already stored in, so that at most one needs a reordering copy
        char order = isDirect(reference) || !isDirect(actual) ? reference.ordering() : actual.ordering();
        float[] x = flat(reference, order);
        float[] y = flat(actual, order);
        for (int i = 0; i < x.length; i++) {
            double a = x[i];
            double b = y[i];
            double d = a - b;
            sumRef2 += a * a;
            sumAct2 += b * b;
            sumRefAct += a * b;
            sumErr2 += d * d;
            maxAbsErr = Math.max(maxAbsErr, Math.abs(d));
        }
        count += x.length;
        return this;
    }

    /** The values in {@code order}; reads the buffer directly when it already is laid out that way. */
    private static float[] flat(INDArray a, char order) {
        INDArray f = a.dataType() == DataType.FLOAT ? a : a.castTo(DataType.FLOAT);
        return (isDirect(f) && f.ordering() == order ? f : f.dup(order)).data().asFloat();
    }

    /** A float array that owns exactly its buffer, laid out in its own order. */
    private static boolean isDirect(INDArray a) {
        return a.dataType() == DataType.FLOAT && a.offset() == 0 && a.data().length() == a.length()
                && Shape.hasDefaultStridesForShape(a);
    }

    /**
     * The comparison so far; {@code scale} is the quantization step of the compared output (NaN when unknown), used
     * for TFLite's rmse/scale ratio.
     */
    TensorComparison result(double scale) {
        double refNorm = Math.sqrt(sumRef2);
        double errNorm = Math.sqrt(sumErr2);
        double sqnr = 20 * Math.log10(refNorm / errNorm);
        double normalizedL2 = errNorm / refNorm;
        double normProduct = Math.sqrt(sumRef2) * Math.sqrt(sumAct2);
        double cosine = normProduct == 0 ? 0 : sumRefAct / normProduct;
        double rmse = count == 0 ? Double.NaN : Math.sqrt(sumErr2 / count);
        return new TensorComparison(count, sqnr, normalizedL2, cosine, count == 0 ? Double.NaN : maxAbsErr, rmse,
                rmse / scale);
    }
}
