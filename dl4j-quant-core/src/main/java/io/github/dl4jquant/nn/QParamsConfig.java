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
    private final float[] floatZeroPoints;
    private final int axis;
    private final String dtype;
    private final int quantMin;
    private final int quantMax;
    private final String qscheme;

    public QParamsConfig(float[] scales, int[] zeroPoints, int axis, String dtype, int quantMin, int quantMax,
                         String qscheme) {
        this(scales, zeroPoints, null, axis, dtype, quantMin, quantMax, qscheme);
    }

    /** {@code floatZeroPoints} replace {@code zeroPoints} for float qparams (embedding rows); otherwise null. */
    @JsonCreator
    public QParamsConfig(@JsonProperty("scales") float[] scales, @JsonProperty("zeroPoints") int[] zeroPoints,
                         @JsonProperty("floatZeroPoints") float[] floatZeroPoints,
                         @JsonProperty("axis") int axis, @JsonProperty("dtype") String dtype,
                         @JsonProperty("quantMin") int quantMin, @JsonProperty("quantMax") int quantMax,
                         @JsonProperty("qscheme") String qscheme) {
        this.scales = scales == null ? null : scales.clone();
        this.zeroPoints = zeroPoints == null ? null : zeroPoints.clone();
        this.floatZeroPoints = floatZeroPoints == null ? null : floatZeroPoints.clone();
        this.axis = axis;
        this.dtype = dtype;
        this.quantMin = quantMin;
        this.quantMax = quantMax;
        this.qscheme = qscheme;
    }

    /** The config of {@code q}, or null for null. */
    public static QParamsConfig of(QParams q) {
        if (q == null) {
            return null;
        }
        boolean floatZeroPoints = q.qscheme().isFloatQParams();
        return new QParamsConfig(q.scales(), floatZeroPoints ? null : q.zeroPoints(),
                floatZeroPoints ? q.floatZeroPoints() : null, q.axis(), q.dtype().torchName(), q.quantMin(),
                q.quantMax(), q.qscheme().torchName());
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
            if (scheme.isFloatQParams()) {
                return QParams.perChannelFloatQParams(scales, floatZeroPoints, axis, type, quantMin, quantMax);
            }
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

    @JsonProperty("floatZeroPoints")
    public float[] getFloatZeroPoints() {
        return floatZeroPoints == null ? null : floatZeroPoints.clone();
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
                && Arrays.equals(zeroPoints, c.zeroPoints) && Arrays.equals(floatZeroPoints, c.floatZeroPoints)
                && Objects.equals(dtype, c.dtype)
                && Objects.equals(qscheme, c.qscheme);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(scales), Arrays.hashCode(zeroPoints), Arrays.hashCode(floatZeroPoints), axis,
                dtype, quantMin,
                quantMax, qscheme);
    }

    @Override
    public String toString() {
        return "QParamsConfig(" + qscheme + ", " + dtype + ", scales=" + Arrays.toString(scales) + ", zeroPoints="
                + (floatZeroPoints != null ? Arrays.toString(floatZeroPoints) : Arrays.toString(zeroPoints)) + ", axis=" + axis + ", range=[" + quantMin + ", " + quantMax + "])";
    }
}
