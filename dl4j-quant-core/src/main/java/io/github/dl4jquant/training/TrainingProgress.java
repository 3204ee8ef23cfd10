package io.github.dl4jquant.training;

import org.deeplearning4j.nn.api.Model;

/**
 * Where training stands at the end of an epoch; what a {@link QuantizeAfterTraining} trigger decides on.
 *
 * <pre>{@code
 * QuantizeAfterTraining hook = QuantizeAfterTraining.builder(Path.of("model.zip"))
 *     .calibrationData(heldOut)
 *     .when(p -> p.epochsCompleted() >= 3 && p.score() < 0.35)
 *     .build();
 * }</pre>
 *
 * @param model           the model being trained (do not modify it in a trigger)
 * @param epochsCompleted epochs finished since the listener was attached, counting the one that just ended
 * @param score           the model's latest training loss
 */
public record TrainingProgress(Model model, int epochsCompleted, double score) {
}
