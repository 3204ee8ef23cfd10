package io.github.dl4jquant.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.graph.QuantizationReport;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.ns.AccuracyControlConfig;
import io.github.dl4jquant.ns.AccuracyControlResult;
import io.github.dl4jquant.ns.AccuracyTrial;
import io.github.dl4jquant.ns.LayerSensitivity;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * Accuracy control ({@code Quantizer.quantizeWithAccuracyControl}), unchanged, on the small CNN: a budget the int8
 * model meets takes one trial and quantizes every layer; a budget no int8 model meets falls back whole blocks, a
 * convolution with its batch norm and ReLU, and the rest of the model stays int8 around them.
 */
class AccuracyControlCnnTest {

    private static final Map<String, List<String>> BLOCKS = Map.of("conv1", List.of("conv1", "bn1", "relu1"),
            "conv2", List.of("conv2", "bn2", "relu2"));

    private static DataSetIterator calibration() {
        DataSet train = ExampleData.embedded().train();
        return FashionMnist.iterator((DataSet) train.getRange(SmallCnn.TRAIN_EXAMPLES, SmallCnn.TRAIN_EXAMPLES + 512),
                256);
    }

    private static String layerClass(ComputationGraph g, String vertex) {
        return g.getLayer(vertex).conf().getLayer().getClass().getSimpleName();
    }

    @Test
    void aBudgetTheInt8CnnMeetsTakesOneTrialAndQuantizesEveryLayer() {
        ComputationGraph fp32 = SmallCnn.graph();
        DataSet test = ExampleData.embedded().test();
        AccuracyControlResult r = Quantizer.quantizeWithAccuracyControl(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig(), calibration(), FashionMnist.iterator(test, 500),
                AccuracyControlConfig.builder().maxAbsoluteDrop(0.01).build());

        assertTrue(r.budgetMet(), r.toString());
        assertEquals(1, r.trials().size(), r.toString());
        assertEquals(List.of(), r.keptFp32());
        assertEquals(Agreement.accuracy(fp32.outputSingle(test.getFeatures()), test.getLabels()), r.fp32Metric(),
                1e-9);
        assertTrue(r.fp32Metric() > 0.6, "the small CNN learned: " + r.fp32Metric());
        assertTrue(Math.abs(r.drop()) <= 0.01, "int8 within 1 point of fp32 on 1000 images: " + r);
        assertEquals(r.metric(), Agreement.accuracy(r.model().outputSingle(test.getFeatures()), test.getLabels()),
                1e-9, "the returned model is the one measured");
        assertEquals(0, r.quantizationReport().keptFp32().size(), r.quantizationReport().toString());
        for (String conv : BLOCKS.keySet()) {
            assertEquals("QuantizedConvolution", layerClass(r.model(), conv));
        }
        assertEquals("QuantizedPooling", layerClass(r.model(), "pool2"));
        assertEquals("QuantizedDense", layerClass(r.model(), "fc"));
    }

    @Test
    void anImpossibleBudgetFallsBackWholeConvolutionBlocks() {
        ComputationGraph fp32 = SmallCnn.graph();
        INDArray paramsBefore = fp32.params().dup();
        INDArray x = ExampleData.embedded().test().getFeatures();
        INDArray reference = fp32.outputSingle(x);
        // minus the largest output deviation: only the fp32 model itself scores 0, so a drop of 0 cannot be met
        ToDoubleFunction<ComputationGraph> closeness = g -> -g.outputSingle(x).sub(reference).amaxNumber()
                .doubleValue();
        AccuracyControlResult r = Quantizer.quantizeWithAccuracyControl(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig(), calibration(), closeness,
                AccuracyControlConfig.builder().maxAbsoluteDrop(0).maxTrials(3).build());

        assertFalse(r.budgetMet(), r.toString());
        assertEquals(3, r.trials().size(), r.toString());
        assertEquals(Set.of("conv1", "pool1", "conv2", "pool2", "fc", "out"),
                r.ranking().stream().map(LayerSensitivity::layer).collect(Collectors.toSet()),
                "the ranking names each quantized layer once, by its root vertex: " + r.ranking());
        for (LayerSensitivity s : r.ranking()) {
            assertEquals(BLOCKS.getOrDefault(s.layer(), List.of(s.layer())), s.fp32Vertices(), s.layer());
            assertTrue(Double.isFinite(s.score()) && s.score() > 10, s.toString());
        }
        for (int i = 1; i < r.ranking().size(); i++) {
            assertTrue(r.ranking().get(i - 1).score() <= r.ranking().get(i).score(), "lowest SQNR first: "
                    + r.ranking());
        }
        assertEquals(List.of(r.ranking().get(0).layer()), r.trials().get(1).keptFp32());
        assertEquals(List.of(r.ranking().get(0).layer(), r.ranking().get(1).layer()), r.trials().get(2).keptFp32());
        for (AccuracyTrial t : r.trials()) {
            assertTrue(t.metric() < 0 && t.metric() > -0.5, "int8 outputs deviate a little: " + t);
        }

        double best = r.trials().stream().mapToDouble(AccuracyTrial::metric).max().orElseThrow();
        assertEquals(best, r.metric(), 0, "the closest model is returned: " + r);
        assertEquals(r.metric(), closeness.applyAsDouble(r.model()), 1e-6);
        QuantizationReport report = r.quantizationReport();
        Set<String> fp32Vertices = r.ranking().stream().filter(s -> r.keptFp32().contains(s.layer()))
                .flatMap(s -> s.fp32Vertices().stream()).collect(Collectors.toSet());
        for (ReportEntry e : report.entries()) {
            boolean kept = fp32Vertices.contains(e.vertex());
            assertEquals(kept, e.status() == ReportEntry.Status.KEPT_FP32, e.vertex() + ": " + report);
            if (kept) {
                String cls = layerClass(r.model(), e.vertex());
                assertFalse(cls.startsWith("Quantized"), e.vertex() + " kept fp32 is " + cls);
            } else if (e.status() == ReportEntry.Status.QUANTIZED) {
                String cls = layerClass(r.model(), e.vertex());
                assertTrue(cls.startsWith("Quantized"), e.vertex() + " is " + cls);
            } else {
                assertFalse(r.model().getConfiguration().getVertices().containsKey(e.vertex()),
                        e.vertex() + " is fused away: " + report);
            }
        }
        assertEquals(paramsBefore, fp32.params(), "the user's model is untouched");
    }
}
