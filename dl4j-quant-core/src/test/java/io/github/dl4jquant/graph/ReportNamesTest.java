package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.qconfig.QConfigs;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** The report names what the user's model has: layer names and the activations the layers really apply. */
class ReportNamesTest {

    /** conv(identity) -> BN (no activation set, so DL4J's default sigmoid is in its configuration) -> ReLU -> out. */
    private static MultiLayerNetwork convBnRelu() {
        MultiLayerNetwork n = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1)
                .dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv").nOut(4).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn").build())
                .layer(new ActivationLayer.Builder().name("relu").activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(6, 6, 1))
                .build());
        n.init();
        return n;
    }

    private static QuantizationReport report(MultiLayerNetwork n) {
        Nd4j.getRandom().setSeed(2);
        INDArray x = Nd4j.rand(DataType.FLOAT, 16, 36);
        return Quantizer.prepare(n, QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig())
                .calibrate(x).report();
    }

    /**
     * Every BaseLayer configuration has an activation, but DL4J's BatchNormalization layer never applies it (its
     * activate() returns preOutput()): the type column reads "BatchNormalization", not "BatchNormalization[sigmoid]".
     */
    @Test
    void batchNormalizationTypeShowsNoActivationDl4jNeverApplies() {
        MultiLayerNetwork n = convBnRelu();
        assertEquals("sigmoid", n.getLayerWiseConfigurations().getConf(1).getLayer() instanceof BatchNormalization b
                ? b.getActivationFn().toString() : null, "precondition: the configuration holds DL4J's default");
        Nd4j.getRandom().setSeed(3);
        // up to the batch norm only: DL4J's ActivationLayer would apply its ReLU to the same array in place
        java.util.List<INDArray> acts = n.feedForwardToLayer(1, Nd4j.rand(DataType.FLOAT, 8, 36), false);
        INDArray conv = acts.get(1);
        INDArray bn = acts.get(2);
        assertTrue(bn.minNumber().doubleValue() < 0, "DL4J applied no sigmoid: the output has negatives");
        assertTrue(bn.equalsWithEps(conv.div(Math.sqrt(1 + 1e-5)), 1e-5), "fresh BN: x / sqrt(1 + eps), no sigmoid");
        assertEquals("BatchNormalization", report(n).entry("bn").type());
    }

    /** A MultiLayerNetwork's fused pattern is detailed by layer names, not toComputationGraph()'s vertex numbers. */
    @Test
    void fusedDetailOfAMultiLayerNetworkUsesLayerNames() {
        assertEquals("fused [conv, bn, relu]", report(convBnRelu()).entry("conv").detail());
    }
}
