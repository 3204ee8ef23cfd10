package io.github.dl4jquant.ns;

import io.github.dl4jquant.testing.TestModels;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.TestDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

class AccuracyControlTest {
    private static final INDArray CALIB = TestModels.randomBatch(1, 512, 12);
    private static final INDArray EVAL = TestModels.randomBatch(2, 256, 12);
    private static final BackendConfig BACKEND = BackendConfigs.getOnednnBackendConfig();

    private static DataSetIterator calibration() {
        return new TestDataSetIterator(new DataSet(CALIB, Nd4j.zeros(512, 5)), 128);
    }

    /** Minus the largest output deviation from the fp32 model: 0 only for the fp32 model itself. */
    private static ToDoubleFunction<ComputationGraph> closeness(ComputationGraph fp32) {
        INDArray reference = fp32.outputSingle(EVAL);
        return g -> -g.outputSingle(EVAL).sub(reference).amaxNumber().doubleValue();
    }

    private static QConfigMapping mapping() {
        return QConfigs.getDefaultQConfigMapping("onednn");
    }

    @Test
    void aGenerousBudgetStopsAfterTheFirstTrial() {
        ComputationGraph g = TestModels.mlp();
        AccuracyControlResult r = Quantizer.quantizeWithAccuracyControl(g, mapping(), BACKEND, calibration(),
                closeness(g), AccuracyControlConfig.builder().maxAbsoluteDrop(1).build());
        assertTrue(r.budgetMet());
        assertEquals(1, r.trials().size());
        assertEquals(List.of(), r.keptFp32());
        assertEquals(0, r.fp32Metric(), 0);
        assertTrue(r.metric() < 0 && r.metric() > -0.1, "quantized outputs deviate a little: " + r.metric());
        assertTrue(r.ranking().isEmpty(), "no ranking needed");
        assertEquals(3, r.quantizationReport().entries().stream()
                .filter(e -> e.status() == io.github.dl4jquant.graph.ReportEntry.Status.QUANTIZED).count(),
                "d1, d2 (+ fused act) and out are quantized: " + r.quantizationReport());
    }

    @Test
    void anImpossibleBudgetStillReturnsTheBestModelFoundWithinTheTrialLimit() {
        ComputationGraph g = TestModels.mlp();
        INDArray paramsBefore = g.params().dup();
        QConfigMapping m = mapping();
        String mappingBefore = m.toJson();
        AccuracyControlResult r = AccuracyControl.quantizeWithAccuracyControl(g, m, BACKEND, calibration(),
                closeness(g), AccuracyControlConfig.builder().maxAbsoluteDrop(0).maxTrials(3).lowered(false).build());
        assertNotNull(r.model());
        assertFalse(r.budgetMet(), r.toString());
        assertEquals(3, r.trials().size(), r.toString());
        double bestMetric = r.trials().stream().mapToDouble(AccuracyTrial::metric).max().orElseThrow();
        assertEquals(bestMetric, r.metric(), 0, "the best trial's model is returned: " + r);
        assertEquals(r.metric(), closeness(g).applyAsDouble(r.model()), 1e-6);
        assertEquals(List.of(), r.trials().get(0).keptFp32());
        assertEquals(List.of(r.ranking().get(0).layer()), r.trials().get(1).keptFp32());
        assertEquals(List.of(r.ranking().get(0).layer(), r.ranking().get(1).layer()), r.trials().get(2).keptFp32());
        assertEquals(paramsBefore, g.params(), "the user's model is untouched");
        assertEquals(mappingBefore, m.toJson(), "the user's mapping is untouched");
        assertNotNull(r.sensitivityReport());
        assertEquals(r.sensitivityReport().rows().get(0).vertex(), r.ranking().get(0).layer());
    }

    @Test
    void fallbackGainRankingMeasuresEachLayerAlone() throws Exception {
        ComputationGraph g = TestModels.mlp();
        AccuracyControlResult r = AccuracyControl.quantizeWithAccuracyControl(g, mapping(), BACKEND, calibration(),
                closeness(g), AccuracyControlConfig.builder().maxRelativeDrop(0).maxTrials(8)
                        .ranking(SensitivityRanking.FALLBACK_GAIN).build());
        List<AccuracyTrial> ranking = r.trials().stream().filter(t -> t.purpose().equals("ranking")).toList();
        assertEquals(3, ranking.size(), r.toString());
        for (LayerSensitivity s : r.ranking()) {
            AccuracyTrial alone = ranking.stream().filter(t -> t.keptFp32().equals(List.of(s.layer()))).findFirst()
                    .orElseThrow();
            assertEquals(alone.metric() - r.trials().get(0).metric(), s.score(), 1e-12);
        }
        for (int i = 1; i < r.ranking().size(); i++) {
            assertTrue(r.ranking().get(i - 1).score() >= r.ranking().get(i).score(), r.toString());
        }
        assertTrue(r.trials().size() <= 8);
        JsonNode json = new ObjectMapper().readTree(r.toJson());
        assertEquals(r.trials().size(), json.get("trials").size());
        assertEquals(r.fp32Metric(), json.get("fp32_metric").asDouble(), 0);
        assertTrue(r.toString().contains("BUDGET NOT MET"), r.toString());
    }

    @Test
    void biasCorrectionOptionConvertsWithCorrectedBiases() {
        ComputationGraph g = TestModels.mlp();
        AccuracyControlResult plain = AccuracyControl.quantizeWithAccuracyControl(g, mapping(), BACKEND,
                calibration(), closeness(g), AccuracyControlConfig.builder().maxAbsoluteDrop(1).lowered(false).build());
        AccuracyControlResult corrected = AccuracyControl.quantizeWithAccuracyControl(g, mapping(), BACKEND,
                calibration(), closeness(g), AccuracyControlConfig.builder().maxAbsoluteDrop(1).lowered(false)
                        .biasCorrection(true).build());
        INDArray b0 = plain.model().getLayer("d1").getParam("b");
        INDArray b1 = corrected.model().getLayer("d1").getParam("b");
        assertTrue(b0.sub(b1).amaxNumber().doubleValue() > 0, "biases moved");
        assertEquals(plain.model().getLayer("d1").getParam("W"), corrected.model().getLayer("d1").getParam("W"));
    }

    @Test
    void badConfigurationsAreRejected() {
        IllegalArgumentException noBudget = assertThrows(IllegalArgumentException.class,
                () -> AccuracyControlConfig.builder().build());
        assertTrue(noBudget.getMessage().contains("maxAbsoluteDrop or maxRelativeDrop"), noBudget.getMessage());
        IllegalArgumentException trials = assertThrows(IllegalArgumentException.class,
                () -> AccuracyControlConfig.builder().maxAbsoluteDrop(0.01).maxTrials(0).build());
        assertTrue(trials.getMessage().contains("maxTrials"), trials.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> AccuracyControlConfig.builder().maxAbsoluteDrop(-1).build());
        ComputationGraph g = TestModels.mlp();
        IllegalArgumentException nullMetric = assertThrows(IllegalArgumentException.class,
                () -> AccuracyControl.quantizeWithAccuracyControl(g, mapping(), BACKEND, calibration(), null,
                        AccuracyControlConfig.builder().maxAbsoluteDrop(0.01).build()));
        assertTrue(nullMetric.getMessage().contains("metric=null"), nullMetric.getMessage());
        assertEquals(0.005, AccuracyControlConfig.builder().maxAbsoluteDrop(0.01).maxRelativeDrop(0.01).build()
                .allowedDrop(0.5), 1e-12, "both limits must hold");
    }
}
