package io.github.dl4jquant.graph;

/**
 * Why a vertex was kept in fp32. Every vertex that is not quantized carries one, in the {@link QuantizationReport}
 * and in the log, so that nothing is skipped silently (PyTorch issue #85851).
 *
 * <pre>{@code
 * for (ReportEntry e : report.keptFp32()) {
 *     if (e.reason() == SkipReason.CONSTRAINT_VIOLATED) { ... }
 * }
 * }</pre>
 */
public enum SkipReason {
    /** No BackendPatternConfig of the BackendConfig matches this vertex. */
    NO_PATTERN("no matching pattern"),
    /** The QConfigMapping gives this vertex no QConfig (null, or nothing set): keep fp32 by request. */
    QCONFIG_NONE("qconfig is null"),
    /** No DTypeConfig of the pattern accepts the dtypes that the vertex's QConfig produces. */
    DTYPE_MISMATCH("dtype mismatch"),
    /** A DTypeConfig's dtypes match but one of its constraints (range, scale) is violated. */
    CONSTRAINT_VIOLATED("dtype constraint violated"),
    /** A pattern matched but there is no way to convert it (no reference module, unsupported layer options). */
    UNSUPPORTED_LAYER("unsupported layer"),
    /** A custom pattern handler declined to quantize the pattern. */
    DECLINED_BY_HANDLER("declined by pattern handler");

    private final String label;

    SkipReason(String label) {
        this.label = label;
    }

    /** A short human-readable label, e.g. "dtype mismatch". */
    public String label() {
        return label;
    }
}
