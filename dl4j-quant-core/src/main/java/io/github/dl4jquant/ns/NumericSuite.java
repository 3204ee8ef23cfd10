package io.github.dl4jquant.ns;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.graph.ConvertCustomConfig;
import io.github.dl4jquant.graph.Converter;
import io.github.dl4jquant.graph.ForwardActivations;
import io.github.dl4jquant.graph.GraphModel;
import io.github.dl4jquant.graph.PrepareCustomConfig;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.QuantizationReport;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.nn.WeightLayouts;
import io.github.dl4jquant.nn.quantized.QuantizedConvolution;
import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.nn.reference.QuantDequantLayer;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accuracy debugging for quantized models, after PyTorch's numeric suite ({@code torch.ao.ns}): per-layer weight and
 * activation error of a quantized model against its fp32 original, with error propagation (both models end to end,
 * PyTorch's {@code add_loggers}) and without (each quantized layer alone on the fp32 model's input to it, PyTorch's
 * {@code add_shadow_loggers}); and a shadow mode that tries several QConfigs per layer.
 *
 * <pre>{@code
 * PreparedModel prepared = Quantizer.prepare(model, QConfigs.getDefaultQConfigMapping("x86"),
 *         BackendConfigs.getX86BackendConfig()).calibrate(calibration);
 * ComputationGraph quantized = Quantizer.convert(prepared);
 * NumericSuiteReport report = NumericSuite.compare(prepared, quantized, sample);
 * System.out.println(report);                                      // worst layer first
 *
 * ShadowReport best = NumericSuite.shadow(model, Map.of("per-tensor", perTensor, "per-channel", perChannel),
 *         BackendConfigs.getX86BackendConfig(), calibrationFeatures, sample);
 * }</pre>
 *
 * <p>Fused vertices vanish from the quantized graph: a fused pattern is compared at its output (e.g. the
 * {@code ActivationLayer} after a {@code DenseLayer}) against the fused root vertex; a {@code <vertex>_qdq} layer
 * added after a vertex is compared against that vertex. Only vertices the conversion changed are reported.
 */
public final class NumericSuite {
    private static final Logger log = LoggerFactory.getLogger(NumericSuite.class);

    private NumericSuite() {
    }

    /** Compares without a quantization report: qparams are read from the quantized layers where they have them. */
    public static NumericSuiteReport compare(ComputationGraph fp32Model, ComputationGraph quantizedModel,
                                             INDArray data) {
        return compare(fp32Model, quantizedModel, null, data);
    }

    /** Compares {@code quantizedModel}, made from {@code prepared}, with the prepared model's fp32 copy. */
    public static NumericSuiteReport compare(PreparedModel prepared, ComputationGraph quantizedModel, INDArray data) {
        requireData(data != null && data.size(0) > 0, "data");
        return compare(prepared.graphModel().graph(), quantizedModel, prepared.report(), prepared::observedWeight,
                List.<INDArray[]>of(new INDArray[] {data}).iterator());
    }

    /**
     * Compares on {@code data} (one batch of features of a single-input model). {@code report} (nullable) supplies
     * the weight and output qparams and the user's layer names.
     */
    public static NumericSuiteReport compare(ComputationGraph fp32Model, ComputationGraph quantizedModel,
                                             QuantizationReport report, INDArray data) {
        requireData(data != null && data.size(0) > 0, "data");
        return compare(fp32Model, quantizedModel, report, unfusedWeights(fp32Model),
                List.<INDArray[]>of(new INDArray[] {data}).iterator());
    }

    /** Without the prepared model, the fp32 layers' own weights (no batch norm folded in). */
    private static Function<String, INDArray> unfusedWeights(ComputationGraph fp32) {
        return root -> {
            Layer l = fp32.getLayer(root);
            INDArray w = l == null ? null : l.paramTable().get("W");
            return w == null ? null : WeightLayouts.observedWeight(l.conf().getLayer(), w);
        };
    }

    /** Compares on every batch of {@code data} (reset first when the iterator supports it). */
    public static NumericSuiteReport compare(ComputationGraph fp32Model, ComputationGraph quantizedModel,
                                             QuantizationReport report, DataSetIterator data) {
        if (data.resetSupported()) {
            data.reset();
        }
        Iterator<INDArray[]> batches = new Iterator<>() {
            @Override
            public boolean hasNext() {
                return data.hasNext();
            }

            @Override
            public INDArray[] next() {
                DataSet ds = data.next();
                return new INDArray[] {ds.getFeatures()};
            }
        };
        return compare(fp32Model, quantizedModel, report, unfusedWeights(fp32Model), batches);
    }

    private static NumericSuiteReport compare(ComputationGraph fp32, ComputationGraph quantized,
                                              QuantizationReport report, Function<String, INDArray> floatWeights,
                                              Iterator<INDArray[]> batches) {
        long start = System.nanoTime();
        GraphAlignment alignment = GraphAlignment.of(fp32, quantized);
        if (alignment.groups().isEmpty()) {
            throw new IllegalArgumentException("The quantized model computes no vertex differently from the fp32 "
                    + "model, so there is nothing to compare: pass the model returned by convert/convertToReference");
        }
        Map<String, ErrorAccumulator> alone = new LinkedHashMap<>();
        Map<String, ErrorAccumulator> propagated = new LinkedHashMap<>();
        for (GraphAlignment.Group g : alignment.groups()) {
            ErrorAccumulator endToEnd = new ErrorAccumulator();
            propagated.put(g.root(), endToEnd);
            // a group fed by network inputs sees the same inputs alone and end to end: one set of sums serves both
            alone.put(g.root(), feedsOnNetworkInputs(alignment, g) ? endToEnd : new ErrorAccumulator());
        }
        long examples = 0;
        while (batches.hasNext()) {
            INDArray[] inputs = batches.next();
            accumulate(fp32, quantized, alignment, inputs, alone, propagated);
            examples += inputs[0].size(0);
        }
        requireData(examples > 0, "data");
        List<VertexComparison> rows = rows(quantized, report, floatWeights, alignment, alone, propagated);
        NumericSuiteReport result = new NumericSuiteReport(rows, examples, (System.nanoTime() - start) / 1e9);
        log.info("Numeric suite compared {} layer(s) on {} examples in {} s; worst: '{}' at {} dB", rows.size(),
                examples, String.format(java.util.Locale.ROOT, "%.2f", result.seconds()),
                result.rows().get(0).displayName(),
                String.format(java.util.Locale.ROOT, "%.2f", result.rows().get(0).alone().sqnr()));
        return result;
    }

    /** Adds one batch to every group's error sums, end to end and alone. */
    private static void accumulate(ComputationGraph fp32, ComputationGraph quantized, GraphAlignment alignment,
                                   INDArray[] inputs, Map<String, ErrorAccumulator> alone,
                                   Map<String, ErrorAccumulator> propagated) {
        Map<String, INDArray> fpActs = ForwardActivations.of(fp32, inputs);
        Map<String, INDArray> qActs = ForwardActivations.of(quantized, inputs);
        for (GraphAlignment.Group g : alignment.groups()) {
            INDArray reference = fpActs.get(g.fp32Tensor());
            INDArray endToEnd = qActs.get(g.quantizedTensor());
            propagated.get(g.root()).add(reference, endToEnd);
            if (alone.get(g.root()) != propagated.get(g.root())) {
                alone.get(g.root()).add(reference, runAlone(quantized, alignment, g, fpActs, qActs));
            }
        }
    }

    private static List<VertexComparison> rows(ComputationGraph quantized, QuantizationReport report,
                                               Function<String, INDArray> floatWeights, GraphAlignment alignment,
                                               Map<String, ErrorAccumulator> alone,
                                               Map<String, ErrorAccumulator> propagated) {
        List<VertexComparison> rows = new ArrayList<>();
        for (GraphAlignment.Group g : alignment.groups()) {
            ReportEntry entry = entryOf(report, g.root());
            double scale = outputScale(entry, quantized, g);
            rows.add(new VertexComparison(g.root(), entry != null ? entry.displayName() : g.root(), g.fp32Vertices(),
                    g.fp32Tensor(), g.quantizedTensor(), moduleOf(quantized, g), scale,
                    weightComparison(floatWeights.apply(g.root()), quantized, entry, g.root()),
                    alone.get(g.root()).result(scale),
                    propagated.get(g.root()).result(scale)));
        }
        return rows;
    }

    private static void requireData(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException("The numeric suite needs at least one example in '" + what + "'; got "
                    + "none");
        }
    }

    /** When every outside input of the group is a network input, alone and end to end see the same inputs. */
    private static boolean feedsOnNetworkInputs(GraphAlignment a, GraphAlignment.Group g) {
        for (String v : g.quantizedVertices()) {
            for (String in : a.quantizedInputsOf(v)) {
                if (!g.quantizedVertices().contains(in) && !a.isNetworkInput(in)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Runs the group's quantized vertices on the fp32 model's activations (PyTorch's shadow: no propagation). */
    private static INDArray runAlone(ComputationGraph quantized, GraphAlignment a, GraphAlignment.Group g,
                                     Map<String, INDArray> fpActs, Map<String, INDArray> qActs) {
        LayerWorkspaceMgr noWorkspaces = LayerWorkspaceMgr.noWorkspaces();
        Map<String, INDArray> local = new HashMap<>();
        for (String v : g.quantizedVertices()) {
            GraphVertex vertex = quantized.getVertex(v);
            List<String> inputs = a.quantizedInputsOf(v);
            for (int i = 0; i < inputs.size(); i++) {
                String in = inputs.get(i);
                String fp32Tensor = a.fp32TensorOf(in);
                INDArray x = local.containsKey(in) ? local.get(in)
                        : fp32Tensor != null ? fpActs.get(fp32Tensor) : qActs.get(in);
                // dup: layers may work in place on their input, and the fp32 activations are compared afterwards
                vertex.setInput(i, x.dup(), noWorkspaces);
            }
            INDArray out = vertex.doForward(false, noWorkspaces);
            vertex.clear();
            local.put(v, out);
        }
        return local.get(g.quantizedTensor());
    }

    private static ReportEntry entryOf(QuantizationReport report, String vertex) {
        if (report == null) {
            return null;
        }
        return report.entries().stream().filter(e -> e.vertex().equals(vertex)).findFirst().orElse(null);
    }

    private static double outputScale(ReportEntry entry, ComputationGraph quantized, GraphAlignment.Group g) {
        QParams out = entry != null ? entry.outputQParams() : null;
        if (out == null) {
            Object conf = layerConf(quantized, g.quantizedTensor());
            if (conf instanceof QuantDequantLayer) {
                out = ((QuantDequantLayer) conf).qparams();
            } else if (conf instanceof ReferenceQuantizedDense) {
                out = ((ReferenceQuantizedDense) conf).getOutputQParams();
            } else if (conf instanceof QuantizedDense) {
                out = ((QuantizedDense) conf).getOutputQParams();
            }
        }
        return out == null || out.isPerChannel() ? Double.NaN : out.scale();
    }

    /**
     * The float weight the layer's int8 weight approximates ({@code w}: in the observers' layout, with a folded batch
     * norm) against the quantized model's own int8 weight when it stores one, else against {@code w}
     * quantize-dequantized with the weight qparams of the report or of the reference layer.
     */
    private static TensorComparison weightComparison(INDArray w, ComputationGraph quantized, ReportEntry entry,
                                                     String root) {
        Object conf = layerConf(quantized, root);
        if (w != null && conf instanceof QuantizedDense q) {
            return TensorComparison.of(w, dequantizedWeight(q), Double.NaN);
        }
        if (w != null && conf instanceof QuantizedConvolution q) {
            return TensorComparison.of(w, q.dequantizedWeightOihw(), Double.NaN);
        }
        QParams wq = entry != null ? entry.weightQParams() : null;
        if (wq == null && conf instanceof ReferenceQuantizedDense r) {
            wq = r.getWeightQParams();
        }
        if (w == null || wq == null) {
            return null;
        }
        return TensorComparison.of(w, QuantOps.fakeQuantize(w, wq), Double.NaN);
    }

    /**
     * The int8 weight {@code [nIn, nOut]} ('c' order in the configuration) times its per-channel scale, written in
     * 'f' order, the order of DL4J's float W, so that the comparison reads both without reordering.
     */
    private static INDArray dequantizedWeight(QuantizedDense q) {
        byte[] w8 = q.getWeightInt8();
        float[] scales = q.getWeightScales();
        int n = scales.length;
        int k = w8.length / n;
        float[] w = new float[w8.length];
        for (int c = 0; c < n; c++) {
            for (int r = 0; r < k; r++) {
                w[c * k + r] = w8[r * n + c] * scales[c];
            }
        }
        return Nd4j.create(w, new long[] {k, n}, 'f');
    }

    private static Object layerConf(ComputationGraph g, String vertex) {
        org.deeplearning4j.nn.conf.graph.GraphVertex v = g.getConfiguration().getVertices().get(vertex);
        return v instanceof LayerVertex ? ((LayerVertex) v).getLayerConf().getLayer() : v;
    }

    private static String moduleOf(ComputationGraph quantized, GraphAlignment.Group g) {
        return g.quantizedVertices().stream().map(v -> layerConf(quantized, v).getClass().getSimpleName())
                .collect(Collectors.joining(" + "));
    }

    // -------------------------------------------------------------------------------------------------- shadow

    /**
     * Shadow mode (PyTorch's n-shadows): quantizes every layer with each candidate QConfig (applied as the global
     * QConfig of a fresh {@link QConfigMapping}), calibrates on {@code calibrationData}, and measures each quantized
     * layer alone on the fp32 model's inputs from {@code evalData}; reports per layer which candidate has the best
     * SQNR. The candidates' order is kept (use a {@link LinkedHashMap}).
     *
     * @throws IllegalArgumentException when there are no candidates, or a candidate cannot quantize the model
     */
    public static ShadowReport shadow(ComputationGraph fp32Model, Map<String, QConfig> candidates,
                                      BackendConfig backendConfig, INDArray calibrationData, INDArray evalData) {
        if (candidates == null || candidates.isEmpty()) {
            throw new IllegalArgumentException("shadow needs at least one candidate QConfig; got " + candidates);
        }
        Map<String, NumericSuiteReport> reports = new LinkedHashMap<>();
        for (Map.Entry<String, QConfig> c : candidates.entrySet()) {
            if (c.getValue() == null) {
                throw new IllegalArgumentException("Candidate '" + c.getKey() + "' is null: give a QConfig (a layer "
                        + "kept fp32 is the baseline every candidate is compared with)");
            }
            PreparedModel prepared;
            try {
                prepared = PreparedModel.plan(GraphModel.of(fp32Model.clone(), Map.of()),
                        new QConfigMapping().setGlobal(c.getValue()), backendConfig, PrepareCustomConfig.defaults());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("Candidate '" + c.getKey() + "' cannot quantize the model: "
                        + e.getMessage(), e);
            }
            prepared.calibrate(calibrationData);
            ComputationGraph quantized = Converter.convert(prepared, new ConvertCustomConfig(), false).model();
            reports.put(c.getKey(), compare(prepared, quantized, evalData));
        }
        return ShadowReport.of(fp32Model, candidates, reports);
    }

    /** {@link #shadow(ComputationGraph, Map, BackendConfig, INDArray, INDArray)} with candidates named "0", "1"... */
    public static ShadowReport shadow(ComputationGraph fp32Model, List<QConfig> candidates,
                                      BackendConfig backendConfig, INDArray calibrationData, INDArray evalData) {
        Map<String, QConfig> named = new LinkedHashMap<>();
        for (int i = 0; i < candidates.size(); i++) {
            named.put(String.valueOf(i), candidates.get(i));
        }
        return shadow(fp32Model, named, backendConfig, calibrationData, evalData);
    }
}
