package io.github.dl4jquant.examples;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigs;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * Dynamic int8 quantization of a recurrent classifier, as PyTorch's {@code quantize_dynamic} of an {@code nn.LSTM}:
 * Fashion-MNIST read row by row (28 steps of 28 pixels) by a bidirectional LSTM, its last step classified by a dense
 * softmax layer. The LSTM's input and recurrent weights become int8, activations are quantized per product call, gates
 * stay float; no calibration data is needed.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=SequenceQuantizationExample
 * }</pre>
 */
public final class SequenceQuantizationExample {

    private SequenceQuantizationExample() {
    }

    public static void main(String[] args) {
        ExampleData data = ExampleData.load();
        ComputationGraph fp32 = rowLstm();
        DataSet train = data.train();
        int n = Math.min(10_000, train.numExamples());   // one pass over 10,000 images; a real model trains longer
        for (int from = 0; from < n; from += 100) {
            DataSet batch = (DataSet) train.getRange(from, Math.min(from + 100, n));
            fp32.fit(new DataSet(rows(batch.getFeatures()), batch.getLabels()));
        }

        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultDynamicQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        ComputationGraph int8 = Quantizer.convert(prepared);   // or simply Quantizer.quantizeDynamic(fp32)

        System.out.println(prepared.report());
        DataSet test = data.test();
        INDArray x = rows(test.getFeatures());
        System.out.println(Agreement.of(fp32.outputSingle(x), int8.outputSingle(x), test.getLabels()));
    }

    /** Images [n, 784] as sequences [n, 28 pixels, 28 rows] (NCW: one image row per time step). */
    static INDArray rows(INDArray images) {
        return images.reshape('c', images.size(0), 28, 28).permute(0, 2, 1).dup('c');
    }

    static ComputationGraph rowLstm() {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(5e-3))
                .graphBuilder().addInputs("rows").setInputTypes(InputType.recurrent(28, 28))
                .addLayer("lstm", new LastTimeStep(new Bidirectional(new LSTM.Builder().nOut(64)
                        .activation(Activation.TANH).build())), "rows")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "lstm")
                .setOutputs("out").build());
        g.init();
        return g;
    }
}
