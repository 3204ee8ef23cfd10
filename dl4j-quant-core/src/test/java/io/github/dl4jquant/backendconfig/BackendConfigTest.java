package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.backendconfig.DTypeWithConstraintsTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;

class BackendConfigTest {

    private static BackendPatternConfig dense() {
        return new BackendPatternConfig(DenseLayer.class).addDtypeConfig(DTypeConfigs.WEIGHTED_OP_QUINT8)
                .setRootModule(DenseLayer.class);
    }

    @Test
    void nameAndSettersAreFluent() {
        BackendConfig b = new BackendConfig();
        assertEquals("", b.getName());
        assertSame(b, b.setName("mine"));
        assertEquals("mine", b.getName());
        assertSame(b, b.setBackendPatternConfig(dense()));
        assertSame(b, b.setBackendPatternConfigs(List.of(new BackendPatternConfig(MergeVertex.class))));
        assertEquals(List.of(dense(), new BackendPatternConfig(MergeVertex.class)), b.getConfigs());
        assertEquals("x86", new BackendConfig("x86").getName());
    }

    @Test
    void samePatternReplacesInPlaceAndLastWriteWins() {
        BackendPatternConfig merge = new BackendPatternConfig(MergeVertex.class);
        BackendPatternConfig sparse = new BackendPatternConfig(DenseLayer.class)
                .addDtypeConfig(DTypeConfigs.DEFAULT_DYNAMIC_INT8);
        BackendConfig b = new BackendConfig("b").setBackendPatternConfig(dense())
                .setBackendPatternConfig(merge).setBackendPatternConfig(sparse);
        assertEquals(2, b.getConfigs().size());
        assertEquals(sparse, b.getConfigs().get(0), "replaced config keeps its original position");
        assertEquals(List.of(DTypeConfigs.DEFAULT_DYNAMIC_INT8), b.getConfigs().get(0).getDtypeConfigs());
        assertEquals(null, b.getConfigs().get(0).getRootModule());
        assertEquals(merge, b.getConfigs().get(1));
    }

    @Test
    void differentActivationConstraintsAreDifferentPatterns() {
        BackendConfig b = new BackendConfig().setBackendPatternConfig(dense())
                .setBackendPatternConfig(new BackendPatternConfig(Pattern.of(DenseLayer.class, Activation.RELU)));
        assertEquals(2, b.getConfigs().size());
    }

    @Test
    void configsAreCopiedInAndOut() {
        BackendPatternConfig mine = dense();
        BackendConfig b = new BackendConfig("b").setBackendPatternConfig(mine);
        mine.setPattern(Pattern.of(OutputLayer.class)).addDtypeConfig(DTypeConfigs.DEFAULT_DYNAMIC_INT8);
        b.getConfigs().get(0).setRootModule(OutputLayer.class);
        assertEquals(dense(), b.getConfigs().get(0));
        assertEquals(dense(), b.getConfig(Pattern.of(DenseLayer.class)).orElseThrow());
        assertFalse(b.getConfig(Pattern.of(OutputLayer.class)).isPresent());
    }

    @Test
    void toDictHasNameAndConfigs() {
        BackendConfig b = new BackendConfig("b").setBackendPatternConfig(dense());
        Map<String, Object> d = b.toDict();
        assertEquals(List.of("name", "configs"), List.copyOf(d.keySet()));
        assertEquals("b", d.get("name"));
        assertEquals(List.of(dense().toDict()), d.get("configs"));
    }

    @Test
    void dictAndJsonRoundTrip() {
        BackendConfig b = new BackendConfig("b").setBackendPatternConfig(dense())
                .setBackendPatternConfig(new BackendPatternConfig(MergeVertex.class)
                        .setObservationType(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT));
        assertEquals(b, BackendConfig.fromDict(b.toDict()));
        assertEquals(b, BackendConfig.fromJson(b.toJson()));
        assertEquals(b.hashCode(), BackendConfig.fromJson(b.toJson()).hashCode());
        assertEquals(new BackendConfig(), BackendConfig.fromDict(Map.of()), "both keys optional, as PyTorch");
    }

    @Test
    void equalityDependsOnNameAndOrder() {
        BackendPatternConfig merge = new BackendPatternConfig(MergeVertex.class);
        BackendConfig ab = new BackendConfig("x").setBackendPatternConfig(dense()).setBackendPatternConfig(merge);
        BackendConfig ba = new BackendConfig("x").setBackendPatternConfig(merge).setBackendPatternConfig(dense());
        assertNotEquals(ab, ba);
        assertNotEquals(ab, new BackendConfig("y").setBackendPatternConfig(dense()).setBackendPatternConfig(merge));
        assertEquals(ab, new BackendConfig("x").setBackendPatternConfigs(List.of(dense(), merge)));
        assertTrue(ab.toString().startsWith("BackendConfig{name='x', configs=[BackendPatternConfig{pattern=DenseLayer"));
    }

    @Test
    void badInputIsRejected() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> new BackendConfig(null)),
                "name: got null");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> new BackendConfig("b").setBackendPatternConfig(null)), "'b'", "null config");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> new BackendConfig("b").setBackendPatternConfig(new BackendPatternConfig())),
                "without a pattern", "pattern set");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> new BackendConfig("b").setBackendPatternConfigs(null)), "configs: got null");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendConfig.fromDict(Map.of("name", "b", "backend", "x86"))),
                "unknown key 'backend'", "[name, configs]");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendConfig.fromDict(Map.of("name", 86))), "'name'", "Integer 86", "a string");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendConfig.fromDict(Map.of("configs", List.of(Map.of("pattern", "java.lang.String"))))),
                "java.lang.String", "org.deeplearning4j.nn.conf.layers.Layer");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendConfig.fromDict(Map.of("configs", List.of(Map.of("patern", "x"))))),
                "BackendConfig field 'configs[0]'", "unknown key 'patern'");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendConfig.fromJson("")),
                "Invalid BackendConfig JSON", "line 1");
        assertContains(assertThrows(IllegalArgumentException.class, () -> BackendConfig.fromJson(null)),
                "BackendConfig JSON: got null");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> BackendConfig.fromJson("{\"name\": \"b\"} trailing")), "Invalid BackendConfig JSON", "line 1");
    }
}
