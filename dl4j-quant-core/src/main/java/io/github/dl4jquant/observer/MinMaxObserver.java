package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Per-tensor running min/max: PyTorch's {@code MinMaxObserver}. {@code builder().build()} equals PyTorch's
 * {@code MinMaxObserver()} (quint8, per_tensor_affine, no reduce_range, eps 2^-23).
 *
 * <pre>{@code
 * MinMaxObserver obs = MinMaxObserver.builder().dtype(QuantDType.QUINT8)
 *         .qscheme(QScheme.PER_TENSOR_AFFINE).reduceRange(false).build();
 * obs.observe(batch);
 * QParams q = obs.calculateQParams();
 * }</pre>
 *
 * <p>NaN or infinite observed values raise {@link IllegalArgumentException} (PyTorch would return a NaN or infinite
 * scale). Merging takes the elementwise min and max, which is exactly what one observer seeing both inputs computes.
 */
public final class MinMaxObserver extends UniformQuantizationObserverBase {
    private float minVal = Float.POSITIVE_INFINITY;
    private float maxVal = Float.NEGATIVE_INFINITY;

    private MinMaxObserver(Builder b) {
        super(b);
    }

    /** A builder with PyTorch's defaults. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void observe(INDArray x) {
        float[] v = ObservedValues.floats(x, name());
        ObservedValues.Range r = ObservedValues.range(v, 0, v.length, 1, false, name());
        minVal = Math.min(minVal, r.min());
        maxVal = Math.max(maxVal, r.max());
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
    }

    @Override
    public void merge(Observer other) {
        MinMaxObserver o = requireMergeable(other, MinMaxObserver.class);
        minVal = Math.min(minVal, o.minVal);
        maxVal = Math.max(maxVal, o.maxVal);
    }

    @Override
    public ObserverState state() {
        ObserverState.Builder s = stateBuilder();
        return isCalibrated() ? s.minVal(new float[] {minVal}).maxVal(new float[] {maxVal}).build() : s.build();
    }

    @Override
    public void loadState(ObserverState state) {
        requirePerTensor(requireLoadable(state));
        minVal = state.hasStatistics() ? state.minVal()[0] : Float.POSITIVE_INFINITY;
        maxVal = state.hasStatistics() ? state.maxVal()[0] : Float.NEGATIVE_INFINITY;
    }

    @Override
    public boolean isCalibrated() {
        return minVal <= maxVal;
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
     * Settings of a {@link MinMaxObserver}; also its {@link ObserverFactory}.
     *
     * <pre>{@code
     * MinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_TENSOR_SYMMETRIC).build()
     * }</pre>
     */
    public static final class Builder extends UniformQuantizationObserverBase.Builder<Builder> {
        Builder() {
            super(QuantDType.QUINT8, QScheme.PER_TENSOR_AFFINE);
        }

        @Override
        protected boolean perChannel() {
            return false;
        }

        @Override
        protected String name() {
            return "MinMaxObserver";
        }

        @Override
        public MinMaxObserver build() {
            return new MinMaxObserver(this);
        }
    }
}
