package io.github.dl4jquant.backendconfig;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.nd4j.linalg.activations.Activation;

/**
 * What a {@link BackendPatternConfig} applies to: one op, or a chain of 2 or 3 ops in forward (execution) order where
 * each op consumes the previous one's output, as PyTorch's simple pattern format ({@code (nn.Linear, nn.ReLU)}).
 *
 * <pre>{@code
 * Pattern dense = Pattern.of(DenseLayer.class);
 * Pattern linearRelu = Pattern.of(DenseLayer.class, Activation.RELU);
 * Pattern denseThenRelu = Pattern.sequence(
 *     PatternElement.of(DenseLayer.class, Activation.IDENTITY),
 *     PatternElement.of(ActivationLayer.class, Activation.RELU));
 * // PyTorch's legacy reversed nested form (relu, dense) means the same chain:
 * Pattern same = Pattern.fromComplexFormat(List.of(
 *     PatternElement.of(ActivationLayer.class, Activation.RELU),
 *     PatternElement.of(DenseLayer.class, Activation.IDENTITY)));
 * }</pre>
 */
public final class Pattern {

    /** PyTorch's limit on the simple format: a single op or a 2- or 3-tuple. */
    public static final int MAX_LENGTH = 3;

    /**
     * Orders patterns so that a matcher tries the most specific first, as PyTorch prefers longer patterns: longer
     * chains first, then more activation constraints (so {@code DenseLayer[RELU]} is tried before
     * {@code DenseLayer}).
     */
    public static final Comparator<Pattern> MOST_SPECIFIC_FIRST = Comparator
            .comparingInt(Pattern::size).thenComparingLong(Pattern::activationConstraints).reversed();

    private final List<PatternElement> elements;

    private Pattern(List<PatternElement> elements) {
        if (elements == null || elements.isEmpty() || elements.size() > MAX_LENGTH) {
            throw new IllegalArgumentException("pattern: got " + (elements == null ? "null" : elements.size()
                    + " elements " + elements) + "; accepted: 1 to " + MAX_LENGTH
                    + " DL4J layer or vertex configuration classes in forward order");
        }
        for (int i = 0; i < elements.size(); i++) {
            if (elements.get(i) == null) {
                throw new IllegalArgumentException("pattern element " + i + ": got null; accepted: "
                        + LayerClasses.LAYER_OR_VERTEX);
            }
        }
        this.elements = List.copyOf(elements);
    }

    /** A single op: any configuration of exactly class {@code type}. */
    public static Pattern of(Class<?> type) {
        return new Pattern(List.of(PatternElement.of(type)));
    }

    /** A single op whose activation must be {@code activation}. */
    public static Pattern of(Class<?> type, Activation activation) {
        return new Pattern(List.of(PatternElement.of(type, activation)));
    }

    /** A single op. */
    public static Pattern of(PatternElement element) {
        return new Pattern(Collections.singletonList(element));
    }

    /** A chain of 1 to 3 classes in forward order, without activation constraints. */
    public static Pattern sequence(Class<?>... types) {
        if (types == null) {
            return new Pattern(null);
        }
        List<PatternElement> elements = new ArrayList<>();
        for (Class<?> t : types) {
            elements.add(PatternElement.of(t));
        }
        return new Pattern(elements);
    }

    /** A chain of 1 to 3 elements in forward order. */
    public static Pattern sequence(PatternElement... elements) {
        return new Pattern(elements == null ? null : Arrays.asList(elements));
    }

    /**
     * Reads PyTorch's legacy reversed nested "complex format", where the first item is the LAST op and the second is
     * the pattern of its input: {@code B} is one op, {@code [B, A]} is A then B, {@code [C, [B, A]]} is A, B, C.
     * Ops may be a {@code Class}, a {@link PatternElement}, or their dictionary forms (class name string or
     * {@code {"type", "activation"}} map); lists may also be {@code Object[]}.
     *
     * @throws IllegalArgumentException for null, multi-input nodes ({@code [op, arg1, arg2]}, PyTorch's
     *     {@code MatchAllNode} patterns), or chains longer than 3
     */
    public static Pattern fromComplexFormat(Object complexFormat) {
        List<PatternElement> lastFirst = new ArrayList<>();
        Object node = complexFormat;
        while (true) {
            if (node instanceof Object[] array) {
                node = Arrays.asList(array);
            }
            if (!(node instanceof List<?> list)) {
                lastFirst.add(complexOp(node));
                break;
            }
            if (list.size() != 2) {
                throw new IllegalArgumentException("pattern_complex_format: node " + list + " has " + list.size()
                        + " items; accepted: an op, or [op, pattern of its single input] (multi-input patterns "
                        + "such as PyTorch's MatchAllNode are not supported)");
            }
            lastFirst.add(complexOp(list.get(0)));
            node = list.get(1);
        }
        Collections.reverse(lastFirst);
        return new Pattern(lastFirst);
    }

    private static PatternElement complexOp(Object op) {
        if (op instanceof PatternElement e) {
            return e;
        }
        if (op instanceof Class<?> c) {
            return PatternElement.of(c);
        }
        if (op instanceof String || op instanceof Map<?, ?>) {
            return PatternElement.fromDictValue("pattern_complex_format op", op);
        }
        throw new IllegalArgumentException("pattern_complex_format op: got " + DictReader.describe(op)
                + "; accepted: a Class, a PatternElement, a class name or {\"type\", \"activation\"} map");
    }

    /** The ops in forward (execution) order. */
    public List<PatternElement> elements() {
        return elements;
    }

    public int size() {
        return elements.size();
    }

    /** True if {@code confsInForwardOrder} has this pattern's length and each configuration matches its element. */
    public boolean matches(List<?> confsInForwardOrder) {
        if (confsInForwardOrder == null || confsInForwardOrder.size() != elements.size()) {
            return false;
        }
        for (int i = 0; i < elements.size(); i++) {
            if (!elements.get(i).matches(confsInForwardOrder.get(i))) {
                return false;
            }
        }
        return true;
    }

    private long activationConstraints() {
        return elements.stream().filter(e -> e.activation() != null).count();
    }

    /** A single element's dictionary form, or a list of them in forward order (PyTorch: a class or a tuple). */
    Object toDictValue() {
        if (elements.size() == 1) {
            return elements.get(0).toDictValue();
        }
        return elements.stream().map(PatternElement::toDictValue).collect(Collectors.toList());
    }

    static Pattern fromDictValue(String field, Object value) {
        if (value instanceof List<?> list) {
            if (list.size() > MAX_LENGTH || list.isEmpty()) {
                throw new IllegalArgumentException(field + ": got " + list.size() + " elements " + list
                        + "; accepted: 1 to " + MAX_LENGTH + " elements in forward order");
            }
            List<PatternElement> elements = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                elements.add(PatternElement.fromDictValue(field + "[" + i + "]", list.get(i)));
            }
            return new Pattern(elements);
        }
        return new Pattern(List.of(PatternElement.fromDictValue(field, value)));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Pattern other && elements.equals(other.elements);
    }

    @Override
    public int hashCode() {
        return elements.hashCode();
    }

    /** {@code DenseLayer[RELU]} or {@code (DenseLayer[IDENTITY], ActivationLayer[RELU])}. */
    @Override
    public String toString() {
        return elements.size() == 1 ? elements.get(0).toString()
                : elements.stream().map(PatternElement::toString).collect(Collectors.joining(", ", "(", ")"));
    }
}
