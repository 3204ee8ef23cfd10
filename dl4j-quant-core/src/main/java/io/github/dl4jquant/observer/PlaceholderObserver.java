package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An observer that records nothing and only carries its settings: PyTorch's {@code PlaceholderObserver}. Used for
 * dynamic quantization (the activation's qparams come from each batch at run time), for float16, and as the "stay
 * float32" marker. {@code builder().build()} equals PyTorch's default (dtype torch.float32, not dynamic).
 *
 * <pre>{@code
 * // PyTorch's default_dynamic_quant_observer
 * ObserverFactory dyn = PlaceholderObserver.builder().dtype(QuantDType.QUINT8)
 *         .quantMin(0).quantMax(255).isDynamic(true);
 * dyn.create().isDynamic();   // true
 * }</pre>
 *
 * <p>{@link #calculateQParams()}, {@link #minVal()} and {@link #maxVal()} throw {@link IllegalStateException}: there are
 * no statistics. Merging two placeholders with equal settings does nothing.
 */
public final class PlaceholderObserver implements Observer {
    private final QuantDType dtype;
    private final QScheme qscheme;
    private final Integer quantMin;
    private final Integer quantMax;
    private final float eps;
    private final boolean isDynamic;

    private PlaceholderObserver(Builder b) {
        if (b.dtype == null) {
            throw new IllegalArgumentException("PlaceholderObserver: dtype must not be null");
        }
        if ((b.quantMin == null) != (b.quantMax == null)
                || (b.quantMin != null && b.quantMin >= b.quantMax)) {
            throw new IllegalArgumentException("PlaceholderObserver: give both quantMin < quantMax or neither; got "
                    + "quantMin=" + b.quantMin + ", quantMax=" + b.quantMax);
        }
        this.dtype = b.dtype;
        this.qscheme = b.qscheme;
        this.quantMin = b.quantMin;
        this.quantMax = b.quantMax;
        this.eps = b.eps;
        this.isDynamic = b.isDynamic;
    }

    /** A builder with PyTorch's defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** Does nothing: placeholders keep no statistics. */
    @Override
    public void observe(INDArray x) {
    }

    @Override
    public QParams calculateQParams() {
        throw new IllegalStateException("calculateQParams should not be called for " + this + ": a placeholder has "
                + "no statistics" + (isDynamic ? " (dynamic: qparams are computed from each batch at run time)" : ""));
    }

    @Override
    public void reset() {
    }

    @Override
    public void merge(Observer other) {
        if (!(other instanceof PlaceholderObserver) || !factory().equals(other.factory())) {
            throw new IllegalArgumentException("PlaceholderObserver: cannot merge " + this + " with " + other);
        }
    }

    /** Always false: a placeholder never has statistics. */
    /** Settings only: there are no statistics to carry. */
    @Override
    public ObserverState state() {
        return ObserverState.builder(factory().toMap()).build();
    }

    @Override
    public void loadState(ObserverState state) {
        if (state == null || !factory().toMap().equals(state.settings()) || state.hasStatistics()) {
            throw new IllegalArgumentException("PlaceholderObserver: can only load a state of the same settings and no "
                    + "statistics; this is " + this + ", the state " + state);
        }
    }

    @Override
    public boolean isCalibrated() {
        return false;
    }

    @Override
    public float[] minVal() {
        throw new IllegalStateException(this + " keeps no statistics");
    }

    @Override
    public float[] maxVal() {
        throw new IllegalStateException(this + " keeps no statistics");
    }

    @Override
    public QuantDType dtype() {
        return dtype;
    }

    @Override
    public QScheme qscheme() {
        return qscheme;
    }

    /** The configured lower bound, else the dtype's (0 for float dtypes). */
    @Override
    public int quantMin() {
        return quantMin != null ? quantMin : dtype.quantMin();
    }

    /** The configured upper bound, else the dtype's (0 for float dtypes). */
    @Override
    public int quantMax() {
        return quantMax != null ? quantMax : dtype.quantMax();
    }

    @Override
    public float eps() {
        return eps;
    }

    @Override
    public boolean isDynamic() {
        return isDynamic;
    }

    @Override
    public Builder factory() {
        Builder b = new Builder().dtype(dtype).qscheme(qscheme).eps(eps).isDynamic(isDynamic);
        b.quantMin = quantMin;
        b.quantMax = quantMax;
        return b;
    }

    @Override
    public String toString() {
        return "PlaceholderObserver" + factory().toMap();
    }

    /**
     * Settings of a {@link PlaceholderObserver}; also its {@link ObserverFactory}.
     *
     * <pre>{@code
     * PlaceholderObserver.builder().dtype(QuantDType.FLOAT16).build()
     * }</pre>
     */
    public static final class Builder implements ObserverFactory {
        private QuantDType dtype = QuantDType.FLOAT32;
        private QScheme qscheme = QScheme.PER_TENSOR_AFFINE;
        private Integer quantMin;
        private Integer quantMax;
        private float eps = UniformQuantizationObserverBase.DEFAULT_EPS;
        private boolean isDynamic;

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

        public Builder eps(float eps) {
            this.eps = eps;
            return this;
        }

        /** True: the quantize step takes its qparams from each batch at run time. */
        public Builder isDynamic(boolean isDynamic) {
            this.isDynamic = isDynamic;
            return this;
        }

        public PlaceholderObserver build() {
            return new PlaceholderObserver(this);
        }

        @Override
        public PlaceholderObserver create() {
            return build();
        }

        @Override
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", "PlaceholderObserver");
            m.put("dtype", dtype == null ? null : dtype.torchName());
            m.put("qscheme", qscheme == null ? null : qscheme.torchName());
            m.put("quant_min", quantMin);
            m.put("quant_max", quantMax);
            m.put("eps", (double) eps);
            m.put("is_dynamic", isDynamic);
            return m;
        }

        Builder applyMap(Map<String, ?> m) {
            for (Map.Entry<String, ?> e : m.entrySet()) {
                Object v = e.getValue();
                switch (e.getKey()) {
                    case "name":
                        break;
                    case "dtype":
                        dtype = OptionValues.dtype(v);
                        break;
                    case "qscheme":
                        qscheme = OptionValues.qscheme(v);
                        break;
                    case "quant_min":
                        quantMin = OptionValues.nullableInt(v, e.getKey());
                        break;
                    case "quant_max":
                        quantMax = OptionValues.nullableInt(v, e.getKey());
                        break;
                    case "eps":
                        eps = OptionValues.floatValue(v, e.getKey());
                        break;
                    case "is_dynamic":
                        isDynamic = OptionValues.bool(v, e.getKey());
                        break;
                    default:
                        throw new IllegalArgumentException("PlaceholderObserver: unknown option '" + e.getKey()
                                + "'; accepted: " + toMap().keySet());
                }
            }
            return this;
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
            return "PlaceholderObserver.with_args" + toMap();
        }
    }
}
