package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.quantized.DynamicQuantizedLSTMLayer;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.Golden;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.recurrent.LastTimeStepLayer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * PyTorch's {@code quantize_dynamic} of a whole sequence classifier ({@code golden/seq_classifier_e2e.json}):
 * Embedding(100,16) with int8 float-qparams rows, dynamic LSTM(16,32), dynamic Linear(32,4) on the last step, against
 * DL4J's EmbeddingSequenceLayer, LastTimeStep(LSTM) and OutputLayer with the same weights, quantized by one
 * {@code Quantizer.convert}: int8 from the embedding to the output, PyTorch's outputs within its LSTM tolerance.
 */
class GoldenSequenceClassifierParityTest {

    private static ComputationGraph classifier(JsonNode w) {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .graphBuilder().addInputs("tokens")
                .addLayer("embedding", new EmbeddingSequenceLayer.Builder().nIn(100).nOut(16).hasBias(false)
                        .activation(Activation.IDENTITY).build(), "tokens")
                .addLayer("lstm", new LastTimeStep(new LSTM.Builder().nIn(16).nOut(32).activation(Activation.TANH)
                        .gateActivationFunction(Activation.SIGMOID).build()), "embedding")
                .addLayer("fc", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(32).nOut(4)
                        .activation(Activation.IDENTITY).build(), "lstm")
                .setOutputs("fc").build());
        g.init();
        g.getLayer("embedding").setParam("W", Golden.tensor(w.get("embedding.weight")));
        g.getLayer("lstm").setParam("W", GoldenLstmDynamicParityTest.dl4jGates(Golden.tensor(w.get("lstm.weight_ih_l0"))));
        g.getLayer("lstm").setParam("RW", GoldenLstmDynamicParityTest.dl4jGates(Golden.tensor(w.get("lstm.weight_hh_l0"))));
        g.getLayer("lstm").setParam("b", GoldenLstmDynamicParityTest.dl4jBias(Golden.tensor(w.get("lstm.bias_ih_l0")),
                Golden.tensor(w.get("lstm.bias_hh_l0"))));
        g.getLayer("fc").setParam("W", Golden.tensor(w.get("fc.weight")).transpose().dup('c'));
        g.getLayer("fc").setParam("b", Golden.tensor(w.get("fc.bias")).reshape(1, 4));
        return g;
    }

    /** PyTorch's spec: default_dynamic_qconfig (per-tensor weights) for LSTM and Linear, int8 rows for Embedding. */
    private static QConfigMapping pytorchSpec() {
        QConfig dynamic = QConfigs.getDefaultDynamicQConfig("x86");
        return QConfigs.withWeightOnlyEmbeddings(new QConfigMapping().setGlobal(new QConfig(dynamic.activation(),
                MinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_TENSOR_SYMMETRIC))));
    }

    @Test
    void int8ClassifierMatchesPyTorchsQuantizeDynamic() {
        JsonNode golden = Golden.load("seq_classifier_e2e.json");
        ComputationGraph fp32 = classifier(golden.get("weights"));
        INDArray tokens = Golden.tensor(golden.get("tokens")).transpose().dup('c');   // [T, B] -> [B, T]
        INDArray floatOut = fp32.outputSingle(tokens);
        INDArray pytorchFloat = Golden.tensor(golden.get("output_float"));
        assertTrue(Transforms.abs(floatOut.sub(pytorchFloat)).maxNumber().doubleValue() < 1e-5,
                "the DL4J rebuild computes PyTorch's float model");

        ComputationGraph q = Quantizer.convert(Quantizer.prepare(fp32, pytorchSpec(),
                BackendConfigs.getX86BackendConfig()));
        assertInstanceOf(DynamicQuantizedLSTMLayer.class, ((LastTimeStepLayer) q.getLayer("lstm")).getUnderlying());
        INDArray y = q.outputSingle(tokens);
        INDArray expected = Golden.tensor(golden.get("quantized").get("onednn").get("output"));
        double maxDiff = Transforms.abs(y.sub(expected)).maxNumber().doubleValue();
        assertTrue(maxDiff < 1e-5, "int8 classifier differs from PyTorch's by " + maxDiff);
        for (int r = 0; r < expected.rows(); r++) {
            assertEquals(expected.getRow(r).argMax().getInt(0), y.getRow(r).argMax().getInt(0), "argmax row " + r);
        }
    }
}
