package io.github.dl4jquant.examples;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.graph.QuantizationReport;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.ns.VertexComparison;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A self-contained HTML page about one quantization: a summary table, the per-vertex {@link QuantizationReport}
 * table, activation histograms with their quantization ranges and per-layer error bars. CSS is inline and the plots
 * are PNG data URIs, so the single file can be mailed or attached to a CI run.
 *
 * <pre>{@code
 * new HtmlReport("Fashion-MNIST MLP, onednn")
 *     .addSummary("int8 accuracy", "88.37%")
 *     .addQuantizationReport(prepared.report())
 *     .addHistogram(ActivationHistogram.of("d1", activation, qparams, 80))
 *     .addLayerErrors(errors)
 *     .write(Path.of("target/report.html"));
 * }</pre>
 */
public final class HtmlReport {

    private static final String CSS = """
            body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;\
            color:#222;padding:0 1em}
            h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
            table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
            th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
            th{background:#f3f3f3}tr.kept td{background:#fff4e5}td.num{text-align:right;font-family:monospace}
            img{max-width:100%;border:1px solid #eee;margin:.4em .4em 0 0}.plots{display:flex;flex-wrap:wrap}
            """;

    private final String title;
    private final Map<String, String> summary = new LinkedHashMap<>();
    private final List<String> sections = new ArrayList<>();
    private final List<String> histogramImages = new ArrayList<>();

    public HtmlReport(String title) {
        this.title = title;
    }

    /** A row of the summary table at the top. */
    public HtmlReport addSummary(String key, String value) {
        summary.put(key, value);
        return this;
    }

    /** The per-vertex table: status, pattern, dtype config, qparams, replacement module or the reason kept fp32. */
    public HtmlReport addQuantizationReport(QuantizationReport report) {
        StringBuilder sb = new StringBuilder("<h2>Per-layer quantization</h2>\n<p>Backend <b>")
                .append(esc(report.backend())).append("</b>");
        if (report.kernel() != null) {
            sb.append(", int8 kernel <b>").append(esc(report.kernel())).append("</b>");
        }
        sb.append(": ").append(report.quantized().size()).append(" vertices quantized, ")
                .append(report.keptFp32().size()).append(" kept fp32.</p>\n<table class=\"quantization\">\n<tr>");
        for (String h : new String[] {"vertex", "type", "status", "pattern", "dtype config", "qconfig from",
            "input qparams", "output qparams", "weight qparams", "module / reason"}) {
            sb.append("<th>").append(h).append("</th>");
        }
        sb.append("</tr>\n");
        for (ReportEntry e : report.entries()) {
            sb.append(e.isQuantized() ? "<tr>" : "<tr class=\"kept\">");
            for (String cell : new String[] {e.displayName(), e.type(), e.status().name().toLowerCase(Locale.ROOT),
                e.pattern(), e.dtypeConfig(), e.qconfigSource(), qparams(e.inputQParams()),
                qparams(e.outputQParams()), qparams(e.weightQParams()), moduleOrReason(e)}) {
                sb.append("<td>").append(cell == null || cell.isEmpty() ? "-" : esc(cell)).append("</td>");
            }
            sb.append("</tr>\n");
        }
        sections.add(sb.append("</table>\n").toString());
        return this;
    }

    /** An activation histogram with its quantization range (all histograms share one section). */
    public HtmlReport addHistogram(ActivationHistogram histogram) {
        histogramImages.add(img(ReportCharts.histogramPng(histogram), "activation histogram of "
                + histogram.tensor()));
        return this;
    }

    /** Per-layer SQNR bars and a table of the numeric suite's comparisons. */
    public HtmlReport addLayerErrors(List<VertexComparison> layers) {
        StringBuilder sb = new StringBuilder("<h2>Per-layer error (int8 vs fp32, numeric suite)</h2>\n")
                .append("<p><i>Alone</i>: the quantized layer on the fp32 model's input to it; <i>end to end</i>: ")
                .append("the quantized model, errors of earlier layers included.</p>\n<div class=\"plots\">")
                .append(img(ReportCharts.layerErrorPng(layers), "per-layer SQNR")).append("</div>\n<table>\n<tr>");
        for (String h : new String[] {"layer", "weight SQNR (dB)", "SQNR alone (dB)", "SQNR end to end (dB)",
            "max |error| end to end", "rmse / output step"}) {
            sb.append("<th>").append(h).append("</th>");
        }
        sb.append("</tr>\n");
        for (VertexComparison l : layers) {
            sb.append("<tr><td>").append(esc(l.displayName())).append("</td>");
            for (double v : new double[] {l.weightSqnr(), l.alone().sqnr(), l.propagated().sqnr(),
                l.propagated().maxAbsError(), l.propagated().rmseOverScale()}) {
                sb.append("<td class=\"num\">").append(number(v)).append("</td>");
            }
            sb.append("</tr>\n");
        }
        sections.add(sb.append("</table>\n").toString());
        return this;
    }

    /** A preformatted block, e.g. the text table of the report. */
    public HtmlReport addPreformatted(String heading, String text) {
        sections.add("<h2>" + esc(heading) + "</h2>\n<pre>" + esc(text) + "</pre>\n");
        return this;
    }

    /** The whole page. */
    public String render() {
        StringBuilder sb = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<title>").append(esc(title)).append("</title>\n<style>").append(CSS)
                .append("</style></head>\n<body>\n<h1>").append(esc(title)).append("</h1>\n");
        if (!summary.isEmpty()) {
            sb.append("<table class=\"summary\">\n");
            summary.forEach((k, v) -> sb.append("<tr><th>").append(esc(k)).append("</th><td>").append(esc(v))
                    .append("</td></tr>\n"));
            sb.append("</table>\n");
        }
        sections.forEach(sb::append);
        if (!histogramImages.isEmpty()) {
            sb.append("<h2>Activation histograms and quantization ranges</h2>\n<p>Red lines: the float range the ")
                    .append("calibrated qparams can represent, [(qmin - zp) &times; scale, (qmax - zp) &times; scale];")
                    .append(" ")
                    .append("values outside are clipped.</p>\n<div class=\"plots\">");
            histogramImages.forEach(sb::append);
            sb.append("</div>\n");
        }
        return sb.append("</body></html>\n").toString();
    }

    /** Writes {@link #render()} to {@code file} atomically. */
    public void write(Path file) throws IOException {
        String html = render();
        ModelFiles.writeAtomically(file, tmp -> Files.writeString(tmp, html, StandardCharsets.UTF_8));
    }

    private static String img(byte[] png, String alt) {
        return "<img alt=\"" + esc(alt) + "\" src=\"data:image/png;base64,"
                + Base64.getEncoder().encodeToString(png) + "\">";
    }

    private static String number(double v) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return Double.isInfinite(v) ? "exact" : String.format(Locale.ROOT, "%.4g", v);
    }

    private static String moduleOrReason(ReportEntry e) {
        String detail = e.detail() == null ? "" : e.detail();
        if (e.status() == ReportEntry.Status.KEPT_FP32) {
            return e.reason().label() + (detail.isEmpty() ? "" : ": " + detail);
        }
        return ((e.module() == null ? "" : e.module()) + " " + detail).trim();
    }

    private static String qparams(QParams q) {
        if (q == null) {
            return null;
        }
        if (q.isPerChannel()) {
            float min = Float.MAX_VALUE;
            float max = 0;
            for (float s : q.scales()) {
                min = Math.min(min, s);
                max = Math.max(max, s);
            }
            return String.format(Locale.ROOT, "%s %s, %d channels, scale %.3g..%.3g", q.dtype().torchName(),
                    q.qscheme().torchName(), q.numChannels(), min, max);
        }
        return String.format(Locale.ROOT, "%s scale=%.5g zp=%d [%d, %d]", q.dtype().torchName(), q.scale(),
                q.zeroPoint(), q.quantMin(), q.quantMax());
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
