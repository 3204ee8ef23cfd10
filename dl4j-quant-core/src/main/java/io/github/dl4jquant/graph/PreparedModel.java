package io.github.dl4jquant.graph;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.backendconfig.DTypeWithConstraints;
import io.github.dl4jquant.backendconfig.ObservationType;
import io.github.dl4jquant.observer.FixedQParamsObserver;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.observer.ObserverState;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.nn.WeightLayouts;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.qconfig.QConfigMapping;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model with observers planned at the places the BackendConfig's {@link ObservationType}s say, ready to be
 * calibrated and converted. Made by {@code Quantizer.prepare}; works on a copy, so the user's model is never touched.
 *
 * <pre>{@code
 * PreparedModel prepared = Quantizer.prepare(model, QConfigs.getDefaultQConfigMapping("x86"),
 *         BackendConfigs.getX86BackendConfig());
 * prepared.calibrate(calibrationIterator);          // streams; observers keep statistics only
 * System.out.println(prepared.report());
 * ComputationGraph int8 = Quantizer.convert(prepared);
 * }</pre>
 */
public final class PreparedModel {
    private static final Logger log = LoggerFactory.getLogger(PreparedModel.class);
    private static final long PROGRESS_LOG_INTERVAL_NANOS = 5_000_000_000L;

    private final GraphModel graph;
    private final BackendConfig backendConfig;
    private final Map<String, PlannedPattern> plansByRoot;
    private final Map<String, Observer> observersByTensor;
    private final List<ReportEntry> prepareEntries;
    /** The rank each observed tensor had in the first calibration batch: some conversions depend on it. */
    private final Map<String, Integer> ranks = new HashMap<>();
    private CalibrationListener listener;
    private QuantizationReport conversionReport;
    private long batches;
    private long examples;
    private long calibrationNanos;

    PreparedModel(GraphModel graph, BackendConfig backendConfig, Map<String, PlannedPattern> plansByRoot,
                  Map<String, Observer> observersByTensor, List<ReportEntry> prepareEntries) {
        this.graph = graph;
        this.backendConfig = backendConfig;
        this.plansByRoot = Collections.unmodifiableMap(plansByRoot);
        this.observersByTensor = observersByTensor;
        this.prepareEntries = List.copyOf(prepareEntries);
    }

    /**
     * Plans the quantization of {@code graph}, which must already be a private copy of the user's model
     * ({@code Quantizer.prepare} makes that copy and is the usual entry point).
     *
     * @throws IllegalArgumentException when the mapping names a vertex that does not exist, when the parts of a fused
     *                                  pattern have different QConfigs, when nothing can be quantized, or (strict
     *                                  mode) when a vertex would be kept fp32
     */
    public static PreparedModel plan(GraphModel graph, QConfigMapping mapping, BackendConfig backendConfig,
                              PrepareCustomConfig options) {
        checkModuleNamesExist(graph, mapping);
        Map<String, PatternMatch> matches = new PatternMatcher(backendConfig).match(graph);
        Map<String, PlannedPattern> plans = new LinkedHashMap<>();
        Map<String, Observer> observers = new LinkedHashMap<>();
        Map<String, ReportEntry> entries = new LinkedHashMap<>();
        Map<Class<?>, Integer> typeCounts = new HashMap<>();
        for (String vertex : graph.vertexNames()) {
            PatternMatch m = matches.get(vertex);
            Class<?> type = graph.matchableConf(vertex).getClass();
            int indexOfType = typeCounts.merge(type, 1, Integer::sum) - 1;
            if (m == null) {
                entries.put(vertex, base(graph, vertex, null).keptFp32(SkipReason.NO_PATTERN,
                        "no BackendPatternConfig of '" + backendConfig.getName() + "' matches "
                                + graph.typeDescription(vertex)
                                + NoPatternHints.hintFor(graph.matchableConf(vertex))));
            } else if (vertex.equals(m.rootVertex())) {
                planMatch(graph, mapping, m, indexOfType, plans, observers, entries);
            }
        }
        List<ReportEntry> ordered = graph.vertexNames().stream().map(entries::get).collect(Collectors.toList());
        PreparedModel prepared = new PreparedModel(graph, backendConfig, plans, observers, ordered);
        prepared.logAndEnforce(options);
        return prepared;
    }

    private static void checkModuleNamesExist(GraphModel graph, QConfigMapping mapping) {
        for (String name : mapping.explicitModuleNames()) {
            if (graph.resolveUserName(name) == null) {
                throw new IllegalArgumentException("The QConfigMapping names module '" + name + "', but the model has "
                        + "no vertex or layer of that name; known names: "
                        + graph.vertexNames().stream().map(graph::displayName).collect(Collectors.joining(", "))
                        + ". Use one of these names in setModuleName / setModuleNameObjectTypeOrder");
            }
        }
    }

    private static ReportEntry base(GraphModel graph, String vertex, PatternMatch m) {
        return new ReportEntry(vertex, graph.displayName(vertex), graph.typeDescription(vertex),
                ReportEntry.Status.QUANTIZED, m == null ? null : m.patternDescription(), null, null, null, null, null,
                null, "", null);
    }

    private static void planMatch(GraphModel graph, QConfigMapping mapping, PatternMatch m, int indexOfType,
                                  Map<String, PlannedPattern> plans, Map<String, Observer> observers,
                                  Map<String, ReportEntry> entries) {
        String root = m.rootVertex();
        QConfigMapping.Resolution resolution = resolveQConfig(graph, mapping, m, indexOfType);
        QConfig qconfig = resolution.qconfig();
        ReportEntry rootEntry = base(graph, root, m);
        rootEntry = new ReportEntry(root, rootEntry.displayName(), rootEntry.type(), rootEntry.status(),
                rootEntry.pattern(), null, resolution.source(), null, null, null, null, "", null);
        ReportEntry outcome;
        PlannedPattern plan = null;
        BackendPatternConfig config = m.config();
        Layer rootLayer = m.fusedLayer() != null ? m.fusedLayer() : graph.layerConf(root);
        boolean hasWeight = weightOf(graph, m) != null;
        if (qconfig == null) {
            outcome = rootEntry.keptFp32(SkipReason.QCONFIG_NONE, "no QConfig for this vertex (" + resolution.source()
                    + ")");
        } else {
            DTypeConfigSelector.Selection s = DTypeConfigSelector.select(config.getDtypeConfigs(), qconfig, hasWeight);
            String unsupported = hasWeight ? unsupportedReason(config, rootLayer) : null;
            QParams weightQParams = s.chosen() != null && unsupported == null && hasWeight
                    ? observeWeight(graph, m, qconfig) : null;
            if (unsupported == null && weightQParams != null) {
                unsupported = PatternHandlers.unsupportedWeightQParams(rootLayer, weightQParams);
            }
            if (s.chosen() == null) {
                outcome = rootEntry.keptFp32(s.reason(), s.explanation());
            } else if (unsupported != null) {
                outcome = rootEntry.keptFp32(SkipReason.UNSUPPORTED_LAYER, unsupported);
            } else {
                plan = planObservers(graph, m, qconfig, resolution.source(), s.chosen(), weightQParams, observers);
                plans.put(root, plan);
                outcome = new ReportEntry(root, rootEntry.displayName(), rootEntry.type(), ReportEntry.Status.QUANTIZED,
                        rootEntry.pattern(), DTypeConfigSelector.describe(s.chosen()), resolution.source(), null, null,
                        plan.weightQParams(), null, m.isFused() ? "fused " + m.vertices().stream().map(graph::displayName).toList() : "", null);
            }
        }
        entries.put(root, outcome);
        for (String member : m.vertices().subList(1, m.vertices().size())) {
            ReportEntry e = base(graph, member, m);
            entries.put(member, plan == null
                    ? e.keptFp32(outcome.reason(), "part of the pattern rooted at '" + graph.displayName(root) + "'")
                    : new ReportEntry(member, e.displayName(), e.type(), ReportEntry.Status.FUSED, e.pattern(),
                            outcome.dtypeConfig(), resolution.source(), null, null, null, null,
                            (m.isFused() ? "fused into '" : "quantized with '") + graph.displayName(root) + "'", null));
        }
    }

    private static QConfigMapping.Resolution resolveQConfig(GraphModel graph, QConfigMapping mapping, PatternMatch m,
                                                            int indexOfType) {
        String root = m.rootVertex();
        QConfigMapping.Resolution rootResolution = mapping.resolve(graph.displayName(root),
                graph.matchableConf(root).getClass(), indexOfType);
        for (String member : m.vertices().subList(1, m.vertices().size())) {
            QConfigMapping.Resolution r = mapping.resolve(graph.displayName(member),
                    graph.matchableConf(member).getClass(), 0);
            if (!sameActivationQuantization(r.qconfig(), rootResolution.qconfig())) {
                throw new IllegalArgumentException("The pattern " + m.patternDescription() + " matched vertices "
                        + m.vertices() + ", which must share one activation QConfig (PyTorch's fusion rule), but '"
                        + graph.displayName(root) + "' gets " + rootResolution.qconfig() + " (" + rootResolution.source()
                        + ") and '" + graph.displayName(member) + "' gets " + r.qconfig() + " (" + r.source()
                        + "): give them the same QConfig in the QConfigMapping");
            }
        }
        return rootResolution;
    }

    /**
     * PyTorch requires one QConfig for all modules of a fusion. Here the root's QConfig governs the fused layer and
     * the other members only have to agree on whether and how activations are quantized: their weight observers are
     * never used (a batch norm folded into a convolution is observed through the convolution's weight observer, which
     * the default mappings set per layer type because DL4J's dense and convolution weights keep their output
     * channels on different axes).
     */
    private static boolean sameActivationQuantization(QConfig member, QConfig root) {
        if (member == null || root == null) {
            return member == root;
        }
        return member.activation().toMap().equals(root.activation().toMap());
    }

    /** Layer options the built-in dense conversion cannot represent; known before calibration. */
    private static String unsupportedReason(BackendPatternConfig config, Layer rootLayer) {
        if (RecurrentConversion.ROOTS.contains(config.getReferenceQuantizedModule())) {
            return RecurrentConversion.unsupportedReason(rootLayer);
        }
        return config.getReferenceQuantizedModule() == ReferenceQuantizedDense.class
                ? PatternHandlers.unsupportedDenseReason(rootLayer) : null;
    }

    private static PlannedPattern planObservers(GraphModel graph, PatternMatch m, QConfig qconfig, String source,
                                                DTypeConfig dc, QParams weightQParams,
                                                Map<String, Observer> observers) {
        String root = m.rootVertex();
        List<String> inputs = graph.inputsOf(root);
        boolean observeInput = isQuantized(dc.getInputDtype()) && !dc.isDynamic()
                && m.config().getObservationType() != ObservationType.INPUT_OUTPUT_NOT_OBSERVED;
        if (observeInput) {
            for (String in : inputs) {
                observers.computeIfAbsent(in, t -> qconfig.activation().create());
            }
        }
        String output = m.outputVertex();
        boolean observeOutput = isQuantized(dc.getOutputDtype()) && !dc.isDynamic()
                && m.config().getObservationType() != ObservationType.INPUT_OUTPUT_NOT_OBSERVED;
        if (observeOutput) {
            // A multi-input op (merge) gets its own observer over its output, the union of its inputs: sharing the
            // first input's observer would clip the others.
            Observer shared = sharesInputObserver(m.config(), inputs) ? observers.get(inputs.get(0)) : null;
            observers.put(output, shared != null ? shared : outputObserver(qconfig, dc.getOutputDtypeWithConstraints()));
        }
        return new PlannedPattern(m, qconfig, source, dc, observeInput ? inputs.get(0) : null,
                observeOutput ? output : null, weightQParams);
    }

    static boolean sharesInputObserver(BackendPatternConfig config, List<String> inputs) {
        return config.getObservationType() == ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT && inputs.size() == 1;
    }

    /** Outputs with an exact-match constraint (sigmoid, tanh, softmax) get exactly those qparams. */
    private static Observer outputObserver(QConfig qconfig, DTypeWithConstraints c) {
        if (c != null && c.getScaleExactMatch() != null && c.getZeroPointExactMatch() != null) {
            QuantDType dtype = c.getDtype();
            return FixedQParamsObserver.builder(c.getScaleExactMatch().floatValue(), c.getZeroPointExactMatch())
                    .dtype(dtype)
                    .quantMin(c.getQuantMinLowerBound() != null ? c.getQuantMinLowerBound() : dtype.quantMin())
                    .quantMax(c.getQuantMaxUpperBound() != null ? c.getQuantMaxUpperBound() : dtype.quantMax())
                    .build();
        }
        return qconfig.activation().create();
    }

    /** The root's float weight "W" (the fused one when a batch norm was folded in), or null when it has none. */
    static INDArray weightOf(GraphModel graph, PatternMatch m) {
        if (m.isFused()) {
            return m.fusedParams().get("W");
        }
        org.deeplearning4j.nn.api.Layer layer = graph.graph().getLayer(m.rootVertex());
        return layer == null ? null : layer.paramTable().get("W");
    }

    /**
     * The weight's qparams, observed once on the float weight in the layout {@link WeightLayouts} gives observers,
     * as PyTorch observes weights at convert time.
     */
    private static QParams observeWeight(GraphModel graph, PatternMatch m, QConfig qconfig) {
        Layer layer = m.fusedLayer() != null ? m.fusedLayer() : graph.layerConf(m.rootVertex());
        Observer w = qconfig.weight().create();
        w.observe(WeightLayouts.observedWeight(layer, weightOf(graph, m)));
        QParams q = w.calculateQParams();
        int axis = WeightLayouts.outputChannelAxis(layer);
        if (q.isPerChannel() && q.axis() != axis) {
            throw new IllegalArgumentException("Vertex '" + graph.displayName(m.rootVertex()) + "' ("
                    + layer.getClass().getSimpleName() + "): the weight observer is per-channel along axis "
                    + q.axis() + ", but its weight is observed as " + WeightLayouts.describeObservedLayout(layer)
                    + ", so its output channels are axis " + axis + ": use chAxis(" + axis + ") for this layer type ("
                    + "QConfigs.getDefaultQConfigMapping sets chAxis(1) for dense layers and chAxis(0) for "
                    + "convolutions)");
        }
        return q;
    }

    private static boolean isQuantized(QuantDType t) {
        return t != null && t.isQuantized();
    }

    private void logAndEnforce(PrepareCustomConfig options) {
        if (plansByRoot.isEmpty()) {
            throw new IllegalArgumentException("Nothing to quantize: no vertex of the model can be quantized with "
                    + "BackendConfig '" + backendConfig.getName() + "' and this QConfigMapping.\n" + calibrationReport());
        }
        for (ReportEntry e : prepareEntries) {
            if (e.status() == ReportEntry.Status.KEPT_FP32) {
                log.info("Vertex '{}' ({}) kept fp32: {}: {}", e.displayName(), e.type(), e.reason().label(),
                        e.detail());
                if (options.isStrict() && e.reason() != SkipReason.QCONFIG_NONE) {
                    throw new IllegalStateException("Strict mode: vertex '" + e.displayName() + "' (" + e.type()
                            + ") would be kept fp32: " + e.reason().label() + ": " + e.detail() + ". Make the "
                            + "BackendConfig and QConfigMapping cover it, map it to a null QConfig to keep it fp32 on "
                            + "purpose, or prepare with withStrict(false)");
                }
            }
        }
        log.info("Prepared {} pattern(s) for quantization with backend '{}'; {} observer(s) to calibrate",
                plansByRoot.size(), backendConfig.getName(), distinctObservers().size());
    }

    // ---------------------------------------------------------------------------------------------- calibration

    /** Sets a listener told after every calibration batch (null to remove). */
    public PreparedModel setCalibrationListener(CalibrationListener newListener) {
        this.listener = newListener;
        return this;
    }

    /** Calibrates on every batch of {@code data} (reset first when the iterator supports it). */
    public PreparedModel calibrate(DataSetIterator data) {
        requireData(data, "a DataSetIterator");
        if (data.resetSupported()) {
            data.reset();
        }
        return calibrateAll(mapped(data, ds -> {
            requireNoMask(ds.getFeaturesMaskArray() != null);
            return new INDArray[] {ds.getFeatures()};
        }));
    }

    /** Calibrates on every batch of {@code data}, for graphs with several inputs. */
    public PreparedModel calibrate(MultiDataSetIterator data) {
        requireData(data, "a MultiDataSetIterator");
        if (data.resetSupported()) {
            data.reset();
        }
        return calibrateAll(mapped(data, mds -> {
            INDArray[] masks = mds.getFeaturesMaskArrays();
            requireNoMask(masks != null && Arrays.stream(masks).anyMatch(Objects::nonNull));
            return mds.getFeatures();
        }));
    }

    private static void requireData(Object data, String accepted) {
        if (data == null) {
            throw new IllegalArgumentException("calibrate: got null calibration data; pass " + accepted + " (or "
                    + "INDArray batches) of representative inputs");
        }
    }

    /**
     * Observers see every element of a batch, so the padding a features mask hides would be calibrated as if it
     * were data and shift the qparams without a trace.
     */
    private void requireNoMask(boolean masked) {
        if (masked) {
            throw new IllegalArgumentException("Calibration batch #" + (batches + 1) + " has a features mask: the "
                    + "observers would take its masked (padding) positions for data. Calibrate without masks: trim or "
                    + "drop the padded examples, or pass only the unmasked features as INDArray batches");
        }
    }

    private static <T> Iterator<INDArray[]> mapped(Iterator<T> batches, Function<T, INDArray[]> features) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return batches.hasNext();
            }

            @Override
            public INDArray[] next() {
                return features.apply(batches.next());
            }
        };
    }

    /** Calibrates on the given batches of a single-input model; each array is one batch {@code [n, features]}. */
    public PreparedModel calibrate(INDArray... batchesOfFeatures) {
        requireData(batchesOfFeatures, "INDArray batches");
        return calibrateAll(Arrays.stream(batchesOfFeatures).map(b -> new INDArray[] {b}).iterator());
    }

    private PreparedModel calibrateAll(Iterator<INDArray[]> batchesOfInputs) {
        long start = System.nanoTime();
        long lastLog = start;
        long before = batches;
        while (batchesOfInputs.hasNext()) {
            observeBatch(batchesOfInputs.next());
            lastLog = progress(start, lastLog);
        }
        finishCalibration(before, start);
        return this;
    }

    private void observeBatch(INDArray[] inputs) {
        conversionReport = null;
        long t0 = System.nanoTime();
        checkInputs(inputs);
        Map<String, INDArray> activations;
        try {
            activations = ForwardActivations.of(graph.graph(), inputs);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("Calibration batch #" + (batches + 1) + " could not be run through the "
                    + "model: " + e.getMessage(), e);
        }
        requireFinite(activations);
        for (Map.Entry<String, Observer> e : observersByTensor.entrySet()) {
            INDArray tensor = activations.get(e.getKey());
            ranks.putIfAbsent(e.getKey(), tensor.rank());
            try {
                e.getValue().observe(tensor);
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("Calibration batch #" + (batches + 1) + ", tensor '"
                        + graph.displayName(e.getKey()) + "' (" + describeTensor(e.getKey()) + "): " + ex.getMessage(),
                        ex);
            }
        }
        batches++;
        examples += inputs[0].size(0);
        calibrationNanos += System.nanoTime() - t0;
        if (listener != null) {
            listener.onBatch(new CalibrationListener.Progress(batches, examples, calibrationNanos / 1e9));
        }
    }

    /**
     * Checks every observed tensor before any observer sees the batch, so that a bad batch leaves all observers as
     * they were, and names the first tensor (network input before any layer output) holding a NaN or an infinity:
     * that is where the problem starts, not in the layers it spreads to.
     */
    private void requireFinite(Map<String, INDArray> activations) {
        for (String tensor : observersByTensor.keySet()) {
            INDArray x = activations.get(tensor);
            if (x == null || !x.dataType().isFPType() || x.isEmpty()) {
                continue;   // the observer names the problem
            }
            long bad = x.isNaN().castTo(DataType.INT).sumNumber().longValue()
                    + x.isInfinite().castTo(DataType.INT).sumNumber().longValue();
            if (bad > 0) {
                throw nonFinite(tensor, x, bad);
            }
        }
    }

    private IllegalArgumentException nonFinite(String tensor, INDArray x, long count) {
        INDArray flat = x.reshape(x.length());
        long index = 0;
        while (index < flat.length() && Double.isFinite(flat.getDouble(index))) {
            index++;
        }
        String fix = graph.isNetworkInput(tensor) ? "calibration data must be finite: clean or clip the data"
                : "the layer overflows or divides by zero on this data: check its weights and the data feeding it";
        return new IllegalArgumentException("Calibration batch #" + (batches + 1) + ", tensor '"
                + graph.displayName(tensor) + "' (" + describeTensor(tensor) + ") holds " + count + " NaN or infinite "
                + "value(s), the first " + flat.getDouble(index) + " at flat index " + index + "; " + fix
                + ". No observer saw this batch");
    }

    private String describeTensor(String tensor) {
        return graph.isNetworkInput(tensor) ? "network input" : "output of vertex '" + graph.displayName(tensor) + "'";
    }

    private void checkInputs(INDArray[] inputs) {
        List<String> names = graph.networkInputs();
        if (inputs.length != names.size()) {
            throw new IllegalArgumentException("Calibration batch #" + (batches + 1) + " has " + inputs.length
                    + " input array(s), but the model has " + names.size() + " input(s) " + names
                    + ": use calibrate(MultiDataSetIterator) for multi-input graphs");
        }
        for (int i = 0; i < inputs.length; i++) {
            INDArray x = inputs[i];
            if (x == null || x.isEmpty() || x.size(0) == 0) {
                throw new IllegalArgumentException("Calibration batch #" + (batches + 1) + " for input '" + names.get(i)
                        + "' is empty: give at least one example per batch");
            }
            for (String consumer : graph.consumersOf(names.get(i))) {
                Layer l = graph.layerConf(consumer);
                boolean plainDense = l instanceof FeedForwardLayer && !PatternHandlers.isEmbedding(l) && x.rank() == 2
                        && ((LayerVertex) graph.vertexConf(consumer)).getPreProcessor() == null;
                if (plainDense && ((FeedForwardLayer) l).getNIn() != x.size(1)) {
                    throw new IllegalArgumentException("Calibration batch #" + (batches + 1) + " has " + x.size(1)
                            + " features per example, but input '" + names.get(i) + "' feeds '"
                            + graph.displayName(consumer) + "' (" + graph.typeDescription(consumer) + ") with nIn="
                            + ((FeedForwardLayer) l).getNIn() + ": check the calibration data's shape "
                            + Arrays.toString(x.shape()));
                }
            }
        }
    }

    private long progress(long start, long lastLog) {
        long now = System.nanoTime();
        if (now - lastLog < PROGRESS_LOG_INTERVAL_NANOS) {
            return lastLog;
        }
        log.info("Calibrating: {} batches, {} examples, {} s", batches, examples,
                String.format(java.util.Locale.ROOT, "%.1f", (now - start) / 1e9));
        return now;
    }

    private void finishCalibration(long batchesBefore, long start) {
        if (batches == batchesBefore) {
            throw new IllegalArgumentException("Calibration data was empty: no batch was observed. Pass a "
                    + "DataSetIterator (or arrays) with at least one example");
        }
        log.info("Calibrated on {} batches ({} examples) in {} s", batches - batchesBefore, examples,
                String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9));
    }

    // ---------------------------------------------------------------------------------------------- state

    /**
     * What calibration has accumulated so far, detached from the model: one {@link ObserverState} per distinct observer (keyed by the first tensor it observes), the tensor ranks and the counts.
     *
     * @throws UnsupportedOperationException if an observer (one of your own) does not export its statistics
     */
    public CalibrationState calibrationState() {
        Map<String, ObserverState> states = new LinkedHashMap<>();
        distinctObserversByFirstTensor().forEach((tensor, o) -> states.put(tensor, o.state()));
        return new CalibrationState(states, ranks, batches, examples);
    }

    /**
     * Replaces what calibration has accumulated with {@code state}, e.g. the merged states of shards calibrated in
     * other processes by identically prepared models; the model is not run.
     *
     * @throws IllegalArgumentException if {@code state} comes from a differently prepared model (other observed
     *                                  tensors or observer settings)
     */
    public PreparedModel loadCalibrationState(CalibrationState state) {
        Map<String, Observer> mine = distinctObserversByFirstTensor();
        if (!mine.keySet().equals(state.observers().keySet())) {
            throw new IllegalArgumentException("loadCalibrationState: the state observes tensors "
                    + state.observers().keySet() + " but this prepared model observes " + mine.keySet()
                    + "; prepare both with the same model, QConfigMapping and BackendConfig");
        }
        for (Map.Entry<String, Observer> e : mine.entrySet()) {
            try {
                e.getValue().loadState(state.observers().get(e.getKey()));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("loadCalibrationState: observer of tensor '"
                        + graph.displayName(e.getKey()) + "' (" + describeTensor(e.getKey()) + "): " + ex.getMessage(),
                        ex);
            }
        }
        ranks.clear();
        ranks.putAll(state.ranks());
        batches = state.batches();
        examples = state.examples();
        conversionReport = null;
        return this;
    }

    /** Forgets every observer's statistics and the counts, as before the first {@code calibrate}. */
    public PreparedModel resetCalibration() {
        distinctObservers().forEach(Observer::reset);
        ranks.clear();
        batches = 0;
        examples = 0;
        calibrationNanos = 0;
        conversionReport = null;
        return this;
    }

    private Map<String, Observer> distinctObserversByFirstTensor() {
        Map<String, Observer> byTensor = new LinkedHashMap<>();
        Set<Observer> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        observersByTensor.forEach((tensor, o) -> {
            if (seen.add(o)) {
                byTensor.put(tensor, o);
            }
        });
        return byTensor;
    }

    // ---------------------------------------------------------------------------------------------- accessors

    /** The private fp32 copy of the user's model that is calibrated. */
    public GraphModel graphModel() {
        return graph;
    }

    public BackendConfig backendConfig() {
        return backendConfig;
    }

    /** Number of calibration batches observed so far. */
    public long calibratedBatches() {
        return batches;
    }

    /** The observers by tensor name (producing vertex or network input); shared observers appear once per tensor. */
    public Map<String, Observer> observers() {
        return Collections.unmodifiableMap(observersByTensor);
    }

    Map<String, PlannedPattern> plans() {
        return plansByRoot;
    }

    private Set<Observer> distinctObservers() {
        Set<Observer> s = Collections.newSetFromMap(new IdentityHashMap<>());
        s.addAll(observersByTensor.values());
        return s;
    }

    /** The rank of an observed tensor during calibration ([batch, features] is 2, NCHW is 4), or 0 if unknown. */
    int rankOf(String tensor) {
        return tensor == null ? 0 : ranks.getOrDefault(tensor, 0);
    }

    /**
     * The float weight the weight observer of the pattern rooted at {@code rootVertex} saw: with a batch norm folded
     * in when one was fused, in the layout of {@link WeightLayouts#observedWeight} (dense {@code [nIn, nOut]},
     * convolutions {@code [out, in / groups, kH, kW]}); null when the vertex roots no planned pattern with a weight.
     * It is what the int8 weight approximates.
     *
     * <pre>{@code
     * INDArray folded = prepared.observedWeight("conv2");   // conv2's weight with bn2 folded in, OIHW
     * }</pre>
     */
    public INDArray observedWeight(String rootVertex) {
        PlannedPattern p = plansByRoot.get(rootVertex);
        if (p == null || p.weightQParams() == null) {
            return null;
        }
        Layer layer = p.match().fusedLayer() != null ? p.match().fusedLayer() : graph.layerConf(rootVertex);
        return WeightLayouts.observedWeight(layer, weightOf(graph, p.match()));
    }

    /** QParams of a tensor's observer, or null when it is not observed or has seen no data yet. */
    QParams qparamsOf(String tensor) {
        Observer o = tensor == null ? null : observersByTensor.get(tensor);
        return o == null || !o.isCalibrated() ? null : o.calculateQParams();
    }

    /**
     * Throws unless every observer a conversion needs has seen data, naming the first vertex that lacks it.
     */
    void checkCalibrated(String what) {
        for (PlannedPattern p : plansByRoot.values()) {
            for (String tensor : new String[] {p.inputTensor(), p.outputTensor()}) {
                Observer o = tensor == null ? null : observersByTensor.get(tensor);
                if (o != null && !o.isCalibrated()) {
                    throw new IllegalStateException("Cannot " + what + ": vertex '"
                            + graph.displayName(p.match().rootVertex()) + "' needs qparams for tensor '"
                            + graph.displayName(tensor) + "' (" + describeTensor(tensor) + "), whose observer has seen "
                            + "no data. Call calibrate(...) with representative data first");
                }
            }
        }
    }

    void recordConversion(QuantizationReport report) {
        this.conversionReport = report;
    }

    /**
     * The report as of now: qparams appear once calibration has seen data; after a conversion, the report of the
     * latest conversion (with replacement modules and the kernel).
     */
    public QuantizationReport report() {
        return conversionReport != null ? conversionReport : calibrationReport();
    }

    QuantizationReport calibrationReport() {
        List<ReportEntry> entries = new ArrayList<>();
        for (ReportEntry e : prepareEntries) {
            PlannedPattern p = planOf(e.vertex());
            if (p != null && e.status() == ReportEntry.Status.QUANTIZED) {
                entries.add(e.withQParams(qparamsOf(p.inputTensor()), qparamsOf(p.outputTensor()), p.weightQParams()));
            } else {
                entries.add(e);
            }
        }
        QuantizationReport.CalibrationSummary summary = batches == 0 ? null
                : new QuantizationReport.CalibrationSummary(batches, examples, calibrationNanos / 1e9);
        return new QuantizationReport(backendConfig.getName(), null, entries, summary);
    }

    private PlannedPattern planOf(String vertex) {
        return plansByRoot.get(vertex);
    }
}
