package io.github.dl4jquant.nn.quantized;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.kernel.ExactFloatInt8Gemm;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.File;
import java.nio.file.Path;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A residual block as ResNet builds it in DL4J (conv-BN-ReLU, conv-BN, add with the block input, ReLU) and a second
 * add whose other input is the network input itself (an fp32 producer, which must be quantized before the add, as
 * PyTorch's quantized add requires): the int8 model (int8 convolutions, int8 add_relu and add) must give the
 * reference model's outputs within one output step, in NCHW and NHWC, and the same after save/restore and on the
 * fallback path.
 */
class QuantizedAddTest {
    @TempDir
    Path tmp;

    @AfterEach
    void restoreKernels() {
        Int8Gemms.clearOverride();
    }

    static ComputationGraph residual(boolean nhwc) {
        CNN2DFormat f = nhwc ? CNN2DFormat.NHWC : CNN2DFormat.NCHW;
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER).convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("in").setInputTypes(InputType.convolutional(9, 9, 6, f))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).nOut(6).dataFormat(f)
                        .activation(Activation.RELU).build(), "in")
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).nOut(6).dataFormat(f)
                        .activation(Activation.IDENTITY).build(), "stem")
                .addLayer("bn1", new BatchNormalization.Builder().dataFormat(f).build(), "c1")
                .addLayer("r1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn1")
                .addLayer("c2", new ConvolutionLayer.Builder(3, 3).nOut(6).dataFormat(f)
                        .activation(Activation.IDENTITY).build(), "r1")
                .addLayer("bn2", new BatchNormalization.Builder().dataFormat(f).build(), "c2")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "bn2", "stem")
                .addLayer("relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "add")
                .addVertex("addInput", new ElementWiseVertex(ElementWiseVertex.Op.Add), "relu", "in")
                .setOutputs("addInput")
                .build());
        g.init();
        Nd4j.getRandom().setSeed(17);
        for (String bn : new String[] {"bn1", "bn2"}) {
            g.getLayer(bn).setParam("gamma", Nd4j.rand(DataType.FLOAT, 1, 6).addi(0.5));
            g.getLayer(bn).setParam("beta", Nd4j.rand(DataType.FLOAT, 1, 6).subi(0.5));
            g.getLayer(bn).setParam("mean", Nd4j.rand(DataType.FLOAT, 1, 6).subi(0.5));
            g.getLayer(bn).setParam("log10stdev", Nd4j.rand(DataType.FLOAT, 1, 6).subi(0.5).muli(0.4));
        }
        return g;
    }

    @ParameterizedTest(name = "nhwc={0}")
    @ValueSource(booleans = {false, true})
    void residualBlockRunsInt8WithinOneStepOfTheReference(boolean nhwc) throws Exception {
        ComputationGraph fp32 = residual(nhwc);
        long[] shape = nhwc ? new long[] {9, 9, 6} : new long[] {6, 9, 9};
        INDArray calibration = Nd4j.rand(DataType.FLOAT, 48, shape[0], shape[1], shape[2]).subi(0.4);
        INDArray x = Nd4j.rand(DataType.FLOAT, 5, shape[0], shape[1], shape[2]).subi(0.4);
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).calibrate(calibration);
        ComputationGraph ref = Quantizer.convertToReference(p);
        ComputationGraph int8 = Quantizer.convert(p);
        assertEquals(ReportEntry.Status.FUSED, p.report().entry("relu").status(), p.report().toString());
        QuantizedAdd add = (QuantizedAdd) int8.getConfiguration().getVertices().get("add");
        assertTrue(add.isRelu(), "the ReLU after the add is fused into it (add_relu)");
        assertEquals(nhwc, add.isChannelsLast());
        assertTrue(int8.getConfiguration().getVertices().containsKey("addInput_in1_qdq"),
                "the network input is quantized before it enters the add: "
                        + int8.getConfiguration().getVertices().keySet());
        assertTrue(((QuantizedConvolution) int8.getLayer("stem").conf().getLayer()).isHandsOverOutput(),
                "the block input goes to a convolution and the add, both int8: handed over");

        INDArray expected = ref.outputSingle(x);
        INDArray got = int8.outputSingle(x);
        QParams out = p.report().entry("addInput").outputQParams();
        double maxDiff = got.sub(expected).amaxNumber().doubleValue();
        // a one-step difference in an inner layer can move the output by about one more step
        assertTrue(maxDiff <= 2.0001 * out.scale(), "int8 differs from the reference by " + maxDiff + ", output step "
                + out.scale());
        assertTrue(got.sub(fp32.outputSingle(x)).amaxNumber().doubleValue() < 0.1 * fp32.outputSingle(x)
                .amaxNumber().doubleValue(), "int8 stays close to fp32");

        File f = tmp.resolve("residual.zip").toFile();
        ModelSerializer.writeModel(int8, f, false);
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(f, false);
        assertEquals(got, restored.outputSingle(x), "save and restore give bit-identical outputs");
        Int8Gemms.override(new ExactFloatInt8Gemm());
        assertTrue(restored.outputSingle(x).sub(expected).amaxNumber().doubleValue() <= 2.0001 * out.scale(),
                "the fallback computes the reference's numbers");
    }
}
