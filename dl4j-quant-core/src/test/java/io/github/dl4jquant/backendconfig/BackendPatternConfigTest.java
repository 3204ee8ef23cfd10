package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.QuantDType.FLOAT32;
import static io.github.dl4jquant.QuantDType.QINT8;
import static io.github.dl4jquant.QuantDType.QUINT8;
import static io.github.dl4jquant.backendconfig.DTypeWithConstraintsTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;

class BackendPatternConfigTest {

    private static BackendPatternConfig seed() {
        return new BackendPatternConfig(DenseLayer.class)
                .setObservationType(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT)
                .addDtypeConfig(new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32))
                .setRootModule(DenseLayer.class)
                .setReferenceQuantizedModule(ReferenceQuantizedDense.class);
    }

    private static Pattern denseRelu() {
        return Pattern.sequence(PatternElement.of(DenseLayer.class, Activation.IDENTITY),
                PatternElement.of(ActivationLayer.class, Activation.RELU));
    }

    @Test
    void seedExampleReadsBackWhatItSays() {
        BackendPatternConfig c = seed();
        assertEquals(Pattern.of(DenseLayer.class), c.getPattern());
        assertEquals(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT, c.getObservationType());
        assertEquals(List.of(DTypeConfigs.WEIGHTED_OP_QUINT8), c.getDtypeConfigs());
        assertEquals(DenseLayer.class, c.getRootModule());
        assertNull(c.getQatModule());
        assertEquals(ReferenceQuantizedDense.class, c.getReferenceQuantizedModule());
        assertNull(c.getFusedModule());
        assertNull(c.getFuserMethod());
    }

    @Test
    void seedExampleJsonIsTheDocumentedFormat() {
        String expected = """
                {
                  "pattern": "org.deeplearning4j.nn.conf.layers.DenseLayer",
                  "observation_type": "OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT",
                  "dtype_configs": [
                    {
                      "input_dtype": "torch.quint8",
                      "output_dtype": "torch.quint8",
                      "weight_dtype": "torch.qint8",
                      "bias_dtype": "torch.float32"
                    }
                  ],
                  "root_module": "org.deeplearning4j.nn.conf.layers.DenseLayer",
                  "reference_quantized_module_for_root": "io.github.dl4jquant.nn.reference.ReferenceQuantizedDense"
                }""";
        assertEquals(expected, seed().toJson());
        assertEquals(seed(), BackendPatternConfig.fromJson(expected));
    }

    @Test
    void defaultsMatchPyTorch() {
        BackendPatternConfig c = new BackendPatternConfig();
        assertNull(c.getPattern());
        assertEquals(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT, c.getObservationType());
        assertTrue(c.getDtypeConfigs().isEmpty());
    }

    @Test
    void everySetterIsFluentAndReadBack() {
        BackendPatternConfig c = new BackendPatternConfig();
        assertSame(c, c.setPattern(denseRelu()));
        assertSame(c, c.setObservationType(ObservationType.INPUT_OUTPUT_NOT_OBSERVED));
        assertSame(c, c.addDtypeConfig(DTypeConfigs.WEIGHTED_OP_QUINT8));
        assertSame(c, c.addDtypeConfig(DTypeConfigs.DEFAULT_DYNAMIC_INT8));
        assertSame(c, c.setRootModule(DenseLayer.class));
        assertSame(c, c.setQatModule(OutputLayer.class));
        assertSame(c, c.setReferenceQuantizedModule(ActivationLayer.class));
        assertSame(c, c.setFusedModule(DenseLayer.class));
        assertSame(c, c.setFuserMethod(FuserMethods.FUSE_DENSE_ACTIVATION));
        assertEquals(denseRelu(), c.getPattern());
        assertEquals(ObservationType.INPUT_OUTPUT_NOT_OBSERVED, c.getObservationType());
        assertEquals(List.of(DTypeConfigs.WEIGHTED_OP_QUINT8, DTypeConfigs.DEFAULT_DYNAMIC_INT8),
                c.getDtypeConfigs());
        assertEquals(DenseLayer.class, c.getRootModule());
        assertEquals(OutputLayer.class, c.getQatModule());
        assertEquals(ActivationLayer.class, c.getReferenceQuantizedModule());
        assertEquals(DenseLayer.class, c.getFusedModule());
        assertSame(FuserMethods.get("fuse_dense_activation"), c.getFuserMethod());
        assertSame(c, c.setDtypeConfigs(List.of(DTypeConfigs.DEFAULT_OP_QUINT8)));
        assertEquals(List.of(DTypeConfigs.DEFAULT_OP_QUINT8), c.getDtypeConfigs(), "setDtypeConfigs replaces");
        assertSame(c, c.setFuserMethod((FuserMethod) null).setRootModule(null).setQatModule(null)
                .setReferenceQuantizedModule(null).setFusedModule(null));
        assertNull(c.getFuserMethod());
        assertNull(c.getRootModule());
        assertNull(c.getFusedModule());
    }

    @Test
    void getDtypeConfigsIsASnapshot() {
        BackendPatternConfig c = seed();
        List<DTypeConfig> got = c.getDtypeConfigs();
        assertThrows(UnsupportedOperationException.class, () -> got.add(DTypeConfigs.DEFAULT_OP_QUINT8));
        c.addDtypeConfig(DTypeConfigs.DEFAULT_DYNAMIC_INT8);
        assertEquals(1, got.size());
    }

    @Test
    void setPatternComplexFormatNormalisesToForwardOrder() {
        BackendPatternConfig c = new BackendPatternConfig().setPatternComplexFormat(List.of(
                PatternElement.of(ActivationLayer.class, Activation.RELU),
                PatternElement.of(DenseLayer.class, Activation.IDENTITY)));
        assertEquals(denseRelu(), c.getPattern());
        assertEquals(DenseLayer.class, c.getPattern().elements().get(0).type());
    }

    @Test
    void fromDictAcceptsPatternComplexFormat() {
        Map<String, Object> d = new HashMap<>();
        d.put("pattern_complex_format", List.of(
                Map.of("type", ActivationLayer.class.getName(), "activation", "RELU"),
                Map.of("type", DenseLayer.class.getName(), "activation", "IDENTITY")));
        d.put("fuser_method", "fuse_dense_activation");
        d.put("fused_module", DenseLayer.class.getName());
        BackendPatternConfig c = BackendPatternConfig.fromDict(d);
        assertEquals(denseRelu(), c.getPattern());
        assertEquals(DenseLayer.class, c.getFusedModule());
        assertEquals(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT, c.getObservationType());
        assertEquals(List.of(denseRelu().elements().get(0).toDictValue(), denseRelu().elements().get(1).toDictValue()),
                c.toDict().get("pattern"));
    }

    @Test
    void toDictHasPyTorchKeysInOrderAndOmitsNulls() {
        BackendPatternConfig c = new BackendPatternConfig(denseRelu())
                .addDtypeConfig(DTypeConfigs.WEIGHTED_OP_QUINT8)
                .setReferenceQuantizedModule(DenseLayer.class)
                .setFuserMethod(FuserMethods.FUSE_DENSE_ACTIVATION);
        assertEquals(List.of("pattern", "observation_type", "dtype_configs", "reference_quantized_module_for_root",
                "fuser_method"), new ArrayList<>(c.toDict().keySet()));
        Map<String, Object> relu = new LinkedHashMap<>();
        relu.put("type", "org.deeplearning4j.nn.conf.layers.ActivationLayer");
        relu.put("activation", "RELU");
        assertEquals(relu, ((List<?>) c.toDict().get("pattern")).get(1));
        assertEquals("fuse_dense_activation", c.toDict().get("fuser_method"));
        assertEquals(List.of("pattern", "observation_type", "dtype_configs"),
                new ArrayList<>(new BackendPatternConfig(MergeVertex.class).toDict().keySet()));
    }

    @Test
    void dictAndJsonRoundTripWithEveryField() {
        BackendPatternConfig c = new BackendPatternConfig(denseRelu())
                .setObservationType(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT)
                .setDtypeConfigs(List.of(DTypeConfigs.QNNPACK_WEIGHTED_OP_QINT8_SYMMETRIC,
                        DTypeConfigs.DEFAULT_DYNAMIC_INT8))
                .setRootModule(DenseLayer.class).setQatModule(DenseLayer.class)
                .setReferenceQuantizedModule(OutputLayer.class).setFusedModule(DenseLayer.class)
                .setFuserMethod(FuserMethods.FUSE_DENSE_ACTIVATION);
        assertEquals(c, BackendPatternConfig.fromDict(c.toDict()));
        assertEquals(c, BackendPatternConfig.fromJson(c.toJson()));
        assertEquals(c.hashCode(), BackendPatternConfig.fromJson(c.toJson()).hashCode());
        assertEquals(c, c.copy());
    }

    @Test
    void copyIsIndependent() {
        BackendPatternConfig c = seed();
        BackendPatternConfig copy = c.copy();
        copy.addDtypeConfig(DTypeConfigs.DEFAULT_DYNAMIC_INT8).setRootModule(OutputLayer.class);
        assertEquals(1, c.getDtypeConfigs().size());
        assertEquals(DenseLayer.class, c.getRootModule());
        assertNotEquals(c, copy);
    }

    @Test
    void toStringShowsSetFieldsBySimpleName() {
        assertEquals("BackendPatternConfig{pattern=DenseLayer, observation_type=OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT,"
                + " dtype_configs=[{input_dtype=torch.quint8, output_dtype=torch.quint8, weight_dtype=torch.qint8,"
                + " bias_dtype=torch.float32}], root_module=DenseLayer,"
                + " reference_quantized_module_for_root=ReferenceQuantizedDense}", seed().toString());
    }

    @Test
    void nullPatternAndMissingPatternAreRejected() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> new BackendPatternConfig((Pattern) null)),
                "pattern: got null", "Pattern.of(DenseLayer.class)");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> new BackendPatternConfig((Class<?>) null)), "pattern element type", "null");
        assertContains(assertThrows(IllegalStateException.class, () -> new BackendPatternConfig().toDict()),
                "no pattern set", "setPattern");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendPatternConfig.fromDict(Map.of("observation_type", "OUTPUT_SHARE_OBSERVER_WITH_INPUT"))),
                "neither of 'pattern' and 'pattern_complex_format'", "exactly one");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendPatternConfig.fromDict(Map.of("pattern", DenseLayer.class.getName(),
                        "pattern_complex_format", DenseLayer.class.getName()))),
                "both 'pattern' and 'pattern_complex_format'");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendPatternConfig.fromDict(Map.of("pattern", List.of()))), "'pattern'", "0 elements");
    }

    @Test
    void nonLayerModulesAreRejected() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> seed().setRootModule(String.class)),
                "root_module", "java.lang.String", "org.deeplearning4j.nn.conf.layers.Layer");
        assertContains(assertThrows(IllegalArgumentException.class, () -> seed().setQatModule(Integer.class)),
                "qat_module", "java.lang.Integer");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> seed().setReferenceQuantizedModule(Object.class)),
                "reference_quantized_module_for_root", "java.lang.Object");
        assertContains(assertThrows(IllegalArgumentException.class, () -> seed().setFusedModule(MergeVertex.class)),
                "fused_module", "MergeVertex", "layer configuration class");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", DenseLayer.class.getName(), "root_module", "java.util.ArrayList"))),
                "root_module", "java.util.ArrayList");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", "org.example.NoSuchLayer"))),
                "'pattern'", "org.example.NoSuchLayer", "not on the classpath");
    }

    @Test
    void nullArgumentsToSettersAreRejected() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> seed().setObservationType(null)),
                "observation_type", "OUTPUT_SHARE_OBSERVER_WITH_INPUT");
        assertContains(assertThrows(IllegalArgumentException.class, () -> seed().addDtypeConfig(null)),
                "dtype_configs", "null DTypeConfig");
        assertContains(assertThrows(IllegalArgumentException.class, () -> seed().setDtypeConfigs(null)),
                "dtype_configs: got null");
        List<DTypeConfig> withNull = new ArrayList<>();
        withNull.add(DTypeConfigs.DEFAULT_OP_QUINT8);
        withNull.add(null);
        BackendPatternConfig c = seed();
        assertThrows(IllegalArgumentException.class, () -> c.setDtypeConfigs(withNull));
        assertEquals(seed().getDtypeConfigs(), c.getDtypeConfigs(), "a failed replace leaves the old list");
    }

    @Test
    void unknownOrUnregisteredFuserMethodsAreRejected() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> seed().setFuserMethod("fuse_linear_relu")),
                "fuser_method", "fuse_linear_relu", "fuse_dense_activation");
        FuserMethod stranger = new FuserMethod() {
            @Override
            public String name() {
                return "not_registered_anywhere";
            }

            @Override
            public LayerWithParams fuse(boolean isQat, List<LayerWithParams> layers) {
                return layers.get(0);
            }
        };
        assertContains(assertThrows(IllegalArgumentException.class, () -> seed().setFuserMethod(stranger)),
                "not_registered_anywhere", "not registered", "FuserMethods.register");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", DenseLayer.class.getName(), "fuser_method", "fuse_conv_bn_tanh"))),
                "fuser_method", "fuse_conv_bn_tanh", "fuse_dense_activation");
    }

    @Test
    void fromDictRejectsUnknownKeysAndWrongTypes() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", DenseLayer.class.getName(), "reference_quantized_module", "x"))),
                "unknown key 'reference_quantized_module'", "reference_quantized_module_for_root");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", DenseLayer.class.getName(), "root_node_getter", "f"))),
                "unknown key 'root_node_getter'", "PyTorch-internal");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", DenseLayer.class.getName(), "observation_type", "SHARE"))),
                "'observation_type'", "\"SHARE\"", "OUTPUT_SHARE_OBSERVER_WITH_INPUT");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", DenseLayer.class.getName(), "dtype_configs", Map.of()))),
                "'dtype_configs'", "a list of DTypeConfig");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", DenseLayer.class.getName(), "dtype_configs", List.of("torch.quint8")))),
                "dtype_configs[0]", "String \"torch.quint8\"", "dictionary");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", Map.of("type", DenseLayer.class.getName(), "activation", "SWISHY")))),
                "'activation'", "SWISHY", "RELU");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromDict(
                Map.of("pattern", 7))), "'pattern'", "Integer 7", "class name string");
    }

    @Test
    void fromJsonReportsLineAndColumn() {
        String broken = "{\n  \"pattern\": \"org.deeplearning4j.nn.conf.layers.DenseLayer\",\n"
                + "  \"observation_type\": OUTPUT_SHARE_OBSERVER_WITH_INPUT\n}";
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendPatternConfig.fromJson(broken)),
                "Invalid BackendPatternConfig JSON at line 3, column ", "OUTPUT_SHARE_OBSERVER_WITH_INPUT");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendPatternConfig.fromJson("{\"pattern\": \"a\", \"pattern\": \"b\"}")),
                "Duplicate field 'pattern'", "line 1");
    }
}
