package io.github.dl4jquant.examples;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Per-layer error of a quantized graph against the fp32 graph it came from: both run on the same batch, and each
 * quantized layer's output is compared with the fp32 tensor it stands for. A fused pattern (e.g. {@code d1} + ReLU
 * {@code relu1}) is one vertex in the quantized graph, so its output is paired with the last fused fp32 vertex; a
 * quantize-dequantize step the converter appended ({@code name_qdq}) is what the next layer sees, so it is preferred.
 *
 * <pre>{@code
 * List<LayerError> errors = LayerErrors.compare(prepared.graphModel().graph(), int8, batch,
 *         prepared.graphModel()::displayName);
 * }</pre>
 */
public final class LayerErrors {

    private LayerErrors() {
    }

    /**
     * One {@link LayerError} per vertex of {@code quantized} that has an fp32 counterpart, in topological order.
     *
     * @param displayName maps a vertex name to the name the user knows
     */
    public static List<LayerError> compare(ComputationGraph fp32, ComputationGraph quantized, INDArray batch,
                                           UnaryOperator<String> displayName) {
        Map<String, INDArray> reference = fp32.feedForward(batch, false);
        Map<String, INDArray> actual = quantized.feedForward(batch, false);
        List<LayerError> errors = new ArrayList<>();
        for (Map.Entry<String, String> pair : pairs(fp32.getConfiguration(), actual).entrySet()) {
            String q = pair.getKey();
            INDArray out = actual.containsKey(q + "_qdq") ? actual.get(q + "_qdq") : actual.get(q);
            errors.add(LayerError.of(displayName.apply(q), reference.get(pair.getValue()), out));
        }
        return errors;
    }

    /** Quantized vertex name to the fp32 tensor it must be compared with, in the fp32 topological order. */
    static Map<String, String> pairs(ComputationGraphConfiguration fp32, Map<String, INDArray> quantizedTensors) {
        Map<String, String> owner = new LinkedHashMap<>();
        Map<String, String> pairs = new LinkedHashMap<>();
        for (String v : fp32.getTopologicalOrderStr()) {
            if (fp32.getNetworkInputs().contains(v)) {
                continue;
            }
            if (quantizedTensors.containsKey(v)) {
                owner.put(v, v);
                pairs.put(v, v);
                continue;
            }
            List<String> inputs = fp32.getVertexInputs().get(v);
            String o = inputs == null || inputs.isEmpty() ? null : owner.get(inputs.get(0));
            if (o != null) {
                owner.put(v, o);
                pairs.put(o, v);
            }
        }
        return pairs;
    }
}
