package io.github.dl4jquant.spark;

import java.util.Locale;
import org.nd4j.evaluation.classification.Evaluation;

/**
 * A distributed evaluation's result and how it was computed.
 *
 * @param evaluation             the DL4J {@code Evaluation} of all partitions, merged
 * @param partitions             partitions evaluated
 * @param stateBytesPerPartition bytes of the evaluation state (its JSON) each partition sends back, the largest
 * @param seconds                wall time
 */
public record EvaluationRun(Evaluation evaluation, int partitions, long stateBytesPerPartition, double seconds) {

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "evaluated %,d examples in %d partition(s), %.2f s: accuracy %.4f; "
                        + "evaluation state %,d bytes per partition", evaluation.getNumRowCounter(), partitions,
                seconds, evaluation.accuracy(), stateBytesPerPartition);
    }
}
