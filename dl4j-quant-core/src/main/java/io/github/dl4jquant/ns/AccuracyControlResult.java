package io.github.dl4jquant.ns;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dl4jquant.graph.QuantizationReport;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * What {@link AccuracyControl} returns: the best quantized model it found (never null, also when the budget could not
 * be met), the layers it kept in fp32, and every trial with its metric and cost.
 *
 * <pre>{@code
 * AccuracyControlResult r = Quantizer.quantizeWithAccuracyControl(model, mapping, backend, calibration, metric,
 *         AccuracyControlConfig.builder().maxAbsoluteDrop(0.002).build());
 * if (!r.budgetMet()) { log.warn("best found: {}", r); }
 * ComputationGraph q = r.model();
 * }</pre>
 */
public final class AccuracyControlResult {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final ComputationGraph model;
    private final QuantizationReport quantizationReport;
    private final AccuracyControlConfig config;
    private final double fp32Metric;
    private final AccuracyTrial best;
    private final List<AccuracyTrial> trials;
    private final List<LayerSensitivity> ranking;
    private final NumericSuiteReport sensitivityReport;
    private final double seconds;

    AccuracyControlResult(ComputationGraph model, QuantizationReport quantizationReport, AccuracyControlConfig config,
                          double fp32Metric, AccuracyTrial best, List<AccuracyTrial> trials,
                          List<LayerSensitivity> ranking, NumericSuiteReport sensitivityReport, double seconds) {
        this.model = model;
        this.quantizationReport = quantizationReport;
        this.config = config;
        this.fp32Metric = fp32Metric;
        this.best = best;
        this.trials = List.copyOf(trials);
        this.ranking = List.copyOf(ranking);
        this.sensitivityReport = sensitivityReport;
        this.seconds = seconds;
    }

    /** The best model found: within budget with the fewest fp32 layers, else the one with the highest metric. */
    public ComputationGraph model() {
        return model;
    }

    /** The quantization report of {@link #model()}. */
    public QuantizationReport quantizationReport() {
        return quantizationReport;
    }

    public AccuracyControlConfig config() {
        return config;
    }

    public double fp32Metric() {
        return fp32Metric;
    }

    /** The metric of {@link #model()}. */
    public double metric() {
        return best.metric();
    }

    /** {@link #fp32Metric()} minus {@link #metric()}. */
    public double drop() {
        return best.drop();
    }

    public boolean budgetMet() {
        return best.withinBudget();
    }

    /** The layers (root vertex names) {@link #model()} keeps in fp32. */
    public List<String> keptFp32() {
        return best.keptFp32();
    }

    /** The trial that produced {@link #model()}. */
    public AccuracyTrial bestTrial() {
        return best;
    }

    /** Every trial, in the order run; the first quantizes every layer. */
    public List<AccuracyTrial> trials() {
        return trials;
    }

    /** The quantized layers, most sensitive first (empty when the first trial met the budget). */
    public List<LayerSensitivity> ranking() {
        return ranking;
    }

    /** The numeric suite report of the fully quantized model, or null when the SQNR ranking was not needed. */
    public NumericSuiteReport sensitivityReport() {
        return sensitivityReport;
    }

    /** Total wall time, the fp32 evaluation included. */
    public double seconds() {
        return seconds;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fp32_metric", fp32Metric);
        m.put("metric", metric());
        m.put("drop", drop());
        m.put("allowed_drop", config.allowedDrop(fp32Metric));
        m.put("budget_met", budgetMet());
        m.put("kept_fp32", keptFp32());
        m.put("best_trial", best.index());
        m.put("seconds", seconds);
        m.put("config", config.toString());
        m.put("ranking", ranking.stream().map(LayerSensitivity::toMap).collect(Collectors.toList()));
        m.put("trials", trials.stream().map(AccuracyTrial::toMap).collect(Collectors.toList()));
        return m;
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(toMap());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Could not serialise the accuracy control result", e);
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "Accuracy control: fp32 %.4f, best %.4f (drop %.4f, allowed %.4f, %s) keeping %s in fp32; %d trial(s) "
                        + "in %.1f s%n", fp32Metric, metric(), drop(), config.allowedDrop(fp32Metric),
                budgetMet() ? "budget met" : "BUDGET NOT MET", keptFp32(), trials.size(), seconds));
        if (!ranking.isEmpty()) {
            sb.append("ranking: ").append(ranking.stream()
                    .map(r -> String.format(Locale.ROOT, "%s (%.3g)", r.layer(), r.score()))
                    .collect(Collectors.joining(", "))).append('\n');
        }
        for (AccuracyTrial t : trials) {
            sb.append(String.format(Locale.ROOT, "  #%d %-13s fp32=%s metric=%.4f drop=%.4f %s %.1f s%n", t.index(),
                    t.purpose(), t.keptFp32(), t.metric(), t.drop(), t.withinBudget() ? "ok" : "over", t.seconds()));
        }
        return sb.toString();
    }
}
