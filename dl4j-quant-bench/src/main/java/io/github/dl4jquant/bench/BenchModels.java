package io.github.dl4jquant.bench;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigs;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The models the benchmarks time, built with fixed seeds, and their quantized variants.
 *
 * <pre>{@code
 * ComputationGraph fp32 = BenchModels.fp32("mlp");
 * ComputationGraph int8 = BenchModels.variant(fp32, "int8", 784);
 * }</pre>
 */
final class BenchModels {
    private BenchModels() {
    }

    /** "dense784x512" (one ReLU dense layer), "dense4096" (4096 -> 4096 identity), "mlp" (784-512-256-10). */
    static ComputationGraph fp32(String name) {
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
            case "mlp":
                b.addLayer("d1", dense(784, 512, Activation.RELU), "in")
                        .addLayer("d2", dense(512, 256, Activation.RELU), "d1")
                        .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(256).nOut(10)
                                .activation(Activation.SOFTMAX).build(), "d2")
                        .setOutputs("out");
                break;
            default:
                throw new IllegalArgumentException("Unknown benchmark model '" + name
                        + "'; known: dense784x512, dense4096, mlp");
        }
        ComputationGraph g = new ComputationGraph(b.build());
        g.init();
        return g;
    }

    static long inputSize(String name) {
        return name.equals("dense4096") ? 4096 : 784;
    }

    private static DenseLayer dense(int nIn, int nOut, Activation a) {
        return new DenseLayer.Builder().nIn(nIn).nOut(nOut).activation(a).build();
    }

    /** Non-negative inputs, like pixels or post-ReLU activations. */
    static INDArray input(long seed, int batch, long features) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.rand(DataType.FLOAT, batch, features);
    }

    /** {@code variant} of the benchmark model {@code name}: what a benchmark's set-up times. */
    static ComputationGraph graph(String name, String variant) {
        return variant(fp32(name), variant, inputSize(name));
    }

    /** The input every benchmark of model {@code name} times, {@code batch} rows. */
    static INDArray timedInput(String name, int batch) {
        return input(3, batch, inputSize(name));
    }

    /** "fp32" (the model itself), "reference", "int8" or "dynamic". */
    static ComputationGraph variant(ComputationGraph fp32, String variant, long features) {
        switch (variant) {
            case "fp32":
                return fp32;
            case "dynamic":
                return Quantizer.quantizeDynamic(fp32);
            case "reference":
                return Quantizer.convertToReference(calibrated(fp32, features));
            case "int8":
                return Quantizer.convert(calibrated(fp32, features));
            default:
                throw new IllegalArgumentException("Unknown variant '" + variant
                        + "'; known: fp32, reference, int8, dynamic");
        }
    }

    /**
     * x86 defaults: 7-bit activations (reduce_range), which CPUs without VNNI multiply in one int8 GEMM; 8-bit
     * activations need two there to stay exact (see OneDnnInt8Gemm).
     */
    private static PreparedModel calibrated(ComputationGraph fp32, long features) {
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        return p.calibrate(input(11, 256, features), input(12, 256, features));
    }
}
