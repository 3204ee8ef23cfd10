package io.github.dl4jquant.examples;

import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * How an fp32 model and its quantized version compare on one labelled data set: both top-1 accuracies, how often
 * their top-1 predictions agree, and the largest difference between their outputs.
 *
 * <pre>{@code
 * Agreement a = Agreement.of(fp32.outputSingle(x), int8.outputSingle(x), labels);
 * System.out.println(a);   // fp32 accuracy 88.41%, int8 accuracy 88.37%, top-1 agreement 99.62%, max |diff| 0.0312
 * }</pre>
 *
 * @param fp32Accuracy   top-1 accuracy of the fp32 outputs
 * @param int8Accuracy   top-1 accuracy of the quantized outputs
 * @param top1Agreement  fraction of examples on which both predict the same class
 * @param maxAbsDiff     largest absolute element-wise difference between the two outputs
 * @param examples       number of examples compared
 */
public record Agreement(double fp32Accuracy, double int8Accuracy, double top1Agreement, double maxAbsDiff,
                        long examples) {

    /**
     * Compares two output arrays {@code [n, classes]} against one-hot (or probability) labels of the same shape.
     *
     * @throws IllegalArgumentException when the shapes differ
     */
    public static Agreement of(INDArray fp32Output, INDArray int8Output, INDArray labels) {
        if (!fp32Output.equalShapes(int8Output) || !fp32Output.equalShapes(labels)) {
            throw new IllegalArgumentException("outputs and labels must have the same shape; got fp32 "
                    + fp32Output.shapeInfoToString().replaceAll("\\s+", " ") + ", int8 "
                    + int8Output.shapeInfoToString().replaceAll("\\s+", " ") + ", labels "
                    + labels.shapeInfoToString().replaceAll("\\s+", " "));
        }
        INDArray truth = labels.argMax(1);
        INDArray fp32Top1 = fp32Output.argMax(1);
        INDArray int8Top1 = int8Output.argMax(1);
        long n = labels.size(0);
        double maxDiff = Transforms.abs(fp32Output.castTo(DataType.FLOAT).sub(int8Output.castTo(DataType.FLOAT)))
                .maxNumber().doubleValue();
        return new Agreement(fraction(fp32Top1.eq(truth), n), fraction(int8Top1.eq(truth), n),
                fraction(fp32Top1.eq(int8Top1), n), maxDiff, n);
    }

    /** Top-1 accuracy of {@code output} against one-hot {@code labels}. */
    public static double accuracy(INDArray output, INDArray labels) {
        return fraction(output.argMax(1).eq(labels.argMax(1)), labels.size(0));
    }

    /** Accuracy loss of the quantized model in percentage points (positive: int8 is worse). */
    public double accuracyDropPoints() {
        return 100 * (fp32Accuracy - int8Accuracy);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("examples", examples);
        m.put("fp32_accuracy", fp32Accuracy);
        m.put("int8_accuracy", int8Accuracy);
        m.put("accuracy_drop_points", accuracyDropPoints());
        m.put("top1_agreement", top1Agreement);
        m.put("max_abs_output_diff", maxAbsDiff);
        return m;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT,
                "fp32 accuracy %.2f%%, int8 accuracy %.2f%% (%+.2f points), top-1 agreement %.2f%%, "
                        + "max |output diff| %.4f on %d examples",
                100 * fp32Accuracy, 100 * int8Accuracy, -accuracyDropPoints(), 100 * top1Agreement, maxAbsDiff,
                examples);
    }

    private static double fraction(INDArray booleans, long n) {
        return booleans.castTo(DataType.INT).sumNumber().doubleValue() / n;
    }
}
