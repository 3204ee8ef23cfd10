package io.github.dl4jquant.badinput;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A user's model as it was: a copy of its parameters and its configuration JSON, to prove a failed call left both
 * alone.
 */
public record ModelSnapshot(Model model, INDArray params, String configuration) {

    public static ModelSnapshot of(Model model) {
        INDArray p = model.params();
        return new ModelSnapshot(model, p == null ? null : p.dup(), configurationOf(model));
    }

    private static String configurationOf(Model model) {
        if (model instanceof ComputationGraph g) {
            return g.getConfiguration().toJson();
        }
        return ((MultiLayerNetwork) model).getLayerWiseConfigurations().toJson();
    }

    /** Fails unless the model's parameters and configuration are exactly what they were. */
    public void assertUnchanged(String caseName) {
        assertEquals(configuration, configurationOf(model), caseName + ": the model's configuration JSON changed");
        INDArray now = model.params();
        if (params == null) {
            assertTrue(now == null || now.isEmpty(), caseName + ": an uninitialised model got parameters");
            return;
        }
        assertTrue(params.equals(now), caseName + ": the model's parameters changed");
    }
}
