package io.github.dl4jquant.observer;

import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;

/** Converts option values read back from JSON maps (strings, boxed numbers) into builder arguments. */
final class OptionValues {

    private OptionValues() {
    }

    static QuantDType dtype(Object v) {
        return v instanceof QuantDType ? (QuantDType) v : QuantDType.fromTorchName(String.valueOf(v));
    }

    static QScheme qscheme(Object v) {
        return v instanceof QScheme ? (QScheme) v : QScheme.fromTorchName(String.valueOf(v));
    }

    static boolean bool(Object v, String key) {
        if (v instanceof Boolean) {
            return (Boolean) v;
        }
        throw bad(key, v, "true or false");
    }

    static Integer nullableInt(Object v, String key) {
        return v == null ? null : intValue(v, key);
    }

    static int intValue(Object v, String key) {
        if (v instanceof Number && ((Number) v).doubleValue() == ((Number) v).intValue()) {
            return ((Number) v).intValue();
        }
        throw bad(key, v, "an integer");
    }

    static float floatValue(Object v, String key) {
        if (v instanceof Number) {
            return ((Number) v).floatValue();
        }
        throw bad(key, v, "a number");
    }

    static double doubleValue(Object v, String key) {
        if (v instanceof Number) {
            return ((Number) v).doubleValue();
        }
        throw bad(key, v, "a number");
    }

    private static IllegalArgumentException bad(String key, Object v, String accepted) {
        return new IllegalArgumentException("observer option '" + key + "' must be " + accepted + "; got " + v
                + (v == null ? "" : " (" + v.getClass().getSimpleName() + ")"));
    }
}
