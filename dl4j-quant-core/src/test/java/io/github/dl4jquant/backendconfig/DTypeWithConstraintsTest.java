package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.QuantDType.FLOAT32;
import static io.github.dl4jquant.QuantDType.QINT8;
import static io.github.dl4jquant.QuantDType.QUINT8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DTypeWithConstraintsTest {

    private static DTypeWithConstraints full() {
        return DTypeWithConstraints.builder(QINT8).quantMinLowerBound(-127).quantMaxUpperBound(127)
                .scaleMinLowerBound(0.001).scaleMaxUpperBound(10.0).scaleExactMatch(0.5).zeroPointExactMatch(3)
                .build();
    }

    @Test
    void gettersReturnWhatTheBuilderSet() {
        DTypeWithConstraints c = full();
        assertEquals(QINT8, c.getDtype());
        assertEquals(-127, c.getQuantMinLowerBound());
        assertEquals(127, c.getQuantMaxUpperBound());
        assertEquals(0.001, c.getScaleMinLowerBound());
        assertEquals(10.0, c.getScaleMaxUpperBound());
        assertEquals(0.5, c.getScaleExactMatch());
        assertEquals(3, c.getZeroPointExactMatch());
        assertTrue(c.hasConstraints());
        assertTrue(c.isFixedQParams());
    }

    @Test
    void plainDtypeIsUnconstrained() {
        DTypeWithConstraints c = DTypeWithConstraints.of(QUINT8);
        assertEquals(QUINT8, c.getDtype());
        assertNull(c.getQuantMinLowerBound());
        assertNull(c.getQuantMaxUpperBound());
        assertNull(c.getScaleMinLowerBound());
        assertNull(c.getScaleMaxUpperBound());
        assertNull(c.getScaleExactMatch());
        assertNull(c.getZeroPointExactMatch());
        assertFalse(c.hasConstraints());
        assertNull(DTypeWithConstraints.of(null).getDtype());
    }

    @Test
    void toDictUsesPyTorchFieldNamesAndOmitsNulls() {
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("dtype", "torch.quint8");
        expected.put("quant_min_lower_bound", 0);
        expected.put("quant_max_upper_bound", 255);
        expected.put("scale_exact_match", 0.00390625);
        expected.put("zero_point_exact_match", 0);
        assertEquals(expected, DTypeConfigs.FIXED_QPARAMS_0TO1.toDict());
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(DTypeConfigs.FIXED_QPARAMS_0TO1.toDict().keySet()));
        assertEquals(Map.of("dtype", "torch.qint8"), DTypeWithConstraints.of(QINT8).toDict());
    }

    @Test
    void dictAndJsonRoundTrip() {
        DTypeWithConstraints c = full();
        assertEquals(c, DTypeWithConstraints.fromDict(c.toDict()));
        assertEquals(c, DTypeWithConstraints.fromJson(c.toJson()));
        assertEquals(c.hashCode(), DTypeWithConstraints.fromJson(c.toJson()).hashCode());
        assertEquals(c.toBuilder().build(), c);
    }

    @Test
    void jsonIsPrettyPrintedWithStableKeyOrder() {
        String expected = """
                {
                  "dtype": "torch.qint8",
                  "quant_min_lower_bound": -127,
                  "quant_max_upper_bound": 127
                }""";
        DTypeWithConstraints c = DTypeWithConstraints.builder(QINT8).quantMaxUpperBound(127)
                .quantMinLowerBound(-127).build();
        assertEquals(expected, c.toJson());
    }

    @Test
    void equalsAndToString() {
        assertEquals(full(), full());
        assertNotEquals(full(), full().toBuilder().zeroPointExactMatch(4).build());
        assertNotEquals(DTypeWithConstraints.of(QINT8), DTypeWithConstraints.of(QUINT8));
        assertEquals("DTypeWithConstraints{dtype=torch.qint8}", DTypeWithConstraints.of(QINT8).toString());
    }

    @Test
    void negativeBoundForUnsignedDtypeIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(QUINT8).quantMinLowerBound(-1).build());
        assertContains(e, "quant_min_lower_bound", "-1", "[0, 255]");
    }

    @Test
    void invertedQuantRangeIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(QUINT8).quantMinLowerBound(200).quantMaxUpperBound(100).build());
        assertContains(e, "inverted", "200", "100", "quant_min_lower_bound <= quant_max_upper_bound");
    }

    @Test
    void invertedAndNonPositiveScalesAreRejected() {
        IllegalArgumentException inverted = assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(QUINT8).scaleMinLowerBound(2.0).scaleMaxUpperBound(1.0).build());
        assertContains(inverted, "inverted scale range", "2.0", "1.0");
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(QUINT8).scaleMinLowerBound(-0.5).build());
        assertContains(negative, "scale_min_lower_bound", "-0.5", "> 0");
        assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(QUINT8).scaleExactMatch(Double.NaN).zeroPointExactMatch(0).build());
    }

    @Test
    void zeroPointOutsideDtypeRangeIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(QINT8).scaleExactMatch(0.1).zeroPointExactMatch(128).build());
        assertContains(e, "zero_point_exact_match", "128", "[-128, 127]");
    }

    @Test
    void halfAFixedQParamsPairIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(QUINT8).scaleExactMatch(0.1).build());
        assertContains(e, "scale_exact_match=0.1", "zero_point_exact_match=null", "both set");
    }

    @Test
    void constraintsOnFloatOrMissingDtypeAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(FLOAT32).quantMinLowerBound(0).build());
        assertContains(e, "torch.float32", "quantized dtype", "torch.quint8");
        assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.builder(null).scaleMinLowerBound(1.0).build());
    }

    @Test
    void fromDictRejectsUnknownKeysWrongTypesAndUnknownDtypes() {
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.fromDict(Map.of("dtype", "torch.quint8", "quant_min", 0))),
                "unknown key 'quant_min'", "quant_min_lower_bound");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.fromDict(Map.of("dtype", "torch.quint8", "quant_min_lower_bound", "0"))),
                "'quant_min_lower_bound'", "String \"0\"", "an integer");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.fromDict(Map.of("dtype", "torch.quint8", "quant_min_lower_bound", 1.5))),
                "'quant_min_lower_bound'", "1.5", "an integer");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.fromDict(Map.of("dtype", "torch.quint2x4"))),
                "'dtype'", "torch.quint2x4", "torch.qint8");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.fromDict(Map.of("scale_exact_match", true))),
                "'scale_exact_match'", "Boolean true", "a number");
    }

    @Test
    void fromJsonReportsLineAndColumnOfSyntaxErrors() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DTypeWithConstraints.fromJson("{\n  \"dtype\": \"torch.qint8\",\n  oops\n}"));
        assertContains(e, "DTypeWithConstraints JSON", "line 3", "column 3");
    }

    static void assertContains(Throwable e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message lacks '" + part + "': " + e.getMessage());
        }
    }
}
