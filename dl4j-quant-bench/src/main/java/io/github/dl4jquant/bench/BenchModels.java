package io.github.dl4jquant.bench;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The models the benchmarks time, built with fixed seeds, and their quantized variants.
 *
 * <pre>{@code
 * ComputationGraph fp32 = BenchModels.fp32("mlp");
 * ComputationGraph int8 = BenchModels.variant(fp32, "int8", BenchModels.inputShape("mlp"));
 * }</pre>
 */
final class BenchModels {
    private BenchModels() {
    }

    /** Every model {@link #fp32} builds. */
    static final List<String> MODELS = List.of("dense784x512", "dense4096", "mlp", "lenet", "resnet", "lstm");

    /**
     * "dense784x512" (one ReLU dense layer), "dense4096" (4096 -> 4096 identity), "mlp" (784-512-256-10), "lenet"
     * (see {@link #lenet}), "resnet" (see {@link #resnet}) or "lstm" (LSTM 128 -> 256, tanh, on 50 time steps: the
     * sequence output, as PyTorch's {@code nn.LSTM(128, 256)}).
     */
    static ComputationGraph fp32(String name) {
        if (name.equals("lenet") || name.equals("resnet")) {
            ComputationGraph g = new ComputationGraph(name.equals("lenet") ? lenet() : resnet());
            g.init();
            setBatchNormStatistics(g, input(5, 64, inputShape(name)));
            return g;
        }
        ComputationGraphConfiguration.GraphBuilder b = new NeuralNetConfiguration.Builder()
                .seed(7).dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER)
                .graphBuilder().addInputs("in");
        switch (name) {
            case "dense784x512":
                b.addLayer("d1", dense(784, 512, Activation.RELU), "in").setOutputs("d1");
                break;
            case "dense4096":
                b.addLayer("d1", dense(4096, 4096, Activation.IDENTITY), "in").setOutputs("d1");
                break;
            case "lstm":
                b.addLayer("lstm", new LSTM.Builder().nIn(128).nOut(256).activation(Activation.TANH).build(), "in")
                        .setOutputs("lstm");
                break;
            case "mlp":
                b.addLayer("d1", dense(784, 512, Activation.RELU), "in")
                        .addLayer("d2", dense(512, 256, Activation.RELU), "d1")
                        .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(256).nOut(10)
                                .activation(Activation.SOFTMAX).build(), "d2")
                        .setOutputs("out");
                break;
            default:
                throw new IllegalArgumentException("Unknown benchmark model '" + name + "'; known: " + MODELS);
        }
        ComputationGraph g = new ComputationGraph(b.build());
        g.init();
        return g;
    }

    /**
     * The shape of one example: [784] for the MLPs and LeNet (its flat 28x28 input), [4096], [3, 32, 32], or [128, 50]
     * (NCW: 128 features, 50 steps).
     */
    static long[] inputShape(String name) {
        switch (name) {
            case "dense4096":
                return new long[] {4096};
            case "resnet":
                return new long[] {3, 32, 32};
            case "lstm":
                return new long[] {128, 50};
            default:
                return new long[] {784};
        }
    }

    /**
     * A LeNet-style CNN on flat 28x28x1 input (MNIST's): conv 3x3 (Same) 32 + BN + ReLU + max-pool 2x2, conv 3x3 64 +
     * BN + ReLU + max-pool 2x2, dense 128 ReLU, softmax 10.
     */
    private static ComputationGraphConfiguration lenet() {
        return cnnBuilder().addInputs("in")
                .setInputTypes(InputType.convolutionalFlat(28, 28, 1))
                .addLayer("c1", conv(32, 3, 1), "in")
                .addLayer("bn1", new BatchNormalization.Builder().build(), "c1")
                .addLayer("r1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn1")
                .addLayer("p1", maxPool2(), "r1")
                .addLayer("c2", conv(64, 3, 1), "p1")
                .addLayer("bn2", new BatchNormalization.Builder().build(), "c2")
                .addLayer("r2", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn2")
                .addLayer("p2", maxPool2(), "r2")
                .addLayer("d1", new DenseLayer.Builder().nOut(128).activation(Activation.RELU).build(), "p2")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "d1")
                .setOutputs("out")
                .build();
    }

    /**
     * A small ResNet on 3x32x32 (CIFAR's): stem conv 3x3 32 + BN + ReLU; three basic blocks (conv 3x3 + BN + ReLU,
     * conv 3x3 + BN, ElementWiseVertex Add with the shortcut, ReLU): 32 channels at 32x32, then 64 at 16x16 with a
     * stride-2 first conv and a 1x1 stride-2 conv + BN projection shortcut, then 64 at 16x16; global average pooling;
     * softmax 10.
     */
    private static ComputationGraphConfiguration resnet() {
        ComputationGraphConfiguration.GraphBuilder b = cnnBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(32, 32, 3))
                .addLayer("stem", conv(32, 3, 1), "in")
                .addLayer("stem_bn", new BatchNormalization.Builder().build(), "stem")
                .addLayer("stem_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "stem_bn");
        String x = basicBlock(b, "b1", "stem_relu", 32, 1);
        x = basicBlock(b, "b2", x, 64, 2);
        x = basicBlock(b, "b3", x, 64, 1);
        return b.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x)
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "gap")
                .setOutputs("out")
                .build();
    }

    /** Adds a basic residual block reading {@code in}; a projection shortcut when it strides. Returns its output. */
    private static String basicBlock(ComputationGraphConfiguration.GraphBuilder b, String name, String in, int channels,
                                     int stride) {
        b.addLayer(name + "_c1", conv(channels, 3, stride), in)
                .addLayer(name + "_bn1", new BatchNormalization.Builder().build(), name + "_c1")
                .addLayer(name + "_r1", new ActivationLayer.Builder().activation(Activation.RELU).build(),
                        name + "_bn1")
                .addLayer(name + "_c2", conv(channels, 3, 1), name + "_r1")
                .addLayer(name + "_bn2", new BatchNormalization.Builder().build(), name + "_c2");
        String shortcut = in;
        if (stride != 1) {
            b.addLayer(name + "_proj", conv(channels, 1, stride), in)
                    .addLayer(name + "_proj_bn", new BatchNormalization.Builder().build(), name + "_proj");
            shortcut = name + "_proj_bn";
        }
        b.addVertex(name + "_add", new ElementWiseVertex(ElementWiseVertex.Op.Add), name + "_bn2", shortcut)
                .addLayer(name + "_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(),
                        name + "_add");
        return name + "_relu";
    }

    private static ComputationGraphConfiguration.GraphBuilder cnnBuilder() {
        return new NeuralNetConfiguration.Builder()
                .seed(7).dataType(DataType.FLOAT).weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder();
    }

    private static ConvolutionLayer conv(int nOut, int kernel, int stride) {
        return new ConvolutionLayer.Builder(kernel, kernel).stride(stride, stride).nOut(nOut)
                .activation(Activation.IDENTITY).build();
    }

    private static SubsamplingLayer maxPool2() {
        return new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build();
    }

    /**
     * Gives every batch norm non-trivial parameters and running statistics, so that folding them into the
     * convolutions matters: gamma in [0.5, 1.5) and beta in [-0.1, 0.1) from a fixed seed, then the mean and variance
     * of each batch norm's input over one training-mode pass on {@code x} (what training converges to), so that
     * inference sees the activations that pass normalised.
     */
    private static void setBatchNormStatistics(ComputationGraph g, INDArray x) {
        List<String> batchNorms = g.getConfiguration().getTopologicalOrderStr().stream()
                .filter(n -> g.getLayer(n) != null && g.getLayer(n).conf().getLayer() instanceof BatchNormalization)
                .toList();
        Nd4j.getRandom().setSeed(13);
        for (String n : batchNorms) {
            org.deeplearning4j.nn.api.Layer bn = g.getLayer(n);
            long c = bn.getParam("gamma").length();
            bn.setParam("gamma", Nd4j.rand(DataType.FLOAT, 1, c).addi(0.5));
            bn.setParam("beta", Nd4j.rand(DataType.FLOAT, 1, c).subi(0.5).muli(0.2));
        }
        Map<String, INDArray> training = g.feedForward(new INDArray[] {x}, true, false);
        for (String n : batchNorms) {
            org.deeplearning4j.nn.api.Layer bn = g.getLayer(n);
            INDArray in = training.get(g.getConfiguration().getVertexInputs().get(n).get(0));
            long c = in.size(1);
            INDArray var = in.var(false, 0, 2, 3).reshape(1, c);
            bn.setParam("mean", in.mean(0, 2, 3).reshape(1, c));
            if (bn.paramTable().containsKey("log10stdev")) {
                double eps = ((BatchNormalization) bn.conf().getLayer()).getEps();
                bn.setParam("log10stdev", Transforms.log(Transforms.sqrt(var.add(eps)), 10.0));
            } else {
                bn.setParam("var", var);
            }
        }
    }

    private static DenseLayer dense(int nIn, int nOut, Activation a) {
        return new DenseLayer.Builder().nIn(nIn).nOut(nOut).activation(a).build();
    }

    /** Non-negative inputs, like pixels or post-ReLU activations: {@code batch} examples of shape {@code example}. */
    static INDArray input(long seed, int batch, long... example) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.rand(DataType.FLOAT, LongStream.concat(LongStream.of(batch), Arrays.stream(example)).toArray());
    }

    /** {@code variant} of the benchmark model {@code name}: what a benchmark's set-up times. */
    static ComputationGraph graph(String name, String variant) {
        return variant(fp32(name), variant, inputShape(name));
    }

    /** The input every benchmark of model {@code name} times, {@code batch} examples. */
    static INDArray timedInput(String name, int batch) {
        return input(3, batch, inputShape(name));
    }

    /** "fp32" (the model itself), "reference", "int8" or "dynamic"; {@code example} is one input's shape. */
    static ComputationGraph variant(ComputationGraph fp32, String variant, long... example) {
        switch (variant) {
            case "fp32":
                return fp32;
            case "dynamic":
                return Quantizer.quantizeDynamic(fp32);
            case "reference":
                return Quantizer.convertToReference(calibrated(fp32, example));
            case "int8":
                return Quantizer.convert(calibrated(fp32, example));
            default:
                throw new IllegalArgumentException("Unknown variant '" + variant
                        + "'; known: fp32, reference, int8, dynamic");
        }
    }

    /**
     * x86 defaults: 7-bit activations (reduce_range), which CPUs without VNNI multiply in one int8 GEMM; 8-bit
     * activations need two there to stay exact (see OneDnnInt8Gemm). Two batches of 256 for the dense models, of 32
     * for the CNNs (images: 32 of them already give the observers 32K-1M values per channel).
     */
    static PreparedModel calibrated(ComputationGraph fp32, long... example) {
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        return p.calibrate(calibrationInputs(fp32, example));
    }

    /** The batches {@link #calibrated} observes (the peers' exported models calibrate on the same rows). */
    static INDArray[] calibrationInputs(ComputationGraph fp32, long... example) {
        int n = Arrays.stream(fp32.getLayers()).anyMatch(l -> l.conf().getLayer() instanceof ConvolutionLayer) ? 32 : 256;
        return new INDArray[] {input(11, n, example), input(12, n, example)};
    }
}
