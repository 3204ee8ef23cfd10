package io.github.dl4jquant.ns;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.graph.ConvertCustomConfig;
import io.github.dl4jquant.graph.ForwardActivations;
import io.github.dl4jquant.graph.PatternContext;
import io.github.dl4jquant.graph.PatternHandler;
import io.github.dl4jquant.graph.PatternHandlers;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Bias correction (Nagel et al., "Data-Free Quantization", section 4.2, empirical variant): a quantized dense layer
 * computes {@code x·W_q + b} instead of {@code x·W + b}, so its output is off on average by
 * {@code E[x]·(W − W_q)}; adding that to the bias removes the mean shift. {@code E[x]} is the mean of the layer's fp32
 * input, measured on calibration data.
 *
 * <pre>{@code
 * BiasCorrection bc = BiasCorrection.measure(model, calibrationFeatures);
 * ConvertCustomConfig custom = bc.register(new ConvertCustomConfig(), prepared.backendConfig());
 * ComputationGraph corrected = Quantizer.convert(prepared, custom);
 * }</pre>
 *
 * <p>Works as a {@link PatternHandler} around the built-in dense conversion; layers without a bias, with a
 * preprocessor, or not seen in the measurement are converted unchanged.
 */
public final class BiasCorrection {
    private final Map<String, INDArray> inputMeans;

    private BiasCorrection(Map<String, INDArray> inputMeans) {
        this.inputMeans = Collections.unmodifiableMap(inputMeans);
    }

    /** Measures the mean fp32 input of every dense-like layer of {@code fp32Model} on the given batches. */
    public static BiasCorrection measure(ComputationGraph fp32Model, INDArray... batches) {
        return measure(fp32Model, List.of(batches));
    }

    /** As {@link #measure(ComputationGraph, INDArray...)}, for a list of single-input batches. */
    public static BiasCorrection measure(ComputationGraph fp32Model, List<INDArray> batches) {
        Map<String, String> inputOf = denseInputs(fp32Model);
        Map<String, INDArray> sums = new LinkedHashMap<>();
        long rows = 0;
        for (INDArray batch : batches) {
            Map<String, INDArray> acts = ForwardActivations.of(fp32Model, new INDArray[] {batch});
            for (Map.Entry<String, String> e : inputOf.entrySet()) {
                INDArray colSum = acts.get(e.getValue()).castTo(DataType.DOUBLE).sum(0);
                sums.merge(e.getKey(), colSum, INDArray::addi);
            }
            rows += batch.size(0);
        }
        if (rows == 0) {
            throw new IllegalArgumentException("Bias correction needs calibration data with at least one example; "
                    + "got none");
        }
        Map<String, INDArray> means = new HashMap<>();
        for (Map.Entry<String, INDArray> e : sums.entrySet()) {
            means.put(e.getKey(), e.getValue().divi(rows).castTo(DataType.FLOAT).reshape(1, -1));
        }
        return new BiasCorrection(means);
    }

    /** Dense-like layer vertices fed by one rank-2 tensor without a preprocessor, with the name of that tensor. */
    private static Map<String, String> denseInputs(ComputationGraph g) {
        Map<String, String> inputOf = new LinkedHashMap<>();
        for (Map.Entry<String, GraphVertex> e : g.getConfiguration().getVertices().entrySet()) {
            if (e.getValue() instanceof LayerVertex) {
                LayerVertex lv = (LayerVertex) e.getValue();
                List<String> inputs = g.getConfiguration().getVertexInputs().get(e.getKey());
                if (lv.getLayerConf().getLayer() instanceof FeedForwardLayer && lv.getPreProcessor() == null
                        && inputs.size() == 1 && g.getLayer(e.getKey()).paramTable().containsKey("W")) {
                    inputOf.put(e.getKey(), inputs.get(0));
                }
            }
        }
        return inputOf;
    }

    /** The measured mean input {@code [1, nIn]} by layer vertex. */
    public Map<String, INDArray> inputMeans() {
        return inputMeans;
    }

    /**
     * Registers the bias-correcting handler in {@code custom} for every pattern of {@code backendConfig} that converts
     * to {@link ReferenceQuantizedDense}, and returns {@code custom}.
     */
    public ConvertCustomConfig register(ConvertCustomConfig custom, BackendConfig backendConfig) {
        PatternHandler corrected = handler(PatternHandlers.referenceDense());
        for (BackendPatternConfig c : backendConfig.getConfigs()) {
            if (c.getReferenceQuantizedModule() == ReferenceQuantizedDense.class) {
                custom.registerPatternHandler(c.getPattern(), corrected);
            }
        }
        return custom;
    }

    /** A handler that corrects the bias in the pattern's parameters, then lets {@code delegate} convert. */
    public PatternHandler handler(PatternHandler delegate) {
        return ctx -> delegate.convert(corrected(ctx));
    }

    private PatternContext corrected(PatternContext ctx) {
        INDArray mean = inputMeans.get(ctx.rootVertex());
        INDArray w = ctx.rootParams().get("W");
        INDArray b = ctx.rootParams().get("b");
        QParams wq = ctx.weightQParams();
        if (mean == null || w == null || b == null || wq == null || mean.length() != w.size(0)) {
            return ctx;
        }
        INDArray shift = mean.castTo(w.dataType()).mmul(w.sub(QuantOps.fakeQuantize(w, wq)));
        Map<String, INDArray> params = new LinkedHashMap<>(ctx.rootParams());
        params.put("b", b.add(shift.reshape(b.shape())));
        return new PatternContext(ctx.rootVertex(), ctx.vertices(), ctx.layers(), ctx.fusedLayer(), params,
                ctx.config(), ctx.dtypeConfig(), ctx.qconfig(), ctx.inputQParams(), ctx.weightQParams(),
                ctx.outputQParams(), ctx.dynamic(), ctx.lowered());
    }
}
