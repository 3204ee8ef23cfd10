package io.github.dl4jquant.ns;

import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.graph.ConvertCustomConfig;
import io.github.dl4jquant.graph.Converter;
import io.github.dl4jquant.graph.GraphModel;
import io.github.dl4jquant.graph.PrepareCustomConfig;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigMapping;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accuracy-aware post-training quantization, after NNCF's {@code quantize_with_accuracy_control}: quantize every
 * layer the QConfigMapping asks for; if the metric drops more than the budget allows, rank the quantized layers by
 * sensitivity and keep the fewest of them in fp32 ({@code QConfigMapping.setModuleName(name, null)}) until the drop is
 * within budget. Always returns the best model found, with every trial and its cost, also when the budget cannot be
 * met.
 *
 * <pre>{@code
 * AccuracyControlResult r = AccuracyControl.quantizeWithAccuracyControl(model,
 *         QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig(), calibrationIterator,
 *         AccuracyControl.accuracy(validationIterator),
 *         AccuracyControlConfig.builder().maxAbsoluteDrop(0.002).build());
 * System.out.println(r);          // fp32 and quantized metric, layers kept fp32, every trial
 * ComputationGraph q = r.model();
 * }</pre>
 *
 * <p>Each trial prepares, calibrates and converts a fresh copy of the model; the user's model and QConfigMapping are
 * not modified. The search: trial 0 quantizes everything; then the ranked layers fall back one more at a time; once the
 * budget is met with several layers in fp32, each of them but the last is tried back in int8 (pruning), while trials
 * remain.
 */
public final class AccuracyControl {
    private static final Logger log = LoggerFactory.getLogger(AccuracyControl.class);

    private final ComputationGraph model;
    private final QConfigMapping mapping;
    private final BackendConfig backendConfig;
    private final DataSetIterator calibration;
    private final ToDoubleFunction<ComputationGraph> metric;
    private final AccuracyControlConfig config;
    private final BiasCorrection biasCorrection;
    private final Map<Set<String>, AccuracyTrial> tried = new HashMap<>();
    private final List<AccuracyTrial> trials = new ArrayList<>();
    private double fp32Metric;
    private AccuracyTrial best;
    private Converter.Result bestConversion;

    private AccuracyControl(ComputationGraph model, QConfigMapping mapping, BackendConfig backendConfig,
                            DataSetIterator calibration, ToDoubleFunction<ComputationGraph> metric,
                            AccuracyControlConfig config) {
        this.model = model;
        this.mapping = mapping;
        this.backendConfig = backendConfig;
        this.calibration = calibration;
        this.metric = metric;
        this.config = config;
        this.biasCorrection = config.biasCorrection()
                ? BiasCorrection.measure(model, calibrationBatches(calibration, Integer.MAX_VALUE)) : null;
    }

    /**
     * Quantizes {@code model} within the accuracy budget of {@code config}.
     *
     * @param model         the trained fp32 model (not modified)
     * @param mapping       which QConfig each layer gets when quantized (not modified)
     * @param backendConfig what the backend supports
     * @param calibration   calibration data (reset before each trial)
     * @param metric        evaluates a model; higher is better (e.g. {@link #accuracy(DataSetIterator)})
     * @param config        the budget and options
     * @return the best model found and what was tried; never null
     */
    public static AccuracyControlResult quantizeWithAccuracyControl(ComputationGraph model, QConfigMapping mapping,
                                                                    BackendConfig backendConfig,
                                                                    DataSetIterator calibration,
                                                                    ToDoubleFunction<ComputationGraph> metric,
                                                                    AccuracyControlConfig config) {
        if (model == null || mapping == null || backendConfig == null || calibration == null || metric == null
                || config == null) {
            throw new IllegalArgumentException("quantizeWithAccuracyControl needs a model, a QConfigMapping, a "
                    + "BackendConfig, calibration data, a metric and a config; got model=" + model + ", mapping="
                    + mapping + ", backendConfig=" + backendConfig + ", calibration=" + calibration + ", metric="
                    + metric + ", config=" + config);
        }
        return new AccuracyControl(model, mapping, backendConfig, calibration, metric, config).run();
    }

    /**
     * Classification accuracy (argmax of the first output vs argmax of the one-hot labels) over every batch of
     * {@code labelled}, which is reset before each evaluation.
     */
    public static ToDoubleFunction<ComputationGraph> accuracy(DataSetIterator labelled) {
        return g -> {
            if (labelled.resetSupported()) {
                labelled.reset();
            }
            long correct = 0;
            long total = 0;
            while (labelled.hasNext()) {
                DataSet ds = labelled.next();
                INDArray predicted = g.outputSingle(ds.getFeatures()).argMax(1);
                correct += predicted.eq(ds.getLabels().argMax(1)).castTo(DataType.INT).sumNumber().longValue();
                total += ds.getFeatures().size(0);
            }
            if (total == 0) {
                throw new IllegalArgumentException("The labelled evaluation iterator gave no examples");
            }
            return (double) correct / total;
        };
    }

    private AccuracyControlResult run() {
        long start = System.nanoTime();
        fp32Metric = metric.applyAsDouble(model);
        log.info("Accuracy control: fp32 metric {}, allowed drop {}", fp32Metric, config.allowedDrop(fp32Metric));
        Converter.Result all = quantize(List.of(), "all quantized");
        NumericSuiteReport sensitivity = null;
        List<LayerSensitivity> ranking = List.of();
        if (!best.withinBudget() && trials.size() < config.maxTrials()) {
            if (config.ranking() == SensitivityRanking.SQNR) {
                sensitivity = NumericSuite.compare(model, all.model(), all.report(),
                        sensitivityData(calibration, config.sensitivityExamples()));
                ranking = sqnrRanking(sensitivity);
            } else {
                ranking = fallbackGainRanking(GraphAlignment.of(model, all.model()).groups());
            }
            log.info("Accuracy control ranking, most sensitive first: {}", ranking.stream()
                    .map(LayerSensitivity::layer).collect(Collectors.toList()));
            search(ranking);
        }
        AccuracyControlResult result = new AccuracyControlResult(bestConversion.model(), bestConversion.report(), config,
                fp32Metric, best, trials, ranking, sensitivity, (System.nanoTime() - start) / 1e9);
        if (result.budgetMet()) {
            log.info("Accuracy control met the budget keeping {} in fp32: metric {} (drop {})", result.keptFp32(),
                    result.metric(), result.drop());
        } else {
            log.warn("Accuracy control could not meet the budget in {} trial(s); best: {} in fp32, metric {} (drop {} "
                    + "> {})", trials.size(), result.keptFp32(), result.metric(), result.drop(),
                    config.allowedDrop(fp32Metric));
        }
        return result;
    }

    private static List<LayerSensitivity> sqnrRanking(NumericSuiteReport report) {
        return report.rows().stream()
                .map(r -> new LayerSensitivity(r.vertex(), r.fp32Vertices(), r.alone().sqnr(), "sqnr_db"))
                .collect(Collectors.toList());
    }

    private List<LayerSensitivity> fallbackGainRanking(List<GraphAlignment.Group> groups) {
        List<LayerSensitivity> ranking = new ArrayList<>();
        for (GraphAlignment.Group g : groups) {
            LayerSensitivity layer = new LayerSensitivity(g.root(), g.fp32Vertices(), Double.NaN, "fallback_gain");
            AccuracyTrial t = trials.size() < config.maxTrials() && groups.size() > 1
                    ? trial(List.of(layer), "ranking") : null;
            double gain = t == null ? Double.NEGATIVE_INFINITY : t.metric() - trials.get(0).metric();
            ranking.add(new LayerSensitivity(g.root(), g.fp32Vertices(), gain, "fallback_gain"));
        }
        ranking.sort(Comparator.comparingDouble(LayerSensitivity::score).reversed());
        return ranking;
    }

    /** Greedy fallback in ranking order, then pruning of layers the budget turned out not to need. */
    private void search(List<LayerSensitivity> ranking) {
        List<LayerSensitivity> kept = new ArrayList<>();
        AccuracyTrial last = null;
        for (LayerSensitivity layer : ranking) {
            if (kept.size() + 1 >= ranking.size() || !canTry(with(kept, layer))) {
                break;
            }
            kept.add(layer);
            last = trial(kept, "fallback");
            if (last.withinBudget()) {
                break;
            }
        }
        if (last == null || !last.withinBudget()) {
            return;
        }
        for (LayerSensitivity layer : new ArrayList<>(kept.subList(0, kept.size() - 1))) {
            List<LayerSensitivity> without = new ArrayList<>(kept);
            without.remove(layer);
            if (!canTry(without)) {
                break;
            }
            if (trial(without, "prune").withinBudget()) {
                kept = without;
            }
        }
    }

    private static List<LayerSensitivity> with(List<LayerSensitivity> kept, LayerSensitivity layer) {
        List<LayerSensitivity> l = new ArrayList<>(kept);
        l.add(layer);
        return l;
    }

    /** True when the set was tried already (free) or a trial is left. */
    private boolean canTry(List<LayerSensitivity> kept) {
        return tried.containsKey(names(kept)) || trials.size() < config.maxTrials();
    }

    private static Set<String> names(List<LayerSensitivity> kept) {
        return kept.stream().map(LayerSensitivity::layer).collect(Collectors.toCollection(LinkedHashSet::new));
    }

    private AccuracyTrial trial(List<LayerSensitivity> kept, String purpose) {
        AccuracyTrial earlier = tried.get(names(kept));
        if (earlier != null) {
            return earlier;
        }
        quantize(kept, purpose);
        return trials.get(trials.size() - 1);
    }

    /** Runs one trial and returns its conversion. */
    private Converter.Result quantize(List<LayerSensitivity> kept, String purpose) {
        long t0 = System.nanoTime();
        QConfigMapping trialMapping = copyOf(mapping);
        for (LayerSensitivity layer : kept) {
            for (String v : layer.fp32Vertices()) {
                trialMapping.setModuleName(v, null);
            }
        }
        PreparedModel prepared = PreparedModel.plan(GraphModel.of(model.clone(), Map.of()), trialMapping, backendConfig,
                PrepareCustomConfig.defaults());
        prepared.calibrate(calibration);
        ConvertCustomConfig custom = biasCorrection == null ? new ConvertCustomConfig()
                : biasCorrection.register(new ConvertCustomConfig(), backendConfig);
        Converter.Result conversion = Converter.convert(prepared, custom, config.lowered());
        double value = metric.applyAsDouble(conversion.model());
        double drop = fp32Metric - value;
        AccuracyTrial t = new AccuracyTrial(trials.size(), purpose, new ArrayList<>(names(kept)), value, drop,
                drop <= config.allowedDrop(fp32Metric), (System.nanoTime() - t0) / 1e9);
        trials.add(t);
        tried.put(names(kept), t);
        log.info("Accuracy control trial #{} ({}): fp32 layers {}, metric {}, drop {}{}", t.index(), purpose,
                t.keptFp32(), value, drop, t.withinBudget() ? " (within budget)" : "");
        if (best == null || isBetter(t, best)) {
            best = t;
            bestConversion = conversion;
        }
        return conversion;
    }

    /** Within budget beats over budget; then fewer fp32 layers; then the higher metric. */
    private static boolean isBetter(AccuracyTrial a, AccuracyTrial b) {
        if (a.withinBudget() != b.withinBudget()) {
            return a.withinBudget();
        }
        if (a.withinBudget() && a.keptFp32().size() != b.keptFp32().size()) {
            return a.keptFp32().size() < b.keptFp32().size();
        }
        return a.metric() > b.metric();
    }

    private static QConfigMapping copyOf(QConfigMapping m) {
        return QConfigMapping.fromDict(m.toDict());
    }

    private static INDArray sensitivityData(DataSetIterator data, int examples) {
        List<INDArray> batches = calibrationBatches(data, examples);
        INDArray all = batches.size() == 1 ? batches.get(0) : Nd4j.concat(0, batches.toArray(new INDArray[0]));
        return all.size(0) > examples ? all.get(NDArrayIndex.interval(0, examples)) : all;
    }

    /** Feature batches from the start of {@code data} until at least {@code examples} rows were collected. */
    private static List<INDArray> calibrationBatches(DataSetIterator data, int examples) {
        if (data.resetSupported()) {
            data.reset();
        }
        List<INDArray> batches = new ArrayList<>();
        long rows = 0;
        while (data.hasNext() && rows < examples) {
            INDArray f = data.next().getFeatures();
            batches.add(f);
            rows += f.size(0);
        }
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("The calibration iterator gave no examples: accuracy control needs "
                    + "calibration data");
        }
        return batches;
    }
}
