package io.github.dl4jquant.examples.cli;

import io.github.dl4jquant.data.IdxReader;
import io.github.dl4jquant.examples.LoadedModel;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runs a model on CLI data, checking first that the data fits the model: feature count against the first layer, and
 * labels against the number of outputs.
 *
 * <pre>{@code
 * INDArray probabilities = ModelInputs.output(model, data);
 * INDArray labels = ModelInputs.oneHot(model, data);
 * }</pre>
 */
final class ModelInputs {

    private ModelInputs() {
    }

    /** Checks that {@code data} has the feature count {@code model} expects. */
    static void checkFeatures(LoadedModel model, CliData data, String what) {
        long expected = model.inputSize();
        if (expected >= 0 && expected != data.numFeatures()) {
            throw new IllegalArgumentException(what + " " + data.source() + " has " + data.numFeatures()
                    + " features per example, but model " + model.file() + " expects " + expected);
        }
    }

    /** The model's outputs on all examples of {@code data}. */
    static INDArray output(LoadedModel model, CliData data) {
        checkFeatures(model, data, "data");
        return model.output(data.features());
    }

    /** The labels one-hot encoded over the model's number of outputs. */
    static INDArray oneHot(LoadedModel model, CliData data) {
        int classes = (int) model.output(data.features().getRow(0, true)).size(1);
        try {
            return IdxReader.oneHot(data.labels(), classes);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("labels of " + data.source() + " do not fit model " + model.file()
                    + " with " + classes + " outputs: " + e.getMessage(), e);
        }
    }
}
