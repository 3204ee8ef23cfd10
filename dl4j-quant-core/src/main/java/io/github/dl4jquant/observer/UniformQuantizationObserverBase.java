package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Shared settings and arithmetic of the observers that map a [min, max] range onto evenly spaced integers: PyTorch's
 * {@code UniformQuantizationObserverBase}, with {@code calculate_qmin_qmax} and {@code _calculate_qparams} reproduced
 * bit for bit (float32 arithmetic where PyTorch uses float32 tensors).
 *
 * <pre>{@code
 * int[] range = UniformQuantizationObserverBase.calculateQminQmax(null, null, QuantDType.QUINT8, true); // {0, 127}
 * Observer obs = MinMaxObserver.builder().quantMin(0).quantMax(255).reduceRange(true).build();
 * obs.quantMax();   // 127: a custom range is halved by reduceRange, as in PyTorch
 * }</pre>
 *
 * <p>Parameters, for each channel, with {@code minNeg = min(minVal, 0)} and {@code maxPos = max(maxVal, 0)}:
 * symmetric: {@code scale = max(max(-minNeg, maxPos) / ((quantMax - quantMin) / 2), eps)}, zero point 0 (quint8:
 * 128, or the rounded-down middle of a custom range); affine: {@code scale = max((maxPos - minNeg) / (quantMax -
 * quantMin), eps)}, {@code zeroPoint = clamp(quantMin - rint(minNeg / scale), quantMin, quantMax)}; float qparams
 * (per channel only, for embedding rows): {@code scale = (maxVal - minVal) / (quantMax - quantMin)} (1 when not above
 * eps) and the float zero point {@code -minVal / scale}.
 */
public abstract class UniformQuantizationObserverBase implements Observer {

    /** PyTorch's default eps, {@code torch.finfo(torch.float32).eps} = 2^-23. */
    public static final float DEFAULT_EPS = Math.ulp(1.0f);

    private final QuantDType dtype;
    private final QScheme qscheme;
    private final boolean customRange;
    private final int quantMin;
    private final int quantMax;
    private final float eps;
    private final boolean isDynamic;
    private final Map<String, Object> settings;

    protected UniformQuantizationObserverBase(Builder<?> b) {
        String who = b.name();
        if (b.dtype == null || !b.dtype.isQuantized()) {
            throw new IllegalArgumentException(who + ": dtype must be torch.quint8, torch.qint8, torch.quint4x2 or "
                    + "torch.qint32; got "
                    + (b.dtype == null ? null : b.dtype.torchName()));
        }
        if (b.qscheme == null || b.qscheme.isPerChannel() != b.perChannel()) {
            throw new IllegalArgumentException(who + ": qscheme must be "
                    + (b.perChannel() ? "torch.per_channel_affine, torch.per_channel_symmetric or "
                            + "torch.per_channel_affine_float_qparams"
                            : "torch.per_tensor_affine or torch.per_tensor_symmetric")
                    + "; got " + (b.qscheme == null ? null : b.qscheme.torchName()));
        }
        if (b.qscheme.isSymmetric() && b.reduceRange && b.dtype == QuantDType.QUINT8) {
            throw new IllegalArgumentException(who + ": cannot reduce range for symmetric quantization for quint8 "
                    + "(as in PyTorch); use reduceRange(false) or dtype torch.qint8");
        }
        if (!(b.eps > 0f) || Float.isInfinite(b.eps)) {
            throw new IllegalArgumentException(who + ": eps must be finite and > 0; got " + b.eps);
        }
        int[] range = calculateQminQmax(b.quantMin, b.quantMax, b.dtype, b.reduceRange, who);
        this.dtype = b.dtype;
        this.qscheme = b.qscheme;
        this.customRange = b.quantMin != null;
        this.quantMin = range[0];
        this.quantMax = range[1];
        this.eps = b.eps;
        this.isDynamic = b.isDynamic;
        this.settings = Collections.unmodifiableMap(b.toMap());
    }

    /**
     * PyTorch's {@code calculate_qmin_qmax}: the integer range after {@code reduceRange}. A custom range (both bounds
     * given) is halved with floor division; otherwise qint8 gives [-128, 127] or [-64, 63], quint8 [0, 255] or
     * [0, 127], quint4x2 [0, 15] (not reduced, as in PyTorch), qint32 the full int range.
     *
     * @throws IllegalArgumentException if only one bound is given, the range does not contain 0, is empty, or is wider
     *                                  than the dtype
     */
    public static int[] calculateQminQmax(Integer quantMin, Integer quantMax, QuantDType dtype, boolean reduceRange) {
        return calculateQminQmax(quantMin, quantMax, dtype, reduceRange, "calculateQminQmax");
    }

    private static int[] calculateQminQmax(Integer quantMin, Integer quantMax, QuantDType dtype, boolean reduceRange,
                                           String who) {
        if ((quantMin == null) != (quantMax == null)) {
            throw new IllegalArgumentException(who + ": give both quantMin and quantMax or neither; got quantMin="
                    + quantMin + ", quantMax=" + quantMax);
        }
        if (quantMin != null) {
            int lo = quantMin;
            int hi = quantMax;
            if (lo >= hi) {
                throw new IllegalArgumentException(who + ": quantMin (" + lo + ") must be below quantMax (" + hi + ")");
            }
            if (lo > 0 || hi < 0) {
                throw new IllegalArgumentException(who + ": the custom range [" + lo + ", " + hi
                        + "] must contain 0 (PyTorch's rule)");
            }
            if (lo < dtype.quantMin() || hi > dtype.quantMax()) {
                throw new IllegalArgumentException(who + ": the custom range [" + lo + ", " + hi + "] is wider than "
                        + dtype.torchName() + " [" + dtype.quantMin() + ", " + dtype.quantMax() + "]");
            }
            return reduceRange ? new int[] {Math.floorDiv(lo, 2), Math.floorDiv(hi, 2)} : new int[] {lo, hi};
        }
        switch (dtype) {
            case QINT8:
                return reduceRange ? new int[] {-64, 63} : new int[] {-128, 127};
            case QUINT8:
                return reduceRange ? new int[] {0, 127} : new int[] {0, 255};
            case QINT32:
                return new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE};
            case QUINT4X2:
                return new int[] {0, 15};
            default:
                throw new IllegalArgumentException(who + ": no integer range for " + dtype.torchName());
        }
    }

    /**
     * PyTorch's {@code _calculate_qparams} for per-channel or per-tensor running ranges; {@code axis} is -1 for per
     * tensor.
     */
    protected final QParams calculateQParams(float[] minVal, float[] maxVal, int axis) {
        if (qscheme.isFloatQParams()) {
            return floatQParams(minVal, maxVal, axis);
        }
        int n = minVal.length;
        float[] scales = new float[n];
        int[] zeroPoints = new int[n];
        long span = (long) quantMax - quantMin;
        for (int c = 0; c < n; c++) {
            if (!(minVal[c] <= maxVal[c])) {
                throw new IllegalStateException(name() + ": min_val " + minVal[c] + " > max_val " + maxVal[c]
                        + (n > 1 ? " in channel " + c : "") + "; the statistics are inconsistent");
            }
            float minNeg = Math.min(minVal[c], 0f);
            float maxPos = Math.max(maxVal[c], 0f);
            if (qscheme.isSymmetric()) {
                maxPos = Math.max(-minNeg, maxPos);
                scales[c] = Math.max(maxPos / (float) (span / 2.0), eps);
                zeroPoints[c] = symmetricZeroPoint();
            } else {
                float scale = Math.max((maxPos - minNeg) / (float) span, eps);
                long zp = quantMin - (long) Math.rint(minNeg / scale);
                scales[c] = scale;
                zeroPoints[c] = (int) Math.max(quantMin, Math.min(quantMax, zp));
            }
        }
        if (axis < 0) {
            return QParams.perTensor(scales[0], zeroPoints[0], dtype, quantMin, quantMax, qscheme);
        }
        return QParams.perChannel(scales, zeroPoints, axis, dtype, quantMin, quantMax, qscheme);
    }

    /**
     * PyTorch's {@code per_channel_affine_float_qparams} branch: the row's own range, not widened to include 0:
     * {@code scale = (max - min) / (quantMax - quantMin)}, 1 where that is not above eps, and the float zero point
     * {@code -min / scale}, so that a row's minimum quantizes to 0.
     */
    private QParams floatQParams(float[] minVal, float[] maxVal, int axis) {
        int n = minVal.length;
        float[] scales = new float[n];
        float[] zeroPoints = new float[n];
        float span = (float) ((long) quantMax - quantMin);
        for (int c = 0; c < n; c++) {
            if (!(minVal[c] <= maxVal[c])) {
                throw new IllegalStateException(name() + ": min_val " + minVal[c] + " > max_val " + maxVal[c]
                        + " in channel " + c + "; the statistics are inconsistent");
            }
            float scale = (maxVal[c] - minVal[c]) / span;
            scales[c] = scale > eps ? scale : 1.0f;
            zeroPoints[c] = -minVal[c] / scales[c];
        }
        return QParams.perChannelFloatQParams(scales, zeroPoints, axis, dtype, quantMin, quantMax);
    }

    private int symmetricZeroPoint() {
        if (dtype != QuantDType.QUINT8) {
            return 0;
        }
        return customRange ? Math.floorDiv(quantMin + quantMax, 2) : 128;
    }

    /** The class name used in messages and in {@link ObserverFactories}. */
    protected String name() {
        return getClass().getSimpleName();
    }

    /** {@code IllegalStateException} for qparams asked of an observer that saw no data. */
    protected final IllegalStateException notCalibrated() {
        return new IllegalStateException(name() + " " + settings + " has not observed any data: call observe(x) "
                + "(calibrate the model) before calculateQParams()");
    }

    /** Checks that {@code other} is the same kind of observer with the same settings before a merge. */
    protected final <T extends Observer> T requireMergeable(Observer other, Class<T> type) {
        if (other == null || other.getClass() != getClass()) {
            throw new IllegalArgumentException(name() + ": can only merge another " + name() + "; got "
                    + (other == null ? null : other.getClass().getSimpleName()));
        }
        Map<String, Object> theirs = other.factory().toMap();
        if (!settings.equals(theirs)) {
            throw new IllegalArgumentException(name() + ": cannot merge observers with different settings: "
                    + settings + " vs " + theirs);
        }
        return type.cast(other);
    }

    /** A state builder carrying this observer's settings. */
    protected final ObserverState.Builder stateBuilder() {
        return ObserverState.builder(settings);
    }

    /** Checks that {@code state} was made by an observer with this observer's settings before it is loaded. */
    protected final ObserverState requireLoadable(ObserverState state) {
        if (state == null || !settings.equals(state.settings())) {
            throw new IllegalArgumentException(name() + " " + settings + ": cannot load the statistics of an "
                    + "observer with other settings: " + (state == null ? null : state.settings()));
        }
        return state;
    }

    /** Checks that a per-tensor state holds one min and one max (or none). */
    protected final ObserverState requirePerTensor(ObserverState state) {
        if (state.minVal().length > 1) {
            throw new IllegalArgumentException(name() + ": a per-tensor state holds one min_val and one max_val; "
                    + "got " + state.minVal().length);
        }
        return state;
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

    @Override
    public float eps() {
        return eps;
    }

    @Override
    public boolean isDynamic() {
        return isDynamic;
    }

    @Override
    public ObserverFactory factory() {
        return ObserverFactories.fromMap(settings);
    }

    @Override
    public String toString() {
        return name() + settings + (isCalibrated() ? " min_val=" + Arrays.toString(minVal())
                + " max_val=" + Arrays.toString(maxVal()) : " (no data observed)");
    }

    /**
     * Fluent settings shared by the uniform observers, with PyTorch's defaults. A builder is itself an {@link
     * ObserverFactory}: {@code create()} builds a fresh observer.
     *
     * <pre>{@code
     * ObserverFactory f = MinMaxObserver.builder().quantMin(0).quantMax(127).eps(0x1p-12f);
     * Observer a = f.create();
     * }</pre>
     *
     * @param <B> the concrete builder type
     */
    public abstract static class Builder<B extends Builder<B>> implements ObserverFactory {
        private QuantDType dtype;
        private QScheme qscheme;
        private boolean reduceRange;
        private Integer quantMin;
        private Integer quantMax;
        private float eps = DEFAULT_EPS;
        private boolean isDynamic;

        protected Builder(QuantDType dtype, QScheme qscheme) {
            this.dtype = dtype;
            this.qscheme = qscheme;
        }

        /** The quantized dtype (default as in PyTorch: torch.quint8). */
        public B dtype(QuantDType dtype) {
            this.dtype = dtype;
            return self();
        }

        public B qscheme(QScheme qscheme) {
            this.qscheme = qscheme;
            return self();
        }

        /** Halve the integer range (quint8 [0, 127], qint8 [-64, 63]) for x86 kernels without VNNI. */
        public B reduceRange(boolean reduceRange) {
            this.reduceRange = reduceRange;
            return self();
        }

        /** Custom lower bound; must be given together with {@link #quantMax(int)}. */
        public B quantMin(int quantMin) {
            this.quantMin = quantMin;
            return self();
        }

        /** Custom upper bound; must be given together with {@link #quantMin(int)}. */
        public B quantMax(int quantMax) {
            this.quantMax = quantMax;
            return self();
        }

        /** Lower bound for scales (default 2^-23). */
        public B eps(float eps) {
            this.eps = eps;
            return self();
        }

        public B isDynamic(boolean isDynamic) {
            this.isDynamic = isDynamic;
            return self();
        }

        @SuppressWarnings("unchecked")
        protected final B self() {
            return (B) this;
        }

        /** The observer's class name, as registered in {@link ObserverFactories}. */
        protected abstract String name();

        /** Whether the observer keeps per-channel statistics (decides the accepted qschemes). */
        protected abstract boolean perChannel();

        /** Builds a new observer with these settings. */
        public abstract Observer build();

        @Override
        public Observer create() {
            return build();
        }

        @Override
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name());
            m.put("dtype", dtype == null ? null : dtype.torchName());
            m.put("qscheme", qscheme == null ? null : qscheme.torchName());
            m.put("reduce_range", reduceRange);
            m.put("quant_min", quantMin);
            m.put("quant_max", quantMax);
            m.put("eps", (double) eps);
            m.put("is_dynamic", isDynamic);
            putOptions(m);
            return m;
        }

        /** Adds the observer-specific options to {@link #toMap()}. */
        protected void putOptions(Map<String, Object> m) {
        }

        /**
         * Sets one option from its {@link #toMap()} key; returns false for unknown keys.
         */
        protected boolean applyOption(String key, Object value) {
            switch (key) {
                case "dtype":
                    dtype = OptionValues.dtype(value);
                    return true;
                case "qscheme":
                    qscheme = OptionValues.qscheme(value);
                    return true;
                case "reduce_range":
                    reduceRange = OptionValues.bool(value, key);
                    return true;
                case "quant_min":
                    quantMin = OptionValues.nullableInt(value, key);
                    return true;
                case "quant_max":
                    quantMax = OptionValues.nullableInt(value, key);
                    return true;
                case "eps":
                    eps = OptionValues.floatValue(value, key);
                    return true;
                case "is_dynamic":
                    isDynamic = OptionValues.bool(value, key);
                    return true;
                default:
                    return false;
            }
        }

        /** Applies every entry of {@code m} except {@code "name"}; unknown keys raise. */
        B applyMap(Map<String, ?> m) {
            for (Map.Entry<String, ?> e : m.entrySet()) {
                if (!e.getKey().equals("name") && !applyOption(e.getKey(), e.getValue())) {
                    throw new IllegalArgumentException(name() + ": unknown option '" + e.getKey() + "'; accepted: "
                            + toMap().keySet());
                }
            }
            return self();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Builder && toMap().equals(((Builder<?>) o).toMap());
        }

        @Override
        public int hashCode() {
            return Objects.hash(toMap());
        }

        @Override
        public String toString() {
            return name() + ".with_args" + toMap();
        }
    }
}
