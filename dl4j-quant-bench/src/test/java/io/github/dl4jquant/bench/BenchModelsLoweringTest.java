package io.github.dl4jquant.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The CNN benchmark models time what they claim to: their int8 variants run int8 convolutions (batch norms folded),
 * pooling, residual adds and dense layers (the output layer too), with no float layer left, and stay close to fp32.
 */
class BenchModelsLoweringTest {

    @Test
    void lenetLowersToInt8ConvolutionsAndPooling() {
        Map<String, Integer> counts = lowered("lenet");
        assertEquals(2, counts.get("nn.quantized.QuantizedConvolution"), counts.toString());
        assertEquals(2, counts.get("nn.quantized.QuantizedPooling"), counts.toString());
        assertEquals(2, counts.get("nn.quantized.QuantizedDense"), "dense and output layer: " + counts);
        assertTrue(!counts.containsKey("BatchNormalization") && !counts.containsKey("ActivationLayer"),
                "batch norms and ReLUs are folded into the int8 convolutions: " + counts);
    }

    @Test
    void resnetLowersToInt8ConvolutionsAddsAndPooling() {
        Map<String, Integer> counts = lowered("resnet");
        // stem, 2 per block, 1 projection
        assertEquals(8, counts.get("nn.quantized.QuantizedConvolution"), counts.toString());
        assertEquals(3, counts.get("nn.quantized.QuantizedAdd"), counts.toString());
        assertEquals(1, counts.get("nn.quantized.QuantizedPooling"), "global average pooling: " + counts);
    }

    private static Map<String, Integer> lowered(String name) {
        ComputationGraph fp32 = BenchModels.fp32(name);
        ComputationGraph int8 = BenchModels.variant(fp32, "int8", BenchModels.inputShape(name));
        Map<String, Integer> counts = LoweringReport.typeCounts(int8);
        assertEquals(List.of(), LoweringReport.unexpectedFloat(counts), name + " int8 has float layers: " + counts);
        INDArray x = BenchModels.timedInput(name, 16);
        INDArray expected = fp32.outputSingle(x);
        INDArray got = int8.outputSingle(x);
        double rel = got.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
        assertTrue(rel < 0.1, name + " int8 is off fp32 by " + rel + " (relative L2)");
        assertEquals(DataType.FLOAT, got.dataType());
        return counts;
    }
}
