package io.github.dl4jquant;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Quantize, dequantize and fake-quantize ND4J arrays with ATen's arithmetic, value for value.
 *
 * <pre>{@code
 * INDArray q = QuantOps.quantizePerTensor(x, 0.02f, 128, QuantDType.QUINT8);    // UBYTE array
 * INDArray back = QuantOps.dequantize(q, QParams.perTensor(0.02f, 128, QuantDType.QUINT8));
 * INDArray w8 = QuantOps.quantize(w, weightQParams);                            // per channel along axis 1
 * }</pre>
 *
 * <p>Quantize follows ATen's {@code quantize_val}: {@code q = clamp(zp + rint(x * (1.0f / scale)), dtypeMin,
 * dtypeMax)} with a float32 inverse scale, round half to even, and clamping to the limits of the <em>dtype</em>
 * (not to the observer's narrower {@code quantMin/quantMax}, exactly like PyTorch's quantized tensors). Dequantize is
 * {@code (q - zp) * scale} in float32. Results are UBYTE (quint8), BYTE (qint8) or INT (qint32) arrays in 'c' order.
 *
 * <p>Non-finite input: {@code +Inf}/{@code -Inf} saturate to the dtype's maximum/minimum (ATen's x86 kernels leave
 * this undefined and in practice map both to the minimum); {@code NaN} has no quantized value and raises an
 * {@link IllegalArgumentException} that reports how many NaNs were found and where the first one is.
 *
 * <p>Scales are float32 (as observers produce them). ATen keeps per-channel scales as doubles; for float32 scales
 * {@code (q - zp) * scale} rounds identically either way, so only scales that are not float32 values (e.g. a
 * hand-written 0.01) can differ, by at most one float32 ulp.
 *
 * <p>Per channel: {@code axis} indexes the array's dimensions. A DL4J {@code DenseLayer} weight is {@code [nIn, nOut]},
 * so its per-output-channel axis is 1 (PyTorch's Linear weight is {@code [out, in]}, axis 0).
 */
public final class QuantOps {

    private QuantOps() {
    }

    /** Quantizes {@code x} with one scale and zero point; returns a new UBYTE, BYTE or INT array. */
    public static INDArray quantizePerTensor(INDArray x, float scale, int zeroPoint, QuantDType dtype) {
        checkDtype(dtype);
        checkScale(scale, "scale");
        checkZeroPoint(zeroPoint, dtype, "zeroPoint");
        float[] v = floats(x, "x");
        return wrap(quantize(v, ChannelLayout.perTensor(v.length), new float[] {scale}, new int[] {zeroPoint}, dtype),
                x.shape(), dtype);
    }

    /**
     * Quantizes {@code x} with one scale and zero point per slice along {@code axis}; returns a new UBYTE, BYTE or INT
     * array.
     */
    public static INDArray quantizePerChannel(INDArray x, float[] scales, int[] zeroPoints, int axis, QuantDType dtype) {
        checkDtype(dtype);
        ChannelLayout layout = ChannelLayout.of(x, axis, scales.length, zeroPoints.length);
        for (int c = 0; c < scales.length; c++) {
            checkScale(scales[c], "scales[" + c + "]");
            checkZeroPoint(zeroPoints[c], dtype, "zeroPoints[" + c + "]");
        }
        return wrap(quantize(floats(x, "x"), layout, scales, zeroPoints, dtype), x.shape(), dtype);
    }

    /**
     * Quantizes {@code x} with one scale and one float zero point per slice along {@code axis}, as ATen's
     * {@code quantize_tensor_per_channel_float_qparams}: {@code q = clamp(rint(x * (1.0f / scale) + zp), qmin, qmax)}
     * in float32 with the dtype's range (quint4x2: one code in [0, 15] per UBYTE, unpacked).
     */
    public static INDArray quantizePerChannelFloatQParams(INDArray x, float[] scales, float[] zeroPoints, int axis,
                                                          QuantDType dtype) {
        checkDtype(dtype);
        if (dtype == QuantDType.QINT32) {
            throw new IllegalArgumentException("quantize: float qparams need an 8- or 4-bit dtype; got "
                    + dtype.torchName());
        }
        ChannelLayout layout = ChannelLayout.of(x, axis, scales.length, zeroPoints.length);
        for (int c = 0; c < scales.length; c++) {
            checkScale(scales[c], "scales[" + c + "]");
        }
        float[] v = floats(x, "x");
        byte[] q = new byte[v.length];
        int i = 0;
        for (long outer = 0; outer < layout.outer; outer++) {
            for (int c = 0; c < layout.channels; c++) {
                float inv = 1.0f / scales[c];
                for (int end = i + (int) layout.inner; i < end; i++) {
                    q[i] = (byte) quantizeValueFloatQParams(v[i], inv, zeroPoints[c], dtype.quantMin(),
                            dtype.quantMax());
                }
            }
        }
        rejectNaN(v);
        return wrap(q, x.shape(), dtype);
    }

    /** Quantizes with {@code p}, per tensor or per channel along {@code p.axis()}. */
    public static INDArray quantize(INDArray x, QParams p) {
        if (p.qscheme().isFloatQParams()) {
            return quantizePerChannelFloatQParams(x, p.scales(), p.floatZeroPoints(), p.axis(), p.dtype());
        }
        if (p.isPerChannel()) {
            return quantizePerChannel(x, p.scales(), p.zeroPoints(), p.axis(), p.dtype());
        }
        return quantizePerTensor(x, p.scale(), p.zeroPoint(), p.dtype());
    }

    /** Dequantizes an integer array {@code q} made with {@code p}: {@code (q - zp) * scale} as a new FLOAT array. */
    public static INDArray dequantize(INDArray q, QParams p) {
        if (q == null) {
            throw new IllegalArgumentException("dequantize: q must not be null");
        }
        if (!q.dataType().isIntType()) {
            throw new IllegalArgumentException("dequantize: q must hold integers (UBYTE, BYTE or INT, as made by "
                    + "quantize); got " + q.dataType());
        }
        int[] v = contiguous(q).data().asInt();
        float[] out = new float[v.length];
        float[] scales = p.scales();
        boolean floatZeroPoints = p.qscheme().isFloatQParams();
        float[] floatZps = floatZeroPoints ? p.floatZeroPoints() : null;
        int[] zps = floatZeroPoints ? null : p.zeroPoints();
        ChannelLayout layout = p.isPerChannel() ? ChannelLayout.of(q, p.axis(), scales.length, scales.length)
                : ChannelLayout.perTensor(v.length);
        for (long outer = 0; outer < layout.outer; outer++) {
            for (int c = 0; c < layout.channels; c++) {
                int from = (int) ((outer * layout.channels + c) * layout.inner);
                int to = from + (int) layout.inner;
                float s = scales[c];
                if (floatZeroPoints) {
                    float zp = floatZps[c];
                    for (int i = from; i < to; i++) {
                        out[i] = (v[i] - zp) * s;
                    }
                } else {
                    int zp = zps[c];
                    for (int i = from; i < to; i++) {
                        out[i] = (v[i] - zp) * s;
                    }
                }
            }
        }
        return Nd4j.createFromArray(out).reshape('c', q.shape());
    }

    /** Quantize then dequantize with {@code p}; a new FLOAT array with the values a quantized model computes with. */
    public static INDArray fakeQuantize(INDArray x, QParams p) {
        return dequantize(quantize(x, p), p);
    }

    /**
     * One value, as ATen's {@code quantize_val}: {@code clamp(zp + rint(x * inverseScale), qmin, qmax)} with the
     * product in float32 and round half to even ({@code inverseScale = 1.0f / scale}). Infinities saturate; callers
     * reject NaN first. For the tight loops of the quantized layers.
     */
    public static int quantizeValue(float x, float inverseScale, int zeroPoint, int qmin, int qmax) {
        // Clamping before rounding equals ATen's round-then-clamp (the bounds are integers) and keeps the
        // arithmetic in float, which the JIT vectorises
        float t = x * inverseScale;
        float lo = qmin - zeroPoint;
        float hi = qmax - zeroPoint;
        t = t < lo ? lo : (t > hi ? hi : t);
        return (int) Math.rint(t) + zeroPoint;
    }

    /**
     * One value with a float zero point, as ATen's {@code quantize_val_float_qparams}:
     * {@code clamp(rint(x * inverseScale + zp), qmin, qmax)} in float32, round half to even. NaN gives qmin here;
     * callers reject it.
     */
    public static int quantizeValueFloatQParams(float x, float inverseScale, float zeroPoint, int qmin, int qmax) {
        float t = Math.max(qmin, Math.min(qmax, x * inverseScale + zeroPoint));
        return t != t ? qmin : (int) Math.rint(t);
    }

    /** One value: {@code (q - zp) * scale} in float32. */
    public static float dequantizeValue(int q, int zeroPoint, float scale) {
        return (q - zeroPoint) * scale;
    }

    /**
     * Quantizes into a byte[] (8-bit dtypes) or int[] (qint32) in one pass; the channel of element i is
     * {@code (i / inner) % channels}.
     */
    private static Object quantize(float[] v, ChannelLayout layout, float[] scales, int[] zeroPoints,
                                   QuantDType dtype) {
        float[] inv = new float[scales.length];
        for (int c = 0; c < scales.length; c++) {
            inv[c] = 1.0f / scales[c];
        }
        boolean wide = dtype == QuantDType.QINT32;
        byte[] q8 = wide ? null : new byte[v.length];
        int[] q32 = wide ? new int[v.length] : null;
        int inner = (int) layout.inner;
        int channels = layout.channels;
        int qmin = dtype.quantMin();
        int qmax = dtype.quantMax();
        int nan = 0;
        int i = 0;
        for (long outer = 0; outer < layout.outer; outer++) {
            for (int c = 0; c < channels; c++) {
                float s = inv[c];
                int zp = zeroPoints[c];
                int end = i + inner;
                for (; i < end; i++) {
                    float x = v[i];
                    nan += x != x ? 1 : 0;
                    int qi = quantizeValue(x, s, zp, qmin, qmax);
                    if (wide) {
                        q32[i] = qi;
                    } else {
                        q8[i] = (byte) qi;
                    }
                }
            }
        }
        if (nan > 0) {
            rejectNaN(v);
        }
        return wide ? q32 : q8;
    }

    /** Throws if {@code v} holds NaN (infinities are fine: they saturate). */
    private static void rejectNaN(float[] v) {
        int nan = 0;
        int first = -1;
        for (int i = 0; i < v.length; i++) {
            if (Float.isNaN(v[i]) && nan++ == 0) {
                first = i;
            }
        }
        if (nan > 0) {
            throw new IllegalArgumentException("quantize: input holds " + nan + " NaN value(s) (first at flat index "
                    + first + "); NaN has no quantized value: clean the data or check the layer producing it");
        }
    }

    private static INDArray wrap(Object q, long[] shape, QuantDType dtype) {
        if (q instanceof int[]) {
            return Nd4j.createFromArray((int[]) q).reshape('c', shape);
        }
        DataBuffer buf = Nd4j.createTypedBuffer((byte[]) q, dtype.nd4jType());
        return Nd4j.create(buf, shape, Nd4j.getStrides(shape, 'c'), 0, 'c', dtype.nd4jType());
    }

    private static float[] floats(INDArray x, String name) {
        if (x == null) {
            throw new IllegalArgumentException("quantize: " + name + " must not be null");
        }
        if (!x.dataType().isFPType()) {
            throw new IllegalArgumentException("quantize: " + name + " must be a floating point array; got "
                    + x.dataType());
        }
        return contiguous(x.castTo(DataType.FLOAT)).data().asFloat();
    }

    private static INDArray contiguous(INDArray x) {
        return DenseArrays.denseC(x);
    }

    private static void checkDtype(QuantDType dtype) {
        if (dtype == null || !dtype.isQuantized()) {
            throw new IllegalArgumentException("quantize: dtype must be torch.quint8, torch.qint8, torch.quint4x2 or "
                    + "torch.qint32; got "
                    + (dtype == null ? null : dtype.torchName()));
        }
    }

    private static void checkScale(float scale, String name) {
        if (!(scale > 0f) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("quantize: " + name + " must be finite and > 0; got " + scale);
        }
    }

    private static void checkZeroPoint(int zeroPoint, QuantDType dtype, String name) {
        if (zeroPoint < dtype.quantMin() || zeroPoint > dtype.quantMax()) {
            throw new IllegalArgumentException("quantize: " + name + " " + zeroPoint + " is outside the range of "
                    + dtype.torchName() + " [" + dtype.quantMin() + ", " + dtype.quantMax() + "]");
        }
    }

    /** How a 'c'-order array splits into [outer, channels, inner] around the channel axis. */
    private static final class ChannelLayout {
        final long outer;
        final int channels;
        final long inner;

        private ChannelLayout(long outer, int channels, long inner) {
            this.outer = outer;
            this.channels = channels;
            this.inner = inner;
        }

        static ChannelLayout perTensor(long length) {
            return new ChannelLayout(1, 1, length);
        }

        static ChannelLayout of(INDArray x, int axis, int scaleCount, int zeroPointCount) {
            if (x == null) {
                throw new IllegalArgumentException("quantizePerChannel: x must not be null");
            }
            long[] shape = x.shape();
            if (axis < 0 || axis >= shape.length) {
                throw new IllegalArgumentException("quantizePerChannel: axis " + axis + " does not exist in an array of "
                        + "shape " + Arrays.toString(shape) + " (rank " + shape.length + ")");
            }
            if (scaleCount != shape[axis] || zeroPointCount != shape[axis]) {
                throw new IllegalArgumentException("quantizePerChannel: axis " + axis + " of shape "
                        + Arrays.toString(shape) + " has " + shape[axis] + " channels but got " + scaleCount
                        + " scales and " + zeroPointCount + " zero points");
            }
            long outer = 1;
            for (int d = 0; d < axis; d++) {
                outer *= shape[d];
            }
            long inner = 1;
            for (int d = axis + 1; d < shape.length; d++) {
                inner *= shape[d];
            }
            return new ChannelLayout(outer, (int) shape[axis], inner);
        }
    }
}
