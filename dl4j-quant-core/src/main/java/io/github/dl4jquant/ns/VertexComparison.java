package io.github.dl4jquant.ns;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One row of a {@link NumericSuiteReport}: a quantized vertex (or fused pattern) of the quantized model compared with
 * the fp32 vertices it replaces.
 *
 * <pre>{@code
 * VertexComparison row = report.row("d1");
 * row.alone().sqnr();          // the layer's own error: run on the fp32 model's input to it
 * row.propagated().sqnr();     // the error as the quantized model sees it, accumulated from the layers before
 * row.weight().sqnr();         // fp32 W vs its quantize-dequantize with the weight qparams
 * }</pre>
 *
 * @param vertex          the quantized graph's vertex (the pattern's root, e.g. the DenseLayer of dense + ReLU)
 * @param displayName     the name the user knows it by
 * @param fp32Vertices    the fp32 vertices it replaces, in forward order
 * @param fp32Tensor      the fp32 tensor compared (the pattern's output vertex)
 * @param quantizedTensor the quantized graph's tensor compared (the root, or an added {@code <vertex>_qdq})
 * @param module          the class of the quantized layer, e.g. {@code ReferenceQuantizedDense}
 * @param outputScale     the output quantization step, NaN when the output stays float
 * @param weight          fp32 weight vs quantize-dequantized weight, or null for vertices without weights
 * @param alone           the vertex alone on the fp32 model's input to it (no error propagation, PyTorch's shadow
 *                        loggers)
 * @param propagated      the quantized model end to end (with error propagation, PyTorch's {@code add_loggers})
 */
public record VertexComparison(String vertex, String displayName, List<String> fp32Vertices, String fp32Tensor,
                               String quantizedTensor, String module, double outputScale, TensorComparison weight,
                               TensorComparison alone, TensorComparison propagated) {

    public VertexComparison {
        fp32Vertices = List.copyOf(fp32Vertices);
    }

    /** The weight SQNR in dB, NaN for vertices without weights. */
    public double weightSqnr() {
        return weight == null ? Double.NaN : weight.sqnr();
    }

    /** A JSON-friendly map; NaN metrics are left out. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vertex", vertex);
        m.put("name", displayName);
        m.put("fp32_vertices", fp32Vertices);
        m.put("fp32_tensor", fp32Tensor);
        m.put("quantized_tensor", quantizedTensor);
        m.put("module", module);
        if (!Double.isNaN(outputScale)) {
            m.put("output_scale", outputScale);
        }
        if (weight != null) {
            m.put("weight", weight.toMap());
        }
        m.put("alone", alone.toMap());
        m.put("propagated", propagated.toMap());
        return m;
    }
}
