package io.github.dl4jquant.examples;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.graph.GraphModel;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.observer.Observer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What the plots of a report show, measured on one sample batch: histograms of the fp32 tensors the observers watched,
 * each with the range its calibrated qparams represent, and the per-layer error of the quantized model.
 *
 * <pre>{@code
 * QuantizationDiagnostics d = QuantizationDiagnostics.of(prepared, int8, sampleBatch, 4);
 * d.addTo(htmlReport);
 * }</pre>
 *
 * @param histograms  one per observed per-tensor tensor, at most the number asked for, in graph order
 * @param layerErrors one per quantized layer with an fp32 counterpart, in graph order
 */
public record QuantizationDiagnostics(List<ActivationHistogram> histograms, List<LayerError> layerErrors) {

    private static final int BINS = 80;

    /**
     * Runs {@code sampleBatch} through the prepared fp32 copy and through {@code quantized}.
     *
     * @param maxHistograms how many observed tensors to draw
     */
    public static QuantizationDiagnostics of(PreparedModel prepared, ComputationGraph quantized, INDArray sampleBatch,
                                             int maxHistograms) {
        GraphModel graph = prepared.graphModel();
        Map<String, INDArray> fp32 = graph.graph().feedForward(sampleBatch, false);
        List<ActivationHistogram> histograms = new ArrayList<>();
        for (Map.Entry<String, Observer> e : prepared.observers().entrySet()) {
            Observer o = e.getValue();
            INDArray tensor = fp32.get(e.getKey());
            if (histograms.size() == maxHistograms || tensor == null || o.isDynamic() || !o.isCalibrated()) {
                continue;
            }
            QParams q = o.calculateQParams();
            if (!q.isPerChannel()) {
                String name = graph.isNetworkInput(e.getKey()) ? "input '" + e.getKey() + "'"
                        : "output of '" + graph.displayName(e.getKey()) + "'";
                histograms.add(ActivationHistogram.of(name, tensor, q, BINS));
            }
        }
        return new QuantizationDiagnostics(histograms,
                LayerErrors.compare(graph.graph(), quantized, sampleBatch, graph::displayName));
    }

    /** Adds the error bars and the histograms to {@code report}. */
    public HtmlReport addTo(HtmlReport report) {
        if (!layerErrors.isEmpty()) {
            report.addLayerErrors(layerErrors);
        }
        histograms.forEach(report::addHistogram);
        return report;
    }

    /** The layer errors and the clipping per histogram, for JSON. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer_errors", layerErrors.stream().map(LayerError::toMap).toList());
        m.put("clipping", histograms.stream().map(h -> Map.of("tensor", h.tensor(), "range_min", h.clipMin(),
                "range_max", h.clipMax(), "clipped_fraction", h.clippedFraction())).toList());
        return m;
    }
}
