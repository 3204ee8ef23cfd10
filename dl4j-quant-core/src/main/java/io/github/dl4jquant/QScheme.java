package io.github.dl4jquant;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How scales and zero points are laid out and chosen, as PyTorch's {@code torch.qscheme}.
 *
 * <pre>{@code
 * QScheme s = QScheme.PER_CHANNEL_SYMMETRIC;
 * s.isPerChannel();   // true
 * s.isSymmetric();    // true
 * }</pre>
 */
public enum QScheme {
    /** One scale and zero point for the whole tensor; the range need not be centred on zero. */
    PER_TENSOR_AFFINE("torch.per_tensor_affine"),
    /** One scale for the whole tensor, range centred on zero (zero point 0 for qint8, 128 for quint8). */
    PER_TENSOR_SYMMETRIC("torch.per_tensor_symmetric"),
    /** One scale and zero point per slice along an axis. */
    PER_CHANNEL_AFFINE("torch.per_channel_affine"),
    /** One scale per slice along an axis, each range centred on zero. */
    PER_CHANNEL_SYMMETRIC("torch.per_channel_symmetric"),
    /**
     * One scale and one <em>float</em> zero point per slice (embedding rows): {@code q = rint(x / scale + zp)}, so
     * a row's minimum maps to 0 exactly ({@code zp = -min / scale}).
     */
    PER_CHANNEL_AFFINE_FLOAT_QPARAMS("torch.per_channel_affine_float_qparams");

    private final String torchName;

    QScheme(String torchName) {
        this.torchName = torchName;
    }

    /** PyTorch's name, e.g. {@code "torch.per_tensor_affine"}. */
    public String torchName() {
        return torchName;
    }

    public boolean isPerChannel() {
        return this == PER_CHANNEL_AFFINE || this == PER_CHANNEL_SYMMETRIC || this == PER_CHANNEL_AFFINE_FLOAT_QPARAMS;
    }

    /** True when zero points are floats ({@link #PER_CHANNEL_AFFINE_FLOAT_QPARAMS}). */
    public boolean isFloatQParams() {
        return this == PER_CHANNEL_AFFINE_FLOAT_QPARAMS;
    }

    public boolean isSymmetric() {
        return this == PER_TENSOR_SYMMETRIC || this == PER_CHANNEL_SYMMETRIC;
    }

    /**
     * Parses PyTorch's name ({@code "torch.per_tensor_affine"}), its short form, or this enum's constant name.
     *
     * @throws IllegalArgumentException naming the accepted values when {@code name} is unknown
     */
    public static QScheme fromTorchName(String name) {
        if (name != null) {
            String n = name.trim();
            for (QScheme s : values()) {
                if (s.torchName.equals(n) || s.torchName.equals("torch." + n) || s.name().equalsIgnoreCase(n)) {
                    return s;
                }
            }
        }
        throw new IllegalArgumentException("Unknown qscheme '" + name + "'; accepted values: "
                + Arrays.stream(values()).map(QScheme::torchName).collect(Collectors.joining(", ")));
    }
}
