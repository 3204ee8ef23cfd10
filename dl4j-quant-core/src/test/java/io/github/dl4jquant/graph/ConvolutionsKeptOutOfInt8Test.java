package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.quantized.QuantizedConvolution;
import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution2D;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.TestModels;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * Convolutions the int8 kernels cannot serve, and convolutions under dynamic quantization, are reported with the
 * reason and computed exactly as far as they go: never wrong, never silently.
 */
class ConvolutionsKeptOutOfInt8Test {
    private static final INDArray IMAGES = TestModels.randomBatch(5, 32, 64).reshape(32, 1, 8, 8);

    private static ComputationGraph convThen(org.deeplearning4j.nn.conf.layers.Layer conv) {
        return convThen(conv, 1);
    }

    private static ComputationGraph convThen(org.deeplearning4j.nn.conf.layers.Layer conv, int channels) {
        ComputationGraph g = new ComputationGraph(TestModels.base().graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutional(8, 8, channels))
                .addLayer("conv", conv, "in")
                .addLayer("d", new DenseLayer.Builder().nOut(8).activation(Activation.RELU).build(), "conv")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "d")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    @Test
    void aConvolutionWhoseActivationTheKernelCannotFuseStaysAReferenceModuleWithTheReason() {
        ComputationGraph fp32 = convThen(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.SOFTSIGN)
                .build());
        String configBefore = fp32.getConfiguration().toJson();
        INDArray paramsBefore = fp32.params().dup();
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).calibrate(IMAGES);
        ComputationGraph int8 = Quantizer.convert(p);

        Object conv = int8.getLayer("conv").conf().getLayer();
        assertEquals(ReferenceQuantizedConvolution2D.class, conv.getClass(), "not lowered, still quantized");
        assertEquals(QuantizedDense.class, int8.getLayer("d").conf().getLayer().getClass());
        String module = p.report().entry("conv").module();
        assertTrue(module.contains("not lowered to int8") && module.contains("softsign"), module);
        INDArray reference = Quantizer.convertToReference(p).outputSingle(IMAGES);
        assertTrue(int8.outputSingle(IMAGES).sub(reference).amaxNumber().doubleValue() <= 1.0 / 256 + 1e-6,
                "the rest of the model is int8 and computes the reference model's numbers");
        assertEquals(configBefore, fp32.getConfiguration().toJson(), "the user's model is not changed");
        assertEquals(paramsBefore, fp32.params());
    }

    @Test
    void aSeparableConvolutionIsKeptFp32WithWhatToDoInstead() {
        ComputationGraph fp32 = convThen(new SeparableConvolution2D.Builder(3, 3).nOut(4)
                .activation(Activation.RELU).build(), 3);
        INDArray images = TestModels.randomBatch(7, 16, 192).reshape(16, 3, 8, 8);
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).calibrate(images);
        ReportEntry conv = p.report().entry("conv");
        assertEquals(ReportEntry.Status.KEPT_FP32, conv.status());
        assertEquals(SkipReason.NO_PATTERN, conv.reason());
        assertTrue(conv.detail().contains("DepthwiseConvolution2D followed by a 1x1 ConvolutionLayer"),
                conv.detail());
        ComputationGraph int8 = Quantizer.convert(p);
        assertEquals(SeparableConvolution2D.class, int8.getLayer("conv").conf().getLayer().getClass());
        assertEquals(QuantizedDense.class, int8.getLayer("d").conf().getLayer().getClass());
        assertTrue(int8.outputSingle(images).sub(fp32.outputSingle(images)).amaxNumber().doubleValue() < 0.05,
                "the fp32 separable convolution feeds the int8 dense layers");
    }

    @Test
    void dynamicQuantizationKeepsConvolutionsFp32SayingWhyAndQuantizesTheDenseLayers() {
        ComputationGraph fp32 = TestModels.convBatchNormRelu();
        INDArray images = TestModels.randomBatch(6, 16, 36);
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultDynamicQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        for (String v : new String[] {"conv", "bn", "relu"}) {
            assertEquals(ReportEntry.Status.KEPT_FP32, p.report().entry(v).status(), v);
        }
        String why = p.report().entry("conv").detail();
        assertTrue(why.contains("no dynamic convolution") && why.contains("quantize it statically"), why);
        assertTrue(p.report().entry("bn").detail().contains("'conv'"), p.report().entry("bn").detail());
        ComputationGraph dynamic = Quantizer.convert(p);
        assertEquals(ConvolutionLayer.class, dynamic.getLayer("conv").conf().getLayer().getClass());
        assertEquals(QuantizedDense.class, dynamic.getLayer("d").conf().getLayer().getClass());
        INDArray expected = fp32.outputSingle(images);
        INDArray got = dynamic.outputSingle(images);
        assertArrayEquals(expected.shape(), got.shape());
        assertTrue(got.sub(expected).amaxNumber().doubleValue() < 0.05, "dynamic int8 dense layers stay near fp32");
        assertTrue(dynamic.getLayer("conv").conf().getLayer() instanceof ConvolutionLayer
                && !(dynamic.getLayer("conv").conf().getLayer() instanceof QuantizedConvolution));
    }
}
