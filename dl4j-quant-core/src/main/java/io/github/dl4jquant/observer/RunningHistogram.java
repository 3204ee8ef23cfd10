package io.github.dl4jquant.observer;

/**
 * A fixed-size histogram over a range that grows with the data, accumulated the way PyTorch 1.13's
 * {@code HistogramObserver} does it (float32 {@code histc}, {@code _adjust_min_max}, {@code _combine_histograms} with
 * an upsample rate), plus exact re-binning for merges.
 *
 * <p>The upsampled combine is computed in closed form from prefix sums (O(bins), no {@code bins * downsampleRate}
 * buffer), so a range that grows by a huge factor costs nothing extra; PyTorch allocates that buffer. When all values
 * seen so far are equal ({@code min == max}) the count is kept as a point mass in bin 0; PyTorch 1.13 instead drops
 * it and restarts from the next batch.
 */
final class RunningHistogram {
    /** Beyond this downsample rate, bin indices of the upsampled grid could overflow a long. */
    private static final long MAX_DOWNSAMPLE_RATE = 1L << 40;

    private final int bins;
    private final int upsampleRate;
    private final boolean truncateRange;
    private float[] hist;
    private float min = Float.POSITIVE_INFINITY;
    private float max = Float.NEGATIVE_INFINITY;
    /** The finite range of the values actually seen; the histogram's range grows in steps beyond it. */
    private float observedMin = Float.POSITIVE_INFINITY;
    private float observedMax = Float.NEGATIVE_INFINITY;

    RunningHistogram(int bins, int upsampleRate, boolean truncateRange) {
        this.bins = bins;
        this.upsampleRate = upsampleRate;
        this.truncateRange = truncateRange;
        this.hist = new float[bins];
    }

    boolean isEmpty() {
        return !(min <= max);
    }

    float min() {
        return min;
    }

    float max() {
        return max;
    }

    /** The counts themselves (not a copy): callers only read. */
    float[] counts() {
        return hist;
    }

    void clear() {
        hist = new float[bins];
        min = Float.POSITIVE_INFINITY;
        max = Float.NEGATIVE_INFINITY;
        observedMin = Float.POSITIVE_INFINITY;
        observedMax = Float.NEGATIVE_INFINITY;
    }

    /** Adds the values {@code v} whose finite range is {@code r}; infinities in {@code v} are skipped. */
    void add(float[] v, ObservedValues.Range r) {
        if (r.isEmpty()) {
            return;
        }
        observedMin = Math.min(observedMin, r.min());
        observedMax = Math.max(observedMax, r.max());
        if (isEmpty()) {
            hist = histc(v, r.min(), r.max(), r);
            min = r.min();
            max = r.max();
        } else if (min == max) {
            addToPointMass(v, r);
        } else {
            addGrowing(v, r);
        }
    }

    private void addGrowing(float[] v, ObservedValues.Range r) {
        float cmin = Math.min(r.min(), min);
        float cmax = Math.max(r.max(), max);
        float range = max - min;
        // _adjust_min_max, float32 tensor arithmetic as in PyTorch
        float ratio = (cmax - cmin) / range;
        double downsample = Math.ceil(ratio * (float) upsampleRate);
        if (downsample > MAX_DOWNSAMPLE_RATE) {
            float[] total = histc(v, cmin, cmax, r);
            addPoint(total, sum(hist), (min + max) / 2, cmin, cmax);
            setState(total, cmin, cmax);
            return;
        }
        long d = (long) downsample;
        float e = (float) ((double) d / upsampleRate) * range - (cmax - cmin);
        long startIdx = (long) Math.rint((min - cmin) / range * (float) bins * (float) upsampleRate);
        cmax = cmax + e;
        float[] combined = histc(v, cmin, cmax, r);
        if (cmin == min && cmax == max) {
            for (int i = 0; i < bins; i++) {
                combined[i] += hist[i];
            }
        } else {
            addUpsampled(combined, d, startIdx);
        }
        setState(combined, cmin, cmax);
    }

    /**
     * PyTorch's {@code _combine_histograms}: upsample the old histogram by {@code upsampleRate} (repeat each count),
     * place it at {@code startIdx} of a grid of {@code bins * d} cells, sum every {@code d} cells (double cumsum) and
     * divide by {@code upsampleRate}.
     */
    private void addUpsampled(float[] combined, long d, long startIdx) {
        double[] prefix = new double[bins + 1];
        for (int i = 0; i < bins; i++) {
            prefix[i + 1] = prefix[i] + (double) hist[i] * upsampleRate;
        }
        double previous = 0;
        for (int j = 0; j < bins; j++) {
            double integral = upsampledIntegral(prefix, (j + 1) * d, startIdx);
            // PyTorch keeps the shifted integral in a float32 tensor
            double interpolated = (integral - (float) previous) / upsampleRate;
            combined[j] += (float) interpolated;
            previous = integral;
        }
    }

    /** Sum of the upsampled old histogram over grid cells [0, n). */
    private double upsampledIntegral(double[] prefix, long n, long startIdx) {
        long m = Math.max(0, Math.min(n - startIdx, (long) bins * upsampleRate));
        int q = (int) (m / upsampleRate);
        long rem = m % upsampleRate;
        return q < bins ? prefix[q] + (double) hist[q] * rem : prefix[bins];
    }

    private void addToPointMass(float[] v, ObservedValues.Range r) {
        float point = min;
        float count = sum(hist);
        float cmin = Math.min(r.min(), point);
        float cmax = Math.max(r.max(), point);
        if (cmin == cmax) {
            hist[0] += countFinite(v);
            return;
        }
        float[] combined = histc(v, cmin, cmax, r);
        addPoint(combined, count, point, cmin, cmax);
        setState(combined, cmin, cmax);
    }

    /** Merges {@code o} into this histogram; ranges are unioned and both re-binned by overlap (uniform density). */
    void merge(RunningHistogram o) {
        if (o.isEmpty()) {
            return;
        }
        observedMin = Math.min(observedMin, o.observedMin);
        observedMax = Math.max(observedMax, o.observedMax);
        if (isEmpty()) {
            setState(o.hist.clone(), o.min, o.max);
            return;
        }
        if (min == o.min && max == o.max) {
            // one grid: counts add exactly (integer-valued floats below 2^24), in any merge order
            for (int i = 0; i < bins; i++) {
                hist[i] += o.hist[i];
            }
            return;
        }
        float cmin = Math.min(min, o.min);
        float cmax = Math.max(max, o.max);
        if (cmin == cmax) {
            hist[0] += sum(o.hist);
            return;
        }
        float[] combined = new float[bins];
        rebinInto(combined, cmin, cmax);
        o.rebinInto(combined, cmin, cmax);
        setState(combined, cmin, cmax);
    }

    /** The statistics into {@code b} (which carries the observer's settings). */
    ObserverState state(ObserverState.Builder b) {
        if (isEmpty()) {
            return b.build();
        }
        b.minVal(new float[] {min}).maxVal(new float[] {max}).histogram(hist);
        return observedMin <= observedMax ? b.observedRange(new float[] {observedMin, observedMax}).build()
                : b.build();
    }

    /** Replaces the statistics with those of {@code s}; {@code who} names the observer in messages. */
    void load(ObserverState s, String who) {
        if (!s.hasStatistics()) {
            clear();
            return;
        }
        float[] counts = s.histogram();
        float lo = s.minVal()[0];
        float hi = s.maxVal()[0];
        if (counts.length != bins || !(lo <= hi) || Float.isInfinite(lo) || Float.isInfinite(hi)) {
            throw new IllegalArgumentException(who + ": the state must hold " + bins + " bin counts over a finite "
                    + "range min <= max; got " + counts.length + " counts over [" + lo + ", " + hi + "]");
        }
        float[] observed = s.observedRange();
        setState(counts, lo, hi);
        observedMin = observed.length == 2 ? observed[0] : Float.POSITIVE_INFINITY;
        observedMax = observed.length == 2 ? observed[1] : Float.NEGATIVE_INFINITY;
    }

    private void rebinInto(float[] dst, float lo, float hi) {
        if (min == max) {
            addPoint(dst, sum(hist), min, lo, hi);
            return;
        }
        double srcWidth = ((double) max - min) / bins;
        double dstWidth = ((double) hi - lo) / bins;
        for (int i = 0; i < bins; i++) {
            if (hist[i] == 0f) {
                continue;
            }
            double a = min + i * srcWidth;
            double b = a + srcWidth;
            int first = (int) Math.max(0, Math.min(bins - 1, Math.floor((a - lo) / dstWidth)));
            int last = (int) Math.max(0, Math.min(bins - 1, Math.floor((b - lo) / dstWidth)));
            for (int j = first; j <= last; j++) {
                double overlap = Math.min(b, lo + (j + 1) * dstWidth) - Math.max(a, lo + j * dstWidth);
                if (overlap > 0 || first == last) {
                    dst[j] += (float) (hist[i] * (first == last ? 1.0 : overlap / srcWidth));
                }
            }
        }
    }

    private void addPoint(float[] dst, float count, float point, float lo, float hi) {
        dst[binOf(point, lo, hi)] += count;
    }

    private int binOf(float value, float lo, float hi) {
        long pos = (long) ((value - lo) * (float) bins / (hi - lo));
        return (int) Math.max(0, Math.min(bins - 1, pos));
    }

    /**
     * ATen's {@code histc} on CPU: {@code pos = (long) ((x - lo) * bins / (hi - lo))} in float32, values outside
     * [lo, hi] (and infinities) skipped, {@code x == hi} counted in the last bin; {@code lo == hi} counts everything
     * in bin 0 (the point mass). With {@code truncateRange}, the edges are first truncated to integers as PyTorch
     * 1.13 did ({@code histc(x, min=int(min_val), max=int(max_val))}), falling back like ATen to the data's own range
     * when they coincide.
     */
    private float[] histc(float[] v, float lo, float hi, ObservedValues.Range data) {
        if (truncateRange) {
            float tl = (float) (long) lo;
            float th = (float) (long) hi;
            if (tl == th) {
                tl = data.min();
                th = data.max();
            }
            if (tl == th) {
                return binned(v, (float) (tl - 1.0), (float) (th + 1.0));
            }
            return binned(v, tl, th);
        }
        if (lo == hi) {
            float[] h = new float[bins];
            h[0] = countFinite(v);
            return h;
        }
        return binned(v, lo, hi);
    }

    /**
     * Counts in ints, converted once: a float32 counter stops growing at 2^24, so a batch putting more values into
     * one bin (a [60000, 784] batch of images with their zero background) would silently lose counts.
     */
    private float[] binned(float[] v, float lo, float hi) {
        int[] counts = new int[bins];
        float width = hi - lo;
        float n = bins;
        int last = bins - 1;
        for (float x : v) {
            if (x >= lo && x <= hi) {
                int pos = (int) ((x - lo) * n / width);
                counts[pos > last ? last : pos]++;
            }
        }
        float[] h = new float[bins];
        for (int i = 0; i < bins; i++) {
            h[i] = counts[i];
        }
        return h;
    }

    private static float countFinite(float[] v) {
        long c = 0;
        for (float x : v) {
            if (Float.isFinite(x)) {
                c++;
            }
        }
        return c;
    }

    static float sum(float[] h) {
        double s = 0;
        for (float x : h) {
            s += x;
        }
        return (float) s;
    }

    private void setState(float[] h, float lo, float hi) {
        hist = h;
        min = lo;
        max = hi;
    }
}
