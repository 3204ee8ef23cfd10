package io.github.dl4jquant.training;

import io.github.dl4jquant.graph.QuantizationReport;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What {@link QuantizeAfterTraining} produced: the three files it wrote and the accuracies it measured.
 *
 * <pre>{@code
 * QuantizationOutcome o = hook.outcome().orElseThrow();
 * System.out.printf("fp32 %.4f, int8 %.4f (%s)%n", o.fp32Accuracy(), o.int8Accuracy(), o.quantizedModelFile());
 * }</pre>
 *
 * @param fp32ModelFile      the fp32 model, as trained
 * @param quantizedModelFile the int8 model, next to the fp32 one ({@code name-int8.zip})
 * @param reportFile         the JSON report, next to the fp32 one ({@code name-int8-report.json})
 * @param fp32Accuracy       top-1 accuracy of the fp32 model on the evaluation data, or NaN without evaluation data
 * @param int8Accuracy       top-1 accuracy of the int8 model on the same data, or NaN without evaluation data
 * @param epochsCompleted    the epoch after which quantization ran (0 when called outside training)
 * @param report             what happened to every vertex
 */
public record QuantizationOutcome(Path fp32ModelFile, Path quantizedModelFile, Path reportFile, double fp32Accuracy,
                                  double int8Accuracy, int epochsCompleted, QuantizationReport report) {

    /** The JSON document written to {@link #reportFile()}: the accuracies, the files and the quantization report. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fp32_model", fp32ModelFile.getFileName().toString());
        m.put("int8_model", quantizedModelFile.getFileName().toString());
        m.put("epochs_completed", epochsCompleted);
        if (!Double.isNaN(fp32Accuracy)) {
            m.put("fp32_accuracy", fp32Accuracy);
            m.put("int8_accuracy", int8Accuracy);
        }
        m.put("quantization", report.toMap());
        return m;
    }
}
