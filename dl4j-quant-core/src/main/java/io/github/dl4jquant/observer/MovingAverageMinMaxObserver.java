package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Per-tensor exponential moving average of batch min/max: PyTorch's {@code MovingAverageMinMaxObserver}. The first
 * batch sets the range; each later batch moves it by {@code min += c * (batchMin - min)} (float32, as PyTorch).
 * {@code builder().build()} equals PyTorch's default (averaging_constant 0.01, quint8, per_tensor_affine).
 *
 * <pre>{@code
 * Observer obs = MovingAverageMinMaxObserver.builder().averagingConstant(0.01).build();
 * batches.forEach(obs::observe);
 * QParams q = obs.calculateQParams();
 * }</pre>
 *
 * <p>{@code isDynamic(true)} is only allowed with {@code averagingConstant(1)} (as in PyTorch). NaN or infinite values
 * raise {@link IllegalArgumentException}. Merging two moving averages (which PyTorch cannot do) averages their ranges
 * weighted by the number of batches each observed: an approximation, since an exponential average depends on the
 * order of the batches.
 */
public final class MovingAverageMinMaxObserver extends UniformQuantizationObserverBase {
    private final float averagingConstant;
    private float minVal = Float.POSITIVE_INFINITY;
    private float maxVal = Float.NEGATIVE_INFINITY;
    private long batches;

    private MovingAverageMinMaxObserver(Builder b) {
        super(b);
        if (!(b.averagingConstant > 0 && b.averagingConstant <= 1)) {
            throw new IllegalArgumentException(name() + ": averagingConstant must be in (0, 1]; got "
                    + b.averagingConstant);
        }
        if (isDynamic() && b.averagingConstant != 1) {
            throw new IllegalArgumentException(name() + " doesn't support dynamic quantization for averaging "
                    + "constant of " + b.averagingConstant + " (PyTorch's rule): use averagingConstant(1)");
        }
        this.averagingConstant = (float) b.averagingConstant;
    }

    /** A builder with PyTorch's defaults. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void observe(INDArray x) {
        float[] v = ObservedValues.floats(x, name());
        ObservedValues.Range r = ObservedValues.range(v, 0, v.length, 1, false, name());
        if (batches++ == 0) {
            minVal = r.min();
            maxVal = r.max();
        } else {
            minVal = minVal + averagingConstant * (r.min() - minVal);
            maxVal = maxVal + averagingConstant * (r.max() - maxVal);
        }
    }

    @Override
    public QParams calculateQParams() {
        if (!isCalibrated()) {
            throw notCalibrated();
        }
        return calculateQParams(new float[] {minVal}, new float[] {maxVal}, -1);
    }

    @Override
    public void reset() {
        minVal = Float.POSITIVE_INFINITY;
        maxVal = Float.NEGATIVE_INFINITY;
        batches = 0;
    }

    @Override
    public void merge(Observer other) {
        MovingAverageMinMaxObserver o = requireMergeable(other, MovingAverageMinMaxObserver.class);
        if (o.batches == 0) {
            return;
        }
        double w = (double) o.batches / (batches + o.batches);
        minVal = batches == 0 ? o.minVal : (float) (minVal + w * (o.minVal - minVal));
        maxVal = batches == 0 ? o.maxVal : (float) (maxVal + w * (o.maxVal - maxVal));
        batches += o.batches;
    }

    @Override
    public ObserverState state() {
        ObserverState.Builder s = stateBuilder().batches(batches);
        return isCalibrated() ? s.minVal(new float[] {minVal}).maxVal(new float[] {maxVal}).build() : s.build();
    }

    @Override
    public void loadState(ObserverState state) {
        requirePerTensor(requireLoadable(state));
        if (state.hasStatistics() != (state.batches() > 0)) {
            throw new IllegalArgumentException(name() + ": a state with statistics needs batches > 0 and one "
                    + "without needs 0; got batches=" + state.batches() + " with " + state.minVal().length
                    + " min_val(s)");
        }
        minVal = state.hasStatistics() ? state.minVal()[0] : Float.POSITIVE_INFINITY;
        maxVal = state.hasStatistics() ? state.maxVal()[0] : Float.NEGATIVE_INFINITY;
        batches = state.batches();
    }

    @Override
    public boolean isCalibrated() {
        return batches > 0;
    }

    @Override
    public float[] minVal() {
        return new float[] {minVal};
    }

    @Override
    public float[] maxVal() {
        return new float[] {maxVal};
    }

    /**
     * Settings of a {@link MovingAverageMinMaxObserver}; also its {@link ObserverFactory}.
     *
     * <pre>{@code
     * MovingAverageMinMaxObserver.builder().averagingConstant(0.1).build()
     * }</pre>
     */
    public static final class Builder extends UniformQuantizationObserverBase.Builder<Builder> {
        private double averagingConstant = 0.01;

        Builder() {
            super(QuantDType.QUINT8, QScheme.PER_TENSOR_AFFINE);
        }

        /** Weight of each new batch, in (0, 1] (default 0.01). */
        public Builder averagingConstant(double averagingConstant) {
            this.averagingConstant = averagingConstant;
            return this;
        }

        @Override
        protected String name() {
            return "MovingAverageMinMaxObserver";
        }

        @Override
        protected boolean perChannel() {
            return false;
        }

        @Override
        protected void putOptions(Map<String, Object> m) {
            m.put("averaging_constant", averagingConstant);
        }

        @Override
        protected boolean applyOption(String key, Object value) {
            if (key.equals("averaging_constant")) {
                averagingConstant = OptionValues.doubleValue(value, key);
                return true;
            }
            return super.applyOption(key, value);
        }

        @Override
        public MovingAverageMinMaxObserver build() {
            return new MovingAverageMinMaxObserver(this);
        }
    }
}
