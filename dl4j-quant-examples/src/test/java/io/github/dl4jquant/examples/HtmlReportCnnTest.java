package io.github.dl4jquant.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.QuantizationReport;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.ns.VertexComparison;
import io.github.dl4jquant.qconfig.QConfigs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The HTML report of a quantized CNN: activation histograms of the convolution, pooling and dense outputs (4-D and
 * 2-D tensors) with their ranges, the per-layer errors of the convolutions, and the convolutions' per-channel weight
 * qparams in the table (the report draws histograms of activations only; weights get their per-channel scale range).
 */
class HtmlReportCnnTest {

    @TempDir
    Path dir;

    @Test
    void rendersHistogramsErrorsAndPerChannelWeightsOfACnn() throws Exception {
        ComputationGraph fp32 = SmallCnn.graph();
        ExampleData data = ExampleData.embedded();
        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        prepared.calibrate(data.train().getFeatures().get(NDArrayIndex.interval(0, 512), NDArrayIndex.all()));
        ComputationGraph int8 = Quantizer.convert(prepared);
        int n = 128;
        INDArray sample = data.test().getFeatures().get(NDArrayIndex.interval(0, n), NDArrayIndex.all());
        QuantizationDiagnostics diagnostics = QuantizationDiagnostics.of(prepared, int8, sample, 10);
        QuantizationReport report = prepared.report();

        Map<String, ActivationHistogram> histograms = diagnostics.histograms().stream()
                .collect(Collectors.toMap(ActivationHistogram::tensor, Function.identity()));
        assertEquals(List.of("input 'in'", "output of 'relu1'", "output of 'pool1'", "output of 'relu2'",
                "output of 'pool2'", "output of 'fc'", "output of 'out'"),
                diagnostics.histograms().stream().map(ActivationHistogram::tensor).toList(),
                "one histogram per observed tensor, the fused convolutions at their ReLU");
        int c1 = SmallCnn.C1;
        int c2 = SmallCnn.C2;
        assertEquals((long) n * c1 * 28 * 28, histograms.get("output of 'relu1'").total());
        assertEquals((long) n * c1 * 14 * 14, histograms.get("output of 'pool1'").total());
        assertEquals((long) n * c2 * 7 * 7, histograms.get("output of 'pool2'").total());
        ActivationHistogram relu1 = histograms.get("output of 'relu1'");
        ActivationHistogram pool1 = histograms.get("output of 'pool1'");
        assertEquals(relu1.clipMax(), pool1.clipMax(), 0, "max pooling shares its input's qparams");
        assertEquals(0, relu1.clipMin(), 0, "a ReLU output's range starts at zero");
        assertTrue(relu1.zeros() > 0 && relu1.zeros() < relu1.total(), "ReLU zeros counted apart");
        for (ActivationHistogram h : diagnostics.histograms()) {
            assertTrue(h.clippedFraction() < 0.02, h.tensor() + " clips " + h.clippedFraction());
        }

        assertEquals(List.of("conv1", "pool1", "conv2", "pool2", "fc", "out"),
                diagnostics.layers().stream().map(VertexComparison::displayName).toList());
        for (VertexComparison l : diagnostics.layers()) {
            assertTrue(l.alone().sqnr() > 20 && l.propagated().sqnr() > 20, l.displayName() + ": " + l.toMap());
        }
        assertEquals(List.of("conv2", "bn2", "relu2"), diagnostics.layers().get(2).fp32Vertices());

        Path file = dir.resolve("cnn.html");
        diagnostics.addTo(new HtmlReport("CNN").addQuantizationReport(report)).write(file);
        String html = Files.readString(file);
        assertEquals(1 + 7, html.split("data:image/png;base64,", -1).length - 1, "error bars and 7 histograms");
        for (ReportEntry e : report.entries()) {
            assertTrue(html.contains("<td>" + e.displayName() + "</td>"), "row for " + e.displayName());
        }
        assertTrue(html.contains("<td>fused into 'conv1'</td>"), "bn1 and relu1 fused into conv1");
        for (String conv : List.of("conv1", "conv2")) {
            QParams w = report.entry(conv).weightQParams();
            assertTrue(w.isPerChannel(), conv);
            assertEquals(conv.equals("conv1") ? c1 : c2, w.numChannels());
            assertTrue(html.contains("torch.qint8 torch.per_channel_symmetric, " + w.numChannels() + " channels"),
                    conv + "'s per-channel weight qparams in the table");
        }
        assertEquals(0, report.keptFp32().size(), report.toString());
    }
}
