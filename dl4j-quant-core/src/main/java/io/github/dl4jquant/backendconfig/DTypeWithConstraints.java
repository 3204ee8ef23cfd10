package io.github.dl4jquant.backendconfig;

import io.github.dl4jquant.Json;
import io.github.dl4jquant.QuantDType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A dtype plus the limits a backend puts on the quantization parameters of that dtype, as PyTorch's
 * {@code DTypeWithConstraints}. A {@code null} bound means "unconstrained".
 *
 * <p>A QConfig whose observer falls outside these limits is not used for the pattern (it stays fp32): its
 * {@code quantMin}/{@code quantMax} must lie inside {@code [quantMinLowerBound, quantMaxUpperBound]}, its
 * {@code eps} must be at least {@code scaleMinLowerBound}, and with {@code scaleExactMatch}/
 * {@code zeroPointExactMatch} it must be a fixed-qparams observer with exactly that scale and zero point.
 * {@code scaleMaxUpperBound} is recorded but, as in PyTorch, not enforced.
 * <pre>{@code
 * DTypeWithConstraints sigmoidOut = DTypeWithConstraints.builder(QuantDType.QUINT8)
 *     .quantMinLowerBound(0).quantMaxUpperBound(255)
 *     .scaleExactMatch(1.0 / 256.0).zeroPointExactMatch(0)
 *     .build();
 * DTypeWithConstraints plain = DTypeWithConstraints.of(QuantDType.QINT8);
 * }</pre>
 */
public final class DTypeWithConstraints {

    static final List<String> KEYS = List.of("dtype", "quant_min_lower_bound", "quant_max_upper_bound",
            "scale_min_lower_bound", "scale_max_upper_bound", "scale_exact_match", "zero_point_exact_match");
    private static final DTypeWithConstraints UNSPECIFIED = new Builder(null).build();

    private final QuantDType dtype;
    private final Integer quantMinLowerBound;
    private final Integer quantMaxUpperBound;
    private final Double scaleMinLowerBound;
    private final Double scaleMaxUpperBound;
    private final Double scaleExactMatch;
    private final Integer zeroPointExactMatch;

    private DTypeWithConstraints(Builder b) {
        this.dtype = b.dtype;
        this.quantMinLowerBound = b.quantMinLowerBound;
        this.quantMaxUpperBound = b.quantMaxUpperBound;
        this.scaleMinLowerBound = b.scaleMinLowerBound;
        this.scaleMaxUpperBound = b.scaleMaxUpperBound;
        this.scaleExactMatch = b.scaleExactMatch;
        this.zeroPointExactMatch = b.zeroPointExactMatch;
    }

    /** The dtype alone, without constraints; {@code null} means "no requirement" (PyTorch's {@code dtype=None}). */
    public static DTypeWithConstraints of(QuantDType dtype) {
        return dtype == null ? UNSPECIFIED : new Builder(dtype).build();
    }

    /** A builder for {@code dtype} with constraints. */
    public static Builder builder(QuantDType dtype) {
        return new Builder(dtype);
    }

    /** A builder pre-filled with this value's fields. */
    public Builder toBuilder() {
        return new Builder(dtype).quantMinLowerBound(quantMinLowerBound).quantMaxUpperBound(quantMaxUpperBound)
                .scaleMinLowerBound(scaleMinLowerBound).scaleMaxUpperBound(scaleMaxUpperBound)
                .scaleExactMatch(scaleExactMatch).zeroPointExactMatch(zeroPointExactMatch);
    }

    public QuantDType getDtype() {
        return dtype;
    }

    public Integer getQuantMinLowerBound() {
        return quantMinLowerBound;
    }

    public Integer getQuantMaxUpperBound() {
        return quantMaxUpperBound;
    }

    public Double getScaleMinLowerBound() {
        return scaleMinLowerBound;
    }

    /** Recorded for parity with PyTorch, which documents that it does not enforce it. */
    public Double getScaleMaxUpperBound() {
        return scaleMaxUpperBound;
    }

    public Double getScaleExactMatch() {
        return scaleExactMatch;
    }

    public Integer getZeroPointExactMatch() {
        return zeroPointExactMatch;
    }

    /** True if any bound or exact match is set. */
    public boolean hasConstraints() {
        return quantMinLowerBound != null || quantMaxUpperBound != null || scaleMinLowerBound != null
                || scaleMaxUpperBound != null || scaleExactMatch != null || zeroPointExactMatch != null;
    }

    /** True for fixed-qparams constraints (exact scale and zero point), as used by sigmoid, softmax and tanh. */
    public boolean isFixedQParams() {
        return scaleExactMatch != null;
    }

    /** Keys as in {@link #KEYS} order; dtypes as torch names; unset fields omitted. */
    public Map<String, Object> toDict() {
        Map<String, Object> d = new LinkedHashMap<>();
        putIfSet(d, "dtype", dtype == null ? null : dtype.torchName());
        putIfSet(d, "quant_min_lower_bound", quantMinLowerBound);
        putIfSet(d, "quant_max_upper_bound", quantMaxUpperBound);
        putIfSet(d, "scale_min_lower_bound", scaleMinLowerBound);
        putIfSet(d, "scale_max_upper_bound", scaleMaxUpperBound);
        putIfSet(d, "scale_exact_match", scaleExactMatch);
        putIfSet(d, "zero_point_exact_match", zeroPointExactMatch);
        return d;
    }

    private static void putIfSet(Map<String, Object> d, String key, Object value) {
        if (value != null) {
            d.put(key, value);
        }
    }

    /** Inverse of {@link #toDict()}. */
    public static DTypeWithConstraints fromDict(Map<String, ?> dict) {
        return fromDictValue("DTypeWithConstraints", dict);
    }

    static DTypeWithConstraints fromDictValue(String owner, Object value) {
        DictReader r = DictReader.of(owner, value, KEYS);
        return builder(r.dtype("dtype"))
                .quantMinLowerBound(r.integer("quant_min_lower_bound"))
                .quantMaxUpperBound(r.integer("quant_max_upper_bound"))
                .scaleMinLowerBound(r.number("scale_min_lower_bound"))
                .scaleMaxUpperBound(r.number("scale_max_upper_bound"))
                .scaleExactMatch(r.number("scale_exact_match"))
                .zeroPointExactMatch(r.integer("zero_point_exact_match"))
                .build(owner);
    }

    public String toJson() {
        return Json.write(toDict());
    }

    public static DTypeWithConstraints fromJson(String json) {
        return fromDictValue("DTypeWithConstraints", Json.read(json, "DTypeWithConstraints"));
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof DTypeWithConstraints other)) {
            return false;
        }
        return dtype == other.dtype && Objects.equals(quantMinLowerBound, other.quantMinLowerBound)
                && Objects.equals(quantMaxUpperBound, other.quantMaxUpperBound)
                && Objects.equals(scaleMinLowerBound, other.scaleMinLowerBound)
                && Objects.equals(scaleMaxUpperBound, other.scaleMaxUpperBound)
                && Objects.equals(scaleExactMatch, other.scaleExactMatch)
                && Objects.equals(zeroPointExactMatch, other.zeroPointExactMatch);
    }

    @Override
    public int hashCode() {
        return Objects.hash(dtype, quantMinLowerBound, quantMaxUpperBound, scaleMinLowerBound, scaleMaxUpperBound,
                scaleExactMatch, zeroPointExactMatch);
    }

    @Override
    public String toString() {
        return "DTypeWithConstraints" + toDict();
    }

    /**
     * Collects the constraints and validates them in {@link #build()}.
     *
     * <pre>{@code
     * DTypeWithConstraints w = DTypeWithConstraints.builder(QuantDType.QINT8)
     *     .quantMinLowerBound(-127).quantMaxUpperBound(127).scaleMinLowerBound(Math.pow(2, -12)).build();
     * }</pre>
     */
    public static final class Builder {
        private final QuantDType dtype;
        private Integer quantMinLowerBound;
        private Integer quantMaxUpperBound;
        private Double scaleMinLowerBound;
        private Double scaleMaxUpperBound;
        private Double scaleExactMatch;
        private Integer zeroPointExactMatch;

        private Builder(QuantDType dtype) {
            this.dtype = dtype;
        }

        public Builder quantMinLowerBound(Integer value) {
            this.quantMinLowerBound = value;
            return this;
        }

        public Builder quantMaxUpperBound(Integer value) {
            this.quantMaxUpperBound = value;
            return this;
        }

        public Builder scaleMinLowerBound(Double value) {
            this.scaleMinLowerBound = value;
            return this;
        }

        public Builder scaleMaxUpperBound(Double value) {
            this.scaleMaxUpperBound = value;
            return this;
        }

        public Builder scaleExactMatch(Double value) {
            this.scaleExactMatch = value;
            return this;
        }

        public Builder zeroPointExactMatch(Integer value) {
            this.zeroPointExactMatch = value;
            return this;
        }

        /**
         * @throws IllegalArgumentException for constraints on a missing or float dtype, bounds outside the dtype's
         *     range, inverted ranges, non-positive scales, or only one of the two exact matches
         */
        public DTypeWithConstraints build() {
            return build("DTypeWithConstraints");
        }

        DTypeWithConstraints build(String owner) {
            DTypeWithConstraints c = new DTypeWithConstraints(this);
            if (c.hasConstraints()) {
                c.validate(owner);
            }
            return c;
        }
    }

    private void validate(String owner) {
        if (dtype == null || !dtype.isQuantized()) {
            throw new IllegalArgumentException(owner + ": constraints " + toDict() + " need a quantized dtype; got "
                    + (dtype == null ? "no dtype" : dtype.torchName())
                    + "; accepted: torch.quint8, torch.qint8 or torch.qint32");
        }
        requireInDtypeRange(owner, "quant_min_lower_bound", quantMinLowerBound);
        requireInDtypeRange(owner, "quant_max_upper_bound", quantMaxUpperBound);
        requireInDtypeRange(owner, "zero_point_exact_match", zeroPointExactMatch);
        if (quantMinLowerBound != null && quantMaxUpperBound != null && quantMinLowerBound > quantMaxUpperBound) {
            throw new IllegalArgumentException(owner + ": inverted quant range: quant_min_lower_bound "
                    + quantMinLowerBound + " > quant_max_upper_bound " + quantMaxUpperBound
                    + "; accepted: quant_min_lower_bound <= quant_max_upper_bound");
        }
        requirePositiveScale(owner, "scale_min_lower_bound", scaleMinLowerBound);
        requirePositiveScale(owner, "scale_max_upper_bound", scaleMaxUpperBound);
        requirePositiveScale(owner, "scale_exact_match", scaleExactMatch);
        if (scaleMinLowerBound != null && scaleMaxUpperBound != null && scaleMinLowerBound > scaleMaxUpperBound) {
            throw new IllegalArgumentException(owner + ": inverted scale range: scale_min_lower_bound "
                    + scaleMinLowerBound + " > scale_max_upper_bound " + scaleMaxUpperBound
                    + "; accepted: scale_min_lower_bound <= scale_max_upper_bound");
        }
        if ((scaleExactMatch == null) != (zeroPointExactMatch == null)) {
            throw new IllegalArgumentException(owner + ": scale_exact_match=" + scaleExactMatch
                    + " with zero_point_exact_match=" + zeroPointExactMatch
                    + "; accepted: both set (fixed qparams) or neither");
        }
    }

    private void requireInDtypeRange(String owner, String field, Integer value) {
        if (value != null && (value < dtype.quantMin() || value > dtype.quantMax())) {
            throw new IllegalArgumentException(owner + " field '" + field + "': " + value + " is outside the "
                    + dtype.torchName() + " range; accepted: an integer in [" + dtype.quantMin() + ", "
                    + dtype.quantMax() + "]");
        }
    }

    private static void requirePositiveScale(String owner, String field, Double value) {
        if (value != null && !(value > 0 && Double.isFinite(value))) {
            throw new IllegalArgumentException(owner + " field '" + field + "': " + value
                    + "; accepted: a finite number > 0");
        }
    }
}
