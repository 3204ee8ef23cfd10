package io.github.dl4jquant.qconfig;

import io.github.dl4jquant.observer.ObserverFactories;
import io.github.dl4jquant.observer.ObserverFactory;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How to observe one layer: an observer factory for its activations (input/output) and one for its weight, as
 * PyTorch's {@code QConfig(activation, weight)}. Immutable; equality compares the factories' settings.
 *
 * <pre>{@code
 * QConfig q = new QConfig(
 *         HistogramObserver.builder().reduceRange(true),
 *         PerChannelMinMaxObserver.builder().chAxis(1)             // DL4J DenseLayer W is [nIn, nOut]
 *                 .dtype(QuantDType.QINT8).qscheme(QScheme.PER_CHANNEL_SYMMETRIC));
 * Observer act = q.activation().create();
 * }</pre>
 *
 * <p>The factories are snapshotted through {@link ObserverFactories#fromMap} when they are registered builders, so a
 * builder changed after constructing the QConfig does not change it. A {@code null} weight means the layer has no
 * weight to observe (or it is not quantized).
 */
public final class QConfig {
    private final ObserverFactory activation;
    private final ObserverFactory weight;

    /**
     * @param activation factory for activation observers (required)
     * @param weight     factory for weight observers, or {@code null}
     */
    public QConfig(ObserverFactory activation, ObserverFactory weight) {
        if (activation == null) {
            throw new IllegalArgumentException("QConfig: activation observer factory must not be null (use a "
                    + "PlaceholderObserver for float activations, or a null QConfig to keep the layer in fp32)");
        }
        this.activation = snapshot(activation);
        this.weight = weight == null ? null : snapshot(weight);
    }

    private static ObserverFactory snapshot(ObserverFactory f) {
        Object name = f.toMap().get("name");
        return name != null && ObserverFactories.registeredNames().contains(name.toString())
                ? ObserverFactories.fromMap(f.toMap()) : f;
    }

    /** Factory of the activation observers. */
    public ObserverFactory activation() {
        return activation;
    }

    /** Factory of the weight observers, or {@code null}. */
    public ObserverFactory weight() {
        return weight;
    }

    /** {@code {"activation": {...}, "weight": {...} or null}}, JSON-friendly. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("activation", activation.toMap());
        m.put("weight", weight == null ? null : weight.toMap());
        return m;
    }

    /** Rebuilds a QConfig from {@link #toMap()} output. */
    public static QConfig fromMap(Map<String, ?> m) {
        return fromMapValue(m);
    }

    /**
     * {@link #fromMap} for a value read from JSON, which may be anything.
     *
     * @throws IllegalArgumentException naming the key when the value is not a QConfig map
     */
    static QConfig fromMapValue(Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException("expected a QConfig map {\"activation\": {...}, \"weight\": {...} or "
                    + "null}, or null to keep the layer fp32; got " + value);
        }
        for (Object key : m.keySet()) {
            if (!"activation".equals(key) && !"weight".equals(key)) {
                throw new IllegalArgumentException("QConfig: unknown key '" + key + "'; accepted keys: [activation, "
                        + "weight]");
            }
        }
        Object a = m.get("activation");
        Object w = m.get("weight");
        if (a == null) {
            throw new IllegalArgumentException("QConfig: 'activation' is missing; give an observer map such as "
                    + "{\"name\": \"MinMaxObserver\"}");
        }
        return new QConfig(observer("activation", a), w == null ? null : observer("weight", w));
    }

    @SuppressWarnings("unchecked")
    private static ObserverFactory observer(String key, Object value) {
        if (!(value instanceof Map<?, ?> map) || !map.keySet().stream().allMatch(k -> k instanceof String)) {
            throw new IllegalArgumentException("QConfig '" + key + "': expected an observer map such as {\"name\": "
                    + "\"MinMaxObserver\", ...}; got " + value);
        }
        try {
            return ObserverFactories.fromMap((Map<String, ?>) map);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("QConfig '" + key + "': " + e.getMessage(), e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QConfig && toMap().equals(((QConfig) o).toMap());
    }

    @Override
    public int hashCode() {
        return Objects.hash(toMap());
    }

    @Override
    public String toString() {
        return "QConfig(activation=" + activation + ", weight=" + weight + ")";
    }
}
