package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.quantized.QuantizedConvolution;
import io.github.dl4jquant.nn.quantized.QuantizedPooling;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.TrainedFashionCnn;
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
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 15's accuracy acceptance on real data: the LeNet-style CNN with batch norms, trained on the full Fashion-MNIST
 * training set, quantized statically (x86 defaults, 2048 calibration images) and lowered to int8, on the full test
 * set: at most 0.3 points below fp32, the reference and lowered models agreeing on at least 99.9% of the predictions,
 * the saved file at most 0.30x of fp32's and restored bit-identical.
 */
class FashionMnistCnnTest {
    private static final Logger log = LoggerFactory.getLogger(FashionMnistCnnTest.class);
    private static ComputationGraph fp32;
    private static PreparedModel prepared;
    private static ComputationGraph int8;

    @BeforeAll
    static void quantize() {
        fp32 = TrainedFashionCnn.model();
        prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig())
                .calibrate(TrainedFashionMlp.calibrationData(2048));
        int8 = Quantizer.convert(prepared);
    }

    @Test
    void int8KeepsTheAccuracyAndAgreesWithTheReferenceModel() {
        assertEquals(QuantizedConvolution.class, int8.getLayer("conv1").conf().getLayer().getClass());
        assertEquals(QuantizedConvolution.class, int8.getLayer("conv2").conf().getLayer().getClass());
        assertEquals(QuantizedPooling.class, int8.getLayer("pool2").conf().getLayer().getClass());
        INDArray fp32Predictions = TrainedFashionCnn.predictions(fp32);
        INDArray int8Predictions = TrainedFashionCnn.predictions(int8);
        INDArray referencePredictions = TrainedFashionCnn.predictions(Quantizer.convertToReference(prepared));
        double fp32Accuracy = TrainedFashionCnn.accuracy(fp32Predictions);
        double int8Accuracy = TrainedFashionCnn.accuracy(int8Predictions);
        double referenceAccuracy = TrainedFashionCnn.accuracy(referencePredictions);
        double agreement = int8Predictions.eq(referencePredictions).castTo(DataType.INT).sumNumber().doubleValue()
                / int8Predictions.length();
        log.info("Fashion-MNIST CNN on 10000 test images: fp32 {}, reference {}, int8 {}; int8 and reference agree on "
                + "{}", fp32Accuracy, referenceAccuracy, int8Accuracy, agreement);
        assertTrue(fp32Accuracy >= 0.88, "the CNN trained: " + fp32Accuracy);
        assertTrue(fp32Accuracy - int8Accuracy <= 0.003, "int8 " + int8Accuracy + " against fp32 " + fp32Accuracy);
        assertTrue(agreement >= 0.999, "int8 and the reference model agree on " + agreement);
    }

    @Test
    void savedInt8CnnIsAtMostPointThreeOfFp32AndRestoresBitIdentical(@TempDir Path dir) throws Exception {
        File f32 = dir.resolve("fp32.zip").toFile();
        File q8 = dir.resolve("int8.zip").toFile();
        ModelSerializer.writeModel(fp32, f32, false);
        ModelSerializer.writeModel(int8, q8, false);
        double ratio = (double) q8.length() / f32.length();
        log.info("Saved Fashion-MNIST CNN: fp32 {} B, int8 {} B, ratio {}", f32.length(), q8.length(), ratio);
        assertTrue(ratio <= 0.30, "int8 file is " + ratio + " of the fp32 file");
        INDArray images = TrainedFashionMlp.testSet().getFeatures().get(NDArrayIndex.interval(0, 256),
                NDArrayIndex.all());
        assertEquals(int8.outputSingle(images), ModelSerializer.restoreComputationGraph(q8, false)
                .outputSingle(images));
    }
}
