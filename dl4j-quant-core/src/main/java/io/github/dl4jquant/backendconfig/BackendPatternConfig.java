package io.github.dl4jquant.backendconfig;

import io.github.dl4jquant.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How a backend quantizes one {@link Pattern}, as PyTorch's {@code BackendPatternConfig}: where observers go, which
 * dtypes are supported, which layer class is the root that the reference quantized layer replaces, and, for fusion
 * patterns, the fuser method and the fused layer class. Setters return {@code this}, as PyTorch's do.
 *
 * <pre>{@code
 * BackendPatternConfig dense = new BackendPatternConfig(DenseLayer.class)
 *     .setObservationType(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT)
 *     .addDtypeConfig(new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32))
 *     .setRootModule(DenseLayer.class);
 * BackendPatternConfig fusion = new BackendPatternConfig(Pattern.sequence(
 *         PatternElement.of(DenseLayer.class, Activation.IDENTITY),
 *         PatternElement.of(ActivationLayer.class, Activation.RELU)))
 *     .setFuserMethod(FuserMethods.get(FuserMethods.FUSE_DENSE_ACTIVATION))
 *     .setFusedModule(DenseLayer.class);
 * }</pre>
 */
public final class BackendPatternConfig {

    static final List<String> KEYS = List.of("pattern", "pattern_complex_format", "observation_type",
            "dtype_configs", "root_module", "qat_module", "reference_quantized_module_for_root", "fused_module",
            "fuser_method");
    private static final String OWNER = "BackendPatternConfig";

    private Pattern pattern;
    private ObservationType observationType = ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT;
    private final List<DTypeConfig> dtypeConfigs = new ArrayList<>();
    private Class<?> rootModule;
    private Class<?> qatModule;
    private Class<?> referenceQuantizedModule;
    private Class<?> fusedModule;
    private FuserMethod fuserMethod;

    /** No pattern yet: set one with {@link #setPattern} or {@link #setPatternComplexFormat}, as in PyTorch. */
    public BackendPatternConfig() {
    }

    public BackendPatternConfig(Pattern pattern) {
        setPattern(pattern);
    }

    /** Shorthand for {@code new BackendPatternConfig(Pattern.of(layerOrVertexClass))}. */
    public BackendPatternConfig(Class<?> layerOrVertexClass) {
        this(Pattern.of(layerOrVertexClass));
    }

    /** @throws IllegalArgumentException if {@code pattern} is null */
    public BackendPatternConfig setPattern(Pattern pattern) {
        if (pattern == null) {
            throw new IllegalArgumentException("pattern: got null; accepted: a Pattern such as "
                    + "Pattern.of(DenseLayer.class)");
        }
        this.pattern = pattern;
        return this;
    }

    /**
     * Sets the pattern from PyTorch's legacy reversed nested form, normalised to forward order: {@code [B, A]} means
     * A then B. See {@link Pattern#fromComplexFormat(Object)}.
     */
    public BackendPatternConfig setPatternComplexFormat(Object complexFormat) {
        return setPattern(Pattern.fromComplexFormat(complexFormat));
    }

    public BackendPatternConfig setObservationType(ObservationType observationType) {
        if (observationType == null) {
            throw new IllegalArgumentException("observation_type: got null; accepted: one of "
                    + List.of(ObservationType.values()));
        }
        this.observationType = observationType;
        return this;
    }

    /** Appends a supported dtype combination; the first one a QConfig satisfies is used. */
    public BackendPatternConfig addDtypeConfig(DTypeConfig dtypeConfig) {
        if (dtypeConfig == null) {
            throw new IllegalArgumentException("dtype_configs: got a null DTypeConfig; accepted: a DTypeConfig "
                    + "such as new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32)");
        }
        dtypeConfigs.add(dtypeConfig);
        return this;
    }

    /** Replaces all dtype configs. */
    public BackendPatternConfig setDtypeConfigs(List<DTypeConfig> configs) {
        if (configs == null) {
            throw new IllegalArgumentException("dtype_configs: got null; accepted: a list of DTypeConfig "
                    + "(possibly empty)");
        }
        List<DTypeConfig> previous = new ArrayList<>(dtypeConfigs);
        dtypeConfigs.clear();
        try {
            configs.forEach(this::addDtypeConfig);
        } catch (IllegalArgumentException e) {
            dtypeConfigs.clear();
            dtypeConfigs.addAll(previous);
            throw e;
        }
        return this;
    }

    /**
     * The layer of the pattern that conversion replaces with the reference quantized layer (the DenseLayer of a
     * DenseLayer[RELU]); {@code null} clears it. Takes effect only together with
     * {@link #setReferenceQuantizedModule}.
     */
    public BackendPatternConfig setRootModule(Class<?> layerOrVertexClass) {
        this.rootModule = optionalModule("root_module", layerOrVertexClass);
        return this;
    }

    /** The quantization-aware-training counterpart of the root; {@code null} clears it. */
    public BackendPatternConfig setQatModule(Class<?> layerOrVertexClass) {
        this.qatModule = optionalModule("qat_module", layerOrVertexClass);
        return this;
    }

    /** The reference (fake-quant, float) layer that replaces the root at conversion; {@code null} clears it. */
    public BackendPatternConfig setReferenceQuantizedModule(Class<?> layerOrVertexClass) {
        this.referenceQuantizedModule = optionalModule("reference_quantized_module_for_root", layerOrVertexClass);
        return this;
    }

    /** The layer class the fuser method produces; {@code null} clears it. */
    public BackendPatternConfig setFusedModule(Class<?> layerClass) {
        this.fusedModule = layerClass == null ? null : LayerClasses.requireLayer("fused_module", layerClass);
        return this;
    }

    /**
     * The registered fuser for this fusion pattern; {@code null} clears it.
     *
     * @throws IllegalArgumentException if {@code fuserMethod} is not the instance registered in {@link FuserMethods}
     *     under its name, since the config could not be read back from JSON
     */
    public BackendPatternConfig setFuserMethod(FuserMethod fuserMethod) {
        if (fuserMethod != null && !FuserMethods.isRegistered(fuserMethod)) {
            throw new IllegalArgumentException("fuser_method: '" + fuserMethod.name() + "' ("
                    + fuserMethod.getClass().getName() + ") is not registered; accepted: one of "
                    + FuserMethods.names() + ", or register it first with FuserMethods.register");
        }
        this.fuserMethod = fuserMethod;
        return this;
    }

    /** Looks the fuser up by name in {@link FuserMethods}. */
    public BackendPatternConfig setFuserMethod(String fuserMethodName) {
        return setFuserMethod(FuserMethods.get(fuserMethodName));
    }

    private static Class<?> optionalModule(String field, Class<?> type) {
        return type == null ? null : LayerClasses.requireLayerOrVertex(field, type);
    }

    /** {@code null} until set. */
    public Pattern getPattern() {
        return pattern;
    }

    public ObservationType getObservationType() {
        return observationType;
    }

    /** Unmodifiable, in the order added. */
    public List<DTypeConfig> getDtypeConfigs() {
        return Collections.unmodifiableList(new ArrayList<>(dtypeConfigs));
    }

    public Class<?> getRootModule() {
        return rootModule;
    }

    public Class<?> getQatModule() {
        return qatModule;
    }

    public Class<?> getReferenceQuantizedModule() {
        return referenceQuantizedModule;
    }

    public Class<?> getFusedModule() {
        return fusedModule;
    }

    public FuserMethod getFuserMethod() {
        return fuserMethod;
    }

    /** An independent copy (dtype configs are immutable and shared). */
    public BackendPatternConfig copy() {
        BackendPatternConfig c = new BackendPatternConfig();
        c.pattern = pattern;
        c.observationType = observationType;
        c.dtypeConfigs.addAll(dtypeConfigs);
        c.rootModule = rootModule;
        c.qatModule = qatModule;
        c.referenceQuantizedModule = referenceQuantizedModule;
        c.fusedModule = fusedModule;
        c.fuserMethod = fuserMethod;
        return c;
    }

    /**
     * PyTorch's keys; {@code observation_type} and {@code dtype_configs} always, the rest only when set. Classes are
     * fully qualified names, the fuser is its registry name.
     *
     * @throws IllegalStateException if no pattern was set
     */
    public Map<String, Object> toDict() {
        if (pattern == null) {
            throw new IllegalStateException(OWNER + ": no pattern set; call setPattern or setPatternComplexFormat "
                    + "before toDict/toJson");
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("pattern", pattern.toDictValue());
        d.put("observation_type", observationType.name());
        d.put("dtype_configs", dtypeConfigs.stream().map(DTypeConfig::toDict).toList());
        putClass(d, "root_module", rootModule);
        putClass(d, "qat_module", qatModule);
        putClass(d, "reference_quantized_module_for_root", referenceQuantizedModule);
        putClass(d, "fused_module", fusedModule);
        if (fuserMethod != null) {
            d.put("fuser_method", fuserMethod.name());
        }
        return d;
    }

    private static void putClass(Map<String, Object> d, String key, Class<?> type) {
        if (type != null) {
            d.put(key, type.getName());
        }
    }

    /** Inverse of {@link #toDict()}; also accepts {@code pattern_complex_format} instead of {@code pattern}. */
    public static BackendPatternConfig fromDict(Map<String, ?> dict) {
        return fromDictValue(OWNER, dict);
    }

    static BackendPatternConfig fromDictValue(String owner, Object dict) {
        DictReader r = DictReader.of(owner, dict, KEYS);
        BackendPatternConfig c = new BackendPatternConfig();
        boolean simple = r.has("pattern");
        boolean complex = r.has("pattern_complex_format");
        if (simple == complex) {
            throw new IllegalArgumentException(owner + ": got " + (simple ? "both" : "neither of")
                    + " 'pattern' and 'pattern_complex_format'; accepted: exactly one of them");
        }
        c.setPattern(simple ? Pattern.fromDictValue(owner + " field 'pattern'", r.raw("pattern"))
                : complexPattern(r));
        ObservationType observation = r.enumValue("observation_type", ObservationType.class);
        if (observation != null) {
            c.setObservationType(observation);
        }
        List<?> dtypes = r.list("dtype_configs", "a list of DTypeConfig dictionaries");
        if (dtypes != null) {
            for (int i = 0; i < dtypes.size(); i++) {
                c.addDtypeConfig(DTypeConfig.fromDictValue(owner + " field 'dtype_configs[" + i + "]'",
                        dtypes.get(i)));
            }
        }
        c.setRootModule(readClass(r, owner, "root_module"));
        c.setQatModule(readClass(r, owner, "qat_module"));
        c.setReferenceQuantizedModule(readClass(r, owner, "reference_quantized_module_for_root"));
        c.setFusedModule(readClass(r, owner, "fused_module"));
        String fuser = r.string("fuser_method", "a registered fuser method name, one of " + FuserMethods.names());
        return fuser == null ? c : c.setFuserMethod(fuser);
    }

    private static Pattern complexPattern(DictReader r) {
        try {
            return Pattern.fromComplexFormat(r.raw("pattern_complex_format"));
        } catch (IllegalArgumentException e) {
            throw r.bad("pattern_complex_format", e);
        }
    }

    private static Class<?> readClass(DictReader r, String owner, String key) {
        String name = r.string(key, "the fully qualified name of " + LayerClasses.LAYER_OR_VERTEX);
        return name == null ? null : LayerClasses.forName(owner + " field '" + key + "'", name);
    }

    public String toJson() {
        return Json.write(toDict());
    }

    public static BackendPatternConfig fromJson(String json) {
        return fromDictValue(OWNER, Json.read(json, OWNER));
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof BackendPatternConfig other)) {
            return false;
        }
        return Objects.equals(pattern, other.pattern) && observationType == other.observationType
                && dtypeConfigs.equals(other.dtypeConfigs) && rootModule == other.rootModule
                && qatModule == other.qatModule && referenceQuantizedModule == other.referenceQuantizedModule
                && fusedModule == other.fusedModule && Objects.equals(fuserName(), other.fuserName());
    }

    private String fuserName() {
        return fuserMethod == null ? null : fuserMethod.name();
    }

    @Override
    public int hashCode() {
        return Objects.hash(pattern, observationType, dtypeConfigs, rootModule, qatModule, referenceQuantizedModule,
                fusedModule, fuserName());
    }

    /** PyTorch's repr style: the set fields only, classes by simple name. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(OWNER).append("{pattern=").append(pattern)
                .append(", observation_type=").append(observationType)
                .append(", dtype_configs=").append(dtypeConfigs.stream().map(DTypeConfig::toDict).toList());
        appendIfSet(s, "root_module", rootModule);
        appendIfSet(s, "qat_module", qatModule);
        appendIfSet(s, "reference_quantized_module_for_root", referenceQuantizedModule);
        appendIfSet(s, "fused_module", fusedModule);
        if (fuserMethod != null) {
            s.append(", fuser_method=").append(fuserMethod.name());
        }
        return s.append('}').toString();
    }

    private static void appendIfSet(StringBuilder s, String key, Class<?> type) {
        if (type != null) {
            s.append(", ").append(key).append('=').append(type.getSimpleName());
        }
    }
}
