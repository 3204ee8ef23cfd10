package io.github.dl4jquant;

import java.util.Arrays;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The dtypes a quantized model talks about, named as in PyTorch ({@code torch.quint8}, {@code torch.qint8}, ...).
 *
 * <p>Each quantized dtype knows its full integer range and the ND4J {@link DataType} that holds its integer values:
 * <pre>{@code
 * QuantDType.QUINT8.quantMin();                  // 0
 * QuantDType.QINT8.nd4jType();                   // DataType.BYTE
 * QuantDType.fromTorchName("torch.qint8");       // QINT8
 * }</pre>
 */
public enum QuantDType {
    /** Unsigned 8-bit affine integers, range [0, 255], held in ND4J {@code UBYTE}. */
    QUINT8("torch.quint8", 0, 255, DataType.UBYTE),
    /** Signed 8-bit integers, range [-128, 127], held in ND4J {@code BYTE}. */
    QINT8("torch.qint8", -128, 127, DataType.BYTE),
    /**
     * Unsigned 4-bit integers, range [0, 15]: PyTorch packs two per byte ({@code torch.quint4x2}, the 4-bit
     * embedding rows of {@code float_qparams_weight_only_qconfig_4bit}); one code is held per ND4J {@code UBYTE}.
     */
    QUINT4X2("torch.quint4x2", 0, 15, DataType.UBYTE),
    /** Signed 32-bit integers (accumulators, biases), held in ND4J {@code INT}. */
    QINT32("torch.qint32", Integer.MIN_VALUE, Integer.MAX_VALUE, DataType.INT),
    /** IEEE half precision; not an integer dtype. */
    FLOAT16("torch.float16", 0, 0, DataType.HALF),
    /** IEEE single precision: "not quantized". */
    FLOAT32("torch.float32", 0, 0, DataType.FLOAT);

    private final String torchName;
    private final int quantMin;
    private final int quantMax;
    private final DataType nd4jType;

    QuantDType(String torchName, int quantMin, int quantMax, DataType nd4jType) {
        this.torchName = torchName;
        this.quantMin = quantMin;
        this.quantMax = quantMax;
        this.nd4jType = nd4jType;
    }

    /** PyTorch's name, e.g. {@code "torch.quint8"}. */
    public String torchName() {
        return torchName;
    }

    /** Smallest integer value of the full range; 0 for float dtypes. */
    public int quantMin() {
        return quantMin;
    }

    /** Largest integer value of the full range; 0 for float dtypes. */
    public int quantMax() {
        return quantMax;
    }

    /** The ND4J data type that stores values of this dtype. */
    public DataType nd4jType() {
        return nd4jType;
    }

    /** True for the integer (quantized) dtypes. */
    public boolean isQuantized() {
        return this == QUINT8 || this == QINT8 || this == QUINT4X2 || this == QINT32;
    }

    /**
     * Parses PyTorch's name ({@code "torch.quint8"}), its short form ({@code "quint8"}), PyTorch's alias
     * {@code "torch.float"}, or this enum's constant name.
     *
     * @throws IllegalArgumentException naming the accepted values when {@code name} is unknown
     */
    public static QuantDType fromTorchName(String name) {
        if (name != null) {
            String n = name.trim();
            String shortName = n.startsWith("torch.") ? n.substring("torch.".length()) : n;
            if (shortName.equals("float") || shortName.equals("float32")) {
                return FLOAT32;
            }
            if (shortName.equals("half")) {
                return FLOAT16;
            }
            for (QuantDType t : values()) {
                if (t.torchName.equals(n) || t.torchName.equals("torch." + shortName) || t.name().equals(n)) {
                    return t;
                }
            }
        }
        throw new IllegalArgumentException("Unknown dtype '" + name + "'; accepted values: "
                + Arrays.stream(values()).map(QuantDType::torchName).collect(Collectors.joining(", "))
                + " (or their short forms such as 'quint8', and 'torch.float')");
    }
}
