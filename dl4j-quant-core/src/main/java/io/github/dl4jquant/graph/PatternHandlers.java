package io.github.dl4jquant.graph;

import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.nn.quantized.QuantizedAdd;
import io.github.dl4jquant.nn.quantized.QuantizedConvolution;
import io.github.dl4jquant.nn.quantized.QuantizedEmbedding;
import io.github.dl4jquant.nn.quantized.QuantizedEmbeddingSequence;
import io.github.dl4jquant.nn.quantized.QuantizedRows;
import io.github.dl4jquant.nn.quantized.QuantizedPooling;
import io.github.dl4jquant.nn.reference.ReferenceQuantization;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution1D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution2D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDepthwiseConvolution2D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbedding;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbeddingSequence;
import io.github.dl4jquant.QuantOps;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
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
        for (Class<?> c : RecurrentConversion.ROOTS) {
            BY_REFERENCE_MODULE.put(c, RecurrentConversion::convert);
        }
        for (Class<?> c : List.of(ReferenceQuantizedConvolution2D.class, ReferenceQuantizedConvolution1D.class,
                ReferenceQuantizedDepthwiseConvolution2D.class)) {
            BY_REFERENCE_MODULE.put(c, PatternHandlers::convertConvolution);
        }
        BY_REFERENCE_MODULE.put(ReferenceQuantizedEmbedding.class, PatternHandlers::convertEmbedding);
        BY_REFERENCE_MODULE.put(ReferenceQuantizedEmbeddingSequence.class, PatternHandlers::convertEmbedding);
    }

    private PatternHandlers() {
    }

    /** The built-in handler for dense-like roots (DenseLayer, OutputLayer). */
    public static PatternHandler referenceDense() {
        return PatternHandlers::convertDense;
    }

    /**
     * The built-in handler for convolution roots (ConvolutionLayer, Convolution1DLayer, DepthwiseConvolution2D):
     * their reference subclass, or the int8 convolution when lowering.
     */
    public static PatternHandler convolution() {
        return PatternHandlers::convertConvolution;
    }

    /**
     * The built-in handler for embedding roots (EmbeddingLayer, EmbeddingSequenceLayer): weight-only rows, the
     * reference (fake-quantized table) or, when lowering, the 8-/4-bit table.
     */
    public static PatternHandler embedding() {
        return PatternHandlers::convertEmbedding;
    }

    /**
     * The built-in handler for recurrent roots (LSTM, GravesLSTM, SimpleRnn, also in Bidirectional / LastTimeStep):
     * the float layer with quantize-dequantized weights, or the dynamic int8 recurrent layer when lowering.
     */
    public static PatternHandler recurrent() {
        return RecurrentConversion::convert;
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
        if (!(root instanceof DenseLayer) && !(root instanceof OutputLayer) && !(root instanceof RnnOutputLayer)) {
            return root.getClass().getSimpleName() + " is not a DenseLayer, OutputLayer or RnnOutputLayer";
        }
        if (root instanceof DenseLayer && ((DenseLayer) root).hasLayerNorm()) {
            return "DenseLayer with layer normalisation (hasLayerNorm) is not supported";
        }
        return null;
    }

    /**
     * Why the observed weight qparams cannot be used by the built-in conversion of {@code root}, or null: embeddings
     * need float per-row qparams (quint8 or quint4x2). Checked at prepare time.
     */
    static String unsupportedWeightQParams(Layer root, QParams weight) {
        return isEmbedding(root) ? QuantizedRows.unsupportedReason(weight, ((FeedForwardLayer) root).getNIn()) : null;
    }

    /** True for DL4J's embedding layers, whose input holds row indices rather than features. */
    static boolean isEmbedding(Layer layer) {
        return layer instanceof EmbeddingLayer || layer instanceof EmbeddingSequenceLayer;
    }

    /**
     * Why a matched op cannot be quantized now that calibration has shown the rank of its input (0 when unknown), or
     * null. A batch norm over {@code [batch, features]} is PyTorch's BatchNorm1d, which PyTorch quantizes only folded
     * into the Linear before it.
     */
    static String unsupportedAfterCalibration(Object root, int inputRank) {
        if (root instanceof BatchNormalization && inputRank != 0 && inputRank != 4) {
            return "a batch norm over rank-" + inputRank + " activations is PyTorch's BatchNorm1d, which has no "
                    + "quantized form of its own (PyTorch quantizes only BatchNorm2d/3d on their own): it stays fp32. "
                    + "Put it right after a DenseLayer with identity activation to have it folded into that layer";
        }
        return null;
    }

    /**
     * The int8 layer or vertex for a matched op without a module of its own when lowering: pooling
     * ({@link QuantizedPooling}), an add with or without the ReLU after it ({@link QuantizedAdd}); or null when it has
     * none and stays DL4J's float op (exact: its output keeps its input's grid, or is quantized after it).
     */
    static Replacement int8NoModuleOp(PatternMatch m, GraphModel graph, QParams output) {
        Object root = graph.matchableConf(m.rootVertex());
        if ((root instanceof SubsamplingLayer || root instanceof GlobalPoolingLayer) && m.vertices().size() == 1
                && QuantizedPooling.unsupportedReason((Layer) root, output) == null) {
            return Replacement.of(QuantizedPooling.of((Layer) root, output), Map.of());
        }
        if (root instanceof ElementWiseVertex e && e.getOp() == ElementWiseVertex.Op.Add
                && QuantizedAdd.unsupportedReason(output) == null) {
            boolean relu = m.vertices().size() == 2;
            return Replacement.ofVertex(new QuantizedAdd(output, relu, channelsLast(graph, m.rootVertex())));
        }
        return null;
    }

    /**
     * Whether the activations reaching {@code vertex} are channels last (NHWC/NWC): the data format of the nearest
     * layer upstream that has one; NCHW when none does.
     */
    static boolean channelsLast(GraphModel graph, String vertex) {
        java.util.Deque<String> todo = new java.util.ArrayDeque<>(graph.inputsOf(vertex));
        java.util.Set<String> seen = new java.util.HashSet<>();
        while (!todo.isEmpty()) {
            String t = todo.poll();
            if (!seen.add(t) || graph.isNetworkInput(t)) {
                continue;
            }
            Layer l = graph.layerConf(t);
            if (l instanceof ConvolutionLayer c) {
                return c instanceof Convolution1DLayer c1 ? c1.getRnnDataFormat() == RNNFormat.NWC
                        : c.getCnn2dDataFormat() == CNN2DFormat.NHWC;
            }
            if (l instanceof SubsamplingLayer s) {
                return s.getCnn2dDataFormat() == CNN2DFormat.NHWC;
            }
            if (l instanceof BatchNormalization b) {
                return b.getCnn2DFormat() == CNN2DFormat.NHWC;
            }
            todo.addAll(graph.inputsOf(t));
        }
        return false;
    }

    private static Replacement convertConvolution(PatternContext ctx) {
        ConvolutionLayer root = (ConvolutionLayer) ctx.rootLayer();
        ReferenceQuantization q = new ReferenceQuantization(ctx.inputQParams(), ctx.weightQParams(),
                ctx.outputQParams());
        ConvolutionLayer reference;
        if (root instanceof DepthwiseConvolution2D d) {
            reference = ReferenceQuantizedDepthwiseConvolution2D.fromFloat(d, q);
        } else if (root instanceof Convolution1DLayer c) {
            reference = ReferenceQuantizedConvolution1D.fromFloat(c, q);
        } else {
            reference = ReferenceQuantizedConvolution2D.fromFloat(root, q);
        }
        INDArray w = ctx.rootParams().get("W");
        INDArray b = reference.hasBias() ? ctx.rootParams().get("b") : null;
        if (ctx.lowered()) {
            String unsupported = QuantizedConvolution.unsupportedReason(reference, q);
            if (unsupported == null) {
                return Replacement.of(QuantizedConvolution.fromReference((ReferenceQuantizedConvolution) reference,
                        w, b), Map.of());
            }
            return Replacement.of(reference, weightAndBias(w, b)).withNote("not lowered to int8: " + unsupported
                    + "; computed in float on quantized values");
        }
        return Replacement.of(reference, weightAndBias(w, b));
    }

    private static Replacement convertEmbedding(PatternContext ctx) {
        Layer root = ctx.rootLayer();
        QParams rows = ctx.weightQParams();
        INDArray w = ctx.rootParams().get("W");
        INDArray b = ctx.rootParams().get("b");
        if (root instanceof EmbeddingSequenceLayer s) {
            ReferenceQuantizedEmbeddingSequence reference = ReferenceQuantizedEmbeddingSequence.fromFloat(s, rows);
            return ctx.lowered() ? Replacement.of(QuantizedEmbeddingSequence.fromReference(reference, w, b), Map.of())
                    : Replacement.of(reference, weightAndBias(QuantOps.fakeQuantize(w, rows), b));
        }
        ReferenceQuantizedEmbedding reference = ReferenceQuantizedEmbedding.fromFloat((EmbeddingLayer) root, rows);
        return ctx.lowered() ? Replacement.of(QuantizedEmbedding.fromReference(reference, w, b), Map.of())
                : Replacement.of(reference, weightAndBias(QuantOps.fakeQuantize(w, rows), b));
    }

    private static Map<String, INDArray> weightAndBias(INDArray w, INDArray b) {
        Map<String, INDArray> params = new LinkedHashMap<>();
        params.put("W", w);
        if (b != null) {
            params.put("b", b);
        }
        return params;
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
                .perTimeStep(root instanceof RnnOutputLayer r ? r.getRnnDataFormat() : null)
                .build();
        INDArray w = ctx.rootParams().get("W");
        INDArray b = ctx.rootParams().get("b");
        if (ctx.lowered()) {
            return Replacement.of(QuantizedDense.fromReference(reference, w, b), Map.of());
        }
        return Replacement.of(reference, hasBias ? Map.of("W", w, "b", b) : Map.of("W", w));
    }
}
