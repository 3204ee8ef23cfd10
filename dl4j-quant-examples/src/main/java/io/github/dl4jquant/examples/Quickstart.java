package io.github.dl4jquant.examples;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.File;
import java.io.IOException;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The README's quickstart: train a small MLP, quantize it to int8 with x86 defaults, print the report, save it.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=Quickstart
 * }</pre>
 */
public final class Quickstart {

    private Quickstart() {
    }

    public static void main(String[] args) throws IOException {
        ExampleData data = ExampleData.load();
        ComputationGraph model = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .seed(1).updater(new Adam(1e-3)).graphBuilder()
                .addInputs("in")
                .addLayer("hidden", new DenseLayer.Builder().nIn(784).nOut(128).activation(Activation.RELU).build(), "in")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(128).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "hidden")
                .setOutputs("out").build());
        model.init();
        model.fit(data.trainIterator(128), 1);

        // --- quickstart: everything below is the quantization ---
        PreparedModel prepared = Quantizer.prepare(model,
                QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig());
        prepared.calibrate(data.trainIterator(256));        // observers see the data; the model is not changed
        ComputationGraph int8 = Quantizer.convert(prepared); // int8 weights, int8 GEMM
        System.out.println(prepared.report());               // per layer: pattern, qparams, or why it stayed fp32
        ModelSerializer.writeModel(int8, new File("target/model-int8.zip"), false);
        // --- end of quickstart ---

        System.out.printf("fp32 accuracy %.4f, int8 accuracy %.4f%n",
                model.evaluate(data.testIterator(1000)).accuracy(), int8.evaluate(data.testIterator(1000)).accuracy());
    }
}
