package io.github.dl4jquant.examples;

import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The error a quantized layer's output carries against the fp32 layer's output on the same input batch.
 *
 * <pre>{@code
 * LayerError e = LayerError.of("d1", fp32Activation, int8Activation);
 * e.sqnrDb();        // signal-to-quantization-noise ratio, e.g. 31.7 dB; higher is better
 * e.maxAbsError();   // largest absolute difference
 * }</pre>
 *
 * @param layer        the layer's name as the user knows it
 * @param sqnrDb       10 log10(sum x^2 / sum (x - y)^2); positive infinity when the outputs are identical
 * @param maxAbsError  largest |x - y|
 * @param meanAbsError mean |x - y|
 */
public record LayerError(String layer, double sqnrDb, double maxAbsError, double meanAbsError) {

    /** Compares the fp32 activation {@code reference} with the quantized model's {@code actual}. */
    public static LayerError of(String layer, INDArray reference, INDArray actual) {
        if (!reference.equalShapes(actual)) {
            throw new IllegalArgumentException("layer '" + layer + "': fp32 and quantized activations differ in "
                    + "shape: " + java.util.Arrays.toString(reference.shape()) + " vs "
                    + java.util.Arrays.toString(actual.shape()));
        }
        INDArray x = reference.castTo(DataType.DOUBLE);
        INDArray noise = x.sub(actual.castTo(DataType.DOUBLE));
        double signal = x.mul(x).sumNumber().doubleValue();
        double noisePower = noise.mul(noise).sumNumber().doubleValue();
        double sqnr = noisePower == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noisePower);
        INDArray abs = Transforms.abs(noise, false);
        return new LayerError(layer, sqnr, abs.maxNumber().doubleValue(), abs.meanNumber().doubleValue());
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer", layer);
        m.put("sqnr_db", Double.isInfinite(sqnrDb) ? "inf" : sqnrDb);
        m.put("max_abs_error", maxAbsError);
        m.put("mean_abs_error", meanAbsError);
        return m;
    }
}
