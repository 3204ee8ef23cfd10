package io.github.dl4jquant.graph;

import io.github.dl4jquant.QParams;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What happened to one vertex: quantized (with its pattern, DTypeConfig and qparams), fused into another vertex, or
 * kept in fp32 with the reason.
 *
 * <pre>{@code
 * ReportEntry e = report.entry("d1");
 * e.status();          // QUANTIZED
 * e.outputQParams();   // QParams(torch.per_tensor_affine, torch.quint8, scale=0.031, zero_point=0, ...)
 * }</pre>
 *
 * @param vertex        the graph vertex name
 * @param displayName   the name the user knows (MultiLayerNetwork layer name, else the vertex name)
 * @param type          the DL4J type with its activation, e.g. {@code DenseLayer[relu]}
 * @param status        quantized, fused or kept fp32
 * @param pattern       the matched pattern, or null
 * @param dtypeConfig   the chosen DTypeConfig, or null
 * @param qconfigSource where the QConfig came from ("global", "module_name 'd1'", ...)
 * @param inputQParams  qparams of the (first) input, when observed and calibrated
 * @param outputQParams qparams of the output, when observed and calibrated
 * @param weightQParams qparams of the weight, for weighted layers
 * @param reason        why the vertex was kept fp32, or null
 * @param detail        the explanation of the reason, or a note such as "fused into 'd1'"
 * @param module        the replacement layer after conversion (e.g. {@code QuantizedDense}), or null
 */
public record ReportEntry(String vertex, String displayName, String type, Status status, String pattern,
                          String dtypeConfig, String qconfigSource, QParams inputQParams, QParams outputQParams,
                          QParams weightQParams, SkipReason reason, String detail, String module) {

    /** The state of a vertex after quantization. */
    public enum Status {
        QUANTIZED, FUSED, KEPT_FP32
    }

    public boolean isQuantized() {
        return status != Status.KEPT_FP32;
    }

    ReportEntry withQParams(QParams in, QParams out, QParams weight) {
        return new ReportEntry(vertex, displayName, type, status, pattern, dtypeConfig, qconfigSource, in, out, weight,
                reason, detail, module);
    }

    ReportEntry withModule(String newModule) {
        return new ReportEntry(vertex, displayName, type, status, pattern, dtypeConfig, qconfigSource, inputQParams,
                outputQParams, weightQParams, reason, detail, newModule);
    }

    ReportEntry keptFp32(SkipReason why, String explanation) {
        return new ReportEntry(vertex, displayName, type, Status.KEPT_FP32, pattern, dtypeConfig, qconfigSource,
                null, null, null, why, explanation, null);
    }

    /** A JSON-friendly map (nulls omitted). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vertex", vertex);
        m.put("name", displayName);
        m.put("type", type);
        m.put("status", status.name());
        putIfPresent(m, "pattern", pattern);
        putIfPresent(m, "dtype_config", dtypeConfig);
        putIfPresent(m, "qconfig_source", qconfigSource);
        putIfPresent(m, "input_qparams", inputQParams == null ? null : inputQParams.toMap());
        putIfPresent(m, "output_qparams", outputQParams == null ? null : outputQParams.toMap());
        putIfPresent(m, "weight_qparams", weightQParams == null ? null : weightQParams.toMap());
        putIfPresent(m, "reason", reason == null ? null : reason.name());
        putIfPresent(m, "detail", detail == null || detail.isEmpty() ? null : detail);
        putIfPresent(m, "module", module);
        return m;
    }

    private static void putIfPresent(Map<String, Object> m, String key, Object value) {
        if (value != null) {
            m.put(key, value);
        }
    }
}
