package io.github.dl4jquant.graph;

import java.util.Objects;

/**
 * Options of {@code Quantizer.prepare}, named after PyTorch's {@code PrepareCustomConfig}. Immutable.
 *
 * <pre>{@code
 * PrepareCustomConfig strict = PrepareCustomConfig.defaults().withStrict(true);
 * Quantizer.prepare(model, qconfigMapping, backendConfig, strict);   // throws instead of keeping a layer fp32
 * }</pre>
 */
public final class PrepareCustomConfig {
    private static final PrepareCustomConfig DEFAULTS = new PrepareCustomConfig(false);

    private final boolean strict;

    private PrepareCustomConfig(boolean strict) {
        this.strict = strict;
    }

    public static PrepareCustomConfig defaults() {
        return DEFAULTS;
    }

    /**
     * In strict mode, a vertex that would be kept fp32 for any reason other than an explicit null QConfig makes
     * {@code prepare} throw, naming the vertex and the reason.
     */
    public PrepareCustomConfig withStrict(boolean newStrict) {
        return new PrepareCustomConfig(newStrict);
    }

    public boolean isStrict() {
        return strict;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PrepareCustomConfig && ((PrepareCustomConfig) o).strict == strict;
    }

    @Override
    public int hashCode() {
        return Objects.hash(strict);
    }

    @Override
    public String toString() {
        return "PrepareCustomConfig(strict=" + strict + ")";
    }
}
