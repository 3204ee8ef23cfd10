package io.github.dl4jquant.ns;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One quantize-and-evaluate round of {@link AccuracyControl}.
 *
 * <pre>{@code
 * for (AccuracyTrial t : result.trials()) {
 *     System.out.println(t.keptFp32() + " -> " + t.metric());
 * }
 * }</pre>
 *
 * @param index        0 for the first trial (every layer quantized)
 * @param purpose      why the trial ran: "all quantized", "ranking", "fallback" or "prune"
 * @param keptFp32     the layers kept in fp32 (root vertex names)
 * @param metric       the evaluation metric of the quantized model
 * @param drop         fp32 metric minus {@code metric}
 * @param withinBudget whether {@code drop} is within the budget
 * @param seconds      wall time of the trial (prepare, calibrate, convert, evaluate)
 */
public record AccuracyTrial(int index, String purpose, List<String> keptFp32, double metric, double drop,
                            boolean withinBudget, double seconds) {

    public AccuracyTrial {
        keptFp32 = List.copyOf(keptFp32);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("index", index);
        m.put("purpose", purpose);
        m.put("kept_fp32", keptFp32);
        m.put("metric", metric);
        m.put("drop", drop);
        m.put("within_budget", withinBudget);
        m.put("seconds", seconds);
        return m;
    }
}
