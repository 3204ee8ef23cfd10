package io.github.dl4jquant.examples;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.graph.ForwardActivations;
import io.github.dl4jquant.graph.GraphModel;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.ns.NumericSuite;
import io.github.dl4jquant.ns.NumericSuiteReport;
import io.github.dl4jquant.ns.VertexComparison;
import io.github.dl4jquant.observer.Observer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What the plots of a report show, measured on one sample batch: histograms of the fp32 tensors the observers watched,
 * each with the range its calibrated qparams represent, and the numeric suite's per-layer error of the quantized model.
 *
 * <pre>{@code
 * QuantizationDiagnostics d = QuantizationDiagnostics.of(prepared, int8, sampleBatch, 4);
 * d.layers().get(0).propagated().sqnr();     // first quantized layer, end to end, in dB
 * d.addTo(htmlReport);
 * }</pre>
 *
 * @param histograms one per observed per-tensor tensor, at most the number asked for, in graph order
 * @param layers     the numeric suite's comparison of each quantized layer, in graph order
 */
public record QuantizationDiagnostics(List<ActivationHistogram> histograms, List<VertexComparison> layers) {

    private static final int BINS = 80;

    /**
     * Runs {@code sampleBatch} through the prepared fp32 copy and through {@code quantized}.
     *
     * @param maxHistograms how many observed tensors to draw
     */
    public static QuantizationDiagnostics of(PreparedModel prepared, ComputationGraph quantized, INDArray sampleBatch,
                                             int maxHistograms) {
        return new QuantizationDiagnostics(histograms(prepared, sampleBatch, maxHistograms),
                inGraphOrder(prepared, NumericSuite.compare(prepared, quantized, sampleBatch)));
    }

    private static List<ActivationHistogram> histograms(PreparedModel prepared, INDArray sampleBatch, int max) {
        GraphModel graph = prepared.graphModel();
        Map<String, INDArray> fp32 = ForwardActivations.of(graph.graph(), new INDArray[] {sampleBatch});
        List<ActivationHistogram> histograms = new ArrayList<>();
        for (Map.Entry<String, Observer> e : prepared.observers().entrySet()) {
            Observer o = e.getValue();
            INDArray tensor = fp32.get(e.getKey());
            if (histograms.size() == max || tensor == null || o.isDynamic() || !o.isCalibrated()) {
                continue;
            }
            QParams q = o.calculateQParams();
            if (!q.isPerChannel()) {
                String name = graph.isNetworkInput(e.getKey()) ? "input '" + e.getKey() + "'"
                        : "output of '" + graph.displayName(e.getKey()) + "'";
                histograms.add(ActivationHistogram.of(name, tensor, q, BINS));
            }
        }
        return histograms;
    }

    /** The suite lists the worst layer first; plots read better in the order data flows. */
    private static List<VertexComparison> inGraphOrder(PreparedModel prepared, NumericSuiteReport suite) {
        List<VertexComparison> ordered = new ArrayList<>();
        for (ReportEntry e : prepared.report().entries()) {
            for (VertexComparison row : suite.rows()) {
                if (row.vertex().equals(e.vertex()) && !ordered.contains(row)) {
                    ordered.add(row);
                }
            }
        }
        return ordered;
    }

    /** Adds the error bars and the histograms to {@code report}. */
    public HtmlReport addTo(HtmlReport report) {
        if (!layers.isEmpty()) {
            report.addLayerErrors(layers);
        }
        histograms.forEach(report::addHistogram);
        return report;
    }

    /** The per-layer comparisons and the clipping per histogram, for JSON. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer_errors", layers.stream().map(VertexComparison::toMap).toList());
        m.put("clipping", histograms.stream().map(h -> Map.of("tensor", h.tensor(), "range_min", h.clipMin(),
                "range_max", h.clipMax(), "clipped_fraction", h.clippedFraction())).toList());
        return m;
    }
}
