package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Histogram of the observed values and an L2-error search for the best clipping range: PyTorch's {@code
 * HistogramObserver} (the 1.13/2.0 algorithm with {@code upsample_rate}), the default activation observer of the x86,
 * fbgemm, onednn and qnnpack qconfigs. {@code builder().build()} equals PyTorch 1.13's {@code HistogramObserver()}
 * (2048 bins, upsample rate 128, quint8, per_tensor_affine).
 *
 * <pre>{@code
 * HistogramObserver obs = HistogramObserver.builder().reduceRange(true).build();   // x86 default: quint8 [0, 127]
 * batches.forEach(obs::observe);
 * QParams q = obs.calculateQParams();   // range chosen by _non_linear_param_search
 * }</pre>
 *
 * <p>Each batch is binned with float32 {@code histc} over the running range; when the range grows the old histogram
 * is re-binned by upsampling (see {@code _combine_histograms}); {@code calculateQParams} runs PyTorch's
 * {@code _non_linear_param_search} (a port of caffe2's {@code NonlinearQuantizationParamsSearch}): it narrows
 * [start, end] bin by bin from the side with less mass while the approximate L2 quantization error decreases, then
 * computes qparams from that range as {@link MinMaxObserver} does. {@link #minVal()}/{@link #maxVal()} report the
 * histogram range (the running min and the grown max), as PyTorch's buffers do.
 *
 * <p>PyTorch 1.13 (and earlier) called {@code histc(x, min=int(min_val), max=int(max_val))}: the bins were filled over
 * the range truncated to integers but read as if they spanned [min_val, max_val], a bug later fixed. By default this
 * observer bins over the true range (the fixed behaviour); {@code truncateHistcRange(true)} reproduces 1.13 bit for
 * bit, e.g. to compare with models calibrated by PyTorch 1.13 (the golden vectors in this project were made so).
 *
 * <p>Infinite values are ignored with a warning (as PyTorch 2.x); NaN raises {@link IllegalArgumentException}.
 * Merging (which PyTorch lacks) re-bins both histograms into the union of their ranges by overlap; histograms over
 * the same range add exactly, which {@link ObserverState#withEmptyHistogramOverObservedRange()} uses for an exact
 * two-pass calibration of shards. When every value seen so far is equal, the next batch keeps those counts (PyTorch
 * restarts the histogram from that batch).
 */
public class HistogramObserver extends UniformQuantizationObserverBase {
    private static final Logger LOG = LoggerFactory.getLogger(HistogramObserver.class);
    private static final double STEP_SIZE = 1e-5;

    private final RunningHistogram histogram;
    private final double dstNbins;

    protected HistogramObserver(Builder b) {
        super(b);
        if (b.bins < 1) {
            throw new IllegalArgumentException(name() + ": bins must be >= 1; got " + b.bins);
        }
        if (b.upsampleRate < 1) {
            throw new IllegalArgumentException(name() + ": upsampleRate must be >= 1; got " + b.upsampleRate);
        }
        if (isDynamic()) {
            throw new IllegalArgumentException(name() + " doesn't support dynamic quantization (PyTorch's rule)");
        }
        this.histogram = new RunningHistogram(b.bins, b.upsampleRate, b.truncateHistcRange);
        // 2 ** torch.iinfo(dtype).bits: 256 for 8-bit dtypes even with reduce_range
        this.dstNbins = dtype() == QuantDType.QINT32 ? 4294967296.0 : 256.0;
    }

    /** A builder with PyTorch 1.13's defaults. */
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
        float[] range = nonLinearParamSearch();
        return calculateQParams(new float[] {range[0]}, new float[] {range[1]}, -1);
    }

    /** PyTorch's {@code _non_linear_param_search}: the [min, max] that approximately minimises the L2 error. */
    float[] nonLinearParamSearch() {
        float min = histogram.min();
        float max = histogram.max();
        if (min == max) {
            return new float[] {min, max};
        }
        float[] hist = histogram.counts();
        int bins = hist.length;
        float binWidth = (max - min) / (float) bins;
        float total = RunningHistogram.sum(hist);
        float[] cSum = new float[bins];
        double running = 0;
        for (int i = 0; i < bins; i++) {
            running += hist[i];
            cSum[i] = (float) running;
        }
        double alpha = 0.0;
        double beta = 1.0;
        int startBin = 0;
        int endBin = bins - 1;
        double normMin = Double.POSITIVE_INFINITY;
        while (alpha < beta) {
            double nextAlpha = alpha + STEP_SIZE;
            double nextBeta = beta - STEP_SIZE;
            // PyTorch compares float32 tensors with Python floats: the bound is rounded to float32
            float lowBound = (float) (nextAlpha * total);
            float highBound = (float) (nextBeta * total);
            int l = startBin;
            int r = endBin;
            while (l < endBin && cSum[l] < lowBound) {
                l++;
            }
            while (r > startBin && cSum[r] > highBound) {
                r--;
            }
            int nextStart = startBin;
            int nextEnd = endBin;
            if ((l - startBin) > (endBin - r)) {
                nextStart = l;
                alpha = nextAlpha;
            } else {
                nextEnd = r;
                beta = nextBeta;
            }
            if (nextStart == startBin && nextEnd == endBin) {
                continue;
            }
            double norm = quantizationError(hist, min, max, nextStart, nextEnd);
            if (norm > normMin) {
                break;
            }
            normMin = norm;
            startBin = nextStart;
            endBin = nextEnd;
        }
        return new float[] {min + binWidth * (float) startBin, min + binWidth * (float) (endBin + 1)};
    }

    /** PyTorch's {@code _compute_quantization_error}, element for element in float32. */
    private double quantizationError(float[] hist, float min, float max, int start, int end) {
        int bins = hist.length;
        double binWidth = ((double) max - (double) min) / bins;
        double dstBinWidth = binWidth * (end - start + 1) / dstNbins;
        if (dstBinWidth == 0.0) {
            return 0.0;
        }
        float bw = (float) binWidth;
        float dbw = (float) dstBinWidth;
        float half = (float) (dstBinWidth / 2);
        float negHalf = (float) (-dstBinWidth / 2);
        float lastDst = (float) (dstNbins - 1);
        float halfCube = half * half * half;
        float negHalfCube = negHalf * negHalf * negHalf;
        float middle = (halfCube - negHalfCube) / 3f;
        double sum = 0;
        for (int i = 0; i < bins; i++) {
            float density = hist[i] / bw;
            if (density == 0f) {
                continue;
            }
            float begin = (float) (i - start) * bw;
            float endPos = begin + bw;
            float dstBegin = clamp(divFloor(begin, dbw), lastDst);
            float dstBeginCenter = (dstBegin + 0.5f) * dbw;
            float dstEnd = clamp(divFloor(endPos, dbw), lastDst);
            float deltaBegin = begin - dstBeginCenter;
            float norm = density * ((halfCube - deltaBegin * deltaBegin * deltaBegin) / 3f);
            norm += (dstEnd - dstBegin - 1f) * (density * middle);
            float dstEndCenter = dstEnd * dbw + half;
            float deltaEnd = endPos - dstEndCenter;
            norm += density * ((deltaEnd * deltaEnd * deltaEnd - negHalfCube) / 3f);
            sum += norm;
        }
        return (float) sum;
    }

    private static float clamp(float v, float hi) {
        return v < 0f ? 0f : (v > hi ? hi : v);
    }

    /** ATen's floating {@code div(a, b, rounding_mode='floor')}. */
    private static float divFloor(float a, float b) {
        float mod = a % b;
        float div = (a - mod) / b;
        if (mod != 0f && (b < 0f) != (mod < 0f)) {
            div -= 1f;
        }
        if (div == 0f) {
            return Math.copySign(0f, a / b);
        }
        float floor = (float) Math.floor(div);
        if (div - floor > 0.5f) {
            floor += 1f;
        }
        return floor;
    }

    @Override
    public void reset() {
        histogram.clear();
    }

    @Override
    public void merge(Observer other) {
        histogram.merge(requireMergeable(other, HistogramObserver.class).histogram);
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

    /** A copy of the current bin counts over [{@link #minVal()}, {@link #maxVal()}]. */
    public float[] histogram() {
        return histogram.counts().clone();
    }

    /**
     * Settings of a {@link HistogramObserver}; also its {@link ObserverFactory}.
     *
     * <pre>{@code
     * HistogramObserver.builder().bins(2048).upsampleRate(128).reduceRange(true).build()
     * }</pre>
     */
    public static final class Builder extends UniformQuantizationObserverBase.Builder<Builder> {
        private int bins = 2048;
        private int upsampleRate = 128;
        private boolean truncateHistcRange;

        Builder() {
            super(QuantDType.QUINT8, QScheme.PER_TENSOR_AFFINE);
        }

        /** Number of histogram bins (default 2048). */
        public Builder bins(int bins) {
            this.bins = bins;
            return this;
        }

        /** Sub-bins per old bin when the range grows (default 128, PyTorch 1.13's default). */
        public Builder upsampleRate(int upsampleRate) {
            this.upsampleRate = upsampleRate;
            return this;
        }

        /**
         * Reproduce PyTorch 1.13's integer-truncated {@code histc} range (default false: the fixed behaviour of later
         * PyTorch versions).
         */
        public Builder truncateHistcRange(boolean truncateHistcRange) {
            this.truncateHistcRange = truncateHistcRange;
            return this;
        }

        @Override
        protected String name() {
            return "HistogramObserver";
        }

        @Override
        protected boolean perChannel() {
            return false;
        }

        @Override
        protected void putOptions(Map<String, Object> m) {
            m.put("bins", bins);
            m.put("upsample_rate", upsampleRate);
            m.put("truncate_histc_range", truncateHistcRange);
        }

        @Override
        protected boolean applyOption(String key, Object value) {
            switch (key) {
                case "bins":
                    bins = OptionValues.intValue(value, key);
                    return true;
                case "upsample_rate":
                    upsampleRate = OptionValues.intValue(value, key);
                    return true;
                case "truncate_histc_range":
                    truncateHistcRange = OptionValues.bool(value, key);
                    return true;
                default:
                    return super.applyOption(key, value);
            }
        }

        @Override
        public HistogramObserver build() {
            return new HistogramObserver(this);
        }
    }
}
