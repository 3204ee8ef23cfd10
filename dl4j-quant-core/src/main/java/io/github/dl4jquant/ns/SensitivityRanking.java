package io.github.dl4jquant.ns;

/**
 * How {@link AccuracyControl} orders quantized layers before it starts keeping them in fp32.
 *
 * <pre>{@code
 * AccuracyControlConfig config = AccuracyControlConfig.builder().maxAbsoluteDrop(0.002)
 *         .ranking(SensitivityRanking.FALLBACK_GAIN).build();
 * }</pre>
 */
public enum SensitivityRanking {
    /**
     * By each layer's own activation SQNR from the numeric suite (alone, on fp32 inputs), lowest first. Costs one
     * comparison; no extra evaluation.
     */
    SQNR,
    /**
     * By the metric gained when only that layer is kept fp32 (NNCF's and Intel Neural Compressor's way), largest
     * first. Costs one quantization and evaluation per layer, counted against the trial budget.
     */
    FALLBACK_GAIN
}
