package io.github.dl4jquant.bench;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.ReportEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * What the int8 variant of each benchmark model runs: the count of every layer and vertex type in the lowered graph,
 * and the types that are not int8 (package {@code io.github.dl4jquant.nn.quantized}). With the x86 defaults every
 * vertex of the benchmark models lowers, the output layer too (an int8 product with the float softmax), so none is
 * expected to stay float (the graph input is no vertex of the configuration). {@code BenchModelsLoweringTest} asserts
 * it; this main prints the counts and any module the quantization report kept fp32, and exits 1 on a float vertex.
 *
 * <pre>{@code
 * java -cp ... io.github.dl4jquant.bench.LoweringReport lenet resnet
 * }</pre>
 */
public final class LoweringReport {
    /** Vertex types that may stay float in a fully int8 benchmark model: none. */
    static final Set<String> EXPECTED_FLOAT = Set.of();

    private LoweringReport() {
    }

    /** Type name of each vertex (layer class for layer vertices) to how many the lowered graph has. */
    static Map<String, Integer> typeCounts(ComputationGraph g) {
        Map<String, Integer> counts = new TreeMap<>();
        for (GraphVertex v : g.getConfiguration().getVertices().values()) {
            counts.merge(typeName(v), 1, Integer::sum);
        }
        return counts;
    }

    /** Simple class name, package-qualified for int8 types ("nn.quantized.QuantizedConvolution"). */
    static String typeName(GraphVertex v) {
        Class<?> c = v instanceof LayerVertex lv ? lv.getLayerConf().getLayer().getClass() : v.getClass();
        return c.getPackageName().equals("io.github.dl4jquant.nn.quantized") ? "nn.quantized." + c.getSimpleName()
                : c.getSimpleName();
    }

    /** Types in {@code counts} that are neither int8 nor {@link #EXPECTED_FLOAT}. */
    static List<String> unexpectedFloat(Map<String, Integer> counts) {
        List<String> out = new ArrayList<>();
        for (String t : counts.keySet()) {
            if (!t.startsWith("nn.quantized.") && !EXPECTED_FLOAT.contains(t)) {
                out.add(t);
            }
        }
        return out;
    }

    public static void main(String[] args) {
        String[] models = args.length > 0 ? args : new String[] {"lenet", "resnet"};
        boolean ok = true;
        for (String name : models) {
            ComputationGraph fp32 = BenchModels.fp32(name);
            PreparedModel p = BenchModels.calibrated(fp32, BenchModels.inputShape(name));
            ComputationGraph int8 = Quantizer.convert(p);
            Map<String, Integer> counts = typeCounts(int8);
            List<String> unexpected = unexpectedFloat(counts);
            System.out.println(name + ": " + counts + (unexpected.isEmpty() ? "" : "  UNEXPECTED FLOAT: " + unexpected));
            for (ReportEntry e : p.report().entries()) {
                if (e.status() == ReportEntry.Status.KEPT_FP32) {
                    System.out.println("  kept fp32: " + e.displayName() + " (" + e.type() + "): " + e.reason());
                }
            }
            ok &= unexpected.isEmpty();
        }
        if (!ok) {
            System.exit(1);
        }
    }
}
