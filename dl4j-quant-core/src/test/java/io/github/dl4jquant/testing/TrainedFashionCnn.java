package io.github.dl4jquant.testing;

import io.github.dl4jquant.data.FashionMnist;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A LeNet-style Fashion-MNIST CNN with batch norms (conv-BN-ReLU-maxpool twice, dense, softmax), trained once per test
 * JVM on Debian's full training set, as a user would build it: the batch norms and ReLUs are layers of their own.
 */
public final class TrainedFashionCnn {
    private static final Logger log = LoggerFactory.getLogger(TrainedFashionCnn.class);
    private static final int EPOCHS = 2;
    private static ComputationGraph model;

    private TrainedFashionCnn() {
    }

    public static synchronized ComputationGraph model() {
        if (model == null) {
            model = trainModel();
        }
        return model;
    }

    /** The predicted classes of the whole test set, in batches that keep the activations small. */
    public static INDArray predictions(ComputationGraph g) {
        INDArray features = TrainedFashionMlp.testSet().getFeatures();
        INDArray predicted = Nd4j.create(DataType.LONG, features.size(0));
        for (long from = 0; from < features.size(0); from += 500) {
            long to = Math.min(from + 500, features.size(0));
            predicted.put(new INDArrayIndex1(from, to).get(), g.outputSingle(features.get(NDArrayIndex.interval(from,
                    to), NDArrayIndex.all())).argMax(1));
        }
        return predicted;
    }

    public static double accuracy(INDArray predictions) {
        INDArray actual = TrainedFashionMlp.testSet().getLabels().argMax(1);
        return predictions.eq(actual).castTo(DataType.INT).sumNumber().doubleValue() / actual.length();
    }

    private record INDArrayIndex1(long from, long to) {
        org.nd4j.linalg.indexing.INDArrayIndex[] get() {
            return new org.nd4j.linalg.indexing.INDArrayIndex[] {NDArrayIndex.interval(from, to)};
        }
    }

    private static ComputationGraph trainModel() {
        long t0 = System.nanoTime();
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .seed(42)
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.RELU)
                .updater(new Adam(1e-3))
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutionalFlat(28, 28, 1))
                .addLayer("conv1", new ConvolutionLayer.Builder(3, 3).nOut(16).activation(Activation.IDENTITY).build(),
                        "in")
                .addLayer("bn1", new BatchNormalization.Builder().build(), "conv1")
                .addLayer("relu1", new ActivationLayer(Activation.RELU), "bn1")
                .addLayer("pool1", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(),
                        "relu1")
                .addLayer("conv2", new ConvolutionLayer.Builder(3, 3).nOut(32).activation(Activation.IDENTITY).build(),
                        "pool1")
                .addLayer("bn2", new BatchNormalization.Builder().build(), "conv2")
                .addLayer("relu2", new ActivationLayer(Activation.RELU), "bn2")
                .addLayer("pool2", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(),
                        "relu2")
                .addLayer("fc", new DenseLayer.Builder().nOut(128).activation(Activation.RELU).build(), "pool2")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "fc")
                .setOutputs("out")
                .build());
        g.init();
        g.fit(FashionMnist.iterator(TrainedFashionMlp.trainSet(), 64), EPOCHS);
        log.info("Trained the Fashion-MNIST CNN ({} epochs) in {} s: test accuracy {}", EPOCHS,
                (System.nanoTime() - t0) / 1_000_000_000L, accuracy(predictions(g)));
        return g;
    }
}
