package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.TestModels;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

class CalibrationStateTest {
    private static final INDArray SHARD_A = TestModels.randomBatch(1, 96, 12);
    private static final INDArray SHARD_B = TestModels.randomBatch(2, 64, 12).muli(2.5);
    private static final INDArray TEST = TestModels.randomBatch(3, 50, 12);

    /** x86 defaults with MinMax activations, whose merge is exact. */
    private static QConfigMapping minMaxMapping() {
        QConfig x86 = QConfigs.getDefaultQConfigMapping("x86").resolve("d1", OutputLayer.class, 0).qconfig();
        return new QConfigMapping().setGlobal(new QConfig(MinMaxObserver.builder().reduceRange(true), x86.weight()));
    }

    private static PreparedModel prepared(ComputationGraph g, QConfigMapping mapping) {
        return Quantizer.prepare(g, mapping, BackendConfigs.getX86BackendConfig());
    }

    @Test
    void shardsMergedAndLoadedConvertToTheModelCalibratedOnEverything() {
        ComputationGraph g = TestModels.mlp();
        PreparedModel whole = prepared(g, minMaxMapping()).calibrate(SHARD_A, SHARD_B);
        PreparedModel shard = prepared(g, minMaxMapping());
        CalibrationState a = shard.calibrate(SHARD_A).calibrationState();
        CalibrationState b = shard.resetCalibration().calibrate(SHARD_B).calibrationState();
        CalibrationState merged = CalibrationState.fromBytes(a.toBytes()).merge(CalibrationState.fromJson(b.toJson()));

        assertEquals(whole.calibrationState(), merged);
        PreparedModel driver = prepared(g, minMaxMapping()).loadCalibrationState(merged);
        assertEquals(whole.report().entries(), driver.report().entries());
        INDArray expected = Quantizer.convert(whole).outputSingle(TEST);
        INDArray actual = Quantizer.convert(driver).outputSingle(TEST);
        assertArrayEquals(expected.dup().data().asFloat(), actual.dup().data().asFloat(), "bit-identical int8 outputs");
        assertEquals(2, driver.calibratedBatches());
    }

    @Test
    void theStateRoundTripsAndHoldsNoModel() {
        PreparedModel p = prepared(TestModels.mlp(), QConfigs.getDefaultQConfigMapping("x86")).calibrate(SHARD_A);
        CalibrationState s = p.calibrationState();
        assertEquals(s, CalibrationState.fromJson(s.toJson()));
        assertEquals(s, CalibrationState.fromBytes(s.toBytes()));
        assertEquals(java.util.Map.of("in", 2, "d1", 2, "act", 2, "out", 2), s.ranks());
        assertTrue(s.hasHistograms());
        // three histogram observers (2048 bins each) and a fixed one; the model's 500 parameters are not in it
        assertTrue(s.toBytes().length < 3 * (4 * 2048 + 400) + 400, "bytes: " + s.toBytes().length);
        assertEquals(96, s.examples());
    }

    @Test
    void resetForgetsEverything() {
        PreparedModel p = prepared(TestModels.mlp(), minMaxMapping());
        CalibrationState empty = p.calibrationState();
        p.calibrate(SHARD_A).resetCalibration();
        assertEquals(empty, p.calibrationState());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Quantizer.convert(p));
        assertTrue(e.getMessage().contains("has seen no data"), e.getMessage());
    }

    @Test
    void aStateOfAnotherPreparationIsRefusedWithTheDifference() {
        CalibrationState histograms = prepared(TestModels.mlp(), QConfigs.getDefaultQConfigMapping("x86"))
                .calibrate(SHARD_A).calibrationState();
        PreparedModel minMax = prepared(TestModels.mlp(), minMaxMapping());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> minMax.loadCalibrationState(histograms));
        assertTrue(e.getMessage().contains("tensor 'in'") && e.getMessage().contains("other settings"),
                e.getMessage());
        CalibrationState other = prepared(TestModels.branchy(), minMaxMapping()).calibrationState();
        IllegalArgumentException keys = assertThrows(IllegalArgumentException.class,
                () -> minMax.loadCalibrationState(other));
        assertTrue(keys.getMessage().contains("prepare both with the same model"), keys.getMessage());
        assertThrows(IllegalArgumentException.class, () -> histograms.merge(other));
    }
}
