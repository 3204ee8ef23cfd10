package io.github.dl4jquant.nn;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.Arrays;
import java.util.Objects;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * The JSON form of {@link QParams} inside DL4J layer configurations (DL4J serialises layer configs with its shaded
 * Jackson, property by property). Immutable.
 *
 * <pre>{@code
 * QParamsConfig c = QParamsConfig.of(QParams.perTensor(0.02f, 3, QuantDType.QUINT8));
 * QParams back = c.toQParams();     // equals the original
 * }</pre>
 */
public final class QParamsConfig {
    private final float[] scales;
    private final int[] zeroPoints;
    private final int axis;
    private final String dtype;
    private final int quantMin;
    private final int quantMax;
    private final String qscheme;

    @JsonCreator
    public QParamsConfig(@JsonProperty("scales") float[] scales, @JsonProperty("zeroPoints") int[] zeroPoints,
                         @JsonProperty("axis") int axis, @JsonProperty("dtype") String dtype,
                         @JsonProperty("quantMin") int quantMin, @JsonProperty("quantMax") int quantMax,
                         @JsonProperty("qscheme") String qscheme) {
        this.scales = scales == null ? null : scales.clone();
        this.zeroPoints = zeroPoints == null ? null : zeroPoints.clone();
        this.axis = axis;
        this.dtype = dtype;
        this.quantMin = quantMin;
        this.quantMax = quantMax;
        this.qscheme = qscheme;
    }

    /** The config of {@code q}, or null for null. */
    public static QParamsConfig of(QParams q) {
        return q == null ? null : new QParamsConfig(q.scales(), q.zeroPoints(), q.axis(), q.dtype().torchName(),
                q.quantMin(), q.quantMax(), q.qscheme().torchName());
    }

    /**
     * Rebuilds the {@link QParams}.
     *
     * @throws IllegalArgumentException naming {@code what} when the stored values are missing or invalid (for
     *         example an edited model file)
     */
    public QParams toQParams(String what) {
        try {
            QScheme scheme = QScheme.fromTorchName(qscheme);
            QuantDType type = QuantDType.fromTorchName(dtype);
            if (scheme.isPerChannel()) {
                return QParams.perChannel(scales, zeroPoints, axis, type, quantMin, quantMax, scheme);
            }
            if (scales == null || zeroPoints == null || scales.length != 1 || zeroPoints.length != 1) {
                throw new IllegalArgumentException("a per-tensor qscheme needs exactly one scale and zero point; got "
                        + Arrays.toString(scales) + " / " + Arrays.toString(zeroPoints));
            }
            return QParams.perTensor(scales[0], zeroPoints[0], type, quantMin, quantMax, scheme);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("Invalid stored quantization parameters '" + what + "' (" + this
                    + "): " + e.getMessage() + ". The model configuration was probably edited or truncated; "
                    + "convert the fp32 model again", e);
        }
    }

    @JsonProperty("scales")
    public float[] getScales() {
        return scales == null ? null : scales.clone();
    }

    @JsonProperty("zeroPoints")
    public int[] getZeroPoints() {
        return zeroPoints == null ? null : zeroPoints.clone();
    }

    @JsonProperty("axis")
    public int getAxis() {
        return axis;
    }

    @JsonProperty("dtype")
    public String getDtype() {
        return dtype;
    }

    @JsonProperty("quantMin")
    public int getQuantMin() {
        return quantMin;
    }

    @JsonProperty("quantMax")
    public int getQuantMax() {
        return quantMax;
    }

    @JsonProperty("qscheme")
    public String getQscheme() {
        return qscheme;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof QParamsConfig)) {
            return false;
        }
        QParamsConfig c = (QParamsConfig) o;
        return axis == c.axis && quantMin == c.quantMin && quantMax == c.quantMax && Arrays.equals(scales, c.scales)
                && Arrays.equals(zeroPoints, c.zeroPoints) && Objects.equals(dtype, c.dtype)
                && Objects.equals(qscheme, c.qscheme);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(scales), Arrays.hashCode(zeroPoints), axis, dtype, quantMin,
                quantMax, qscheme);
    }

    @Override
    public String toString() {
        return "QParamsConfig(" + qscheme + ", " + dtype + ", scales=" + Arrays.toString(scales) + ", zeroPoints="
                + Arrays.toString(zeroPoints) + ", axis=" + axis + ", range=[" + quantMin + ", " + quantMax + "])";
    }
}
