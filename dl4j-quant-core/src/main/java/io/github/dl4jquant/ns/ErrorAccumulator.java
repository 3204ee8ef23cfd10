package io.github.dl4jquant.ns;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Running sums behind a {@link TensorComparison}, so that a comparison can stream over batches. Sums are kept in double
 * over the float values in 'c' order, which makes the result independent of array layout and deterministic.
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
        float[] x = flat(reference);
        float[] y = flat(actual);
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

    private static float[] flat(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
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
