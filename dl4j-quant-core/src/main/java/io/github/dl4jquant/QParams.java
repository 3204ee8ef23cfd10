package io.github.dl4jquant;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Quantization parameters of one tensor: scales and zero points (one per tensor, or one per channel along
 * {@link #axis()}), the dtype and the integer range they map onto. Immutable.
 *
 * <pre>{@code
 * QParams act = QParams.perTensor(0.02f, 3, QuantDType.QUINT8, 0, 255, QScheme.PER_TENSOR_AFFINE);
 * QParams w = QParams.perChannel(new float[] {0.01f, 0.02f}, new int[] {0, 0}, 1,
 *         QuantDType.QINT8, -128, 127, QScheme.PER_CHANNEL_SYMMETRIC);
 * QParams rows = QParams.perChannelFloatQParams(rowScales, rowZeroPoints, 0, QuantDType.QUINT8, 0, 255);
 * act.scale();     // 0.02f
 * w.scales()[1];   // 0.02f
 * }</pre>
 *
 * <p>For a DL4J {@code DenseLayer} weight {@code W} of shape {@code [nIn, nOut]} the per-output-channel axis is 1
 * (PyTorch's Linear weight is {@code [out, in]}, axis 0).
 */
public final class QParams {
    private final float[] scales;
    private final int[] zeroPoints;
    private final float[] floatZeroPoints;
    private final int axis;
    private final QuantDType dtype;
    private final int quantMin;
    private final int quantMax;
    private final QScheme qscheme;

    private QParams(float[] scales, int[] zeroPoints, float[] floatZeroPoints, int axis, QuantDType dtype,
                    int quantMin, int quantMax, QScheme qscheme) {
        if (scales == null || (zeroPoints == null && floatZeroPoints == null) || qscheme == null) {
            throw new IllegalArgumentException("QParams need scales, zero points and a qscheme; got scales="
                    + Arrays.toString(scales) + ", zeroPoints=" + Arrays.toString(zeroPoints) + ", qscheme=" + qscheme);
        }
        int zeroPointCount = zeroPoints != null ? zeroPoints.length : floatZeroPoints.length;
        if (scales.length == 0 || scales.length != zeroPointCount) {
            throw new IllegalArgumentException("QParams need as many zero points as scales (at least one); got "
                    + scales.length + " scales and " + zeroPointCount + " zero points");
        }
        if (dtype == null || !dtype.isQuantized()) {
            throw new IllegalArgumentException("QParams dtype must be a quantized dtype (quint8, qint8, quint4x2, "
                    + "qint32); got " + dtype);
        }
        if (quantMin >= quantMax) {
            throw new IllegalArgumentException("QParams quantMin (" + quantMin + ") must be below quantMax ("
                    + quantMax + ")");
        }
        if (quantMin < dtype.quantMin() || quantMax > dtype.quantMax()) {
            throw new IllegalArgumentException("QParams range [" + quantMin + ", " + quantMax + "] is wider than "
                    + dtype.torchName() + " holds ([" + dtype.quantMin() + ", " + dtype.quantMax() + "]); give a "
                    + "range inside the dtype's");
        }
        for (int i = 0; i < scales.length; i++) {
            if (!(scales[i] > 0f) || Float.isInfinite(scales[i])) {
                throw new IllegalArgumentException("QParams scale[" + i + "] must be finite and > 0; got " + scales[i]);
            }
            // PyTorch's quantize_per_tensor/per_channel refuse such zero points too ("zero_point is out of range")
            if (zeroPoints != null && (zeroPoints[i] < quantMin || zeroPoints[i] > quantMax)) {
                throw new IllegalArgumentException("QParams zero point[" + i + "] = " + zeroPoints[i] + " is outside "
                        + "the quantized range [" + quantMin + ", " + quantMax + "]; give a zero point inside it");
            }
        }
        for (int i = 0; floatZeroPoints != null && i < floatZeroPoints.length; i++) {
            if (!Float.isFinite(floatZeroPoints[i])) {
                throw new IllegalArgumentException("QParams zero_point[" + i + "] must be finite; got "
                        + floatZeroPoints[i]);
            }
        }
        this.scales = scales.clone();
        this.zeroPoints = zeroPoints == null ? null : zeroPoints.clone();
        this.floatZeroPoints = floatZeroPoints == null ? null : floatZeroPoints.clone();
        this.axis = axis;
        this.dtype = dtype;
        this.quantMin = quantMin;
        this.quantMax = quantMax;
        this.qscheme = qscheme;
    }

    /** Per-tensor parameters (one scale, one zero point). */
    public static QParams perTensor(float scale, int zeroPoint, QuantDType dtype, int quantMin, int quantMax,
                                    QScheme qscheme) {
        if (qscheme == null || qscheme.isPerChannel()) {
            throw new IllegalArgumentException("perTensor QParams need a per-tensor qscheme; got " + qscheme);
        }
        return new QParams(new float[] {scale}, new int[] {zeroPoint}, null, -1, dtype, quantMin, quantMax, qscheme);
    }

    /** Per-tensor parameters over the dtype's full range. */
    public static QParams perTensor(float scale, int zeroPoint, QuantDType dtype) {
        if (dtype == null) {
            throw new IllegalArgumentException("QParams dtype must be a quantized dtype (quint8, qint8, qint32); got "
                    + "null");
        }
        return perTensor(scale, zeroPoint, dtype, dtype.quantMin(), dtype.quantMax(), QScheme.PER_TENSOR_AFFINE);
    }

    /** Per-channel parameters along {@code axis}. */
    public static QParams perChannel(float[] scales, int[] zeroPoints, int axis, QuantDType dtype, int quantMin,
                                     int quantMax, QScheme qscheme) {
        if (qscheme == null || !qscheme.isPerChannel() || qscheme.isFloatQParams()) {
            throw new IllegalArgumentException("perChannel QParams need an integer per-channel qscheme; got " + qscheme
                    + (qscheme != null && qscheme.isFloatQParams() ? " (use perChannelFloatQParams)" : ""));
        }
        requireAxis(axis);
        return new QParams(scales, zeroPoints, null, axis, dtype, quantMin, quantMax, qscheme);
    }

    /**
     * Per-channel parameters with float zero points ({@link QScheme#PER_CHANNEL_AFFINE_FLOAT_QPARAMS}, PyTorch's
     * embedding rows): {@code q = clamp(rint(x * (1 / scale) + zp), quantMin, quantMax)}, {@code x = (q - zp) * scale}.
     */
    public static QParams perChannelFloatQParams(float[] scales, float[] zeroPoints, int axis, QuantDType dtype,
                                                 int quantMin, int quantMax) {
        requireAxis(axis);
        return new QParams(scales, null, zeroPoints, axis, dtype, quantMin, quantMax,
                QScheme.PER_CHANNEL_AFFINE_FLOAT_QPARAMS);
    }

    private static void requireAxis(int axis) {
        if (axis < 0) {
            throw new IllegalArgumentException("perChannel QParams need an axis >= 0; got " + axis);
        }
    }

    /** The scales (a copy); length 1 for per-tensor parameters. */
    public float[] scales() {
        return scales.clone();
    }

    /**
     * The integer zero points (a copy); length 1 for per-tensor parameters.
     *
     * @throws IllegalStateException for float zero points ({@link QScheme#isFloatQParams()}): use
     *                               {@link #floatZeroPoints()}
     */
    public int[] zeroPoints() {
        if (zeroPoints == null) {
            throw new IllegalStateException("zeroPoints(): these " + this + " have float zero points: use "
                    + "floatZeroPoints()");
        }
        return zeroPoints.clone();
    }

    /** The zero points as floats (a copy): the float zero points of float qparams, else the integer ones. */
    public float[] floatZeroPoints() {
        if (floatZeroPoints != null) {
            return floatZeroPoints.clone();
        }
        float[] z = new float[zeroPoints.length];
        for (int i = 0; i < z.length; i++) {
            z[i] = zeroPoints[i];
        }
        return z;
    }

    /** The single scale of per-tensor parameters. */
    public float scale() {
        requirePerTensor("scale()");
        return scales[0];
    }

    /** The single zero point of per-tensor parameters. */
    public int zeroPoint() {
        requirePerTensor("zeroPoint()");
        return zeroPoints[0];
    }

    /** Number of channels (1 for per-tensor parameters). */
    public int numChannels() {
        return scales.length;
    }

    /** The channel axis, or -1 for per-tensor parameters. */
    public int axis() {
        return axis;
    }

    public QuantDType dtype() {
        return dtype;
    }

    public int quantMin() {
        return quantMin;
    }

    public int quantMax() {
        return quantMax;
    }

    public QScheme qscheme() {
        return qscheme;
    }

    public boolean isPerChannel() {
        return qscheme.isPerChannel();
    }

    private void requirePerTensor(String what) {
        if (isPerChannel()) {
            throw new IllegalStateException(what + " is only defined for per-tensor QParams; these are per-channel "
                    + "along axis " + axis + ": use scales()/zeroPoints()");
        }
    }

    /** A JSON-friendly map with PyTorch's {@code get_qparam_dict} keys. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("qscheme", qscheme.torchName());
        m.put("dtype", dtype.torchName());
        if (isPerChannel()) {
            m.put("scale", scales.clone());
            m.put("zero_point", zeroPoints != null ? zeroPoints.clone() : floatZeroPoints.clone());
            m.put("axis", axis);
        } else {
            m.put("scale", scales[0]);
            m.put("zero_point", zeroPoints[0]);
        }
        m.put("quant_min", quantMin);
        m.put("quant_max", quantMax);
        return m;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof QParams)) {
            return false;
        }
        QParams q = (QParams) o;
        return axis == q.axis && quantMin == q.quantMin && quantMax == q.quantMax && dtype == q.dtype
                && qscheme == q.qscheme && Arrays.equals(scales, q.scales) && Arrays.equals(zeroPoints, q.zeroPoints)
                && Arrays.equals(floatZeroPoints, q.floatZeroPoints);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(scales) + Arrays.hashCode(zeroPoints) + Arrays.hashCode(floatZeroPoints))
                + qscheme.hashCode();
    }

    @Override
    public String toString() {
        if (isPerChannel()) {
            return "QParams(" + qscheme.torchName() + ", " + dtype.torchName() + ", axis=" + axis + ", channels="
                    + scales.length + ", range=[" + quantMin + ", " + quantMax + "])";
        }
        return "QParams(" + qscheme.torchName() + ", " + dtype.torchName() + ", scale=" + scales[0]
                + ", zero_point=" + zeroPoints[0] + ", range=[" + quantMin + ", " + quantMax + "])";
    }
}
