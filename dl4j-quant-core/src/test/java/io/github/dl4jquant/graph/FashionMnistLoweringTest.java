package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.kernel.ExactFloatInt8Gemm;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.TrainedFashionMlp;
import java.io.File;
import java.nio.file.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 5's acceptance on real data: the int8-lowered Fashion-MNIST MLP agrees with its reference model, keeps the
 * accuracy, is at most 0.30x the fp32 file, and gives the same numbers on the forced fallback kernel.
 */
class FashionMnistLoweringTest {
    private static final Logger log = LoggerFactory.getLogger(FashionMnistLoweringTest.class);
    private static ComputationGraph fp32;
    private static PreparedModel prepared;
    private static INDArray features;

    @BeforeAll
    static void quantize() {
        fp32 = TrainedFashionMlp.model();
        prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig())
                .calibrate(TrainedFashionMlp.calibrationData(2048));
        features = TrainedFashionMlp.testSet().getFeatures();
    }

    @Test
    void loweredMatchesReferenceAndKeepsAccuracy() {
        ComputationGraph reference = Quantizer.convertToReference(prepared);
        ComputationGraph int8 = Quantizer.convert(prepared);
        INDArray ref = reference.outputSingle(features);
        INDArray low = int8.outputSingle(features);
        double step = prepared.report().entry("out").outputQParams().scale();
        INDArray diff = Transforms.abs(ref.sub(low));
        double identical = diff.eq(0).castTo(DataType.INT).sumNumber().doubleValue() / diff.length();
        double withinStep = diff.lte(step * 1.0001).castTo(DataType.INT).sumNumber().doubleValue() / diff.length();
        double fp32Acc = TrainedFashionMlp.accuracy(fp32);
        double int8Acc = TrainedFashionMlp.accuracy(int8);
        log.info("Fashion-MNIST int8 vs reference: {} identical, {} within one step; accuracy fp32 {} int8 {}",
                identical, withinStep, fp32Acc, int8Acc);
        assertTrue(withinStep >= 0.999, "only " + withinStep + " of outputs within one output step of the reference");
        assertTrue(fp32Acc - int8Acc <= 0.002, "int8 accuracy " + int8Acc + " vs fp32 " + fp32Acc);
    }

    @Test
    void fallbackKernelGivesBitIdenticalOutputs() {
        ComputationGraph onednn = Quantizer.convert(prepared);
        INDArray expected = onednn.outputSingle(features);
        Int8Gemms.override(new ExactFloatInt8Gemm());
        try {
            assertEquals(expected, Quantizer.convert(prepared).outputSingle(features));
        } finally {
            Int8Gemms.clearOverride();
        }
    }

    @Test
    void savedInt8ModelIsAtMostPointThreeOfFp32AndRestoresBitIdentical(@TempDir Path dir) throws Exception {
        File f32 = dir.resolve("fp32.zip").toFile();
        File q8 = dir.resolve("int8.zip").toFile();
        ComputationGraph int8 = Quantizer.convert(prepared);
        ModelSerializer.writeModel(fp32, f32, false);
        ModelSerializer.writeModel(int8, q8, false);
        double ratio = (double) q8.length() / f32.length();
        log.info("Saved Fashion-MNIST MLP: fp32 {} B, int8 {} B, ratio {}", f32.length(), q8.length(), ratio);
        assertTrue(ratio <= 0.30, "int8 file is " + ratio + " of the fp32 file");
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(q8, false);
        assertEquals(int8.outputSingle(features), restored.outputSingle(features));
    }
}
