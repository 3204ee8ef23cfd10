package io.github.dl4jquant.observer;

import io.github.dl4jquant.DenseArrays;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Reads observed arrays into float32 values and checks them, shared by all observers. */
final class ObservedValues {

    /** Range of the finite values of one array (or one channel) and how many infinities were skipped. */
    record Range(float min, float max, long infinities) {
        boolean isEmpty() {
            return min > max;
        }
    }

    private ObservedValues() {
    }

    /** The values of {@code x} in 'c' order as float32 (PyTorch observers cast to float32 too). */
    static float[] floats(INDArray x, String who) {
        if (x == null) {
            throw new IllegalArgumentException(who + ": cannot observe null");
        }
        if (x.isEmpty() || x.length() == 0) {
            throw new IllegalArgumentException(who + ": cannot observe an empty array (shape "
                    + Arrays.toString(x.shape()) + "); pass at least one value");
        }
        if (!x.dataType().isFPType()) {
            throw new IllegalArgumentException(who + ": observed arrays must be floating point; got " + x.dataType());
        }
        INDArray f = x.castTo(DataType.FLOAT);
        boolean dense = DenseArrays.isDenseC(f);
        return (dense ? f : f.dup('c')).data().asFloat();
    }

    /**
     * Min and max of {@code v[from, to)} with stride {@code step}; NaN always raises, infinities raise unless
     * {@code skipInfinities} (then they are left out and counted).
     */
    static Range range(float[] v, int from, int to, int step, boolean skipInfinities, String who) {
        float mn = Float.POSITIVE_INFINITY;
        float mx = Float.NEGATIVE_INFINITY;
        float poison = 0f;
        for (int i = from; i < to; i += step) {
            float a = v[i];
            if (a < mn) {
                mn = a;
            }
            if (a > mx) {
                mx = a;
            }
            // a * 0 is NaN exactly for NaN and +-Inf: one cheap test for all non-finite values
            poison += a * 0f;
        }
        if (poison == poison) {
            return new Range(mn, mx, 0);
        }
        return rangeOfNonFinite(v, from, to, step, skipInfinities, who);
    }

    private static Range rangeOfNonFinite(float[] v, int from, int to, int step, boolean skipInfinities, String who) {
        long nan = 0;
        long inf = 0;
        int firstBad = -1;
        float mn = Float.POSITIVE_INFINITY;
        float mx = Float.NEGATIVE_INFINITY;
        for (int i = from; i < to; i += step) {
            float a = v[i];
            if (Float.isNaN(a)) {
                nan++;
            } else if (Float.isInfinite(a)) {
                inf++;
            } else {
                mn = Math.min(mn, a);
                mx = Math.max(mx, a);
                continue;
            }
            if (firstBad < 0) {
                firstBad = i;
            }
        }
        if (nan > 0 || !skipInfinities) {
            throw new IllegalArgumentException(who + ": observed data holds " + nan + " NaN and " + inf
                    + " infinite value(s) (first at flat index " + firstBad + ", value " + v[firstBad] + "); "
                    + (skipInfinities ? "NaN" : "NaN and infinite values")
                    + " would give a meaningless scale: fix the data or the layer producing it");
        }
        return new Range(mn, mx, inf);
    }
}
