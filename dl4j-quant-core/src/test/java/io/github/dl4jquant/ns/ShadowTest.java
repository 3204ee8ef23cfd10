package io.github.dl4jquant.ns;

import io.github.dl4jquant.testing.TestModels;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.observer.HistogramObserver;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import io.github.dl4jquant.observer.PercentileObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class ShadowTest {
    private static final Logger log = LoggerFactory.getLogger(ShadowTest.class);

    private static Map<String, QConfig> candidates() {
        MinMaxObserver.Builder minMax = MinMaxObserver.builder().dtype(QuantDType.QUINT8)
                .qscheme(QScheme.PER_TENSOR_AFFINE);
        MinMaxObserver.Builder perTensor = MinMaxObserver.builder().dtype(QuantDType.QINT8)
                .qscheme(QScheme.PER_TENSOR_SYMMETRIC);
        PerChannelMinMaxObserver.Builder perChannel = PerChannelMinMaxObserver.builder().chAxis(1)
                .dtype(QuantDType.QINT8).qscheme(QScheme.PER_CHANNEL_SYMMETRIC);
        Map<String, QConfig> c = new LinkedHashMap<>();
        c.put("per-tensor", new QConfig(minMax, perTensor));
        c.put("per-channel", new QConfig(minMax, perChannel));
        c.put("histogram", new QConfig(HistogramObserver.builder(), perChannel));
        c.put("percentile", new QConfig(PercentileObserver.builder().percentile(99.9), perChannel));
        return c;
    }

    @Test
    void perChannelWeightsWinWhereOneOutputChannelIsLarge() {
        ComputationGraph g = TestModels.mlp();
        g.getLayer("d1").getParam("W").getColumn(3).muli(40);
        INDArray calib = TestModels.randomBatch(1, 512, 12);
        INDArray eval = TestModels.randomBatch(2, 256, 12);
        ShadowReport r = NumericSuite.shadow(g, candidates(), BackendConfigs.getOnednnBackendConfig(), calib, eval);
        log.info("\n{}", r);
        assertEquals(List.of("per-tensor", "per-channel", "histogram", "percentile"), r.candidateNames());
        assertEquals(List.of("d1", "d2", "out"), r.rows().stream().map(ShadowComparison::vertex).toList());
        ShadowComparison d1 = r.row("d1");
        assertTrue(d1.weightSqnr().get("per-channel") > d1.weightSqnr().get("per-tensor") + 8,
                "an outlier channel ruins per-tensor weights: " + d1.weightSqnr());
        // the large channel dominates the output's norm too, so the activation gain is smaller than the weight gain
        assertTrue(d1.sqnr().get("per-channel") > d1.sqnr().get("per-tensor") + 2, d1.sqnr().toString());
        assertNotEquals("per-tensor", d1.best());
        for (ShadowComparison row : r.rows()) {
            double bestSqnr = row.sqnr().get(row.best());
            row.sqnr().values().forEach(s -> assertTrue(s <= bestSqnr, row.toString()));
            assertEquals(row.weightSqnr().get("per-channel"), row.weightSqnr().get("histogram"), 1e-9,
                    "same weight observer, same weight error");
        }
        assertTrue(r.toString().contains("percentile") && r.toJson().contains("\"best\""), r.toString());
    }

    @Test
    void applyBestGivesEveryVertexOfAFusedPatternTheSameQConfig() {
        ComputationGraph g = TestModels.mlp();
        INDArray calib = TestModels.randomBatch(1, 256, 12);
        Map<String, QConfig> candidates = candidates();
        ShadowReport r = NumericSuite.shadow(g, candidates, BackendConfigs.getOnednnBackendConfig(), calib, calib);
        QConfigMapping tuned = r.applyBest(new QConfigMapping());
        QConfig bestD2 = candidates.get(r.row("d2").best());
        assertEquals(bestD2, tuned.resolve("act", ActivationLayer.class, 0).qconfig());
        // the tuned mapping prepares: the fused pair shares one QConfig
        Quantizer.prepare(g, tuned, BackendConfigs.getOnednnBackendConfig()).calibrate(calib);
    }

    @Test
    void candidatesAreRequired() {
        ComputationGraph g = TestModels.mlp();
        INDArray x = TestModels.randomBatch(1, 8, 12);
        assertThrows(IllegalArgumentException.class,
                () -> NumericSuite.shadow(g, Map.of(), BackendConfigs.getOnednnBackendConfig(), x, x));
        Map<String, QConfig> withNull = new LinkedHashMap<>();
        withNull.put("none", null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NumericSuite.shadow(g, withNull, BackendConfigs.getOnednnBackendConfig(), x, x));
        assertTrue(e.getMessage().contains("'none'"), e.getMessage());
    }
}
