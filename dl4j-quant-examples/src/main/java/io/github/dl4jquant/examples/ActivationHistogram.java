package io.github.dl4jquant.examples;

import io.github.dl4jquant.QParams;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A histogram of one tensor's fp32 values together with the float range its quantization parameters can represent,
 * {@code [(qmin - zp) * scale, (qmax - zp) * scale]}: what the HTML report draws to show how an observer clipped.
 * Exact zeros are counted apart, because after a ReLU they dwarf every other bin.
 *
 * <pre>{@code
 * ActivationHistogram h = ActivationHistogram.of("d1 output", activation, outputQParams, 80);
 * h.clippedFraction();     // share of values outside the representable range
 * }</pre>
 *
 * @param tensor         the tensor's name
 * @param binEdges       {@code bins + 1} increasing edges
 * @param counts         non-zero values per bin
 * @param zeros          number of exact zeros (not in {@code counts})
 * @param total          number of values
 * @param clipMin        smallest representable value
 * @param clipMax        largest representable value
 * @param clippedFraction share of values outside [clipMin, clipMax]
 */
public record ActivationHistogram(String tensor, double[] binEdges, long[] counts, long zeros, long total,
                                  double clipMin, double clipMax, double clippedFraction) {

    /**
     * Bins the values of {@code activation} over the union of their range and the quantization range.
     *
     * @throws IllegalArgumentException for per-channel qparams (one range per channel cannot be drawn as one)
     */
    public static ActivationHistogram of(String tensor, INDArray activation, QParams qparams, int bins) {
        if (qparams.isPerChannel()) {
            throw new IllegalArgumentException("tensor '" + tensor + "': per-channel qparams have one range per "
                    + "channel; give per-tensor qparams");
        }
        double clipMin = (qparams.quantMin() - qparams.zeroPoint()) * (double) qparams.scale();
        double clipMax = (qparams.quantMax() - qparams.zeroPoint()) * (double) qparams.scale();
        float[] values = activation.dup('c').data().asFloat();
        double lo = clipMin;
        double hi = clipMax;
        for (float v : values) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        double width = (hi - lo) / bins;
        double[] edges = new double[bins + 1];
        for (int i = 0; i <= bins; i++) {
            edges[i] = lo + i * width;
        }
        long[] counts = new long[bins];
        long zeros = 0;
        long clipped = 0;
        for (float v : values) {
            if (v < clipMin || v > clipMax) {
                clipped++;
            }
            if (v == 0f) {
                zeros++;
            } else {
                counts[width == 0 ? 0 : Math.min(bins - 1, (int) ((v - lo) / width))]++;
            }
        }
        return new ActivationHistogram(tensor, edges, counts, zeros, values.length, clipMin, clipMax,
                values.length == 0 ? 0 : (double) clipped / values.length);
    }
}
