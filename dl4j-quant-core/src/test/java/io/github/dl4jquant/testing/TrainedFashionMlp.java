package io.github.dl4jquant.testing;

import io.github.dl4jquant.data.FashionMnist;
import org.deeplearning4j.eval.Evaluation;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Fashion-MNIST MLP 784-256-128-10 that accuracy tests quantize (the architecture of the PyTorch bar), trained once
 * per test JVM on Debian's full data set. One ReLU is a separate ActivationLayer, the other inside its DenseLayer.
 */
public final class TrainedFashionMlp {
    private static final Logger log = LoggerFactory.getLogger(TrainedFashionMlp.class);
    private static ComputationGraph model;
    private static DataSet train;
    private static DataSet test;

    private TrainedFashionMlp() {
    }

    public static synchronized ComputationGraph model() {
        if (model == null) {
            model = trainModel();
        }
        return model;
    }

    public static synchronized DataSet trainSet() {
        if (train == null) {
            train = FashionMnist.debian().train();
        }
        return train;
    }

    public static synchronized DataSet testSet() {
        if (test == null) {
            test = FashionMnist.debian().test();
        }
        return test;
    }

    /** The first {@code n} training examples, as calibration batches of 256. */
    public static DataSetIterator calibrationData(int n) {
        DataSet first = (DataSet) trainSet().getRange(0, n);
        return FashionMnist.iterator(first, 256);
    }

    public static double accuracy(ComputationGraph g) {
        DataSet t = testSet();
        INDArray predicted = g.outputSingle(t.getFeatures()).argMax(1);
        INDArray actual = t.getLabels().argMax(1);
        return predicted.eq(actual).castTo(DataType.INT).sumNumber().doubleValue() / t.numExamples();
    }

    private static ComputationGraph trainModel() {
        long t0 = System.nanoTime();
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .seed(42)
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER)
                .updater(new Adam(1e-3))
                .graphBuilder()
                .addInputs("in")
                .addLayer("d1", new DenseLayer.Builder().nIn(784).nOut(256).activation(Activation.IDENTITY).build(), "in")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "d1")
                .addLayer("d2", new DenseLayer.Builder().nIn(256).nOut(128).activation(Activation.RELU).build(), "relu1")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(128).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "d2")
                .setOutputs("out")
                .build());
        g.init();
        DataSetIterator it = FashionMnist.iterator(trainSet(), 128);
        g.fit(it, 3);
        Evaluation eval = g.evaluate(FashionMnist.iterator(testSet(), 1000));
        log.info("Trained the Fashion-MNIST MLP in {} s: test accuracy {}", (System.nanoTime() - t0) / 1_000_000_000L,
                eval.accuracy());
        return g;
    }
}
