package io.github.dl4jquant.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.nn.quantized.DynamicQuantizedRecurrent;
import io.github.dl4jquant.nn.quantized.QuantizedConvolution;
import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.nn.quantized.RecurrentWeights;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.util.ModelSerializer;

/**
 * Prints, as JSON, the saved-file size (ModelSerializer zip, no updater) and the heap bytes of the weights of each
 * benchmark model in fp32 and int8. Sizes are deterministic, so this is a plain program rather than a JMH benchmark.
 *
 * <pre>{@code
 * java -cp ... io.github.dl4jquant.bench.ModelSizeReport > model-sizes.json
 * }</pre>
 */
public final class ModelSizeReport {

    private ModelSizeReport() {
    }

    public static void main(String[] args) throws IOException {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (String name : BenchModels.MODELS) {
            ComputationGraph fp32 = BenchModels.fp32(name);
            // recurrent layers are quantized dynamically only, as PyTorch's are
            String variant = name.equals("lstm") ? "dynamic" : "int8";
            ComputationGraph int8 = BenchModels.variant(fp32, variant, BenchModels.inputShape(name));
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("model", name);
            row.put("variant", variant);
            row.put("fp32_file", savedSize(fp32));
            row.put("int8_file", savedSize(int8));
            row.put("fp32_weight_bytes", weightBytes(fp32));
            row.put("int8_weight_bytes", weightBytes(int8));
            rows.add(row);
        }
        System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(rows));
    }

    private static long savedSize(ComputationGraph g) throws IOException {
        File f = File.createTempFile("dl4jquant-size", ".zip");
        try {
            ModelSerializer.writeModel(g, f, false);
            return f.length();
        } finally {
            f.delete();
        }
    }

    /**
     * Float params at 4 bytes each, plus int8 weights, scales and biases held in QuantizedDense,
     * QuantizedConvolution and DynamicQuantizedRecurrent configurations.
     */
    static long weightBytes(ComputationGraph g) {
        long bytes = g.numParams() * 4;
        for (GraphVertex v : g.getVertices()) {
            if (!v.hasLayer()) {
                continue;
            }
            Layer conf = v.getLayer().conf().getLayer();
            if (conf instanceof QuantizedDense) {
                bytes += denseBytes((QuantizedDense) conf);
            } else if (conf instanceof DynamicQuantizedRecurrent) {
                DynamicQuantizedRecurrent r = (DynamicQuantizedRecurrent) conf;
                bytes += recurrentBytes(r.getForward()) + recurrentBytes(r.getBackward());
            } else if (conf instanceof QuantizedConvolution) {
                QuantizedConvolution q = (QuantizedConvolution) conf;
                bytes += q.getWeightInt8().length + 4L * q.weightScales().length
                        + (q.getBias() != null ? 4L * q.getBias().length : 0);
            }
        }
        return bytes;
    }

    private static long denseBytes(QuantizedDense q) {
        return q.getWeightInt8().length + 4L * q.getWeightScales().length + (q.hasBias() ? 4L * q.getBias().length : 0);
    }

    private static long recurrentBytes(RecurrentWeights w) {
        if (w == null) {
            return 0;
        }
        long peepholes = w.hasPeepholes() ? 4L * w.getPeepholes().length : 0;
        return denseBytes(w.getInputWeights()) + denseBytes(w.getRecurrentWeights()) + peepholes;
    }
}
