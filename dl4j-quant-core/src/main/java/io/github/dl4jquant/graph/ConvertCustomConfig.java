package io.github.dl4jquant.graph;

import io.github.dl4jquant.backendconfig.Pattern;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Options of {@code Quantizer.convert}/{@code convertToReference}, named after PyTorch's {@code ConvertCustomConfig}:
 * custom {@link PatternHandler}s by pattern. A handler registered for a pattern takes precedence over the built-in
 * conversion of that pattern.
 *
 * <pre>{@code
 * ConvertCustomConfig custom = new ConvertCustomConfig()
 *     .registerPatternHandler(Pattern.of(DenseLayer.class), myHandler);
 * ComputationGraph q = Quantizer.convert(prepared, custom);
 * }</pre>
 */
public final class ConvertCustomConfig {
    private final Map<Pattern, PatternHandler> handlers = new LinkedHashMap<>();

    /** Registers {@code handler} for matches of {@code pattern}; replaces any handler registered for it before. */
    public ConvertCustomConfig registerPatternHandler(Pattern pattern, PatternHandler handler) {
        if (pattern == null || handler == null) {
            throw new IllegalArgumentException("registerPatternHandler needs a pattern and a handler; got pattern="
                    + pattern + ", handler=" + handler);
        }
        handlers.put(pattern, handler);
        return this;
    }

    /** The handler registered for {@code pattern}, or null. */
    public PatternHandler handlerFor(Pattern pattern) {
        return handlers.get(pattern);
    }

    @Override
    public String toString() {
        return "ConvertCustomConfig(handlers for " + handlers.keySet() + ")";
    }
}
