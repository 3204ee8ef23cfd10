package io.github.dl4jquant.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.qconfig.QConfigs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The HTML page, its plots and the numbers behind them (histogram counts, SQNR), checked by independent math. */
class HtmlReportTest {

    @TempDir
    Path dir;

    @Test
    void pageEmbedsOnePngPerPlotAndTheReportTable() throws Exception {
        ExampleData data = ExampleData.embedded();
        ComputationGraph fp32 = FashionMlp.build();
        DataSet train = data.train();
        fp32.fit(FashionMnist.iterator((DataSet) train.getRange(0, 1024), 128));
        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("onednn"),
                BackendConfigs.getOnednnBackendConfig());
        prepared.calibrate(train.getFeatures().get(NDArrayIndex.interval(0, 512), NDArrayIndex.all()));
        ComputationGraph int8 = Quantizer.convert(prepared);
        INDArray sample = data.test().getFeatures().get(NDArrayIndex.interval(0, 256), NDArrayIndex.all());
        QuantizationDiagnostics diagnostics = QuantizationDiagnostics.of(prepared, int8, sample, 3);

        Path file = dir.resolve("report.html");
        diagnostics.addTo(new HtmlReport("test <page>").addSummary("kernel", "k & co")
                .addQuantizationReport(prepared.report())).write(file);
        String html = Files.readString(file);

        assertEquals(3, diagnostics.histograms().size());
        assertEquals(List.of("d1", "d2", "out"), diagnostics.layers().stream().map(l -> l.displayName()).toList(),
                "quantized layers in graph order (relu1 is fused into d1)");
        INDArray fp32Out = fp32.outputSingle(sample);
        INDArray int8Out = int8.outputSingle(sample);
        double noise = fp32Out.sub(int8Out).norm2Number().doubleValue();
        double sqnr = 20 * Math.log10(fp32Out.norm2Number().doubleValue() / noise);
        assertEquals(sqnr, diagnostics.layers().get(2).propagated().sqnr(), 1e-3,
                "end-to-end SQNR of the last layer is the SQNR of the model's output");
        List<byte[]> pngs = new ArrayList<>();
        Matcher m = java.util.regex.Pattern.compile("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(html);
        while (m.find()) {
            pngs.add(Base64.getDecoder().decode(m.group(1)));
        }
        assertEquals(1 + 3, pngs.size(), "one error chart and three histograms");
        for (byte[] png : pngs) {
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(png, 4));
            assertTrue(png.length > 2000, "a real picture, not an empty image: " + png.length + " bytes");
        }
        assertTrue(html.contains("<title>test &lt;page&gt;</title>"), "escaped title");
        assertTrue(html.contains("<td>k &amp; co</td>"));
        for (ReportEntry e : prepared.report().entries()) {
            assertTrue(html.contains("<td>" + e.displayName() + "</td>"), "row for " + e.displayName());
        }
        assertTrue(html.contains("<table class=\"quantization\">"));
        assertTrue(!html.contains("http://") && !html.contains("https://"), "self-contained: no external links");
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left");
        }
    }

    @Test
    void histogramCountsAndClippingMatchADirectCount() {
        float[] values = {0f, 0f, -0.5f, 0.1f, 0.2f, 0.9f, 1.5f, 2.5f, 3.0f, 0f};
        QParams q = QParams.perTensor(0.01f, 10, QuantDType.QUINT8);       // range [-0.10, 2.45]
        ActivationHistogram h = ActivationHistogram.of("t", Nd4j.createFromArray(values), q, 7);
        assertEquals(-0.10, h.clipMin(), 1e-6);
        assertEquals(2.45, h.clipMax(), 1e-6);
        assertEquals(3, h.zeros());
        assertEquals(10, h.total());
        assertEquals(3.0 / 10, h.clippedFraction(), 1e-12, "-0.5, 2.5 and 3.0 lie outside");
        assertEquals(-0.5, h.binEdges()[0], 1e-6);
        assertEquals(3.0, h.binEdges()[7], 1e-6);
        long[] expected = new long[7];
        for (float v : values) {
            if (v != 0f) {
                expected[Math.min(6, (int) Math.floor((v + 0.5) / 0.5))]++;
            }
        }
        assertArrayEquals(expected, h.counts());
    }
}
