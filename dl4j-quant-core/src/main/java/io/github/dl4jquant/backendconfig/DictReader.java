package io.github.dl4jquant.backendconfig;

import io.github.dl4jquant.QuantDType;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;

/**
 * Typed, validating access to one level of a {@code toDict()} map, so that every {@code fromDict} reports the owner,
 * the key, the bad value and what is accepted in the same words.
 */
final class DictReader {

    private static final Map<String, String> PYTORCH_INTERNAL_KEYS = Map.of(
            "root_node_getter", "a Python function",
            "extra_inputs_getter", "a Python function",
            "num_tensor_args_to_observation_type", "used only for PyTorch's scalar binary ops",
            "input_type_to_index", "used only for PyTorch functionals such as F.linear",
            "input_output_observed", "removed from PyTorch itself");

    private final String owner;
    private final Map<?, ?> map;

    private DictReader(String owner, Map<?, ?> map) {
        this.owner = owner;
        this.map = map;
    }

    /** Checks that {@code dict} is a map whose keys are all in {@code acceptedKeys}. */
    static DictReader of(String owner, Object dict, List<String> acceptedKeys) {
        if (!(dict instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException(owner + ": expected a dictionary (JSON object) with keys "
                    + acceptedKeys + ", got " + describe(dict));
        }
        for (Object key : map.keySet()) {
            if (!(key instanceof String k) || !acceptedKeys.contains(k)) {
                String why = PYTORCH_INTERNAL_KEYS.containsKey(String.valueOf(key))
                        ? " (a PyTorch-internal field, " + PYTORCH_INTERNAL_KEYS.get(String.valueOf(key))
                                + ", that dl4j-quant does not support)"
                        : "";
                throw new IllegalArgumentException(owner + ": unknown key '" + key + "'" + why + "; accepted keys: "
                        + acceptedKeys);
            }
        }
        return new DictReader(owner, map);
    }

    static String describe(Object value) {
        if (value == null) {
            return "null";
        }
        String shown = value instanceof String s ? "\"" + s + "\"" : String.valueOf(value);
        return value.getClass().getSimpleName() + " " + shown;
    }

    boolean has(String key) {
        return map.get(key) != null;
    }

    Object raw(String key) {
        return map.get(key);
    }

    IllegalArgumentException bad(String key, Object value, String accepted) {
        return new IllegalArgumentException(owner + " field '" + key + "': got " + describe(value) + "; accepted: "
                + accepted);
    }

    IllegalArgumentException bad(String key, IllegalArgumentException cause) {
        return new IllegalArgumentException(owner + " field '" + key + "': " + cause.getMessage(), cause);
    }

    String string(String key, String accepted) {
        Object v = map.get(key);
        if (v == null || v instanceof String) {
            return (String) v;
        }
        throw bad(key, v, accepted);
    }

    Boolean bool(String key) {
        Object v = map.get(key);
        if (v == null || v instanceof Boolean) {
            return (Boolean) v;
        }
        throw bad(key, v, "true or false");
    }

    Integer integer(String key) {
        Object v = map.get(key);
        if (v == null) {
            return null;
        }
        boolean integral = v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte
                || v instanceof BigInteger;
        if (integral && new BigInteger(v.toString()).bitLength() < Integer.SIZE) {
            return ((Number) v).intValue();
        }
        throw bad(key, v, "an integer in [" + Integer.MIN_VALUE + ", " + Integer.MAX_VALUE + "]");
    }

    Double number(String key) {
        Object v = map.get(key);
        if (v == null || v instanceof Number) {
            return v == null ? null : ((Number) v).doubleValue();
        }
        throw bad(key, v, "a number");
    }

    List<?> list(String key, String accepted) {
        Object v = map.get(key);
        if (v == null || v instanceof List<?>) {
            return (List<?>) v;
        }
        throw bad(key, v, accepted);
    }

    QuantDType dtype(String key) {
        String name = string(key, "a dtype name such as \"torch.quint8\"");
        if (name == null) {
            return null;
        }
        try {
            return QuantDType.fromTorchName(name);
        } catch (IllegalArgumentException e) {
            throw bad(key, e);
        }
    }

    <E extends Enum<E>> E enumValue(String key, Class<E> type) {
        String name = string(key, "one of " + List.of(type.getEnumConstants()));
        if (name == null) {
            return null;
        }
        try {
            return Enum.valueOf(type, name);
        } catch (IllegalArgumentException e) {
            throw bad(key, name, "one of " + List.of(type.getEnumConstants()));
        }
    }
}
