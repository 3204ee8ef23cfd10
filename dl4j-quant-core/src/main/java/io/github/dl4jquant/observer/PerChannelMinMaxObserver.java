package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Running min/max per slice along {@code chAxis}: PyTorch's {@code PerChannelMinMaxObserver}. {@code
 * builder().build()} equals PyTorch's default (ch_axis 0, quint8, per_channel_affine).
 *
 * <pre>{@code
 * // DL4J DenseLayer W is [nIn, nOut]: one scale per output unit is axis 1 (PyTorch's Linear weight [out, in]: axis 0)
 * Observer w = PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8)
 *         .qscheme(QScheme.PER_CHANNEL_SYMMETRIC).build();
 * w.observe(denseLayer.getParam("W"));
 * QParams q = w.calculateQParams();   // q.axis() == 1, q.numChannels() == nOut
 * }</pre>
 *
 * <p>A negative {@code chAxis} counts from the last dimension. Every observed array must have the same number of
 * channels; NaN or infinite values raise {@link IllegalArgumentException}. Dynamic quantization is not supported
 * (as in PyTorch). Merging takes the elementwise min and max.
 */
public final class PerChannelMinMaxObserver extends UniformQuantizationObserverBase {
    private final int chAxis;
    private int axis = -1;
    private float[] minVal;
    private float[] maxVal;

    private PerChannelMinMaxObserver(Builder b) {
        super(b);
        if (isDynamic()) {
            throw new IllegalArgumentException(name() + " doesn't support dynamic quantization (PyTorch's rule)");
        }
        this.chAxis = b.chAxis;
    }

    /** A builder with PyTorch's defaults. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void observe(INDArray x) {
        ChannelRanges r = ChannelRanges.of(x, chAxis, minVal == null ? -1 : minVal.length, name());
        if (minVal == null) {
            minVal = r.min();
            maxVal = r.max();
            axis = r.axis();
            return;
        }
        for (int c = 0; c < minVal.length; c++) {
            minVal[c] = Math.min(minVal[c], r.min()[c]);
            maxVal[c] = Math.max(maxVal[c], r.max()[c]);
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
    }

    @Override
    public void merge(Observer other) {
        PerChannelMinMaxObserver o = requireMergeable(other, PerChannelMinMaxObserver.class);
        if (o.minVal == null) {
            return;
        }
        if (minVal == null) {
            minVal = o.minVal.clone();
            maxVal = o.maxVal.clone();
            axis = o.axis;
            return;
        }
        if (minVal.length != o.minVal.length || axis != o.axis) {
            throw new IllegalArgumentException(name() + ": cannot merge " + minVal.length + " channels on axis " + axis
                    + " with " + o.minVal.length + " channels on axis " + o.axis);
        }
        for (int c = 0; c < minVal.length; c++) {
            minVal[c] = Math.min(minVal[c], o.minVal[c]);
            maxVal[c] = Math.max(maxVal[c], o.maxVal[c]);
        }
    }

    @Override
    public ObserverState state() {
        ObserverState.Builder s = stateBuilder();
        return isCalibrated() ? s.minVal(minVal).maxVal(maxVal).axis(axis).build() : s.build();
    }

    @Override
    public void loadState(ObserverState state) {
        requireLoadable(state);
        if (state.hasStatistics() && state.axis() < 0) {
            throw new IllegalArgumentException(name() + ": a per-channel state needs its channel axis; got "
                    + state.axis());
        }
        minVal = state.hasStatistics() ? state.minVal() : null;
        maxVal = state.hasStatistics() ? state.maxVal() : null;
        axis = state.hasStatistics() ? state.axis() : -1;
    }

    @Override
    public boolean isCalibrated() {
        return minVal != null;
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

    /** The configured channel axis (negative: counted from the end). */
    public int chAxis() {
        return chAxis;
    }

    /**
     * Settings of a {@link PerChannelMinMaxObserver}; also its {@link ObserverFactory}.
     *
     * <pre>{@code
     * PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8).build()
     * }</pre>
     */
    public static final class Builder extends UniformQuantizationObserverBase.Builder<Builder> {
        private int chAxis;

        Builder() {
            super(QuantDType.QUINT8, QScheme.PER_CHANNEL_AFFINE);
        }

        /** The channel axis (default 0 as in PyTorch; a DL4J DenseLayer W [nIn, nOut] needs 1). */
        public Builder chAxis(int chAxis) {
            this.chAxis = chAxis;
            return this;
        }

        @Override
        protected String name() {
            return "PerChannelMinMaxObserver";
        }

        @Override
        protected boolean perChannel() {
            return true;
        }

        @Override
        protected void putOptions(Map<String, Object> m) {
            m.put("ch_axis", chAxis);
        }

        @Override
        protected boolean applyOption(String key, Object value) {
            if (key.equals("ch_axis")) {
                chAxis = OptionValues.intValue(value, key);
                return true;
            }
            return super.applyOption(key, value);
        }

        @Override
        public PerChannelMinMaxObserver build() {
            return new PerChannelMinMaxObserver(this);
        }
    }
}
