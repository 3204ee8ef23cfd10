package io.github.dl4jquant.backendconfig;

import io.github.dl4jquant.Json;
import io.github.dl4jquant.QuantDType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The dtypes a backend supports for one pattern, as PyTorch's {@code DTypeConfig}: the dtype of the input and output
 * quantize steps of the reference model, of the weight, of the bias, and whether quantization is dynamic.
 *
 * <p>For static int8 a dense layer reads quint8, writes quint8 and holds qint8 weights with a float bias. For dynamic
 * int8 the layer still quantizes its input to quint8 (per batch), but its output stays float and
 * {@code isDynamic} is true. A {@code null} dtype means "no requirement".
 * <pre>{@code
 * DTypeConfig staticInt8 = new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32);
 * DTypeConfig dynamicInt8 = new DTypeConfig(QUINT8, FLOAT32, QINT8, FLOAT32, true);
 * DTypeConfig constrained = DTypeConfig.builder()
 *     .inputDtype(QUINT8)
 *     .outputDtype(DTypeConfigs.FIXED_QPARAMS_0TO1)
 *     .weightDtype(QINT8).biasDtype(FLOAT32)
 *     .build();
 * }</pre>
 */
public final class DTypeConfig {

    static final List<String> KEYS = List.of("input_dtype", "output_dtype", "weight_dtype", "bias_dtype",
            "is_dynamic");

    private final DTypeWithConstraints inputDtype;
    private final DTypeWithConstraints outputDtype;
    private final DTypeWithConstraints weightDtype;
    private final QuantDType biasDtype;
    private final Boolean isDynamic;

    /** Plain dtypes, no constraints, {@code isDynamic} unset; any argument may be {@code null}. */
    public DTypeConfig(QuantDType inputDtype, QuantDType outputDtype, QuantDType weightDtype, QuantDType biasDtype) {
        this(inputDtype, outputDtype, weightDtype, biasDtype, null);
    }

    /** Plain dtypes, no constraints; any argument may be {@code null}. */
    public DTypeConfig(QuantDType inputDtype, QuantDType outputDtype, QuantDType weightDtype, QuantDType biasDtype,
            Boolean isDynamic) {
        this(DTypeWithConstraints.of(inputDtype), DTypeWithConstraints.of(outputDtype),
                DTypeWithConstraints.of(weightDtype), biasDtype, isDynamic);
    }

    private DTypeConfig(DTypeWithConstraints inputDtype, DTypeWithConstraints outputDtype,
            DTypeWithConstraints weightDtype, QuantDType biasDtype, Boolean isDynamic) {
        this.inputDtype = inputDtype;
        this.outputDtype = outputDtype;
        this.weightDtype = weightDtype;
        this.biasDtype = biasDtype;
        this.isDynamic = isDynamic;
    }

    /** A builder for configs with constraints; unset fields mean "no requirement". */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder pre-filled with this config's fields. */
    public Builder toBuilder() {
        return new Builder().inputDtype(inputDtype).outputDtype(outputDtype).weightDtype(weightDtype)
                .biasDtype(biasDtype).isDynamic(isDynamic);
    }

    /** Never null; its dtype is null when the input dtype is unspecified. */
    public DTypeWithConstraints getInputDtypeWithConstraints() {
        return inputDtype;
    }

    /** Never null; its dtype is null when the output dtype is unspecified. */
    public DTypeWithConstraints getOutputDtypeWithConstraints() {
        return outputDtype;
    }

    /** Never null; its dtype is null when the weight dtype is unspecified. */
    public DTypeWithConstraints getWeightDtypeWithConstraints() {
        return weightDtype;
    }

    public QuantDType getInputDtype() {
        return inputDtype.getDtype();
    }

    public QuantDType getOutputDtype() {
        return outputDtype.getDtype();
    }

    public QuantDType getWeightDtype() {
        return weightDtype.getDtype();
    }

    public QuantDType getBiasDtype() {
        return biasDtype;
    }

    /** As set; {@code null} when unspecified. */
    public Boolean getIsDynamic() {
        return isDynamic;
    }

    /** {@code getIsDynamic()} with unspecified read as false, as PyTorch's {@code bool(is_dynamic)}. */
    public boolean isDynamic() {
        return Boolean.TRUE.equals(isDynamic);
    }

    /**
     * PyTorch's keys. An unconstrained dtype is written as its torch name ({@code "torch.quint8"}), a constrained
     * one as a {@link DTypeWithConstraints#toDict()} map; unspecified fields are omitted.
     */
    public Map<String, Object> toDict() {
        Map<String, Object> d = new LinkedHashMap<>();
        putDtype(d, "input_dtype", inputDtype);
        putDtype(d, "output_dtype", outputDtype);
        putDtype(d, "weight_dtype", weightDtype);
        if (biasDtype != null) {
            d.put("bias_dtype", biasDtype.torchName());
        }
        if (isDynamic != null) {
            d.put("is_dynamic", isDynamic);
        }
        return d;
    }

    private static void putDtype(Map<String, Object> d, String key, DTypeWithConstraints value) {
        if (value.hasConstraints()) {
            d.put(key, value.toDict());
        } else if (value.getDtype() != null) {
            d.put(key, value.getDtype().torchName());
        }
    }

    /** Inverse of {@link #toDict()}. */
    public static DTypeConfig fromDict(Map<String, ?> dict) {
        return fromDictValue("DTypeConfig", dict);
    }

    static DTypeConfig fromDictValue(String owner, Object dict) {
        DictReader r = DictReader.of(owner, dict, KEYS);
        return builder()
                .inputDtype(readDtype(r, owner, "input_dtype"))
                .outputDtype(readDtype(r, owner, "output_dtype"))
                .weightDtype(readDtype(r, owner, "weight_dtype"))
                .biasDtype(r.dtype("bias_dtype"))
                .isDynamic(r.bool("is_dynamic"))
                .build();
    }

    private static DTypeWithConstraints readDtype(DictReader r, String owner, String key) {
        Object v = r.raw(key);
        if (v == null || v instanceof String) {
            return DTypeWithConstraints.of(r.dtype(key));
        }
        if (v instanceof Map<?, ?>) {
            return DTypeWithConstraints.fromDictValue(owner + " field '" + key + "'", v);
        }
        throw r.bad(key, v, "a dtype name such as \"torch.quint8\" or a DTypeWithConstraints dictionary");
    }

    public String toJson() {
        return Json.write(toDict());
    }

    public static DTypeConfig fromJson(String json) {
        return fromDictValue("DTypeConfig", Json.read(json, "DTypeConfig"));
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof DTypeConfig other)) {
            return false;
        }
        return inputDtype.equals(other.inputDtype) && outputDtype.equals(other.outputDtype)
                && weightDtype.equals(other.weightDtype) && biasDtype == other.biasDtype
                && Objects.equals(isDynamic, other.isDynamic);
    }

    @Override
    public int hashCode() {
        return Objects.hash(inputDtype, outputDtype, weightDtype, biasDtype, isDynamic);
    }

    @Override
    public String toString() {
        return "DTypeConfig" + toDict();
    }

    /**
     * Builds a {@link DTypeConfig} whose dtypes may carry constraints.
     *
     * <pre>{@code
     * DTypeConfig c = DTypeConfig.builder()
     *     .inputDtype(DTypeWithConstraints.builder(QINT8).scaleMinLowerBound(Math.pow(2, -12)).build())
     *     .outputDtype(QINT8).build();
     * }</pre>
     */
    public static final class Builder {
        private DTypeWithConstraints inputDtype = DTypeWithConstraints.of(null);
        private DTypeWithConstraints outputDtype = DTypeWithConstraints.of(null);
        private DTypeWithConstraints weightDtype = DTypeWithConstraints.of(null);
        private QuantDType biasDtype;
        private Boolean isDynamic;

        private Builder() {
        }

        public Builder inputDtype(QuantDType dtype) {
            return inputDtype(DTypeWithConstraints.of(dtype));
        }

        /** {@code null} means unspecified. */
        public Builder inputDtype(DTypeWithConstraints dtype) {
            this.inputDtype = orUnspecified(dtype);
            return this;
        }

        public Builder outputDtype(QuantDType dtype) {
            return outputDtype(DTypeWithConstraints.of(dtype));
        }

        /** {@code null} means unspecified. */
        public Builder outputDtype(DTypeWithConstraints dtype) {
            this.outputDtype = orUnspecified(dtype);
            return this;
        }

        public Builder weightDtype(QuantDType dtype) {
            return weightDtype(DTypeWithConstraints.of(dtype));
        }

        /** {@code null} means unspecified. */
        public Builder weightDtype(DTypeWithConstraints dtype) {
            this.weightDtype = orUnspecified(dtype);
            return this;
        }

        public Builder biasDtype(QuantDType dtype) {
            this.biasDtype = dtype;
            return this;
        }

        public Builder isDynamic(Boolean dynamic) {
            this.isDynamic = dynamic;
            return this;
        }

        private static DTypeWithConstraints orUnspecified(DTypeWithConstraints dtype) {
            return dtype == null ? DTypeWithConstraints.of(null) : dtype;
        }

        public DTypeConfig build() {
            return new DTypeConfig(inputDtype, outputDtype, weightDtype, biasDtype, isDynamic);
        }
    }
}
