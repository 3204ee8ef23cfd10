package io.github.dl4jquant.graph;

import io.github.dl4jquant.testing.TestModels;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

class QuantizerGraphTest {
    private static final INDArray CALIB = TestModels.randomBatch(1, 256, 12);
    private static final INDArray TEST = TestModels.randomBatch(2, 64, 12);

    private static PreparedModel preparedMlp(ComputationGraph g) {
        return Quantizer.prepare(g, QConfigs.getDefaultQConfigMapping("onednn"), BackendConfigs.getOnednnBackendConfig());
    }

    @Test
    void everyVertexIsReportedAndFusionIsApplied() {
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = preparedMlp(g).calibrate(CALIB);
        QuantizationReport r = p.report();
        assertEquals(4, r.entries().size());
        assertEquals(ReportEntry.Status.QUANTIZED, r.entry("d1").status());
        assertEquals(ReportEntry.Status.QUANTIZED, r.entry("d2").status());
        assertEquals(ReportEntry.Status.FUSED, r.entry("act").status());
        assertEquals(ReportEntry.Status.QUANTIZED, r.entry("out").status());
        assertEquals(0, r.entry("d1").outputQParams().zeroPoint(), "a ReLU output's range starts at 0");
        assertEquals(1f / 256, r.entry("out").outputQParams().scale(), 0f, "softmax output has fixed qparams");
        assertTrue(r.toString().contains("d2"), r.toString());
        assertTrue(r.toJson().contains("\"status\" : \"FUSED\""), r.toJson());

        ComputationGraph ref = Quantizer.convertToReference(p);
        assertFalse(ref.getConfiguration().getVertices().containsKey("act"), "the fused ActivationLayer is gone");
        assertTrue(ref.getLayer("d2").conf().getLayer() instanceof ReferenceQuantizedDense);
        INDArray expected = g.outputSingle(TEST);
        INDArray actual = ref.outputSingle(TEST);
        // Untrained softmax outputs are nearly uniform, so their 1/256 output grid makes ties: compare values only.
        assertTrue(actual.sub(expected).amaxNumber().doubleValue() < 0.05,
                "reference model should stay close to fp32 on this small MLP");
    }

    @Test
    void userModelIsNeverMutated() {
        ComputationGraph g = TestModels.mlp();
        INDArray paramsBefore = g.params().dup();
        String confBefore = g.getConfiguration().toJson();
        PreparedModel p = preparedMlp(g).calibrate(CALIB);
        Quantizer.convertToReference(p);
        Quantizer.convert(p);
        assertEquals(paramsBefore, g.params());
        assertEquals(confBefore, g.getConfiguration().toJson());
    }

    @Test
    void branchesMergeElementWiseAndUnmatchedLayersConvertAndRun() {
        ComputationGraph g = TestModels.branchy();
        PreparedModel p = preparedMlp(g).calibrate(CALIB);
        QuantizationReport r = p.report();
        for (String name : new String[] {"a", "b", "out"}) {
            assertEquals(ReportEntry.Status.QUANTIZED, r.entry(name).status(), name + "\n" + r);
        }
        ComputationGraph ref = Quantizer.convertToReference(p);
        ReportEntry bn = p.report().entry("bn");
        assertEquals(SkipReason.UNSUPPORTED_LAYER, bn.reason(), p.report().toString());
        assertTrue(bn.detail().contains("BatchNorm1d") && bn.detail().contains("DenseLayer"), bn.detail());
        ComputationGraph int8 = Quantizer.convert(p);
        INDArray expected = g.outputSingle(TEST);
        assertTrue(ref.outputSingle(TEST).sub(expected).amaxNumber().doubleValue() < 0.1);
        assertTrue(int8.outputSingle(TEST).sub(expected).amaxNumber().doubleValue() < 0.1);
    }

    @Test
    void preprocessorsSurviveAndConvolutionIsReported() {
        ComputationGraph g = TestModels.convThenDense();
        INDArray x = TestModels.randomBatch(3, 32, 36);
        PreparedModel p = Quantizer.prepare(g, QConfigs.getDefaultQConfigMapping("onednn"),
                BackendConfigs.getOnednnBackendConfig()).calibrate(x);
        assertEquals(ReportEntry.Status.QUANTIZED, p.report().entry("conv").status(), p.report().toString());
        assertEquals(ReportEntry.Status.QUANTIZED, p.report().entry("d").status());
        ComputationGraph ref = Quantizer.convertToReference(p);
        assertTrue(ref.outputSingle(x).sub(g.outputSingle(x)).amaxNumber().doubleValue() < 0.1);
    }

    @Test
    void multiLayerNetworkKeepsItsLayerNames() {
        MultiLayerNetwork n = TestModels.multiLayer();
        PreparedModel p = Quantizer.prepare(n, new QConfigMapping().setGlobal(QConfigs.getDefaultQConfig("onednn"))
                .setModuleName("classifier", null), BackendConfigs.getOnednnBackendConfig()).calibrate(CALIB);
        QuantizationReport r = p.report();
        assertEquals(ReportEntry.Status.QUANTIZED, r.entry("hidden").status());
        assertEquals(SkipReason.QCONFIG_NONE, r.entry("classifier").reason());
        ComputationGraph q = Quantizer.convert(p);
        INDArray expected = n.output(TEST);
        assertTrue(q.outputSingle(TEST).sub(expected).amaxNumber().doubleValue() < 0.05);
    }

    @Test
    void savedAndRestoredModelsGiveBitIdenticalOutputs(@TempDir Path dir) throws Exception {
        PreparedModel p = preparedMlp(TestModels.mlp()).calibrate(CALIB);
        for (ComputationGraph q : new ComputationGraph[] {Quantizer.convertToReference(p), Quantizer.convert(p)}) {
            File f = dir.resolve("q.zip").toFile();
            ModelSerializer.writeModel(q, f, false);
            ComputationGraph restored = ModelSerializer.restoreComputationGraph(f, false);
            assertEquals(q.outputSingle(TEST), restored.outputSingle(TEST));
            Files.delete(f.toPath());
        }
    }

    @Test
    void convertedModelsAreInferenceOnly() {
        PreparedModel p = preparedMlp(TestModels.mlp()).calibrate(CALIB);
        ComputationGraph ref = Quantizer.convertToReference(p);
        INDArray labels = Nd4j.zeros(64, 5);
        labels.getColumn(0).assign(1);
        DataSet ds = new DataSet(TEST, labels);
        Exception e = assertThrows(UnsupportedOperationException.class, () -> ref.fit(ds));
        assertTrue(e.getMessage().contains("inference only") && e.getMessage().contains("'out'"), e.getMessage());
    }

    @Test
    void dl4jEvaluateWorksOnConvertedModels() {
        PreparedModel p = preparedMlp(TestModels.mlp()).calibrate(CALIB);
        INDArray labels = TestModels.mlp().outputSingle(TEST);   // fp32 predictions as labels
        DataSetIterator it = new ListDataSetIterator<>(new DataSet(TEST, labels).asList(), 16);
        for (ComputationGraph q : new ComputationGraph[] {Quantizer.convertToReference(p), Quantizer.convert(p)}) {
            double agreement = q.outputSingle(TEST).argMax(1).eq(labels.argMax(1)).castTo(DataType.INT)
                    .sumNumber().doubleValue() / TEST.size(0);
            assertEquals(agreement, q.evaluate(it).accuracy(), 1e-12);
        }
    }

    @Test
    void strictModeThrowsInsteadOfSkipping() {
        ComputationGraph g = TestModels.withPReLU();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Quantizer.prepare(g,
                QConfigs.getDefaultQConfigMapping("onednn"), BackendConfigs.getOnednnBackendConfig(),
                PrepareCustomConfig.defaults().withStrict(true)));
        assertTrue(e.getMessage().contains("'prelu'") && e.getMessage().contains("no matching pattern"),
                e.getMessage());
    }

    @Test
    void badInputsGiveClearMessagesAndLeaveTheModelUntouched() {
        ComputationGraph g = TestModels.mlp();
        INDArray before = g.params().dup();
        PreparedModel p = preparedMlp(g);

        IllegalStateException notCalibrated = assertThrows(IllegalStateException.class,
                () -> Quantizer.convertToReference(p));
        assertTrue(notCalibrated.getMessage().contains("calibrate"), notCalibrated.getMessage());

        IllegalArgumentException noData = assertThrows(IllegalArgumentException.class, () -> p.calibrate());
        assertTrue(noData.getMessage().contains("empty"), noData.getMessage());

        IllegalArgumentException wrongSize = assertThrows(IllegalArgumentException.class,
                () -> p.calibrate(TestModels.randomBatch(4, 8, 11)));
        assertTrue(wrongSize.getMessage().contains("nIn=12") && wrongSize.getMessage().contains("'d1'"),
                wrongSize.getMessage());

        INDArray nan = TestModels.randomBatch(5, 8, 12);
        nan.putScalar(3, 4, Float.NaN);
        IllegalArgumentException nanError = assertThrows(IllegalArgumentException.class, () -> p.calibrate(nan));
        assertTrue(nanError.getMessage().contains("NaN"), nanError.getMessage());

        IllegalArgumentException unknownName = assertThrows(IllegalArgumentException.class,
                () -> Quantizer.prepare(g, new QConfigMapping().setGlobal(QConfigs.getDefaultQConfig("x86"))
                        .setModuleName("dense_9", null), BackendConfigs.getX86BackendConfig()));
        assertTrue(unknownName.getMessage().contains("dense_9") && unknownName.getMessage().contains("d1"),
                unknownName.getMessage());

        IllegalArgumentException nothing = assertThrows(IllegalArgumentException.class,
                () -> Quantizer.prepare(g, new QConfigMapping().setObjectType(DenseLayer.class, null),
                        BackendConfigs.getX86BackendConfig()));
        assertTrue(nothing.getMessage().contains("Nothing to quantize"), nothing.getMessage());

        IllegalArgumentException noModel = assertThrows(IllegalArgumentException.class, () -> Quantizer.prepare(
                (ComputationGraph) null, QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig()));
        assertTrue(noModel.getMessage().contains("init()"), noModel.getMessage());

        assertEquals(before, g.params());
    }

    @Test
    void dynamicQuantizationNeedsNoCalibration() {
        ComputationGraph g = TestModels.mlp();
        ComputationGraph q = Quantizer.quantizeDynamic(g);
        INDArray expected = g.outputSingle(TEST);
        assertTrue(q.outputSingle(TEST).sub(expected).amaxNumber().doubleValue() < 0.05);
    }

    @Test
    void calibrationStreamsAnIteratorAndTellsTheListener() {
        List<CalibrationListener.Progress> seen = new ArrayList<>();
        INDArray labels = Nd4j.zeros(256, 5);
        DataSetIterator it = new ListDataSetIterator<>(new DataSet(CALIB, labels).asList(), 64);
        QConfigMapping minMax = new QConfigMapping().setGlobal(new QConfig(MinMaxObserver.builder(),
                QConfigs.getDefaultQConfig("onednn").weight()));
        PreparedModel p = Quantizer.prepare(TestModels.mlp(), minMax, BackendConfigs.getOnednnBackendConfig())
                .setCalibrationListener(seen::add).calibrate(it);
        assertEquals(4, seen.size());
        assertEquals(256, seen.get(3).examples());
        assertEquals(4, p.report().calibration().batches());
        PreparedModel direct = Quantizer.prepare(TestModels.mlp(), minMax, BackendConfigs.getOnednnBackendConfig())
                .calibrate(CALIB);
        assertEquals(direct.report().entry("d1").inputQParams(), p.report().entry("d1").inputQParams(),
                "min/max statistics do not depend on how the data is batched");
    }

    @Test
    void outputsOfVerticesFollowedByAnInPlaceActivationAreObservedBeforeIt() {
        // A backend without the (DenseLayer, ActivationLayer) fusion observes d2's own output, which can be negative;
        // DL4J's feedForward hands back that array after the ReLU in "act" has overwritten it in place.
        BackendConfig denseOnly = new BackendConfig("dense_only").setBackendPatternConfig(
                new BackendPatternConfig(DenseLayer.class)
                        .addDtypeConfig(new DTypeConfig(QuantDType.QUINT8, QuantDType.QUINT8, QuantDType.QINT8,
                                QuantDType.FLOAT32))
                        .setRootModule(DenseLayer.class)
                        .setReferenceQuantizedModule(ReferenceQuantizedDense.class));
        QConfigMapping minMax = new QConfigMapping().setGlobal(new QConfig(MinMaxObserver.builder(),
                QConfigs.getDefaultQConfig("onednn").weight()));
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = Quantizer.prepare(g, minMax, denseOnly).calibrate(CALIB);
        double d2Min = g.feedForward(new INDArray[] {CALIB}, 1, false).get("d2").minNumber().doubleValue();
        assertTrue(d2Min < 0, "d2 is an identity dense layer: its outputs go negative");
        assertEquals(d2Min, p.observers().get("d2").minVal()[0], 1e-6);
        assertTrue(p.report().entry("d2").outputQParams().zeroPoint() > 0, p.report().toString());
    }

    @Test
    void noPatternReasonIsNullForQuantizedEntries() {
        PreparedModel p = preparedMlp(TestModels.mlp()).calibrate(CALIB);
        assertNull(p.report().entry("d1").reason());
    }
}
