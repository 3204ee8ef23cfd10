package io.github.dl4jquant.badinput;

import io.github.dl4jquant.testing.TestModels;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** A graph with two inputs ("a", "b": 6 features each) and two outputs ("y1", "y2"). */
final class TwoInputModel {

    private TwoInputModel() {
    }

    static ComputationGraph create() {
        ComputationGraph g = new ComputationGraph(TestModels.base().graphBuilder()
                .addInputs("a", "b")
                .addLayer("da", new DenseLayer.Builder().nIn(6).nOut(4).activation(Activation.RELU).build(), "a")
                .addLayer("db", new DenseLayer.Builder().nIn(6).nOut(4).activation(Activation.RELU).build(), "b")
                .addVertex("merge", new MergeVertex(), "da", "db")
                .addLayer("y1", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "merge")
                .addLayer("y2", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(8).nOut(2)
                        .activation(Activation.IDENTITY).build(), "merge")
                .setOutputs("y1", "y2")
                .build());
        g.init();
        return g;
    }
}
