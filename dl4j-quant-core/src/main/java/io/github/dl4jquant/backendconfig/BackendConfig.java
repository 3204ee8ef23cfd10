package io.github.dl4jquant.backendconfig;

import io.github.dl4jquant.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a backend can quantize, as PyTorch's {@code BackendConfig}: a name and one {@link BackendPatternConfig} per
 * {@link Pattern}. Setting a config for a pattern that already has one replaces it in place (PyTorch's "last write
 * wins"), and says so at debug level.
 *
 * <p>Configs are copied on the way in and out, so changing a {@code BackendPatternConfig} after adding it (or one
 * obtained from {@link #getConfigs()}) never changes this backend config behind its back.
 * <pre>{@code
 * BackendConfig backend = new BackendConfig("my_backend")
 *     .setBackendPatternConfig(new BackendPatternConfig(DenseLayer.class)
 *         .addDtypeConfig(new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32))
 *         .setRootModule(DenseLayer.class));
 * String json = backend.toJson();
 * BackendConfig again = BackendConfig.fromJson(json);   // again.equals(backend)
 * }</pre>
 */
public final class BackendConfig {

    static final List<String> KEYS = List.of("name", "configs");
    private static final String OWNER = "BackendConfig";
    private static final Logger LOG = LoggerFactory.getLogger(BackendConfig.class);

    private String name;
    private final Map<Pattern, BackendPatternConfig> configs = new LinkedHashMap<>();

    /** An unnamed backend config (name {@code ""}, as PyTorch's default). */
    public BackendConfig() {
        this("");
    }

    public BackendConfig(String name) {
        setName(name);
    }

    public BackendConfig setName(String name) {
        if (name == null) {
            throw new IllegalArgumentException("name: got null; accepted: any string, e.g. \"x86\"");
        }
        this.name = name;
        return this;
    }

    /**
     * Adds a copy of {@code config}, replacing any config with an equal pattern.
     *
     * @throws IllegalArgumentException if {@code config} is null or has no pattern
     */
    public BackendConfig setBackendPatternConfig(BackendPatternConfig config) {
        if (config == null || config.getPattern() == null) {
            throw new IllegalArgumentException(OWNER + " '" + name + "': got " + (config == null ? "a null config"
                    : "a config without a pattern") + "; accepted: a BackendPatternConfig with its pattern set");
        }
        Pattern key = config.getPattern();
        if (configs.containsKey(key)) {
            LOG.debug("BackendConfig '{}': replacing the config for pattern {} (the last one set wins, as in PyTorch)",
                    name, key);
        }
        configs.put(key, config.copy());
        return this;
    }

    /** {@link #setBackendPatternConfig} for each, in order. */
    public BackendConfig setBackendPatternConfigs(List<BackendPatternConfig> configs) {
        if (configs == null) {
            throw new IllegalArgumentException(OWNER + " '" + name + "' configs: got null; accepted: a list of "
                    + "BackendPatternConfig");
        }
        configs.forEach(this::setBackendPatternConfig);
        return this;
    }

    public String getName() {
        return name;
    }

    /** Copies of the configs, in insertion order (a replaced config keeps its original position). */
    public List<BackendPatternConfig> getConfigs() {
        List<BackendPatternConfig> out = new ArrayList<>();
        configs.values().forEach(c -> out.add(c.copy()));
        return out;
    }

    /** A copy of the config for exactly {@code pattern}, if any. */
    public Optional<BackendPatternConfig> getConfig(Pattern pattern) {
        return Optional.ofNullable(configs.get(pattern)).map(BackendPatternConfig::copy);
    }

    /** {@code {"name": ..., "configs": [...]}} as PyTorch's {@code to_dict()}. */
    public Map<String, Object> toDict() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("name", name);
        d.put("configs", configs.values().stream().map(BackendPatternConfig::toDict).toList());
        return d;
    }

    /** Inverse of {@link #toDict()}; both keys are optional, as in PyTorch. */
    public static BackendConfig fromDict(Map<String, ?> dict) {
        return fromDictValue(dict);
    }

    private static BackendConfig fromDictValue(Object dict) {
        DictReader r = DictReader.of(OWNER, dict, KEYS);
        String name = r.string("name", "a string");
        BackendConfig backend = new BackendConfig(name == null ? "" : name);
        List<?> configs = r.list("configs", "a list of BackendPatternConfig dictionaries");
        if (configs != null) {
            for (int i = 0; i < configs.size(); i++) {
                backend.setBackendPatternConfig(BackendPatternConfig.fromDictValue(
                        OWNER + " field 'configs[" + i + "]'", configs.get(i)));
            }
        }
        return backend;
    }

    /** Pretty-printed JSON of {@link #toDict()}, stable key order, suitable for version control. */
    public String toJson() {
        return Json.write(toDict());
    }

    /** @throws IllegalArgumentException for malformed JSON (with line and column) or invalid content */
    public static BackendConfig fromJson(String json) {
        return fromDictValue(Json.read(json, OWNER));
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        return o instanceof BackendConfig other && name.equals(other.name)
                && new ArrayList<>(configs.values()).equals(new ArrayList<>(other.configs.values()));
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, new ArrayList<>(configs.values()));
    }

    @Override
    public String toString() {
        return OWNER + "{name='" + name + "', configs=" + configs.values() + "}";
    }
}
