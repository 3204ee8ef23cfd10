package io.github.dl4jquant.testing;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigs;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The two int8 models the serving tests run (x86 defaults, seeded, untrained): the Fashion-MNIST MLP 784-256-128-10
 * and a small CNN with a residual add, with inputs as the tests send them. Calibration sees {@code [0, 0.9)} and
 * serving {@code [0, 1)}, so some activations leave the calibrated range, as real traffic does.
 */
public enum ServingModel {
    /** The Fashion-MNIST MLP's shape: 784-256-128-10, one ReLU inside its DenseLayer, one as an ActivationLayer. */
    FASHION_MLP(784) {
        @Override
        public ComputationGraph fp32() {
            return fashionMlp();
        }
    },
    /**
     * in [3, 12, 12] -> stem conv(8, ReLU) -> conv-BN-ReLU -> conv-BN -> add(stem) -> ReLU -> max pool 2x2 ->
     * softmax(10): int8 convolutions with the batch norms folded, an int8 add_relu, int8 pooling, an int8 dense.
     */
    RESIDUAL_CNN(3, 12, 12) {
        @Override
        public ComputationGraph fp32() {
            return residualCnn();
        }
    };

    private final long[] exampleShape;

    ServingModel(long... exampleShape) {
        this.exampleShape = exampleShape;
    }

    /** The seeded fp32 model. */
    public abstract ComputationGraph fp32();

    /** A batch as served: uniform in {@code [0, 1)}. */
    public INDArray input(long seed, int batch) {
        long[] shape = new long[exampleShape.length + 1];
        shape[0] = batch;
        System.arraycopy(exampleShape, 0, shape, 1, exampleShape.length);
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.rand(DataType.FLOAT, shape);
    }

    /** {@link #fp32()} statically quantized with the x86 defaults, calibrated on 256 inputs in {@code [0, 0.9)}. */
    public ComputationGraph int8() {
        ComputationGraph fp32 = fp32();
        INDArray calibration = input(7, 256).muli(0.9);
        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).calibrate(calibration);
        return Quantizer.convert(prepared);
    }

    private static ComputationGraph fashionMlp() {
        ComputationGraph g = new ComputationGraph(TestModels.base().graphBuilder()
                .addInputs("in")
                .addLayer("d1", new DenseLayer.Builder().nIn(784).nOut(256).activation(Activation.IDENTITY).build(),
                        "in")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "d1")
                .addLayer("d2", new DenseLayer.Builder().nIn(256).nOut(128).activation(Activation.RELU).build(),
                        "relu1")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(128).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "d2")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    private static ComputationGraph residualCnn() {
        ComputationGraph g = new ComputationGraph(TestModels.base().convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("in").setInputTypes(InputType.convolutional(12, 12, 3))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).nOut(8).activation(Activation.RELU).build(), "in")
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).nOut(8).activation(Activation.IDENTITY).build(),
                        "stem")
                .addLayer("bn1", new BatchNormalization.Builder().build(), "c1")
                .addLayer("r1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn1")
                .addLayer("c2", new ConvolutionLayer.Builder(3, 3).nOut(8).activation(Activation.IDENTITY).build(),
                        "r1")
                .addLayer("bn2", new BatchNormalization.Builder().build(), "c2")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "bn2", "stem")
                .addLayer("relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "add")
                .addLayer("pool", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2)
                        .stride(2, 2).build(), "relu")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }
}
