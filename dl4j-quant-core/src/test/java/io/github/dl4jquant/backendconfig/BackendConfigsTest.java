package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.QuantDType.FLOAT32;
import static io.github.dl4jquant.QuantDType.QINT8;
import static io.github.dl4jquant.QuantDType.QUINT8;
import static io.github.dl4jquant.backendconfig.DTypeWithConstraintsTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution1D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution2D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDepthwiseConvolution2D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbedding;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbeddingSequence;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.nn.LayerCopies;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Convolution1D;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.Convolution2D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.activations.Activation;

class BackendConfigsTest {

    /** Independent of the code under test: PyTorch's constants written out. */
    private static final double SCALE_0TO1 = 0.00390625;       // 1/256
    private static final double SCALE_NEG1TO1 = 0.0078125;     // 2/256
    private static final double TWO_POW_MINUS_12 = 0.000244140625;

    private static final DTypeConfig STATIC_INT8 = new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32);
    private static final DTypeConfig DYNAMIC_INT8 = new DTypeConfig(QUINT8, FLOAT32, QINT8, FLOAT32, true);

    private static Class<?> expectedReferenceModule(Class<?> root) {
        if (root == null) {
            return null;
        }
        if (root == DepthwiseConvolution2D.class) {
            return ReferenceQuantizedDepthwiseConvolution2D.class;
        }
        if (root == EmbeddingLayer.class) {
            return ReferenceQuantizedEmbedding.class;
        }
        if (java.util.List.of(org.deeplearning4j.nn.conf.layers.LSTM.class,
                org.deeplearning4j.nn.conf.layers.GravesLSTM.class,
                org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn.class,
                org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional.class,
                org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep.class).contains(root)) {
            return root;   // recurrent patterns name the float layer itself as their reference module
        }
        if (root == EmbeddingSequenceLayer.class) {
            return ReferenceQuantizedEmbeddingSequence.class;
        }
        if (Convolution1DLayer.class.isAssignableFrom(root)) {
            return ReferenceQuantizedConvolution1D.class;
        }
        return ConvolutionLayer.class.isAssignableFrom(root) ? ReferenceQuantizedConvolution2D.class
                : ReferenceQuantizedDense.class;
    }

    private static DenseLayer dense(Activation act) {
        return new DenseLayer.Builder().nIn(3).nOut(2).activation(act).build();
    }

    private static OutputLayer output(Activation act) {
        return new OutputLayer.Builder().nIn(2).nOut(2).activation(act).build();
    }

    private static ActivationLayer act(Activation act) {
        return new ActivationLayer.Builder().activation(act).build();
    }

    /** What a single-vertex matcher would pick: the most specific single-op pattern that matches. */
    private static Optional<BackendPatternConfig> configFor(BackendConfig backend, Object conf) {
        return backend.getConfigs().stream().filter(c -> c.getPattern().size() == 1)
                .filter(c -> c.getPattern().matches(List.of(conf)))
                .sorted(Comparator.comparing(BackendPatternConfig::getPattern, Pattern.MOST_SPECIFIC_FIRST))
                .findFirst();
    }

    private static BackendPatternConfig config(BackendConfig backend, Pattern pattern) {
        return backend.getConfig(pattern).orElseThrow(() -> new AssertionError(backend.getName() + " lacks "
                + pattern));
    }

    @ParameterizedTest
    @ValueSource(strings = {"native", "fbgemm", "x86", "qnnpack", "onednn"})
    void everyPredefinedConfigRoundTripsThroughDictAndJson(String name) {
        BackendConfig b = BackendConfigs.get(name);
        assertEquals(name, b.getName());
        assertEquals(b, BackendConfig.fromDict(b.toDict()));
        String json = b.toJson();
        BackendConfig back = BackendConfig.fromJson(json);
        assertEquals(b, back);
        assertEquals(b.hashCode(), back.hashCode());
        assertEquals(json, back.toJson(), "JSON is stable");
        assertTrue(json.startsWith("{\n  \"name\": \"" + name + "\",\n  \"configs\": [\n"), json.substring(0, 60));
    }

    @ParameterizedTest
    @ValueSource(strings = {"native", "fbgemm", "x86", "qnnpack", "onednn"})
    void commonDl4jPatternsArePresentWithPyTorchObservationTypes(String name) {
        BackendConfig b = BackendConfigs.get(name);
        Set<String> patterns = b.getConfigs().stream().map(c -> c.getPattern().toString())
                .collect(Collectors.toSet());
        for (String p : List.of("DenseLayer", "DenseLayer[RELU]", "(DenseLayer[IDENTITY], ActivationLayer[RELU])",
                "OutputLayer", "ActivationLayer[RELU]", "ActivationLayer[RELU6]", "ActivationLayer[HARDTANH]",
                "ActivationLayer[IDENTITY]", "DenseLayer[SIGMOID]", "DenseLayer[HARDSIGMOID]", "DenseLayer[SOFTMAX]",
                "DenseLayer[TANH]", "OutputLayer[SIGMOID]", "OutputLayer[SOFTMAX]", "OutputLayer[TANH]",
                "ActivationLayer[SIGMOID]", "ActivationLayer[SOFTMAX]", "ActivationLayer[TANH]", "MergeVertex",
                "ElementWiseVertex", "(ElementWiseVertex, ActivationLayer[RELU])")) {
            assertTrue(patterns.contains(p), name + " lacks " + p);
        }
        assertEquals(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT,
                config(b, Pattern.of(ActivationLayer.class, Activation.RELU)).getObservationType());
        assertEquals(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT,
                config(b, Pattern.of(MergeVertex.class)).getObservationType());
        assertEquals(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT,
                config(b, Pattern.of(ElementWiseVertex.class)).getObservationType());
        assertEquals(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT,
                config(b, Pattern.of(DenseLayer.class)).getObservationType());
        assertEquals(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT,
                config(b, Pattern.of(ActivationLayer.class, Activation.SIGMOID)).getObservationType());
    }

    @ParameterizedTest
    @ValueSource(strings = {"native", "fbgemm", "x86", "qnnpack", "onednn"})
    void weightedPatternsHaveRootAndReferenceModules(String name) {
        BackendConfig b = BackendConfigs.get(name);
        assertEquals(DenseLayer.class, config(b, Pattern.of(DenseLayer.class)).getRootModule());
        assertEquals(DenseLayer.class, config(b, Pattern.of(DenseLayer.class, Activation.RELU)).getRootModule());
        assertEquals(DenseLayer.class, config(b, Pattern.of(DenseLayer.class, Activation.TANH)).getRootModule());
        assertEquals(OutputLayer.class, config(b, Pattern.of(OutputLayer.class)).getRootModule());
        assertEquals(OutputLayer.class, config(b, Pattern.of(OutputLayer.class, Activation.SOFTMAX)).getRootModule());
        assertNull(config(b, Pattern.of(MergeVertex.class)).getRootModule());
        assertEquals(ConvolutionLayer.class, config(b, Pattern.of(ConvolutionLayer.class)).getRootModule());
        for (BackendPatternConfig c : b.getConfigs()) {
            assertEquals(expectedReferenceModule(c.getRootModule()), c.getReferenceQuantizedModule(), c.toString());
            assertNull(c.getQatModule(), c.toString());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"native", "fbgemm", "x86", "qnnpack", "onednn"})
    void embeddingsAreWeightOnlyQuint8AndQuint4x2(String name) {
        BackendConfig b = BackendConfigs.get(name);
        List<DTypeConfig> weightOnly = List.of(new DTypeConfig(FLOAT32, FLOAT32, QUINT8, null),
                new DTypeConfig(FLOAT32, FLOAT32, QuantDType.QUINT4X2, null));
        for (Class<?> embedding : List.of(EmbeddingLayer.class, EmbeddingSequenceLayer.class)) {
            BackendPatternConfig c = config(b, Pattern.of(embedding));
            assertEquals(weightOnly, c.getDtypeConfigs(), name + " " + embedding.getSimpleName());
            assertEquals(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT, c.getObservationType());
            assertEquals(embedding, c.getRootModule());
        }
        assertEquals(List.of(DTypeConfigs.WEIGHT_ONLY_QUINT8, DTypeConfigs.WEIGHT_ONLY_QUINT4X2), weightOnly);
        String json = config(b, Pattern.of(EmbeddingLayer.class)).toJson();
        assertTrue(json.contains("\"weight_dtype\": \"torch.quint4x2\""), json);
        assertEquals(config(b, Pattern.of(EmbeddingLayer.class)), BackendPatternConfig.fromJson(json));
    }

    @Test
    void nativeDenseHasStaticAndDynamicInt8() {
        BackendConfig b = BackendConfigs.getNativeBackendConfig();
        assertEquals(List.of(STATIC_INT8, DYNAMIC_INT8), config(b, Pattern.of(DenseLayer.class)).getDtypeConfigs());
        assertEquals(List.of(STATIC_INT8, DYNAMIC_INT8),
                config(b, Pattern.of(DenseLayer.class, Activation.RELU)).getDtypeConfigs());
        assertEquals(List.of(STATIC_INT8, DYNAMIC_INT8), config(b, Pattern.of(OutputLayer.class)).getDtypeConfigs());
        assertEquals(List.of(new DTypeConfig(QUINT8, QUINT8, null, null)),
                config(b, Pattern.of(MergeVertex.class)).getDtypeConfigs());
        assertEquals(List.of(new DTypeConfig(QUINT8, QUINT8, null, null)),
                config(b, Pattern.of(ElementWiseVertex.class)).getDtypeConfigs());
    }

    @Test
    void fusionConfigFusesWithTheRegisteredFuserIntoADenseLayer() {
        BackendPatternConfig fusion = config(BackendConfigs.getX86BackendConfig(), Pattern.sequence(
                PatternElement.of(DenseLayer.class, Activation.IDENTITY),
                PatternElement.of(ActivationLayer.class, Activation.RELU)));
        assertEquals("fuse_dense_activation", fusion.getFuserMethod().name());
        assertEquals(DenseLayer.class, fusion.getFusedModule());
    }

    @ParameterizedTest
    @ValueSource(strings = {"native", "fbgemm", "x86", "qnnpack", "onednn"})
    void everyFusionProducesALayerTheSameBackendQuantizes(String name) {
        BackendConfig b = BackendConfigs.get(name);
        int fusions = 0;
        for (BackendPatternConfig c : b.getConfigs()) {
            if (c.getFuserMethod() == null) {
                continue;
            }
            fusions++;
            List<LayerWithParams> matched = c.getPattern().elements().stream().map(BackendConfigsTest::sample)
                    .toList();
            assertTrue(c.getPattern().matches(matched.stream().map(LayerWithParams::layer).toList()), c.toString());
            LayerWithParams fused = c.getFuserMethod().fuse(false, matched);
            assertEquals(c.getFusedModule(), fused.layer().getClass());
            BackendPatternConfig target = configFor(b, fused.layer()).orElseThrow();
            assertEquals(c.getFusedModule(), target.getRootModule(), target.toString());
            assertNotNull(target.getReferenceQuantizedModule(), target.toString());
            assertNotNull(fused.params().get("W"), "the fused layer keeps a weight");
        }
        int convolutionFusions = 3 * FuserMethods.CONVOLUTIONS.size();
        assertEquals(convolutionFusions + (name.equals("onednn") ? 5 : 3), fusions);
    }

    /** A small layer of the element's class and activation, with parameters when it has any. */
    private static LayerWithParams sample(PatternElement e) {
        Activation act = e.activation() == null ? Activation.IDENTITY : e.activation();
        Class<?> type = e.type();
        if (type == ActivationLayer.class) {
            return LayerWithParams.of(act(act));
        }
        if (type == BatchNormalization.class) {
            BatchNormalization bn = new BatchNormalization.Builder().nOut(2).build();
            return new LayerWithParams(bn, Map.of("gamma", Nd4j.ones(DataType.FLOAT, 1, 2), "beta",
                    Nd4j.zeros(DataType.FLOAT, 1, 2), "mean", Nd4j.zeros(DataType.FLOAT, 1, 2), "log10stdev",
                    Nd4j.zeros(DataType.FLOAT, 1, 2)));
        }
        if (type == DenseLayer.class) {
            return new LayerWithParams(dense(act), Map.of("W", Nd4j.rand(DataType.FLOAT, 3, 2), "b",
                    Nd4j.zeros(DataType.FLOAT, 1, 2)));
        }
        Layer conv;
        INDArray w;
        if (type == DepthwiseConvolution2D.class) {
            conv = new DepthwiseConvolution2D.Builder(3, 3).nIn(2).depthMultiplier(1).activation(act).build();
            w = Nd4j.rand(DataType.FLOAT, 3, 3, 2, 1);
        } else if (Convolution1DLayer.class.isAssignableFrom(type)) {
            conv = new Convolution1DLayer.Builder().kernelSize(3).nIn(2).nOut(2).activation(act).build();
            conv = type == Convolution1D.class ? LayerCopies.asSubclass(conv, Convolution1D.class) : conv;
            w = Nd4j.rand(DataType.FLOAT, 2, 2, 3, 1);
        } else {
            conv = new ConvolutionLayer.Builder(3, 3).nIn(2).nOut(2).activation(act).build();
            // Convolution2D and Convolution1D are DL4J's old names, without builders of their own
            conv = type == Convolution2D.class ? LayerCopies.asSubclass(conv, Convolution2D.class) : conv;
            w = Nd4j.rand(DataType.FLOAT, 2, 2, 3, 3);
        }
        return new LayerWithParams(conv, Map.of("W", w, "b", Nd4j.zeros(DataType.FLOAT, 1, 2)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"native", "fbgemm", "x86", "onednn"})
    void fixedQParamsPinQuint8OutputsToPyTorchConstants(String name) {
        BackendConfig b = BackendConfigs.get(name);
        for (Activation a : List.of(Activation.SIGMOID, Activation.HARDSIGMOID, Activation.SOFTMAX, Activation.TANH)) {
            double scale = a == Activation.TANH ? SCALE_NEG1TO1 : SCALE_0TO1;
            int zeroPoint = a == Activation.TANH ? 128 : 0;
            for (Class<?> layer : List.of(DenseLayer.class, OutputLayer.class, ActivationLayer.class)) {
                List<DTypeConfig> dtypes = config(b, Pattern.of(layer, a)).getDtypeConfigs();
                DTypeConfig first = dtypes.get(0);
                DTypeWithConstraints out = first.getOutputDtypeWithConstraints();
                assertEquals(QUINT8, out.getDtype());
                assertEquals(scale, out.getScaleExactMatch(), layer.getSimpleName() + "[" + a + "]");
                assertEquals(zeroPoint, out.getZeroPointExactMatch());
                assertEquals(0, out.getQuantMinLowerBound());
                assertEquals(255, out.getQuantMaxUpperBound());
                assertEquals(DTypeWithConstraints.of(QUINT8), first.getInputDtypeWithConstraints(),
                        "the input is whatever the previous op produced");
                if (layer != ActivationLayer.class) {
                    assertEquals(QINT8, first.getWeightDtype());
                    assertEquals(DYNAMIC_INT8, dtypes.get(1), "dynamic output is float: nothing to pin");
                }
            }
        }
    }

    @Test
    void qnnpackListsTheSymmetricQint8VariantFirstAndLeavesItUnpinned() {
        BackendConfig b = BackendConfigs.getQnnpackBackendConfig();
        List<DTypeConfig> dense = config(b, Pattern.of(DenseLayer.class)).getDtypeConfigs();
        assertEquals(3, dense.size());
        DTypeConfig sym = dense.get(0);
        assertEquals(QINT8, sym.getInputDtype());
        assertEquals(TWO_POW_MINUS_12, sym.getInputDtypeWithConstraints().getScaleMinLowerBound());
        assertEquals(TWO_POW_MINUS_12, sym.getOutputDtypeWithConstraints().getScaleMinLowerBound());
        assertEquals(-127, sym.getWeightDtypeWithConstraints().getQuantMinLowerBound());
        assertEquals(127, sym.getWeightDtypeWithConstraints().getQuantMaxUpperBound());
        assertEquals(TWO_POW_MINUS_12, sym.getWeightDtypeWithConstraints().getScaleMinLowerBound());
        assertEquals(FLOAT32, sym.getBiasDtype());
        assertEquals(STATIC_INT8, dense.get(1));
        assertEquals(DYNAMIC_INT8, dense.get(2));
        List<DTypeConfig> sigmoid = config(b, Pattern.of(ActivationLayer.class, Activation.SIGMOID)).getDtypeConfigs();
        assertFalse(sigmoid.get(0).getOutputDtypeWithConstraints().isFixedQParams(), "qint8 is not pinned");
        assertEquals(SCALE_0TO1, sigmoid.get(1).getOutputDtypeWithConstraints().getScaleExactMatch());
        assertEquals(QINT8, config(b, Pattern.of(MergeVertex.class)).getDtypeConfigs().get(0).getInputDtype());
    }

    @Test
    void x86UsesTheWeightedConfigForElementWiseAndFixedQParamsOps() {
        BackendConfig x86 = BackendConfigs.getX86BackendConfig();
        assertEquals(List.of(STATIC_INT8), config(x86, Pattern.of(ElementWiseVertex.class)).getDtypeConfigs());
        assertEquals(QINT8, config(x86, Pattern.of(ActivationLayer.class, Activation.TANH)).getDtypeConfigs().get(0)
                .getWeightDtype());
        assertNull(config(BackendConfigs.getNativeBackendConfig(), Pattern.of(ActivationLayer.class,
                Activation.TANH)).getDtypeConfigs().get(0).getWeightDtype());
    }

    @Test
    void onednnAddsLeakyReluAndTanhFusions() {
        BackendConfig onednn = BackendConfigs.getOnednnBackendConfig();
        for (Activation a : List.of(Activation.LEAKYRELU, Activation.TANH)) {
            Pattern fusion = Pattern.sequence(PatternElement.of(DenseLayer.class, Activation.IDENTITY),
                    PatternElement.of(ActivationLayer.class, a));
            assertEquals("fuse_dense_activation", config(onednn, fusion).getFuserMethod().name());
            assertFalse(BackendConfigs.getNativeBackendConfig().getConfig(fusion).isPresent());
        }
        assertEquals(List.of(STATIC_INT8, DYNAMIC_INT8),
                config(onednn, Pattern.of(DenseLayer.class, Activation.LEAKYRELU)).getDtypeConfigs());
    }

    @Test
    void fbgemmEqualsNativeButForItsName() {
        BackendConfig fbgemm = BackendConfigs.getFbgemmBackendConfig();
        assertNotEquals(BackendConfigs.getNativeBackendConfig(), fbgemm);
        assertEquals(BackendConfigs.getNativeBackendConfig(), fbgemm.setName("native"));
    }

    @Test
    void realDl4jLayersFindTheMostSpecificConfig() {
        BackendConfig b = BackendConfigs.getX86BackendConfig();
        assertEquals(Pattern.of(DenseLayer.class, Activation.RELU), configFor(b, dense(Activation.RELU))
                .orElseThrow().getPattern());
        assertEquals(Pattern.of(DenseLayer.class), configFor(b, dense(Activation.ELU)).orElseThrow().getPattern());
        assertEquals(SCALE_0TO1, configFor(b, dense(Activation.SIGMOID)).orElseThrow().getDtypeConfigs().get(0)
                .getOutputDtypeWithConstraints().getScaleExactMatch());
        assertEquals(SCALE_0TO1, configFor(b, output(Activation.SOFTMAX)).orElseThrow().getDtypeConfigs().get(0)
                .getOutputDtypeWithConstraints().getScaleExactMatch());
        assertEquals(128, configFor(b, output(Activation.TANH)).orElseThrow().getDtypeConfigs().get(0)
                .getOutputDtypeWithConstraints().getZeroPointExactMatch());
        assertEquals(Pattern.of(OutputLayer.class), configFor(b, output(Activation.IDENTITY)).orElseThrow()
                .getPattern());
        assertEquals(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT, configFor(b, act(Activation.RELU))
                .orElseThrow().getObservationType());
        assertFalse(configFor(b, act(Activation.ELU)).isPresent(), "no ELU config: stays fp32");
        assertEquals(Pattern.of(MergeVertex.class), configFor(b, new MergeVertex()).orElseThrow().getPattern());
        assertEquals(Pattern.of(ElementWiseVertex.class),
                configFor(b, new ElementWiseVertex(ElementWiseVertex.Op.Add)).orElseThrow().getPattern());
    }

    @Test
    void eachCallReturnsAnIndependentConfig() {
        BackendConfig first = BackendConfigs.getX86BackendConfig();
        int size = first.getConfigs().size();
        first.setBackendPatternConfig(new BackendPatternConfig(Pattern.of(ActivationLayer.class, Activation.ELU)));
        assertEquals(size, BackendConfigs.getX86BackendConfig().getConfigs().size());
        assertEquals(size + 1, first.getConfigs().size());
    }

    @Test
    void getByNameAndUnknownNames() {
        assertEquals(BackendConfigs.getQnnpackBackendConfig(), BackendConfigs.get("qnnpack"));
        assertEquals(List.of("native", "fbgemm", "x86", "qnnpack", "onednn"), BackendConfigs.NAMES);
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendConfigs.get("tensorrt")),
                "backend", "'tensorrt'", "x86", "onednn");
        List<BackendConfig> all = new ArrayList<>();
        BackendConfigs.NAMES.forEach(n -> all.add(BackendConfigs.get(n)));
        assertEquals(5, all.stream().map(BackendConfig::getName).distinct().count());
    }
}
