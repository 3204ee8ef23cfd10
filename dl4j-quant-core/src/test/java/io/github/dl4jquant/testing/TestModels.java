package io.github.dl4jquant.testing;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Small, seeded models for tests. */
public final class TestModels {
    private TestModels() {
    }

    public static NeuralNetConfiguration.Builder base() {
        return new NeuralNetConfiguration.Builder().seed(42).dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER);
    }

    /** in -> d1(relu) -> d2(identity) -> act(relu) -> out(softmax). */
    public static ComputationGraph mlp() {
        ComputationGraph g = new ComputationGraph(base().graphBuilder()
                .addInputs("in")
                .addLayer("d1", new DenseLayer.Builder().nIn(12).nOut(16).activation(Activation.RELU).build(), "in")
                .addLayer("d2", new DenseLayer.Builder().nIn(16).nOut(16).activation(Activation.IDENTITY).build(), "d1")
                .addLayer("act", new ActivationLayer.Builder().activation(Activation.RELU).build(), "d2")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(5)
                        .activation(Activation.SOFTMAX).build(), "act")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    /** Two branches joined by a MergeVertex and an element-wise add, plus a BatchNormalization nothing matches. */
    public static ComputationGraph branchy() {
        ComputationGraph g = new ComputationGraph(base().graphBuilder()
                .addInputs("in")
                .addLayer("a", new DenseLayer.Builder().nIn(12).nOut(8).activation(Activation.RELU).build(), "in")
                .addLayer("b", new DenseLayer.Builder().nIn(12).nOut(8).activation(Activation.RELU).build(), "in")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "a", "b")
                .addVertex("merge", new MergeVertex(), "a", "add")
                .addLayer("bn", new BatchNormalization.Builder().nOut(16).build(), "merge")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "bn")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    /** A convolution (no pattern) feeding a dense layer through DL4J's CNN-to-FF preprocessor. */
    public static ComputationGraph convThenDense() {
        ComputationGraph g = new ComputationGraph(base().graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutionalFlat(6, 6, 1))
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(2).activation(Activation.RELU).build(), "in")
                .addLayer("d", new DenseLayer.Builder().nOut(10).activation(Activation.RELU).build(), "conv")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(4)
                        .activation(Activation.SOFTMAX).build(), "d")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    /**
     * in [1, 6, 6] -> conv(3x3, 4, identity) -> bn (with batch statistics far from 0 and 1) -> relu -> d -> out: the
     * batch norm folds into the convolution's weight.
     */
    public static ComputationGraph convBatchNormRelu() {
        ComputationGraph g = new ComputationGraph(base().graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutionalFlat(6, 6, 1))
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.IDENTITY).build(),
                        "in")
                .addLayer("bn", new BatchNormalization.Builder().build(), "conv")
                .addLayer("relu", new ActivationLayer(Activation.RELU), "bn")
                .addLayer("d", new DenseLayer.Builder().nOut(10).activation(Activation.RELU).build(), "relu")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(4)
                        .activation(Activation.SOFTMAX).build(), "d")
                .setOutputs("out")
                .build());
        g.init();
        org.deeplearning4j.nn.api.Layer bn = g.getLayer("bn");
        bn.setParam("gamma", Nd4j.createFromArray(new float[][] {{0.5f, 1.5f, 3f, 0.8f}}));
        bn.setParam("beta", Nd4j.createFromArray(new float[][] {{0.1f, -0.2f, 0.3f, 0f}}));
        bn.setParam("mean", Nd4j.createFromArray(new float[][] {{0.2f, -0.3f, 0.1f, 0.4f}}));
        bn.setParam("log10stdev", Nd4j.createFromArray(new float[][] {{-1f, -0.5f, 0.3f, -0.2f}}));
        return g;
    }

    /** in -> d(identity) -> prelu (a PReLULayer, which no backend quantizes) -> out(softmax). */
    public static ComputationGraph withPReLU() {
        ComputationGraph g = new ComputationGraph(base().graphBuilder()
                .addInputs("in")
                .addLayer("d", new DenseLayer.Builder().nIn(12).nOut(8).activation(Activation.IDENTITY).build(), "in")
                .addLayer("prelu", new org.deeplearning4j.nn.conf.layers.PReLULayer.Builder().inputShape(8).build(), "d")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "prelu")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    /** Two dense branches added element-wise, then a softmax output. */
    public static ComputationGraph residual() {
        ComputationGraph g = new ComputationGraph(base().graphBuilder()
                .addInputs("in")
                .addLayer("a", new DenseLayer.Builder().nIn(12).nOut(8).activation(Activation.RELU).build(), "in")
                .addLayer("b", new DenseLayer.Builder().nIn(12).nOut(8).activation(Activation.RELU).build(), "in")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "a", "b")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "add")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    /** A MultiLayerNetwork with named layers "hidden" and "classifier". */
    public static MultiLayerNetwork multiLayer() {
        MultiLayerNetwork n = new MultiLayerNetwork(base().list()
                .layer(new DenseLayer.Builder().name("hidden").nIn(12).nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("classifier").nIn(16).nOut(5)
                        .activation(Activation.SOFTMAX).build())
                .build());
        n.init();
        return n;
    }

    public static INDArray randomBatch(long seed, int rows, int cols) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.FLOAT, rows, cols);
    }
}
