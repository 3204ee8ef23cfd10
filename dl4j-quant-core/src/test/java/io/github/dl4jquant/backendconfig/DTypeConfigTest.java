package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.QuantDType.FLOAT16;
import static io.github.dl4jquant.QuantDType.FLOAT32;
import static io.github.dl4jquant.QuantDType.QINT8;
import static io.github.dl4jquant.QuantDType.QUINT8;
import static io.github.dl4jquant.backendconfig.DTypeWithConstraintsTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DTypeConfigTest {

    @Test
    void plainConstructorWrapsDtypesWithoutConstraints() {
        DTypeConfig c = new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32);
        assertEquals(QUINT8, c.getInputDtype());
        assertEquals(QUINT8, c.getOutputDtype());
        assertEquals(QINT8, c.getWeightDtype());
        assertEquals(FLOAT32, c.getBiasDtype());
        assertNull(c.getIsDynamic());
        assertFalse(c.isDynamic());
        assertEquals(DTypeWithConstraints.of(QUINT8), c.getInputDtypeWithConstraints());
        assertEquals(DTypeWithConstraints.of(QUINT8), c.getOutputDtypeWithConstraints());
        assertEquals(DTypeWithConstraints.of(QINT8), c.getWeightDtypeWithConstraints());
    }

    @Test
    void dynamicConstructorAndUnspecifiedDtypes() {
        DTypeConfig dyn = new DTypeConfig(QUINT8, FLOAT32, QINT8, FLOAT32, true);
        assertTrue(dyn.isDynamic());
        assertEquals(Boolean.TRUE, dyn.getIsDynamic());
        DTypeConfig op = new DTypeConfig(QUINT8, QUINT8, null, null);
        assertNull(op.getWeightDtype());
        assertNull(op.getBiasDtype());
        assertNull(op.getWeightDtypeWithConstraints().getDtype());
    }

    @Test
    void builderKeepsConstraints() {
        DTypeWithConstraints in = DTypeWithConstraints.builder(QINT8).scaleMinLowerBound(0.25).build();
        DTypeConfig c = DTypeConfig.builder().inputDtype(in).outputDtype(QINT8).weightDtype(QINT8)
                .biasDtype(FLOAT16).isDynamic(false).build();
        assertSame(in, c.getInputDtypeWithConstraints());
        assertEquals(0.25, c.getInputDtypeWithConstraints().getScaleMinLowerBound());
        assertEquals(QINT8, c.getOutputDtype());
        assertEquals(FLOAT16, c.getBiasDtype());
        assertEquals(Boolean.FALSE, c.getIsDynamic());
        assertEquals(c, c.toBuilder().build());
    }

    @Test
    void toDictMatchesPyTorchKeysAndOmitsNulls() {
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("input_dtype", "torch.quint8");
        expected.put("output_dtype", "torch.float32");
        expected.put("weight_dtype", "torch.qint8");
        expected.put("bias_dtype", "torch.float32");
        expected.put("is_dynamic", true);
        DTypeConfig dyn = new DTypeConfig(QUINT8, FLOAT32, QINT8, FLOAT32, true);
        assertEquals(expected, dyn.toDict());
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(dyn.toDict().keySet()));
        assertEquals(Map.of("input_dtype", "torch.quint8", "output_dtype", "torch.quint8"),
                new DTypeConfig(QUINT8, QUINT8, null, null).toDict());
    }

    @Test
    void constrainedDtypesAreWrittenAsNestedDictionaries() {
        DTypeConfig c = DTypeConfigs.withFixedOutput(DTypeConfigs.DEFAULT_OP_QUINT8, DTypeConfigs.FIXED_QPARAMS_NEG1TO1);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("dtype", "torch.quint8");
        out.put("quant_min_lower_bound", 0);
        out.put("quant_max_upper_bound", 255);
        out.put("scale_exact_match", 0.0078125);
        out.put("zero_point_exact_match", 128);
        assertEquals(Map.of("input_dtype", "torch.quint8", "output_dtype", out), c.toDict());
    }

    @Test
    void dictAndJsonRoundTrip() {
        for (DTypeConfig c : List.of(DTypeConfigs.WEIGHTED_OP_QUINT8, DTypeConfigs.DEFAULT_DYNAMIC_INT8,
                DTypeConfigs.DEFAULT_OP_QUINT8, DTypeConfigs.QNNPACK_WEIGHTED_OP_QINT8_SYMMETRIC,
                DTypeConfigs.QNNPACK_DEFAULT_OP_QINT8_SYMMETRIC, DTypeConfig.builder().build())) {
            assertEquals(c, DTypeConfig.fromDict(c.toDict()));
            assertEquals(c, DTypeConfig.fromJson(c.toJson()));
            assertEquals(c.hashCode(), DTypeConfig.fromJson(c.toJson()).hashCode());
        }
    }

    @Test
    void fromDictAcceptsPyTorchDtypeSpellings() {
        DTypeConfig c = DTypeConfig.fromDict(Map.of("input_dtype", "quint8", "output_dtype", "torch.float",
                "weight_dtype", "torch.qint8", "bias_dtype", "torch.float", "is_dynamic", true));
        assertEquals(DTypeConfigs.DEFAULT_DYNAMIC_INT8, c);
    }

    @Test
    void equalsToString() {
        assertEquals(new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32), DTypeConfigs.WEIGHTED_OP_QUINT8);
        assertNotEquals(DTypeConfigs.WEIGHTED_OP_QUINT8, new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32, false));
        assertEquals("DTypeConfig{input_dtype=torch.quint8, output_dtype=torch.quint8}",
                DTypeConfigs.DEFAULT_OP_QUINT8.toString());
    }

    @Test
    void fromDictRejectsBadInput() {
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeConfig.fromDict(Map.of("input_dtype", "torch.int4"))),
                "DTypeConfig field 'input_dtype'", "torch.int4", "torch.quint8");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeConfig.fromDict(Map.of("bias_type", "torch.float"))),
                "unknown key 'bias_type'", "bias_dtype");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeConfig.fromDict(Map.of("is_dynamic", "yes"))),
                "'is_dynamic'", "String \"yes\"", "true or false");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeConfig.fromDict(Map.of("weight_dtype", 8))),
                "'weight_dtype'", "Integer 8", "DTypeWithConstraints dictionary");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeConfig.fromDict(Map.of("output_dtype",
                        Map.of("dtype", "torch.quint8", "quant_min_lower_bound", -5)))),
                "DTypeConfig field 'output_dtype'", "quant_min_lower_bound", "-5", "[0, 255]");
        assertContains(assertThrows(IllegalArgumentException.class, () -> DTypeConfig.fromJson("[1, 2]")),
                "DTypeConfig", "dictionary", "ArrayList");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeConfig.fromJson("{\"input_dtype\": \"torch.quint8\" \"output_dtype\": 1}")),
                "line 1", "column 32");
    }
}
