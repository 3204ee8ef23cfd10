package io.github.dl4jquant.graph;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.nn.quantized.Int8Handover;
import io.github.dl4jquant.nn.reference.QuantDequantLayer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a calibrated {@link PreparedModel} into a new {@link ComputationGraph}: each planned pattern's root is replaced
 * by what its {@link PatternHandler} builds, fused vertices disappear, and quantize-dequantize steps are added after
 * quantized ops that have no module of their own. The prepared model is not modified.
 *
 * <pre>{@code
 * Converter.Result r = Converter.convert(prepared, new ConvertCustomConfig(), false);
 * ComputationGraph reference = r.model();
 * System.out.println(r.report());
 * }</pre>
 */
public final class Converter {
    private static final Logger log = LoggerFactory.getLogger(Converter.class);

    /**
     * A converted model and its report.
     *
     * @param model  the converted graph, initialised and ready for {@code output()}
     * @param report what happened to every vertex
     */
    public record Result(ComputationGraph model, QuantizationReport report) {
    }

    private final PreparedModel prepared;
    private final GraphModel graph;
    private final ConvertCustomConfig custom;
    private final boolean lowered;
    private final Map<String, Replacement> replacements = new LinkedHashMap<>();
    private final Map<String, QParams> qdqAfter = new LinkedHashMap<>();
    /** Inputs (vertex, input index) of multi-input quantized ops that must be quantized first: not on a grid. */
    private final Map<String, Map<Integer, QParams>> qdqBefore = new LinkedHashMap<>();
    private final Map<String, ReportEntry> entries = new LinkedHashMap<>();

    private Converter(PreparedModel prepared, ConvertCustomConfig custom, boolean lowered) {
        this.prepared = prepared;
        this.graph = prepared.graphModel();
        this.custom = custom;
        this.lowered = lowered;
    }

    /** Converts to reference modules ({@code lowered=false}) or to int8 kernels ({@code lowered=true}). */
    public static Result convert(PreparedModel prepared, ConvertCustomConfig custom, boolean lowered) {
        prepared.checkCalibrated(lowered ? "convert" : "convertToReference");
        return new Converter(prepared, custom, lowered).run();
    }

    private Result run() {
        QuantizationReport before = prepared.calibrationReport();
        for (ReportEntry e : before.entries()) {
            entries.put(e.vertex(), e);
        }
        for (PlannedPattern plan : prepared.plans().values()) {
            convertPattern(plan);
        }
        quantizeOffGridInputs();
        markHandovers();
        ComputationGraph model = rewrite();
        QuantizationReport report = before.withEntries(new ArrayList<>(entries.values()));
        if (lowered) {
            report = report.withKernel(Int8Gemms.describe());
        }
        prepared.recordConversion(report);
        log.info("Converted {} pattern(s) to {}", replacements.size(), lowered ? "int8 kernels" : "reference modules");
        return new Result(model, report);
    }

    private void convertPattern(PlannedPattern plan) {
        PatternMatch m = plan.match();
        String root = m.rootVertex();
        boolean coversOutput = m.isFused() || m.vertices().size() == 1;
        QParams out = prepared.qparamsOf(plan.outputTensor());
        String unsupported = PatternHandlers.unsupportedAfterCalibration(graph.matchableConf(root),
                prepared.rankOf(plan.inputTensor()));
        if (unsupported != null) {
            skip(m, SkipReason.UNSUPPORTED_LAYER, unsupported);
            return;
        }
        PatternHandler handler = handlerFor(m);
        Class<?> referenceModule = m.config().getReferenceQuantizedModule();
        if (handler == null && referenceModule != null) {
            throw new IllegalArgumentException("Vertex '" + graph.displayName(root) + "': the BackendPatternConfig for "
                    + m.patternDescription() + " names reference quantized module " + referenceModule.getName()
                    + ", which dl4j-quant cannot build (built in: ReferenceQuantizedDense). Register a PatternHandler "
                    + "for the pattern with ConvertCustomConfig.registerPatternHandler, or use a built-in module");
        }
        if (handler == null) {
            if (PreparedModel.weightOf(graph, m) != null) {
                skip(m, SkipReason.UNSUPPORTED_LAYER, "no reference quantized module is configured for root module "
                        + graph.layerConf(root).getClass().getSimpleName()
                        + " and no pattern handler is registered for " + m.patternDescription());
                return;
            }
            Replacement int8 = lowered && out != null ? PatternHandlers.int8NoModuleOp(m, graph, out) : null;
            if (int8 != null) {
                replacements.put(root, int8);
                markModule(root, int8.describe());
                return;
            }
            if (out != null && !keepsInputGrid(m)) {
                qdqAfter.put(m.outputVertex(), out);
                markModule(root, "QuantDequantLayer after '" + graph.displayName(m.outputVertex()) + "'");
            }
            return;
        }
        PatternContext ctx = new PatternContext(root, m.vertices(), layerCopies(m), m.fusedLayer(), rootParams(m),
                m.config(), plan.dtypeConfig(), plan.qconfig(), prepared.qparamsOf(plan.inputTensor()),
                plan.weightQParams(), coversOutput ? out : null, plan.dynamic(), lowered);
        Replacement r = handler.convert(ctx);
        if (r == null) {
            skip(m, SkipReason.DECLINED_BY_HANDLER, "the pattern handler returned no replacement");
            return;
        }
        replacements.put(root, r);
        if (!coversOutput && out != null) {
            qdqAfter.put(m.outputVertex(), out);
        }
        markModule(root, r.describe());
        if (r.note() != null) {
            log.info("Vertex '{}': {}", graph.displayName(root), r.describe());
        }
    }

    /**
     * True when the float op's output needs no quantize-dequantize: it shares its input's observer and maps on-grid
     * values to on-grid values (max pooling, ReLU, padding), unlike average pooling.
     */
    private boolean keepsInputGrid(PatternMatch m) {
        if (!PreparedModel.sharesInputObserver(m.config(), graph.inputsOf(m.rootVertex()))) {
            return false;
        }
        return m.vertices().stream().allMatch(v -> GridPreservingOps.preservesGrid(graph.matchableConf(v)));
    }

    private PatternHandler handlerFor(PatternMatch m) {
        PatternHandler h = custom.handlerFor(m.matchedConfig().getPattern());
        if (h == null) {
            h = custom.handlerFor(m.config().getPattern());
        }
        return h != null ? h : PatternHandlers.forReferenceModule(m.config().getReferenceQuantizedModule());
    }

    private void skip(PatternMatch m, SkipReason reason, String detail) {
        for (String v : m.vertices()) {
            entries.put(v, entries.get(v).keptFp32(reason, v.equals(m.rootVertex()) ? detail
                    : "part of the pattern rooted at '" + graph.displayName(m.rootVertex()) + "'"));
        }
        log.info("Vertex '{}' kept fp32: {}: {}", graph.displayName(m.rootVertex()), reason.label(), detail);
    }

    private void markModule(String vertex, String module) {
        entries.put(vertex, entries.get(vertex).withModule(module));
    }

    private List<org.deeplearning4j.nn.conf.layers.Layer> layerCopies(PatternMatch m) {
        List<org.deeplearning4j.nn.conf.layers.Layer> copies = new ArrayList<>();
        for (String v : m.vertices()) {
            org.deeplearning4j.nn.conf.layers.Layer l = graph.layerConf(v);
            copies.add(l == null ? null : l.clone());
        }
        return copies;
    }

    /** Copies of the root's parameters, or of the fused ones (a folded batch norm) when the pattern was fused. */
    private Map<String, INDArray> rootParams(PatternMatch m) {
        if (!m.isFused()) {
            return PatternMatcher.paramCopies(graph, m.rootVertex());
        }
        Map<String, INDArray> copies = new LinkedHashMap<>();
        m.fusedParams().forEach((k, v) -> copies.put(k, v.dup()));
        return copies;
    }

    // ------------------------------------------------------------------------------------------------ rewriting

    private ComputationGraph rewrite() {
        ComputationGraphConfiguration original = graph.configuration();
        ComputationGraphConfiguration.GraphBuilder b = new NeuralNetConfiguration.Builder()
                .dataType(original.getDefaultConfiguration().getDataType())
                .graphBuilder()
                .validateOutputLayerConfig(false)
                .addInputs(original.getNetworkInputs());
        Map<String, String> renamed = new HashMap<>();
        for (String v : graph.vertexNames()) {
            PatternMatch fusedInto = fusedMemberOf(v);
            if (fusedInto != null) {
                renamed.put(v, rename(renamed, fusedInto.rootVertex()));
                continue;
            }
            String[] inputs = graph.inputsOf(v).stream().map(in -> rename(renamed, in)).toArray(String[]::new);
            for (Map.Entry<Integer, QParams> q : qdqBefore.getOrDefault(v, Map.of()).entrySet()) {
                String name = uniqueName(v + "_in" + q.getKey() + "_qdq");
                b.addLayer(name, new QuantDequantLayer.Builder().qparams(q.getValue()).build(), inputs[q.getKey()]);
                inputs[q.getKey()] = name;
            }
            addVertex(b, v, inputs);
            QParams qdq = qdqAfter.get(v);
            if (qdq != null) {
                String name = uniqueName(v + "_qdq");
                b.addLayer(name, new QuantDequantLayer.Builder().qparams(qdq).build(), v);
                renamed.put(v, name);
            }
        }
        b.setOutputs(original.getNetworkOutputs().stream().map(o -> rename(renamed, o)).toArray(String[]::new));
        ComputationGraph converted = new ComputationGraph(b.build());
        converted.init();
        loadParams(converted);
        return converted;
    }

    /**
     * PyTorch quantizes every input of a quantized add or concatenation. Inputs that come from quantized ops are
     * already their dequantized values; an input from an fp32 vertex or a network input gets a quantize-dequantize
     * step with the input's observed qparams first.
     */
    private void quantizeOffGridInputs() {
        for (PlannedPattern plan : prepared.plans().values()) {
            String root = plan.match().rootVertex();
            Object conf = graph.matchableConf(root);
            boolean multiInputOp = conf instanceof org.deeplearning4j.nn.conf.graph.ElementWiseVertex
                    || conf instanceof org.deeplearning4j.nn.conf.graph.MergeVertex;
            if (!multiInputOp || entries.get(root).status() == ReportEntry.Status.KEPT_FP32) {
                continue;
            }
            List<String> inputs = graph.inputsOf(root);
            for (int i = 0; i < inputs.size(); i++) {
                QParams q = prepared.qparamsOf(inputs.get(i));
                if (q != null && !onGrid(inputs.get(i))) {
                    qdqBefore.computeIfAbsent(root, k -> new LinkedHashMap<>()).put(i, q);
                }
            }
        }
    }

    /** True when {@code tensor} is the output of a converted quantized op, i.e. already on its observer's grid. */
    private boolean onGrid(String tensor) {
        for (PlannedPattern p : prepared.plans().values()) {
            PatternMatch m = p.match();
            if (!tensor.equals(p.outputTensor()) || entries.get(m.rootVertex()).status()
                    == ReportEntry.Status.KEPT_FP32) {
                continue;
            }
            if (replacements.containsKey(m.rootVertex()) || qdqAfter.containsKey(m.outputVertex())) {
                return true;
            }
            return keepsInputGrid(m) && onGrid(graph.inputsOf(m.rootVertex()).get(0));
        }
        return false;
    }

    /**
     * Lets an int8 layer hand its u8 output over only where every consumer is an int8 layer or vertex of this library
     * (see {@link Int8Handover}), which never changes its input: then nothing can change the offered float array in
     * place, as DL4J's in-place ActivationLayer would.
     */
    private void markHandovers() {
        for (PlannedPattern plan : prepared.plans().values()) {
            Replacement r = replacements.get(plan.match().rootVertex());
            if (r != null && r.configuration() instanceof Int8Handover h) {
                boolean coversPattern = plan.match().isFused() || r.vertex() != null;
                String out = coversPattern ? plan.match().outputVertex() : plan.match().rootVertex();
                List<String> consumers = graph.consumersOf(out);
                h.setHandsOverOutput(!graph.isNetworkOutput(out) && !qdqAfter.containsKey(out)
                        && !consumers.isEmpty() && consumers.stream().allMatch(this::takesInt8Input));
            }
        }
    }

    private boolean takesInt8Input(String vertex) {
        Replacement r = replacements.get(vertex);
        if (r == null || !(r.configuration() instanceof Int8Handover)) {
            return false;
        }
        return !(graph.vertexConf(vertex) instanceof LayerVertex lv) || lv.getPreProcessor() == null;
    }

    /** Non-root members of a fused match vanish: the root's replacement computes them (so does a vertex's). */
    private PatternMatch fusedMemberOf(String vertex) {
        for (PlannedPattern p : prepared.plans().values()) {
            PatternMatch m = p.match();
            Replacement r = replacements.get(m.rootVertex());
            if (r != null && (m.isFused() || r.vertex() != null) && m.vertices().contains(vertex)
                    && !m.rootVertex().equals(vertex)) {
                return m;
            }
        }
        return null;
    }

    private static String rename(Map<String, String> renamed, String name) {
        String r = name;
        while (renamed.containsKey(r) && !renamed.get(r).equals(r)) {
            r = renamed.get(r);
        }
        return r;
    }

    private String uniqueName(String wanted) {
        String name = wanted;
        for (int i = 1; graph.contains(name) || graph.isNetworkInput(name); i++) {
            name = wanted + i;
        }
        return name;
    }

    private void addVertex(ComputationGraphConfiguration.GraphBuilder b, String v, String[] inputs) {
        GraphVertex conf = graph.vertexConf(v);
        Replacement r = replacements.get(v);
        if (r != null && r.vertex() != null) {
            b.addVertex(v, r.vertex(), inputs);
            return;
        }
        if (!(conf instanceof LayerVertex)) {
            b.addVertex(v, conf.clone(), inputs);
            return;
        }
        InputPreProcessor pre = ((LayerVertex) conf).getPreProcessor();
        org.deeplearning4j.nn.conf.layers.Layer layer = r != null ? r.layer() : graph.layerConf(v).clone();
        b.addLayer(v, layer, pre == null ? null : pre.clone(), inputs);
    }

    private void loadParams(ComputationGraph converted) {
        for (org.deeplearning4j.nn.graph.vertex.GraphVertex v : converted.getVertices()) {
            if (!v.hasLayer() || v.getLayer().numParams() == 0) {
                continue;
            }
            String name = v.getVertexName();
            Replacement r = replacements.get(name);
            Map<String, INDArray> params = r != null ? r.params() : graph.graph().getLayer(name).paramTable();
            for (Map.Entry<String, INDArray> p : params.entrySet()) {
                v.getLayer().setParam(p.getKey(), p.getValue());
            }
        }
    }
}
