package io.github.dl4jquant.graph;

import io.github.dl4jquant.testing.TestModels;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.backendconfig.Pattern;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;

class PatternHandlerTest {
    private static final INDArray CALIB = TestModels.randomBatch(1, 128, 12);

    private static PreparedModel prepared(ComputationGraph g) {
        return Quantizer.prepare(g, QConfigs.getDefaultQConfigMapping("onednn"), BackendConfigs.getOnednnBackendConfig())
                .calibrate(CALIB);
    }

    @Test
    void customHandlerReceivesQParamsAndDTypeConfigAndReplacesTheBuiltIn() {
        List<PatternContext> seen = new ArrayList<>();
        ConvertCustomConfig custom = new ConvertCustomConfig().registerPatternHandler(
                Pattern.of(DenseLayer.class, Activation.RELU), ctx -> {
                    seen.add(ctx);
                    return PatternHandlers.referenceDense().convert(ctx);
                });
        ComputationGraph ref = Quantizer.convertToReference(prepared(TestModels.mlp()), custom);
        // d1 is a DenseLayer[RELU]; d2 + act fuse into one, which the same handler then converts (as PyTorch
        // converts a fused LinearReLU with the LinearReLU config)
        assertEquals(2, seen.size());
        assertEquals(List.of("d2", "act"), seen.get(1).vertices());
        assertTrue(seen.get(1).fusedLayer() instanceof DenseLayer);
        PatternContext ctx = seen.get(0);
        assertEquals("d1", ctx.rootVertex());
        assertEquals(QuantDType.QUINT8, ctx.inputQParams().dtype());
        assertEquals(QScheme.PER_CHANNEL_SYMMETRIC, ctx.weightQParams().qscheme());
        assertEquals(1, ctx.weightQParams().axis());
        assertEquals(16, ctx.weightQParams().numChannels());
        assertNotNull(ctx.outputQParams());
        assertEquals(QuantDType.QINT8, ctx.dtypeConfig().getWeightDtype());
        assertTrue(ref.getLayer("d1").conf().getLayer() instanceof ReferenceQuantizedDense);
    }

    @Test
    void handlerThatDeclinesKeepsTheLayerFp32AndSaysSo() {
        ConvertCustomConfig custom = new ConvertCustomConfig()
                .registerPatternHandler(Pattern.of(DenseLayer.class, Activation.RELU),
                        ctx -> ctx.rootVertex().equals("d1") ? null : PatternHandlers.referenceDense().convert(ctx));
        PreparedModel p = prepared(TestModels.mlp());
        ComputationGraph ref = Quantizer.convertToReference(p, custom);
        assertTrue(ref.getLayer("d1").conf().getLayer() instanceof DenseLayer);
        assertEquals(SkipReason.DECLINED_BY_HANDLER, p.report().entry("d1").reason());
        assertEquals(ReportEntry.Status.QUANTIZED, p.report().entry("d2").status());
    }

    @Test
    void referenceModuleWithoutHandlerIsAClearError() {
        BackendConfig backend = new BackendConfig("custom").setBackendPatternConfig(
                new BackendPatternConfig(DenseLayer.class)
                        .addDtypeConfig(new DTypeConfig(QuantDType.QUINT8, QuantDType.QUINT8, QuantDType.QINT8,
                                QuantDType.FLOAT32))
                        .setRootModule(DenseLayer.class)
                        .setReferenceQuantizedModule(DenseLayer.class));
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = Quantizer.prepare(g, QConfigs.getDefaultQConfigMapping("onednn"), backend).calibrate(CALIB);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Quantizer.convertToReference(p));
        assertTrue(e.getMessage().contains("registerPatternHandler") && e.getMessage().contains("DenseLayer"),
                e.getMessage());
    }
}
