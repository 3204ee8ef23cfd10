package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Returns the same qparams whatever it observes: PyTorch's {@code FixedQParamsObserver}, used for ops with a known
 * output range (sigmoid: scale 1/256, zero point 0; tanh: 2/256, 128 on quint8).
 *
 * <pre>{@code
 * Observer sigmoid = FixedQParamsObserver.builder(1.0f / 256, 0).build();   // quint8 [0, 255]
 * sigmoid.calculateQParams().scale();   // 0.00390625
 * }</pre>
 *
 * <p>It is always calibrated; {@link #minVal()}/{@link #maxVal()} give the float range the parameters represent.
 */
public final class FixedQParamsObserver implements Observer {
    private final float scale;
    private final int zeroPoint;
    private final QuantDType dtype;
    private final QScheme qscheme;
    private final int quantMin;
    private final int quantMax;

    private FixedQParamsObserver(Builder b) {
        if (b.dtype == null || !b.dtype.isQuantized()) {
            throw new IllegalArgumentException("FixedQParamsObserver: dtype must be a quantized dtype; got " + b.dtype);
        }
        if (b.qscheme == null || b.qscheme.isPerChannel()) {
            throw new IllegalArgumentException("FixedQParamsObserver: qscheme must be per tensor; got " + b.qscheme);
        }
        if (b.quantMin >= b.quantMax || b.quantMin < b.dtype.quantMin() || b.quantMax > b.dtype.quantMax()) {
            throw new IllegalArgumentException("FixedQParamsObserver: range [" + b.quantMin + ", " + b.quantMax
                    + "] must be non-empty and within " + b.dtype.torchName() + " [" + b.dtype.quantMin() + ", "
                    + b.dtype.quantMax() + "]");
        }
        if (!(b.scale > 0f) || Float.isInfinite(b.scale)) {
            throw new IllegalArgumentException("FixedQParamsObserver: scale must be finite and > 0; got " + b.scale);
        }
        if (b.zeroPoint < b.quantMin || b.zeroPoint > b.quantMax) {
            throw new IllegalArgumentException("FixedQParamsObserver: zeroPoint " + b.zeroPoint + " is outside ["
                    + b.quantMin + ", " + b.quantMax + "]");
        }
        this.scale = b.scale;
        this.zeroPoint = b.zeroPoint;
        this.dtype = b.dtype;
        this.qscheme = b.qscheme;
        this.quantMin = b.quantMin;
        this.quantMax = b.quantMax;
    }

    /** A builder for the given fixed parameters (quint8, per_tensor_affine, [0, 255] by default, as PyTorch). */
    public static Builder builder(float scale, int zeroPoint) {
        return new Builder(scale, zeroPoint);
    }

    static Builder fromMap(Map<String, ?> m) {
        if (!m.containsKey("scale") || !m.containsKey("zero_point")) {
            throw new IllegalArgumentException("FixedQParamsObserver needs 'scale' and 'zero_point'; got " + m);
        }
        Builder b = builder(OptionValues.floatValue(m.get("scale"), "scale"),
                OptionValues.intValue(m.get("zero_point"), "zero_point"));
        for (Map.Entry<String, ?> e : m.entrySet()) {
            Object v = e.getValue();
            switch (e.getKey()) {
                case "name":
                case "scale":
                case "zero_point":
                    break;
                case "dtype":
                    b.dtype = OptionValues.dtype(v);
                    break;
                case "qscheme":
                    b.qscheme = OptionValues.qscheme(v);
                    break;
                case "quant_min":
                    b.quantMin = OptionValues.intValue(v, e.getKey());
                    break;
                case "quant_max":
                    b.quantMax = OptionValues.intValue(v, e.getKey());
                    break;
                default:
                    throw new IllegalArgumentException("FixedQParamsObserver: unknown option '" + e.getKey()
                            + "'; accepted: " + b.toMap().keySet());
            }
        }
        return b;
    }

    /** The fixed scale. */
    public float scale() {
        return scale;
    }

    /** The fixed zero point. */
    public int zeroPoint() {
        return zeroPoint;
    }

    /** Does nothing: the parameters are fixed. */
    @Override
    public void observe(INDArray x) {
    }

    @Override
    public QParams calculateQParams() {
        return QParams.perTensor(scale, zeroPoint, dtype, quantMin, quantMax, qscheme);
    }

    @Override
    public void reset() {
    }

    @Override
    public void merge(Observer other) {
        if (!(other instanceof FixedQParamsObserver) || !factory().equals(other.factory())) {
            throw new IllegalArgumentException("FixedQParamsObserver: cannot merge " + this + " with " + other);
        }
    }

    /** Settings only: there are no statistics to carry. */
    @Override
    public ObserverState state() {
        return ObserverState.builder(factory().toMap()).build();
    }

    @Override
    public void loadState(ObserverState state) {
        if (state == null || !factory().toMap().equals(state.settings()) || state.hasStatistics()) {
            throw new IllegalArgumentException("FixedQParamsObserver: can only load a state of the same settings and no "
                    + "statistics; this is " + this + ", the state " + state);
        }
    }

    @Override
    public boolean isCalibrated() {
        return true;
    }

    @Override
    public float[] minVal() {
        return new float[] {(quantMin - zeroPoint) * scale};
    }

    @Override
    public float[] maxVal() {
        return new float[] {(quantMax - zeroPoint) * scale};
    }

    @Override
    public QuantDType dtype() {
        return dtype;
    }

    @Override
    public QScheme qscheme() {
        return qscheme;
    }

    @Override
    public int quantMin() {
        return quantMin;
    }

    @Override
    public int quantMax() {
        return quantMax;
    }

    /** Not used by fixed parameters; PyTorch's default eps for uniformity. */
    @Override
    public float eps() {
        return UniformQuantizationObserverBase.DEFAULT_EPS;
    }

    @Override
    public boolean isDynamic() {
        return false;
    }

    @Override
    public Builder factory() {
        return builder(scale, zeroPoint).dtype(dtype).qscheme(qscheme).quantMin(quantMin).quantMax(quantMax);
    }

    @Override
    public String toString() {
        return "FixedQParamsObserver" + factory().toMap();
    }

    /**
     * Settings of a {@link FixedQParamsObserver}; also its {@link ObserverFactory}.
     *
     * <pre>{@code
     * FixedQParamsObserver.builder(2f / 256, 128).build()   // tanh on quint8
     * }</pre>
     */
    public static final class Builder implements ObserverFactory {
        private final float scale;
        private final int zeroPoint;
        private QuantDType dtype = QuantDType.QUINT8;
        private QScheme qscheme = QScheme.PER_TENSOR_AFFINE;
        private int quantMin = 0;
        private int quantMax = 255;

        private Builder(float scale, int zeroPoint) {
            this.scale = scale;
            this.zeroPoint = zeroPoint;
        }

        public Builder dtype(QuantDType dtype) {
            this.dtype = dtype;
            return this;
        }

        public Builder qscheme(QScheme qscheme) {
            this.qscheme = qscheme;
            return this;
        }

        public Builder quantMin(int quantMin) {
            this.quantMin = quantMin;
            return this;
        }

        public Builder quantMax(int quantMax) {
            this.quantMax = quantMax;
            return this;
        }

        public FixedQParamsObserver build() {
            return new FixedQParamsObserver(this);
        }

        @Override
        public FixedQParamsObserver create() {
            return build();
        }

        @Override
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", "FixedQParamsObserver");
            m.put("scale", (double) scale);
            m.put("zero_point", zeroPoint);
            m.put("dtype", dtype == null ? null : dtype.torchName());
            m.put("qscheme", qscheme == null ? null : qscheme.torchName());
            m.put("quant_min", quantMin);
            m.put("quant_max", quantMax);
            return m;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Builder && toMap().equals(((Builder) o).toMap());
        }

        @Override
        public int hashCode() {
            return Objects.hash(toMap());
        }

        @Override
        public String toString() {
            return "FixedQParamsObserver.with_args" + toMap();
        }
    }
}
