package io.github.dl4jquant.nn.quantized;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.kernel.ExactFloatInt8Gemm;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.File;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.Subsampling1DLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's pooling layers after an int8 convolution: the int8 pooling (on the handed-over u8 values) must give the
 * reference model's outputs (DL4J's float pooling, then quantize-dequantize with the shared qparams) within one
 * step, for max and average pooling (padding counted or not, DL4J's {@code avgPoolIncludePadInDivisor}), Same mode,
 * NHWC, 1-D and global pooling, after a convolution with ReLU (zero point 0) and without (zero point not 0, where an
 * average over padding falls back to the float computation); save/restore bit-identical; the fallback the same.
 */
class QuantizedPoolingTest {
    @TempDir
    Path tmp;

    @AfterEach
    void restoreKernels() {
        Int8Gemms.clearOverride();
    }

    static Stream<Arguments> configurations() {
        InputType image = InputType.convolutional(12, 11, 3);
        return Stream.of(
                Arguments.of("max 2x2", image, Activation.RELU, new SubsamplingLayer.Builder(PoolingType.MAX)
                        .kernelSize(2, 2).stride(2, 2).build()),
                Arguments.of("max 3x3 s2 padded", image, Activation.IDENTITY,
                        new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(2, 2).padding(1, 1)
                                .build()),
                Arguments.of("avg 3x3 s2 padded, divisor counts padding", image, Activation.RELU,
                        new SubsamplingLayer.Builder(PoolingType.AVG).kernelSize(3, 3).stride(2, 2).padding(1, 1)
                                .avgPoolIncludePadInDivisor(false).build()),
                Arguments.of("avg 3x3 s2 padded, divisor in image", image, Activation.RELU,
                        new SubsamplingLayer.Builder(PoolingType.AVG).kernelSize(3, 3).stride(2, 2).padding(1, 1)
                                .avgPoolIncludePadInDivisor(true).build()),
                Arguments.of("avg same, zero point not 0", image, Activation.IDENTITY,
                        new SubsamplingLayer.Builder(PoolingType.AVG).kernelSize(3, 3).stride(2, 2)
                                .convolutionMode(ConvolutionMode.Same).build()),
                Arguments.of("max same NHWC", InputType.convolutional(12, 11, 3, CNN2DFormat.NHWC), Activation.RELU,
                        new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(2, 2)
                                .convolutionMode(ConvolutionMode.Same).dataFormat(CNN2DFormat.NHWC).build()),
                Arguments.of("global avg", image, Activation.RELU, new GlobalPoolingLayer.Builder(PoolingType.AVG)
                        .build()),
                Arguments.of("global max, not collapsed", image, Activation.IDENTITY,
                        new GlobalPoolingLayer.Builder(PoolingType.MAX).collapseDimensions(false).build()),
                Arguments.of("1-D max", InputType.recurrent(3, 20), Activation.RELU,
                        new Subsampling1DLayer.Builder(PoolingType.MAX).kernelSize(2).stride(2).build()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configurations")
    void int8PoolingComputesWhatTheReferenceComputes(String name, InputType in, Activation act, Layer pool)
            throws Exception {
        boolean oneD = in instanceof InputType.InputTypeRecurrent;
        boolean nhwc = in instanceof InputType.InputTypeConvolutional c && c.getFormat() == CNN2DFormat.NHWC;
        Layer conv = oneD ? new Convolution1DLayer.Builder().kernelSize(3).padding(1).nOut(4).activation(act).build()
                : new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4).activation(act)
                        .dataFormat(nhwc ? CNN2DFormat.NHWC : CNN2DFormat.NCHW).build();
        ComputationGraph fp32 = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(11)
                .dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).graphBuilder().addInputs("in")
                .setInputTypes(in).addLayer("conv", conv, "in").addLayer("pool", pool, "conv").setOutputs("pool")
                .build());
        fp32.init();
        long[] shape = oneD ? new long[] {3, 20} : nhwc ? new long[] {12, 11, 3} : new long[] {3, 12, 11};
        Nd4j.getRandom().setSeed(5);
        INDArray calibration = Nd4j.rand(DataType.FLOAT, withBatch(32, shape)).subi(0.3);
        INDArray x = Nd4j.rand(DataType.FLOAT, withBatch(4, shape)).subi(0.3);
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).calibrate(calibration);
        ComputationGraph ref = Quantizer.convertToReference(p);
        ComputationGraph int8 = Quantizer.convert(p);
        assertEquals(QuantizedPooling.class, int8.getLayer("pool").conf().getLayer().getClass(), p.report().toString());
        assertTrue(((QuantizedConvolution) int8.getLayer("conv").conf().getLayer()).isHandsOverOutput(),
                "the convolution hands its u8 output to the pooling");

        INDArray expected = ref.outputSingle(x);
        INDArray got = int8.outputSingle(x);
        assertArrayEquals(fp32.outputSingle(x).shape(), got.shape(), "the float model's output shape");
        QParams q = p.report().entry("pool").outputQParams();
        double maxDiff = got.sub(expected).amaxNumber().doubleValue();
        assertTrue(maxDiff <= q.scale() * 1.0001, name + ": int8 pooling differs from the reference by " + maxDiff
                + ", more than one step " + q.scale());

        File f = tmp.resolve("int8.zip").toFile();
        ModelSerializer.writeModel(int8, f, false);
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(f, false);
        assertEquals(got, restored.outputSingle(x), "save and restore give bit-identical outputs");
        Int8Gemms.override(new ExactFloatInt8Gemm());
        assertTrue(restored.outputSingle(x).sub(got).amaxNumber().doubleValue() <= q.scale() * 1.0001,
                "the fallback computes the same");
    }

    private static long[] withBatch(long n, long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = n;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }
}
