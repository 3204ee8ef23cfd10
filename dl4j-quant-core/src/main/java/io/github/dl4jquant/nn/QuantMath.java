package io.github.dl4jquant.nn;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;

/**
 * Scalar quantization arithmetic shared by the reference and the int8 layers, bit for bit as ATen computes it, so
 * both layers produce the same integers. Works on primitive arrays for tight loops.
 *
 * <pre>{@code
 * float[] w = {0.25f, -1f};
 * QuantMath.fakeQuantize(w, 1, 2, QParams.perTensor(0.1f, 3, QuantDType.QUINT8), "w");   // in place
 * QParams dyn = QuantMath.dynamicQParams(-1f, 3f, false);    // quantize_per_tensor_dynamic's choice
 * }</pre>
 */
public final class QuantMath {
    /** fbgemm's SMALL_SCALE_THRESHOLD: dynamic scales below it are raised to it. */
    static final float SMALL_SCALE_THRESHOLD = 6.1e-5f;

    private QuantMath() {
    }

    /**
     * Quantizes then dequantizes a row-major {@code [rows, cols]} matrix in place with per-tensor parameters, or
     * per-channel ones along axis 0 (rows) or 1 (columns). Values clamp to the dtype's range, as ATen does.
     *
     * @throws IllegalArgumentException naming {@code what} on a NaN value or a channel count that does not fit
     */
    public static void fakeQuantize(float[] v, int rows, int cols, QParams p, String what) {
        float[] scales = p.scales();
        int[] zps = p.zeroPoints();
        int qmin = p.dtype().quantMin();
        int qmax = p.dtype().quantMax();
        int axis = p.isPerChannel() ? p.axis() : -1;
        if (axis > 1 || (axis >= 0 && scales.length != (axis == 0 ? rows : cols))) {
            throw new IllegalArgumentException(what + ": per-channel parameters along axis " + axis + " have "
                    + scales.length + " channels but the tensor is [" + rows + ", " + cols + "]");
        }
        float[] inv = new float[scales.length];
        for (int c = 0; c < scales.length; c++) {
            inv[c] = 1.0f / scales[c];
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                int ch = axis < 0 ? 0 : (axis == 0 ? r : c);
                float x = v[i];
                if (x != x) {
                    throw nanError(what, i);
                }
                v[i] = QuantOps.dequantizeValue(QuantOps.quantizeValue(x, inv[ch], zps[ch], qmin, qmax), zps[ch], scales[ch]);
            }
        }
    }

    /** The error for a NaN met while quantizing: quantizing NaN has no defined integer. */
    public static IllegalArgumentException nanError(String what, long index) {
        return new IllegalArgumentException(what + ": NaN at flat index " + index + " cannot be quantized (PyTorch's "
                + "result is platform-dependent); remove NaN from the input. Infinities saturate to the quantized "
                + "range");
    }

    /**
     * The per-tensor quint8 parameters {@code torch.quantize_per_tensor_dynamic} picks for a batch with this
     * minimum and maximum (fbgemm's {@code ChooseQuantizationParams} with {@code preserve_sparsity = false}):
     * range [0, 255], or [0, 127] with {@code reduceRange}.
     *
     * @throws IllegalArgumentException when min or max is not finite
     */
    public static QParams dynamicQParams(float min, float max, boolean reduceRange, String what) {
        if (!Float.isFinite(min) || !Float.isFinite(max)) {
            throw new IllegalArgumentException(what + ": dynamic quantization needs a finite input range; the batch "
                    + "has min " + min + " and max " + max + " (remove NaN/Inf from the input)");
        }
        int qmin = 0;
        int qmax = reduceRange ? 127 : 255;
        min = Math.min(min, 0f);
        max = Math.max(max, 0f);
        double scale = ((double) max - min) / (qmax - qmin);
        if ((float) scale == 0.0f || Float.isInfinite(1.0f / (float) scale)) {
            scale = 0.1;
        }
        if (scale < SMALL_SCALE_THRESHOLD) {
            float original = (float) scale;
            scale = SMALL_SCALE_THRESHOLD;
            if (min == 0.0f) {
                max = SMALL_SCALE_THRESHOLD * (qmax - qmin);
            } else if (max == 0.0f) {
                min = -SMALL_SCALE_THRESHOLD * (qmax - qmin);
            } else {
                float amplifier = SMALL_SCALE_THRESHOLD / original;
                min *= amplifier;
                max *= amplifier;
            }
        }
        double zeroFromMin = qmin - min / scale;
        double zeroFromMax = qmax - max / scale;
        double errorFromMin = Math.abs(qmin) - Math.abs(min / scale);
        double errorFromMax = Math.abs(qmax) - Math.abs(max / scale);
        double initial = errorFromMin < errorFromMax ? zeroFromMin : zeroFromMax;
        int zeroPoint = initial < qmin ? qmin : (initial > qmax ? qmax : (int) Math.rint(initial));
        return QParams.perTensor((float) scale, zeroPoint, QuantDType.QUINT8, qmin, qmax,
                QScheme.PER_TENSOR_AFFINE);
    }

    /**
     * The float32 value of the IEEE binary16 nearest to {@code x} (round half to even, overflow to infinity), as
     * {@code at::Half(x)}: what PyTorch's 4-bit embedding prepack keeps of each row's scale and bias.
     */
    public static float roundToFloat16(float x) {
        float a = Math.abs(x);
        if (a != a) {
            return x;
        }
        if (a >= 65520f) {
            // 65520 is halfway between binary16's largest finite value (65504) and 2^16, and rounds to even: 2^16
            return Math.copySign(Float.POSITIVE_INFINITY, x);
        }
        // binary16 has 11 significant bits and subnormals of step 2^-24 below 2^-14
        float step = a < 0x1p-14f ? 0x1p-24f : Math.scalb(1f, Math.getExponent(a) - 10);
        return Math.copySign((float) (Math.rint(a / step) * step), x);
    }
}
