package io.github.dl4jquant.examples;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A quick latency comparison of two graphs at one batch size: median wall time of {@code outputSingle} after a
 * warm-up. A demo figure for the examples' printout, not a benchmark (the JMH module measures properly).
 *
 * <pre>{@code
 * Latency l = Latency.measure(fp32, int8, testFeatures, 256, 30);
 * System.out.println(l);   // batch 256: fp32 4.1 ms, int8 1.6 ms (2.6x)
 * }</pre>
 *
 * @param batchSize  examples per call
 * @param fp32Millis median milliseconds per call of the fp32 graph
 * @param int8Millis median milliseconds per call of the int8 graph
 */
public record Latency(int batchSize, double fp32Millis, double int8Millis) {

    /**
     * Times both graphs on the first {@code batchSize} rows of {@code features}, alternating them so that machine
     * noise hits both alike.
     */
    public static Latency measure(ComputationGraph fp32, ComputationGraph int8, INDArray features, int batchSize,
                                  int iterations) {
        INDArray batch = features.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, batchSize),
                org.nd4j.linalg.indexing.NDArrayIndex.all()).dup('c');
        for (int i = 0; i < Math.max(3, iterations / 5); i++) {
            fp32.outputSingle(batch);
            int8.outputSingle(batch);
        }
        double[] a = new double[iterations];
        double[] b = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            a[i] = time(fp32, batch);
            b[i] = time(int8, batch);
        }
        return new Latency(batchSize, median(a), median(b));
    }

    public double speedup() {
        return fp32Millis / int8Millis;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("batch_size", batchSize);
        m.put("fp32_ms", fp32Millis);
        m.put("int8_ms", int8Millis);
        m.put("speedup", speedup());
        return m;
    }

    /** The two timings and the speed-up, without the batch size. */
    public String timings() {
        return String.format(Locale.ROOT, "fp32 %.3f ms, int8 %.3f ms (%.2fx)", fp32Millis, int8Millis, speedup());
    }

    @Override
    public String toString() {
        return "batch " + batchSize + ": " + timings();
    }

    private static double time(ComputationGraph g, INDArray batch) {
        long t0 = System.nanoTime();
        g.outputSingle(batch);
        return (System.nanoTime() - t0) / 1e6;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
