package io.github.dl4jquant.examples;

import io.github.dl4jquant.ns.VertexComparison;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The report's plots, drawn with XChart and encoded as PNG: an activation histogram with its quantization range, and
 * per-layer error bars. Runs headless.
 *
 * <pre>{@code
 * byte[] png = ReportCharts.histogramPng(ActivationHistogram.of("d1", act, qparams, 80));
 * byte[] bars = ReportCharts.layerErrorPng(QuantizationDiagnostics.of(prepared, int8, batch, 0).layers());
 * }</pre>
 */
public final class ReportCharts {

    private static final int WIDTH = 640;
    private static final int HEIGHT = 360;
    /** Bars of layers whose outputs are identical would be infinitely tall; they are drawn at this height. */
    private static final double SQNR_CAP_DB = 100;

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private ReportCharts() {
    }

    /** The histogram of non-zero values as steps, with the representable range as two vertical red lines. */
    public static byte[] histogramPng(ActivationHistogram h) {
        String title = String.format(Locale.ROOT, "%s: %.1f%% zeros not shown, %.3f%% outside the range",
                h.tensor(), 100.0 * h.zeros() / Math.max(1, h.total()), 100 * h.clippedFraction());
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title)
                .xAxisTitle("activation value").yAxisTitle("count").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS)
                .setLegendLayout(Styler.LegendLayout.Horizontal).setChartTitleFont(
                chart.getStyler().getChartTitleFont().deriveFont(12f));
        chart.getStyler().setXAxisDecimalPattern("0.###");
        double[] x = new double[h.counts().length];
        double[] y = new double[h.counts().length];
        double top = 1;
        for (int i = 0; i < x.length; i++) {
            x[i] = h.binEdges()[i];
            y[i] = h.counts()[i];
            top = Math.max(top, y[i]);
        }
        XYSeries bins = chart.addSeries("fp32 values", x, y);
        bins.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.StepArea).setMarker(SeriesMarkers.NONE);
        String range = String.format(Locale.ROOT, "quantized range [%.3g, %.3g]", h.clipMin(), h.clipMax());
        verticalLine(chart, range, h.clipMin(), top);
        verticalLine(chart, " ", h.clipMax(), top).setShowInLegend(false);
        return png(chart);
    }

    /**
     * Two bars per layer, its SQNR in dB (higher is better) alone on fp32 inputs and end to end in the quantized
     * model, capped at {@value #SQNR_CAP_DB} for exact layers.
     */
    public static byte[] layerErrorPng(List<VertexComparison> layers) {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title("Per-layer SQNR of the int8 model vs fp32 (higher is better)")
                .xAxisTitle("layer").yAxisTitle("SQNR (dB)").build();
        chart.getStyler().setLabelsVisible(true).setDecimalPattern("0.0")
                .setLegendPosition(Styler.LegendPosition.OutsideS).setLegendLayout(Styler.LegendLayout.Horizontal)
                .setChartTitleFont(chart.getStyler().getChartTitleFont().deriveFont(12f));
        List<String> names = layers.stream().map(VertexComparison::displayName).toList();
        chart.addSeries("alone (fp32 input)", names, layers.stream().map(l -> bar(l.alone().sqnr())).toList());
        chart.addSeries("end to end", names, layers.stream().map(l -> bar(l.propagated().sqnr())).toList());
        return png(chart);
    }

    private static double bar(double sqnrDb) {
        return Double.isNaN(sqnrDb) ? 0 : Math.min(SQNR_CAP_DB, sqnrDb);
    }

    private static XYSeries verticalLine(XYChart chart, String name, double x, double top) {
        XYSeries s = chart.addSeries(name, new double[] {x, x}, new double[] {0, top});
        s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line).setMarker(SeriesMarkers.NONE)
                .setLineColor(Color.RED);
        return s;
    }

    private static byte[] png(Chart<?, ?> chart) {
        try {
            return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot encode the chart '" + chart.getTitle() + "' as PNG", e);
        }
    }
}
