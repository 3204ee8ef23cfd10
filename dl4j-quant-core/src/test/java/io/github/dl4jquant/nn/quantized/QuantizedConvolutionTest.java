package io.github.dl4jquant.nn.quantized;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.kernel.ExactFloatInt8Gemm;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.Layer;
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
 * Each DL4J convolution configuration the int8 kernel serves, as DL4J computes it: every ConvolutionMode, stride,
 * dilation, padding, NCHW and NHWC, 1-D (NCW, NWC, causal) and depthwise with a multiplier. For each, the int8 layer
 * must give the reference module's outputs within one output step, the float model's shape, bit-identical outputs
 * after a save and restore, and the same numbers on its fallback path (no oneDNN primitives).
 */
class QuantizedConvolutionTest {
    @TempDir
    Path tmp;

    @AfterEach
    void restoreKernels() {
        Int8Gemms.clearOverride();
    }

    static Stream<Arguments> configurations() {
        return Stream.of(
                Arguments.of("3x3 truncate", InputType.convolutional(10, 9, 3),
                        new ConvolutionLayer.Builder(3, 3).nOut(6).activation(Activation.RELU).build()),
                Arguments.of("3x3 same stride 2", InputType.convolutional(11, 9, 4),
                        new ConvolutionLayer.Builder(3, 3).stride(2, 2).nOut(5).convolutionMode(ConvolutionMode.Same)
                                .activation(Activation.IDENTITY).build()),
                Arguments.of("2x2 same (asymmetric)", InputType.convolutional(8, 8, 3),
                        new ConvolutionLayer.Builder(2, 2).nOut(4).convolutionMode(ConvolutionMode.Same)
                                .activation(Activation.RELU).build()),
                Arguments.of("5x3 padded stride 2x1 dilation 2", InputType.convolutional(16, 12, 2),
                        new ConvolutionLayer.Builder(5, 3).stride(2, 1).padding(2, 1).dilation(2, 2).nOut(7)
                                .activation(Activation.TANH).build()),
                Arguments.of("3x3 NHWC", InputType.convolutional(9, 9, 5, CNN2DFormat.NHWC),
                        new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(6).dataFormat(CNN2DFormat.NHWC)
                                .activation(Activation.RELU).build()),
                Arguments.of("1x1 no bias", InputType.convolutional(6, 6, 16),
                        new ConvolutionLayer.Builder(1, 1).nOut(8).hasBias(false).activation(Activation.RELU)
                                .build()),
                Arguments.of("depthwise x2 same", InputType.convolutional(10, 10, 4),
                        new DepthwiseConvolution2D.Builder(3, 3).depthMultiplier(2)
                                .convolutionMode(ConvolutionMode.Same).activation(Activation.RELU).build()),
                Arguments.of("depthwise NHWC stride 2", InputType.convolutional(9, 9, 6, CNN2DFormat.NHWC),
                        new DepthwiseConvolution2D.Builder(3, 3).stride(2, 2).depthMultiplier(1)
                                .dataFormat(CNN2DFormat.NHWC).activation(Activation.IDENTITY).build()),
                Arguments.of("conv1d NCW", InputType.recurrent(4, 20),
                        new Convolution1DLayer.Builder().kernelSize(3).padding(1).nOut(6).activation(Activation.RELU)
                                .build()),
                Arguments.of("conv1d NWC stride 2", InputType.recurrent(4, 21, RNNFormat.NWC),
                        new Convolution1DLayer.Builder().kernelSize(5).stride(2).nOut(3).rnnDataFormat(RNNFormat.NWC)
                                .activation(Activation.IDENTITY).build()),
                Arguments.of("conv1d causal dilation 2", InputType.recurrent(3, 17),
                        new Convolution1DLayer.Builder().kernelSize(3).dilation(2)
                                .convolutionMode(ConvolutionMode.Causal).nOut(4).activation(Activation.RELU).build()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configurations")
    void int8ConvolutionComputesWhatTheReferenceComputes(String name, InputType in, Layer conv) throws Exception {
        ComputationGraph fp32 = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(7)
                .dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).graphBuilder().addInputs("in")
                .setInputTypes(in).addLayer("conv", conv, "in").setOutputs("conv").build());
        fp32.init();
        long[] shape = inputShape(in);
        Nd4j.getRandom().setSeed(3);
        INDArray calibration = Nd4j.rand(DataType.FLOAT, withBatch(32, shape)).subi(0.3);
        INDArray x = Nd4j.rand(DataType.FLOAT, withBatch(5, shape)).subi(0.3);
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).calibrate(calibration);
        ReportEntry e = p.report().entry("conv");
        assertEquals(ReportEntry.Status.QUANTIZED, e.status(), p.report().toString());
        ComputationGraph ref = Quantizer.convertToReference(p);
        ComputationGraph int8 = Quantizer.convert(p);
        assertEquals(QuantizedConvolution.class, int8.getLayer("conv").conf().getLayer().getClass());

        INDArray expected = ref.outputSingle(x);
        INDArray got = int8.outputSingle(x);
        assertArrayEquals(fp32.outputSingle(x).shape(), got.shape(), "the float model's output shape");
        QParams out = e.outputQParams();
        double maxDiff = got.sub(expected).amaxNumber().doubleValue();
        assertTrue(maxDiff <= out.scale() * 1.0001, name + ": int8 differs from the reference by " + maxDiff
                + ", more than one output step " + out.scale());
        double fp32Diff = fp32.outputSingle(x).sub(expected).amaxNumber().doubleValue();
        double range = fp32.outputSingle(x).amaxNumber().doubleValue();
        assertTrue(fp32Diff < 0.1 * range, name + ": reference strays from fp32 by " + fp32Diff + " of " + range);

        File f = tmp.resolve("int8.zip").toFile();
        ModelSerializer.writeModel(int8, f, false);
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(f, false);
        assertEquals(got, restored.outputSingle(x), "save and restore give bit-identical outputs");

        Int8Gemms.override(new ExactFloatInt8Gemm());
        INDArray fallback = restored.outputSingle(x);
        assertTrue(fallback.sub(got).amaxNumber().doubleValue() <= out.scale() * 1.0001,
                "without oneDNN the layer computes the reference's numbers on its int8 weights");
    }

    private static long[] inputShape(InputType in) {
        if (in instanceof InputType.InputTypeConvolutional c) {
            return c.getFormat() == CNN2DFormat.NHWC ? new long[] {c.getHeight(), c.getWidth(), c.getChannels()}
                    : new long[] {c.getChannels(), c.getHeight(), c.getWidth()};
        }
        InputType.InputTypeRecurrent r = (InputType.InputTypeRecurrent) in;
        return r.getFormat() == RNNFormat.NWC ? new long[] {r.getTimeSeriesLength(), r.getSize()}
                : new long[] {r.getSize(), r.getTimeSeriesLength()};
    }

    private static long[] withBatch(long n, long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = n;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    static List<String> names() {
        return configurations().map(a -> (String) a.get()[0]).toList();
    }
}
