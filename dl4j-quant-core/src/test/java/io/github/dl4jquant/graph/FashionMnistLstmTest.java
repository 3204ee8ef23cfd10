package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.nn.quantized.DynamicQuantizedLSTMLayer;
import io.github.dl4jquant.nn.quantized.QuantizedDenseLayer;
import io.github.dl4jquant.testing.TrainedFashionMlp;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.recurrent.LastTimeStepLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real sequence task: Fashion-MNIST read row by row (28 time steps of 28 pixels), an LSTM(64) classifier on the last
 * step, trained here on 20,000 training images, then {@code Quantizer.quantizeDynamic}: on the full 10,000-image test
 * set the int8 model loses at most 0.5 points of accuracy.
 */
class FashionMnistLstmTest {
    private static final Logger log = LoggerFactory.getLogger(FashionMnistLstmTest.class);
    private static final int TRAIN = 20_000;
    private static final int EPOCHS = 2;
    private static ComputationGraph fp32;

    /** [N, 784] images as sequences [N, 28 pixels, 28 rows] (NCW: one row per time step). */
    static INDArray rowSequences(INDArray images) {
        return images.reshape('c', images.size(0), 28, 28).permute(0, 2, 1).dup('c');
    }

    @BeforeAll
    static void train() {
        fp32 = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(17).dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER).updater(new Adam(5e-3)).graphBuilder().addInputs("rows")
                .setInputTypes(InputType.recurrent(28, 28))
                .addLayer("lstm", new LastTimeStep(new LSTM.Builder().nOut(64).activation(Activation.TANH).build()),
                        "rows")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "lstm")
                .setOutputs("out").build());
        fp32.init();
        DataSet train = TrainedFashionMlp.trainSet();
        long t0 = System.nanoTime();
        for (int epoch = 0; epoch < EPOCHS; epoch++) {
            for (int from = 0; from < TRAIN; from += 100) {
                INDArray x = train.getFeatures().get(NDArrayIndex.interval(from, from + 100), NDArrayIndex.all());
                INDArray y = train.getLabels().get(NDArrayIndex.interval(from, from + 100), NDArrayIndex.all());
                fp32.fit(new DataSet(rowSequences(x), y));
            }
        }
        log.info("Fashion-MNIST row LSTM trained in {} s", (System.nanoTime() - t0) / 1_000_000_000L);
    }

    private static double accuracy(ComputationGraph g, int[] predictionsOut) {
        DataSet test = TrainedFashionMlp.testSet();
        long n = test.numExamples();
        int correct = 0;
        for (int from = 0; from < n; from += 1000) {
            INDArray x = rowSequences(test.getFeatures().get(NDArrayIndex.interval(from, from + 1000),
                    NDArrayIndex.all()));
            INDArray predicted = g.outputSingle(x).argMax(1);
            INDArray actual = test.getLabels().get(NDArrayIndex.interval(from, from + 1000), NDArrayIndex.all())
                    .argMax(1);
            for (int i = 0; i < 1000; i++) {
                int p = predicted.getInt(i);
                predictionsOut[from + i] = p;
                correct += p == actual.getInt(i) ? 1 : 0;
            }
        }
        return (double) correct / n;
    }

    @Test
    void dynamicInt8LosesAtMostHalfAPointOnTheFullTestSet() {
        ComputationGraph q = Quantizer.quantizeDynamic(fp32);
        assertInstanceOf(DynamicQuantizedLSTMLayer.class, ((LastTimeStepLayer) q.getLayer("lstm")).getUnderlying());
        assertInstanceOf(QuantizedDenseLayer.class, q.getLayer("out"));
        int[] fp32Predictions = new int[10_000];
        int[] int8Predictions = new int[10_000];
        double fp32Accuracy = accuracy(fp32, fp32Predictions);
        double int8Accuracy = accuracy(q, int8Predictions);
        int agree = 0;
        for (int i = 0; i < fp32Predictions.length; i++) {
            agree += fp32Predictions[i] == int8Predictions[i] ? 1 : 0;
        }
        log.info("Fashion-MNIST row LSTM: fp32 {} %, dynamic int8 {} %, top-1 agreement {} %",
                String.format("%.2f", 100 * fp32Accuracy), String.format("%.2f", 100 * int8Accuracy),
                String.format("%.2f", agree / 100.0));
        assertTrue(fp32Accuracy > 0.75, "the fp32 model must have learned the task: " + fp32Accuracy);
        assertTrue(int8Accuracy >= fp32Accuracy - 0.005, "int8 " + int8Accuracy + " vs fp32 " + fp32Accuracy);
        assertTrue(agree >= 9_900, "int8 and fp32 agree on " + agree + " of 10,000");
    }
}
