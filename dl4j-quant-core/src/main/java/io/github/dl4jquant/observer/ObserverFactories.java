package io.github.dl4jquant.observer;

import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Rebuilds observer factories from their {@link ObserverFactory#toMap()} form, by observer name: what makes a
 * {@code QConfigMapping} JSON round trip possible. The built-in observers are registered; register your own with
 * {@link #register}.
 *
 * <pre>{@code
 * Map<String, Object> m = HistogramObserver.builder().reduceRange(true).toMap();
 * ObserverFactory f = ObserverFactories.fromMap(m);     // equal settings, independent of the original builder
 * ObserverFactories.register("MyObserver", map -> new MyObserverFactory(map));
 * }</pre>
 */
public final class ObserverFactories {
    private static final Map<String, Function<Map<String, ?>, ObserverFactory>> REGISTRY = new ConcurrentHashMap<>();

    static {
        REGISTRY.put("MinMaxObserver", m -> MinMaxObserver.builder().applyMap(m));
        REGISTRY.put("MovingAverageMinMaxObserver", m -> MovingAverageMinMaxObserver.builder().applyMap(m));
        REGISTRY.put("PerChannelMinMaxObserver", m -> PerChannelMinMaxObserver.builder().applyMap(m));
        REGISTRY.put("MovingAveragePerChannelMinMaxObserver",
                m -> MovingAveragePerChannelMinMaxObserver.builder().applyMap(m));
        REGISTRY.put("HistogramObserver", m -> HistogramObserver.builder().applyMap(m));
        REGISTRY.put("PercentileObserver", m -> PercentileObserver.builder().applyMap(m));
        REGISTRY.put("PlaceholderObserver", m -> PlaceholderObserver.builder().applyMap(m));
        REGISTRY.put("FixedQParamsObserver", FixedQParamsObserver::fromMap);
    }

    private ObserverFactories() {
    }

    /**
     * A new factory with the settings in {@code map} (as produced by {@link ObserverFactory#toMap()}).
     *
     * @throws IllegalArgumentException if the name is not registered or an option is unknown or malformed
     */
    public static ObserverFactory fromMap(Map<String, ?> map) {
        Objects.requireNonNull(map, "map");
        Object name = map.get("name");
        Function<Map<String, ?>, ObserverFactory> f = name == null ? null : REGISTRY.get(name.toString());
        if (f == null) {
            throw new IllegalArgumentException("Unknown observer name '" + name + "' in " + map + "; registered: "
                    + registeredNames());
        }
        return f.apply(map);
    }

    /** The settings of {@code factory} as a map; same as {@code factory.toMap()}. */
    public static Map<String, Object> toMap(ObserverFactory factory) {
        return Objects.requireNonNull(factory, "factory").toMap();
    }

    /** Registers (or replaces) how factories named {@code name} are rebuilt from their maps. */
    public static void register(String name, Function<Map<String, ?>, ObserverFactory> fromMap) {
        REGISTRY.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(fromMap, "fromMap"));
    }

    /** The registered observer names, sorted. */
    public static Set<String> registeredNames() {
        return new TreeSet<>(REGISTRY.keySet());
    }
}
