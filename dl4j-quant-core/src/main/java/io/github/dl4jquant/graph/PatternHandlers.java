package io.github.dl4jquant.graph;

import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import java.util.HashMap;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The built-in pattern handlers, found through the pattern's reference quantized module
 * ({@code BackendPatternConfig.setReferenceQuantizedModule}), as PyTorch's
 * {@code get_root_module_to_quantized_reference_module}.
 *
 * <pre>{@code
 * PatternHandler dense = PatternHandlers.referenceDense();   // DenseLayer / OutputLayer -> ReferenceQuantizedDense,
 *                                                            // or QuantizedDense when lowering
 * }</pre>
 */
public final class PatternHandlers {
    private static final Map<Class<?>, PatternHandler> BY_REFERENCE_MODULE = new HashMap<>();

    static {
        BY_REFERENCE_MODULE.put(ReferenceQuantizedDense.class, PatternHandlers::convertDense);
    }

    private PatternHandlers() {
    }

    /** The built-in handler for dense-like roots (DenseLayer, OutputLayer). */
    public static PatternHandler referenceDense() {
        return PatternHandlers::convertDense;
    }

    /** The built-in handler for a reference quantized module class, or null when there is none. */
    public static PatternHandler forReferenceModule(Class<?> referenceModule) {
        return referenceModule == null ? null : BY_REFERENCE_MODULE.get(referenceModule);
    }

    /**
     * Why the built-in dense handler cannot convert {@code root}, or null when it can. Checked at prepare time so
     * that the report says so before calibration.
     */
    static String unsupportedDenseReason(Layer root) {
        if (!(root instanceof DenseLayer) && !(root instanceof OutputLayer)) {
            return root.getClass().getSimpleName() + " is not a DenseLayer or OutputLayer";
        }
        if (root instanceof DenseLayer && ((DenseLayer) root).hasLayerNorm()) {
            return "DenseLayer with layer normalisation (hasLayerNorm) is not supported";
        }
        return null;
    }

    private static Replacement convertDense(PatternContext ctx) {
        FeedForwardLayer root = (FeedForwardLayer) ctx.rootLayer();
        boolean hasBias = ctx.rootParams().containsKey("b");
        ReferenceQuantizedDense reference = new ReferenceQuantizedDense.Builder()
                .nIn(root.getNIn())
                .nOut(root.getNOut())
                .activation(((BaseLayer) root).getActivationFn())
                .hasBias(hasBias)
                .inputQParams(ctx.inputQParams())
                .weightQParams(ctx.weightQParams())
                .outputQParams(ctx.outputQParams())
                .dynamic(ctx.dynamic())
                .reduceRange(ctx.dynamic() && ctx.qconfig().activation().create().quantMax() <= 127)
                .build();
        INDArray w = ctx.rootParams().get("W");
        INDArray b = ctx.rootParams().get("b");
        if (ctx.lowered()) {
            return Replacement.of(QuantizedDense.fromReference(reference, w, b), Map.of());
        }
        return Replacement.of(reference, hasBias ? Map.of("W", w, "b", b) : Map.of("W", w));
    }
}
