package io.github.dl4jquant.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.graph.CalibrationState;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.observer.ObserverFactory;
import io.github.dl4jquant.observer.ObserverState;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

class SparkCalibrationTest {
    private static final int PARTITIONS = 8;
    private static final int BATCH = 250;
    private static final FashionFixture F = FashionFixture.get();
    private static final JavaSparkContext SC = SparkTestContext.sc();

    /** x86 defaults with MinMax activations: per-tensor activations, per-channel weights. */
    private static QConfigMapping minMaxMapping() {
        QConfig x86 = QConfigs.getDefaultQConfigMapping("x86").resolve("d1", DenseLayer.class, 0).qconfig();
        return new QConfigMapping().setGlobal(new QConfig(MinMaxObserver.builder().reduceRange(true), x86.weight()));
    }

    private static PreparedModel singleJvm(QConfigMapping mapping) {
        return Quantizer.prepare(F.fp32, mapping, BackendConfigs.getX86BackendConfig());
    }

    private static SparkCalibration spark(QConfigMapping mapping, boolean exactHistograms) {
        return SparkCalibration.builder(F.fp32, mapping, BackendConfigs.getX86BackendConfig()).batchSize(BATCH)
                .exactHistograms(exactHistograms).build(SC);
    }

    /** 32 DataSets of 250 rows, 4 per partition: each partition's batches are batches of the single-JVM run. */
    private static JavaRDD<DataSet> calibrationRdd() {
        return SC.parallelize(FashionFixture.chunks(F.calibration, BATCH), PARTITIONS).cache();
    }

    @Test
    void minMaxCalibrationOverEightPartitionsGivesExactlyTheSingleJvmQParams() {
        PreparedModel single = singleJvm(minMaxMapping()).calibrate(FashionMnist.iterator(F.calibration, BATCH));
        try (SparkCalibration spark = spark(minMaxMapping(), true)) {
            CalibrationRun run = spark.calibrate(calibrationRdd());
            assertEquals(single.calibrationState(), spark.prepared().calibrationState());
            assertEquals(single.report().entries(), spark.prepared().report().entries());
            assertEquals(PARTITIONS, run.partitions());
            assertEquals(1, run.passes(), "min/max observers need one pass");
            assertEquals(F.calibration.numExamples(), run.examples());
            assertEquals(F.calibration.numExamples() / BATCH, run.batches());
            assertTrue(run.stateBytesPerPartition() < 2_000, run.toString());
            assertTrue(run.broadcastBytes() > 800_000, "the fp32 model is broadcast once: " + run);

            INDArray x = F.test.getFeatures();
            assertArrayEquals(Quantizer.convert(single).outputSingle(x).data().asFloat(),
                    Quantizer.convert(spark.prepared()).outputSingle(x).data().asFloat());
        }
    }

    @Test
    void perChannelAndPerTensorObserversOverEightPartitionsAreTheSingleObserver() {
        List<INDArray> pixels = new ArrayList<>();
        List<INDArray> hidden = new ArrayList<>();
        for (DataSet chunk : FashionFixture.chunks(F.calibration, BATCH)) {
            pixels.add(chunk.getFeatures());
            hidden.add(F.fp32.feedForward(chunk.getFeatures(), false).get("relu1"));
        }
        List<ObserverFactory> factories = List.of(
                PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8)
                        .qscheme(QScheme.PER_CHANNEL_SYMMETRIC),
                PerChannelMinMaxObserver.builder().chAxis(1).reduceRange(true),
                MinMaxObserver.builder().reduceRange(true));
        for (List<INDArray> arrays : List.of(pixels, hidden)) {
            JavaRDD<INDArray> rdd = SC.parallelize(arrays, PARTITIONS);
            for (ObserverFactory f : factories) {
                Observer single = f.create();
                arrays.forEach(single::observe);
                Observer distributed = SparkCalibration.observe(rdd, f, 2);
                assertEquals(single.state(), distributed.state(), f.toString());
                QParams q = distributed.calculateQParams();
                assertEquals(single.calculateQParams(), q);
            }
        }
    }

    /**
     * The two-pass result is that of one JVM binning every row into the final range. It is compared with one JVM
     * running the same two passes over the same 250-row batches: DL4J's fp32 forward pass does not give a row the
     * same activations in every batch size (OpenBLAS's AVX-512 sgemm: 489 of the 64,000 relu1 values of the first
     * 250 rows differ in the last bits between batch 250 and batch 8,000), so "all rows in one batch" would differ
     * by a count here and there for reasons that have nothing to do with Spark. Against that run the qparams stay
     * equal.
     */
    @Test
    void histogramCalibrationInTwoPassesGivesExactlyTheQParamsOfOneJvmBinningAllRowsIntoTheFinalRange() {
        PreparedModel single = FashionFixture.twoPassSingleJvm(F.fp32, QConfigs.getDefaultQConfigMapping("x86"),
                F.calibration, BATCH);
        try (SparkCalibration spark = spark(QConfigs.getDefaultQConfigMapping("x86"), true)) {
            CalibrationRun run = spark.calibrate(calibrationRdd());
            assertEquals(2, run.passes());
            Map<String, ObserverState> expected = single.calibrationState().observers();
            Map<String, ObserverState> actual = spark.prepared().calibrationState().observers();
            assertEquals(expected.keySet(), actual.keySet());
            for (String tensor : expected.keySet()) {
                assertArrayEquals(expected.get(tensor).histogram(), actual.get(tensor).histogram(), tensor);
                assertEquals(expected.get(tensor), actual.get(tensor), tensor);
            }
            assertEquals(single.report().entries(), spark.prepared().report().entries());

            PreparedModel oneBatch = singleJvm(QConfigs.getDefaultQConfigMapping("x86"))
                    .calibrate(F.calibration.getFeatures());
            for (String tensor : expected.keySet()) {
                assertEquals(oneBatch.calibrationState().observers().get(tensor).restore().calculateQParams(),
                        actual.get(tensor).restore().calculateQParams(), tensor);
            }
        }
    }

    /**
     * One pass merges differently ranged histograms by re-binning (uniform density within each bin), while one JVM
     * re-bins its running histogram by upsampling as each batch widens the range: two approximations of the same
     * histogram, not the same numbers. Measured here on this data, for the record the test keeps.
     */
    @Test
    void aSinglePassHistogramMergeIsCloseToButNotTheSequentialRun() {
        PreparedModel single = singleJvm(QConfigs.getDefaultQConfigMapping("x86"))
                .calibrate(FashionMnist.iterator(F.calibration, BATCH));
        try (SparkCalibration spark = spark(QConfigs.getDefaultQConfigMapping("x86"), false)) {
            assertEquals(1, spark.calibrate(calibrationRdd()).passes());
            CalibrationState s = single.calibrationState();
            CalibrationState d = spark.prepared().calibrationState();
            boolean anyDifferent = false;
            for (String tensor : s.observers().keySet()) {
                QParams qs = s.observers().get(tensor).restore().calculateQParams();
                QParams qd = d.observers().get(tensor).restore().calculateQParams();
                double relative = Math.abs(qd.scale() - qs.scale()) / qs.scale();
                System.err.printf("one-pass histogram merge, tensor %s: scale %s vs single JVM %s (%.3g relative),"
                        + " zero point %d vs %d%n", tensor, qd.scale(), qs.scale(), relative, qd.zeroPoint(),
                        qs.zeroPoint());
                assertTrue(relative < 0.01, tensor + ": " + qd + " vs " + qs);
                anyDifferent |= qs.scale() != qd.scale();
            }
            assertTrue(anyDifferent || !s.equals(d), "the one-pass merge is not the sequential run");
        }
    }

    @Test
    void aDataFrameOfFeatureVectorsCalibratesLikeTheRdd() {
        PreparedModel single = singleJvm(minMaxMapping()).calibrate(FashionMnist.iterator(F.calibration, BATCH));
        try (SparkCalibration spark = spark(minMaxMapping(), true)) {
            Dataset<Row> df = SparkFrames.features(F.calibration, PARTITIONS);
            CalibrationRun run = spark.calibrate(df, "features");
            assertEquals(single.calibrationState(), spark.prepared().calibrationState());
            assertEquals(PARTITIONS, run.partitions());

            IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                    () -> spark.calibrate(df, "pixels"));
            assertTrue(missing.getMessage().contains("No column 'pixels'") && missing.getMessage().contains("features"),
                    missing.getMessage());
            IllegalArgumentException type = assertThrows(IllegalArgumentException.class,
                    () -> spark.calibrate(df, "label"));
            assertTrue(type.getMessage().contains("arrays of numbers"), type.getMessage());
        }
    }

    @Test
    void theDriversModelIsNotTheUsersAndAnEmptyPartitionIsHarmless() {
        ComputationGraph before = F.fp32.clone();
        try (SparkCalibration spark = spark(minMaxMapping(), true)) {
            JavaRDD<DataSet> sparse = SC.parallelize(FashionFixture.chunks(F.calibration, BATCH).subList(0, 3), 5);
            CalibrationRun run = spark.calibrate(sparse);
            assertEquals(3 * BATCH, run.examples());
            assertNotEquals(0, spark.prepared().calibratedBatches());
        }
        assertEquals(before.params(), F.fp32.params());
    }
}
