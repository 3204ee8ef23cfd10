package io.github.dl4jquant.ns;

import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * How far a tensor {@code y} (quantized model) is from its reference {@code x} (fp32 model), with PyTorch's numeric
 * suite metrics ({@code torch.ao.ns.fx.utils}) and TFLite's quantization debugger ratio.
 * <ul>
 *   <li>{@code sqnr} = 20 log10(‖x‖ / ‖x − y‖) in dB ({@code compute_sqnr}; +Infinity when y equals x)</li>
 *   <li>{@code normalizedL2} = ‖x − y‖ / ‖x‖ ({@code compute_normalized_l2_error})</li>
 *   <li>{@code cosineSimilarity} = x·y / (‖x‖ ‖y‖), 0 when either norm is 0, as PyTorch's eps-clamped version</li>
 *   <li>{@code maxAbsError} = max |x − y|; {@code rmse} = sqrt(mean((x − y)²))</li>
 *   <li>{@code rmseOverScale} = rmse / output quantization step: about 1/sqrt(12) = 0.289 when the only error is the
 *       rounding of the output to its grid, larger when the layer adds error of its own (NaN when the output is not
 *       quantized)</li>
 * </ul>
 *
 * <pre>{@code
 * TensorComparison c = TensorComparison.of(fp32Output, quantizedOutput, outputScale);
 * if (c.sqnr() < 20) { ... }          // below 20 dB usually costs accuracy
 * }</pre>
 *
 * @param count            number of compared elements
 * @param sqnr             signal to quantization noise ratio in dB
 * @param normalizedL2     relative L2 error
 * @param cosineSimilarity cosine of the angle between the flattened tensors
 * @param maxAbsError      largest absolute element error
 * @param rmse             root mean square element error
 * @param rmseOverScale    rmse in units of the output quantization step
 */
public record TensorComparison(long count, double sqnr, double normalizedL2, double cosineSimilarity,
                               double maxAbsError, double rmse, double rmseOverScale) {

    /** Compares {@code actual} with {@code reference}; {@code scale} is the output step or NaN when unknown. */
    public static TensorComparison of(INDArray reference, INDArray actual, double scale) {
        return new ErrorAccumulator().add(reference, actual).result(scale);
    }

    /** PyTorch's {@code compute_sqnr(x, y)} in dB. */
    public static double sqnr(INDArray reference, INDArray actual) {
        return of(reference, actual, Double.NaN).sqnr();
    }

    /** PyTorch's {@code compute_normalized_l2_error(x, y)}. */
    public static double normalizedL2(INDArray reference, INDArray actual) {
        return of(reference, actual, Double.NaN).normalizedL2();
    }

    /** PyTorch's {@code compute_cosine_similarity(x, y)} on the flattened tensors. */
    public static double cosineSimilarity(INDArray reference, INDArray actual) {
        return of(reference, actual, Double.NaN).cosineSimilarity();
    }

    /** The metrics by snake_case name; NaN values are left out, infinities kept. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        put(m, "sqnr_db", sqnr);
        put(m, "normalized_l2", normalizedL2);
        put(m, "cosine_similarity", cosineSimilarity);
        put(m, "max_abs_error", maxAbsError);
        put(m, "rmse", rmse);
        put(m, "rmse_over_scale", rmseOverScale);
        m.put("count", count);
        return m;
    }

    private static void put(Map<String, Object> m, String key, double value) {
        if (!Double.isNaN(value)) {
            m.put(key, value);
        }
    }
}
