package io.github.dl4jquant.graph;

/**
 * Builds the replacement for a matched pattern: the custom quantization strategy hook. The built-in conversions use
 * the same interface, so a handler registered for a pattern overrides them.
 *
 * <pre>{@code
 * ConvertCustomConfig custom = new ConvertCustomConfig()
 *     .registerPatternHandler(Pattern.of(DenseLayer.class, Activation.RELU), ctx -> {
 *         if (ctx.rootParams().get("W").amaxNumber().doubleValue() > 10) {
 *             return null;                           // keep this one fp32; reported as DECLINED_BY_HANDLER
 *         }
 *         return PatternHandlers.referenceDense().convert(ctx);
 *     });
 * ComputationGraph q = Quantizer.convertToReference(prepared, custom);
 * }</pre>
 */
@FunctionalInterface
public interface PatternHandler {

    /**
     * Returns the replacement for the matched pattern, or null to keep it in fp32 (reported with
     * {@link SkipReason#DECLINED_BY_HANDLER}).
     */
    Replacement convert(PatternContext context);
}
