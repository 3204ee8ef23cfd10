package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Per-channel exponential moving average of batch min/max: PyTorch's {@code MovingAveragePerChannelMinMaxObserver}
 * ({@code min += c * (batchMin - min)} per channel, float32). {@code builder().build()} equals PyTorch's default
 * (averaging_constant 0.01, ch_axis 0, quint8, per_channel_affine).
 *
 * <pre>{@code
 * Observer obs = MovingAveragePerChannelMinMaxObserver.builder().averagingConstant(0.1).chAxis(1)
 *         .dtype(QuantDType.QINT8).qscheme(QScheme.PER_CHANNEL_SYMMETRIC).build();
 * }</pre>
 *
 * <p>As for {@link MovingAverageMinMaxObserver}, a merge averages the two ranges weighted by batch counts. DL4J's
 * DenseLayer W is [nIn, nOut]: per output channel is {@code chAxis(1)}.
 */
public final class MovingAveragePerChannelMinMaxObserver extends UniformQuantizationObserverBase {
    private final float averagingConstant;
    private final int chAxis;
    private int axis = -1;
    private float[] minVal;
    private float[] maxVal;
    private long batches;

    private MovingAveragePerChannelMinMaxObserver(Builder b) {
        super(b);
        if (!(b.averagingConstant > 0 && b.averagingConstant <= 1)) {
            throw new IllegalArgumentException(name() + ": averagingConstant must be in (0, 1]; got "
                    + b.averagingConstant);
        }
        if (isDynamic()) {
            throw new IllegalArgumentException(name() + " doesn't support dynamic quantization (PyTorch's rule)");
        }
        this.averagingConstant = (float) b.averagingConstant;
        this.chAxis = b.chAxis;
    }

    /** A builder with PyTorch's defaults. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void observe(INDArray x) {
        ChannelRanges r = ChannelRanges.of(x, chAxis, minVal == null ? -1 : minVal.length, name());
        if (batches++ == 0) {
            minVal = r.min();
            maxVal = r.max();
            axis = r.axis();
            return;
        }
        for (int c = 0; c < minVal.length; c++) {
            minVal[c] = minVal[c] + averagingConstant * (r.min()[c] - minVal[c]);
            maxVal[c] = maxVal[c] + averagingConstant * (r.max()[c] - maxVal[c]);
        }
    }

    @Override
    public QParams calculateQParams() {
        if (!isCalibrated()) {
            throw notCalibrated();
        }
        return calculateQParams(minVal, maxVal, axis);
    }

    @Override
    public void reset() {
        minVal = null;
        maxVal = null;
        axis = -1;
        batches = 0;
    }

    @Override
    public void merge(Observer other) {
        MovingAveragePerChannelMinMaxObserver o = requireMergeable(other, MovingAveragePerChannelMinMaxObserver.class);
        if (o.batches == 0) {
            return;
        }
        if (batches == 0) {
            minVal = o.minVal.clone();
            maxVal = o.maxVal.clone();
            axis = o.axis;
            batches = o.batches;
            return;
        }
        if (minVal.length != o.minVal.length || axis != o.axis) {
            throw new IllegalArgumentException(name() + ": cannot merge " + minVal.length + " channels on axis " + axis
                    + " with " + o.minVal.length + " channels on axis " + o.axis);
        }
        double w = (double) o.batches / (batches + o.batches);
        for (int c = 0; c < minVal.length; c++) {
            minVal[c] = (float) (minVal[c] + w * (o.minVal[c] - minVal[c]));
            maxVal[c] = (float) (maxVal[c] + w * (o.maxVal[c] - maxVal[c]));
        }
        batches += o.batches;
    }

    @Override
    public ObserverState state() {
        ObserverState.Builder s = stateBuilder().batches(batches);
        return isCalibrated() ? s.minVal(minVal).maxVal(maxVal).axis(axis).build() : s.build();
    }

    @Override
    public void loadState(ObserverState state) {
        requireLoadable(state);
        if (state.hasStatistics() != (state.batches() > 0) || (state.hasStatistics() && state.axis() < 0)) {
            throw new IllegalArgumentException(name() + ": a state with statistics needs batches > 0 and its "
                    + "channel axis, one without needs batches 0; got batches=" + state.batches() + ", axis="
                    + state.axis() + " with " + state.minVal().length + " channel(s)");
        }
        minVal = state.hasStatistics() ? state.minVal() : null;
        maxVal = state.hasStatistics() ? state.maxVal() : null;
        axis = state.hasStatistics() ? state.axis() : -1;
        batches = state.batches();
    }

    @Override
    public boolean isCalibrated() {
        return batches > 0;
    }

    @Override
    public float[] minVal() {
        if (minVal == null) {
            throw notCalibrated();
        }
        return minVal.clone();
    }

    @Override
    public float[] maxVal() {
        if (maxVal == null) {
            throw notCalibrated();
        }
        return maxVal.clone();
    }

    /**
     * Settings of a {@link MovingAveragePerChannelMinMaxObserver}; also its {@link ObserverFactory}.
     *
     * <pre>{@code
     * MovingAveragePerChannelMinMaxObserver.builder().chAxis(1).build()
     * }</pre>
     */
    public static final class Builder extends UniformQuantizationObserverBase.Builder<Builder> {
        private double averagingConstant = 0.01;
        private int chAxis;

        Builder() {
            super(QuantDType.QUINT8, QScheme.PER_CHANNEL_AFFINE);
        }

        /** Weight of each new batch, in (0, 1] (default 0.01). */
        public Builder averagingConstant(double averagingConstant) {
            this.averagingConstant = averagingConstant;
            return this;
        }

        /** The channel axis (default 0 as in PyTorch; a DL4J DenseLayer W [nIn, nOut] needs 1). */
        public Builder chAxis(int chAxis) {
            this.chAxis = chAxis;
            return this;
        }

        @Override
        protected String name() {
            return "MovingAveragePerChannelMinMaxObserver";
        }

        @Override
        protected boolean perChannel() {
            return true;
        }

        @Override
        protected void putOptions(Map<String, Object> m) {
            m.put("averaging_constant", averagingConstant);
            m.put("ch_axis", chAxis);
        }

        @Override
        protected boolean applyOption(String key, Object value) {
            switch (key) {
                case "averaging_constant":
                    averagingConstant = OptionValues.doubleValue(value, key);
                    return true;
                case "ch_axis":
                    chAxis = OptionValues.intValue(value, key);
                    return true;
                default:
                    return super.applyOption(key, value);
            }
        }

        @Override
        public MovingAveragePerChannelMinMaxObserver build() {
            return new MovingAveragePerChannelMinMaxObserver(this);
        }
    }
}
