package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Percentile clipping over a running histogram, as ONNX Runtime's and TensorRT's "percentile" calibration (not in
 * PyTorch): the range keeps the central {@code percentile}% of the observed values and clips
 * {@code (100 - percentile) / 2}% on each side. Cheaper than {@link HistogramObserver}'s search and robust to rare
 * outliers. Defaults: 99.99%, 2048 bins, upsample rate 128, quint8, per_tensor_affine.
 *
 * <pre>{@code
 * Observer obs = PercentileObserver.builder().percentile(99.9).build();
 * batches.forEach(obs::observe);
 * QParams q = obs.calculateQParams();
 * }</pre>
 *
 * <p>The histogram is accumulated exactly as {@link HistogramObserver}'s. The clipped range runs from the left edge of
 * the bin holding the lower quantile to the right edge of the bin holding the upper one (so the kept mass is at least
 * the requested percentile), within the observed range. With a symmetric qscheme the larger side sets the scale
 * (ONNX Runtime instead takes the percentile of |x|). Infinite values are ignored with a warning; NaN raises.
 */
public class PercentileObserver extends UniformQuantizationObserverBase {
    private static final Logger LOG = LoggerFactory.getLogger(PercentileObserver.class);

    private final RunningHistogram histogram;
    private final double percentile;

    protected PercentileObserver(Builder b) {
        super(b);
        if (!(b.percentile > 0 && b.percentile <= 100)) {
            throw new IllegalArgumentException(name() + ": percentile must be in (0, 100]; got " + b.percentile);
        }
        if (b.bins < 1 || b.upsampleRate < 1) {
            throw new IllegalArgumentException(name() + ": bins and upsampleRate must be >= 1; got bins=" + b.bins
                    + ", upsampleRate=" + b.upsampleRate);
        }
        this.percentile = b.percentile;
        this.histogram = new RunningHistogram(b.bins, b.upsampleRate, false);
    }

    /** A builder with the defaults above. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void observe(INDArray x) {
        float[] v = ObservedValues.floats(x, name());
        ObservedValues.Range r = ObservedValues.range(v, 0, v.length, 1, true, name());
        if (r.infinities() > 0) {
            LOG.warn("{}: ignoring {} infinite value(s) of {} observed", name(), r.infinities(), v.length);
        }
        histogram.add(v, r);
    }

    @Override
    public QParams calculateQParams() {
        if (!isCalibrated()) {
            throw notCalibrated();
        }
        float[] range = clippedRange();
        return calculateQParams(new float[] {range[0]}, new float[] {range[1]}, -1);
    }

    /** The [low, high] range that keeps the central {@code percentile}% of the histogram's mass. */
    public float[] clippedRange() {
        if (!isCalibrated()) {
            throw notCalibrated();
        }
        float min = histogram.min();
        float max = histogram.max();
        if (min == max) {
            return new float[] {min, max};
        }
        float[] hist = histogram.counts();
        double total = RunningHistogram.sum(hist);
        double cut = (100.0 - percentile) / 200.0;
        int left = firstBinReaching(hist, cut * total);
        int right = firstBinReaching(hist, (1.0 - cut) * total);
        double width = ((double) max - min) / hist.length;
        float low = (float) Math.max(min, min + left * width);
        float high = (float) Math.min(max, min + (right + 1) * width);
        return new float[] {low, high};
    }

    private static int firstBinReaching(float[] hist, double mass) {
        double c = 0;
        for (int i = 0; i < hist.length; i++) {
            c += hist[i];
            if (c >= mass && c > 0) {
                return i;
            }
        }
        return hist.length - 1;
    }

    /** The configured percentile, e.g. 99.99. */
    public double percentile() {
        return percentile;
    }

    @Override
    public void reset() {
        histogram.clear();
    }

    @Override
    public void merge(Observer other) {
        histogram.merge(requireMergeable(other, PercentileObserver.class).histogram);
    }

    @Override
    public ObserverState state() {
        return histogram.state(stateBuilder());
    }

    @Override
    public void loadState(ObserverState state) {
        histogram.load(requirePerTensor(requireLoadable(state)), name());
    }

    @Override
    public boolean isCalibrated() {
        return !histogram.isEmpty();
    }

    @Override
    public float[] minVal() {
        if (!isCalibrated()) {
            throw notCalibrated();
        }
        return new float[] {histogram.min()};
    }

    @Override
    public float[] maxVal() {
        if (!isCalibrated()) {
            throw notCalibrated();
        }
        return new float[] {histogram.max()};
    }

    /**
     * Settings of a {@link PercentileObserver}; also its {@link ObserverFactory}.
     *
     * <pre>{@code
     * PercentileObserver.builder().percentile(99.99).bins(4096).build()
     * }</pre>
     */
    public static final class Builder extends UniformQuantizationObserverBase.Builder<Builder> {
        private double percentile = 99.99;
        private int bins = 2048;
        private int upsampleRate = 128;

        Builder() {
            super(QuantDType.QUINT8, QScheme.PER_TENSOR_AFFINE);
        }

        /** Percent of the values kept inside the range, in (0, 100] (default 99.99). */
        public Builder percentile(double percentile) {
            this.percentile = percentile;
            return this;
        }

        /** Number of histogram bins (default 2048). */
        public Builder bins(int bins) {
            this.bins = bins;
            return this;
        }

        /** Sub-bins per old bin when the range grows (default 128). */
        public Builder upsampleRate(int upsampleRate) {
            this.upsampleRate = upsampleRate;
            return this;
        }

        @Override
        protected String name() {
            return "PercentileObserver";
        }

        @Override
        protected boolean perChannel() {
            return false;
        }

        @Override
        protected void putOptions(Map<String, Object> m) {
            m.put("percentile", percentile);
            m.put("bins", bins);
            m.put("upsample_rate", upsampleRate);
        }

        @Override
        protected boolean applyOption(String key, Object value) {
            switch (key) {
                case "percentile":
                    percentile = OptionValues.doubleValue(value, key);
                    return true;
                case "bins":
                    bins = OptionValues.intValue(value, key);
                    return true;
                case "upsample_rate":
                    upsampleRate = OptionValues.intValue(value, key);
                    return true;
                default:
                    return super.applyOption(key, value);
            }
        }

        @Override
        public PercentileObserver build() {
            return new PercentileObserver(this);
        }
    }
}
