package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.zoo.model.ResNet50;
import org.deeplearning4j.zoo.model.SimpleCNN;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DL4J's model zoo as users have it ({@code init()}, no pretrained weights): ResNet50 (a ComputationGraph, at
 * 96x96 to keep the test short) and SimpleCNN (a MultiLayerNetwork) are prepared, calibrated and converted with the x86 defaults. Every
 * convolution, batch norm, pooling and residual add must be quantized (or fused into one), and nothing may be kept
 * fp32 without a reason; the int8 model must stay as close to fp32 as the reference model.
 */
class ZooModelsCoverageTest {
    private static final Logger log = LoggerFactory.getLogger(ZooModelsCoverageTest.class);

    @Test
    void resNet50IsInt8ThroughoutIncludingItsShortcuts() {
        ComputationGraph fp32 = (ComputationGraph) ResNet50.builder().numClasses(10).seed(12)
                .inputShape(new int[] {3, 96, 96}).build().init();
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.rand(DataType.FLOAT, 4, 3, 96, 96);
        setBatchNormStatistics(fp32, x);
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).calibrate(x);
        QuantizationReport report = p.report();
        List<ReportEntry> keptFp32 = report.entries().stream()
                .filter(e -> e.status() == ReportEntry.Status.KEPT_FP32).toList();
        assertEquals(List.of(), keptFp32, "ResNet50 quantizes completely:\n" + report);
        ComputationGraph int8 = Quantizer.convert(p);
        QuantizationReport converted = p.report();
        log.info("ResNet50 int8 modules: {}", moduleCounts(converted));
        assertTrue(converted.entries().stream().allMatch(e -> e.status() != ReportEntry.Status.KEPT_FP32
                && e.reason() == null), converted.toString());
        long int8Convolutions = int8.getConfiguration().getVertices().values().stream()
                .filter(v -> v instanceof org.deeplearning4j.nn.conf.graph.LayerVertex lv
                        && lv.getLayerConf().getLayer() instanceof io.github.dl4jquant.nn.quantized.QuantizedConvolution)
                .count();
        assertEquals(53, int8Convolutions, "ResNet50's 53 convolutions run as int8 convolutions");
        long int8Adds = int8.getConfiguration().getVertices().values().stream()
                .filter(v -> v instanceof io.github.dl4jquant.nn.quantized.QuantizedAdd).count();
        assertEquals(16, int8Adds, "its 16 residual adds run as int8 add_relu");
        // untrained, its 10 softmax outputs are all near 0.1, so argmax says little: compare the probabilities
        // Untrained, 50 layers amplify every one-step rounding difference (float summation order) between the
        // int8 and the reference model, so their outputs drift apart as two reference runs on different CPUs would:
        // the pooled features are compared with fp32 instead, int8 as close as the reference model
        INDArray fp32Features = ForwardActivations.of(fp32, new INDArray[] {x}).get("avgpool");
        double referenceSqnr = io.github.dl4jquant.ns.TensorComparison.sqnr(fp32Features,
                ForwardActivations.of(Quantizer.convertToReference(p), new INDArray[] {x}).get("avgpool"));
        double featureSqnr = io.github.dl4jquant.ns.TensorComparison.sqnr(fp32Features,
                ForwardActivations.of(int8, new INDArray[] {x}).get("avgpool"));
        log.info("ResNet50 pooled features against fp32: int8 SQNR {} dB, reference model {} dB", featureSqnr,
                referenceSqnr);
        assertTrue(featureSqnr >= 12, "int8 keeps ResNet50's pooled features near fp32's: SQNR " + featureSqnr);
        assertTrue(featureSqnr >= referenceSqnr - 1.5, "int8 is as close to fp32 as the reference model: "
                + featureSqnr + " dB against " + referenceSqnr + " dB");
    }

    @Test
    void simpleCnnMultiLayerNetworkIsInt8Throughout() {
        MultiLayerNetwork fp32 = (MultiLayerNetwork) SimpleCNN.builder().numClasses(5).seed(3)
                .inputShape(new int[] {3, 48, 48}).build().init();
        Nd4j.getRandom().setSeed(9);
        INDArray x = Nd4j.rand(DataType.FLOAT, 16, 3, 48, 48);
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).calibrate(x);
        ComputationGraph int8 = Quantizer.convert(p);
        QuantizationReport report = p.report();
        log.info("SimpleCNN int8 modules: {}", moduleCounts(report));
        assertEquals(List.of(), report.entries().stream().filter(e -> e.status() == ReportEntry.Status.KEPT_FP32)
                .map(ReportEntry::displayName).toList(), report.toString());
        INDArray expected = fp32.output(x);
        INDArray got = int8.outputSingle(x);
        double agreement = expected.argMax(1).eq(got.argMax(1)).castTo(DataType.FLOAT).meanNumber().doubleValue();
        assertTrue(agreement >= 0.9, "int8 agrees with fp32 on " + agreement + " of the predictions");
    }

    /**
     * Gives every batch norm the statistics of its input on {@code x}, as training would: freshly initialised (unit
     * statistics), 16 residual stages grow the activations past float's range. One training-mode pass normalises
     * every batch norm with its batch's statistics, so its inputs are exactly those the network sees at inference once
     * the statistics are stored. The last batch norm of each residual branch is scaled down first, as
     * zero-init-residual training starts out.
     */
    private static void setBatchNormStatistics(ComputationGraph g, INDArray x) {
        List<String> batchNorms = g.getConfiguration().getTopologicalOrderStr().stream()
                .filter(name -> g.getLayer(name) != null && g.getLayer(name).conf().getLayer()
                        instanceof org.deeplearning4j.nn.conf.layers.BatchNormalization)
                .toList();
        batchNorms.stream().filter(name -> name.endsWith("2c"))
                .forEach(name -> g.getLayer(name).setParam("gamma", g.getLayer(name).getParam("gamma").mul(0.2)));
        Map<String, INDArray> trainingActivations = g.feedForward(new INDArray[] {x}, true, false);
        for (String name : batchNorms) {
            INDArray in = trainingActivations.get(g.getConfiguration().getVertexInputs().get(name).get(0));
            INDArray var = in.var(false, 0, 2, 3).reshape(1, in.size(1));
            g.getLayer(name).setParam("mean", in.mean(0, 2, 3).reshape(1, in.size(1)));
            g.getLayer(name).setParam("log10stdev", org.nd4j.linalg.ops.transforms.Transforms.log(
                    org.nd4j.linalg.ops.transforms.Transforms.sqrt(var), 10.0)); // DL4J adds eps itself
        }
    }

    private static Map<String, Long> moduleCounts(QuantizationReport report) {
        return report.entries().stream().collect(Collectors.groupingBy(e -> e.status() + " "
                + (e.module() == null || e.module().isEmpty() ? e.type() : e.module()), TreeMap::new,
                Collectors.counting()));
    }
}
