package io.github.dl4jquant.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.testing.Golden;
import org.junit.jupiter.api.Test;

class QuantMathTest {
    @Test
    void perTensorFakeQuantMatchesPyTorchExactly() {
        for (JsonNode c : Golden.load("fake_quant.json").get("per_tensor")) {
            QuantDType dtype = QuantDType.fromTorchName(c.get("dtype").asText());
            float scale = (float) c.get("scale").asDouble();
            int zp = c.get("zero_point").asInt();
            float[] x = Golden.floats(c.get("x"));
            float inv = 1.0f / scale;
            for (int i = 0; i < x.length; i++) {
                int q = QuantOps.quantizeValue(x[i], inv, zp, dtype.quantMin(), dtype.quantMax());
                assertEquals(c.get("int_repr").get(i).asInt(), q, "x=" + x[i] + " scale=" + scale + " zp=" + zp);
                assertEquals((float) c.get("dequantized").get(i).asDouble(), QuantOps.dequantizeValue(q, zp, scale));
            }
            float[] fq = x.clone();
            QuantMath.fakeQuantize(fq, 1, fq.length, QParams.perTensor(scale, zp, dtype), "golden");
            for (int i = 0; i < x.length; i++) {
                assertEquals((float) c.get("dequantized").get(i).asDouble(), fq[i]);
            }
        }
    }

    @Test
    void perChannelFakeQuantMatchesPyTorchExactly() {
        JsonNode c = Golden.load("fake_quant.json").get("per_channel");
        JsonNode w = c.get("w");
        int rows = w.size();
        int cols = w.get(0).size();
        float[] v = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                v[r * cols + j] = (float) w.get(r).get(j).asDouble();
            }
        }
        float[] scales = Golden.floats(c.get("scales"));
        int[] zps = new int[rows];
        for (int r = 0; r < rows; r++) {
            zps[r] = c.get("zero_points").get(r).asInt();
        }
        QParams p = QParams.perChannel(scales, zps, c.get("axis").asInt(), QuantDType.QINT8, -128, 127,
                QScheme.PER_CHANNEL_AFFINE);
        float[] original = v.clone();
        QuantMath.fakeQuantize(v, rows, cols, p, "golden");
        for (int r = 0; r < rows; r++) {
            float inv = 1.0f / scales[r];
            for (int j = 0; j < cols; j++) {
                assertEquals(c.get("int_repr").get(r).get(j).asInt(),
                        QuantOps.quantizeValue(original[r * cols + j], inv, zps[r], -128, 127));
                // PyTorch multiplies per-channel scales in double; these golden scales (0.01, ...) are not floats,
                // while QParams holds float scales as observers produce them: one float ulp apart at most
                float want = (float) c.get("dequantized").get(r).get(j).asDouble();
                assertEquals(want, v[r * cols + j], Math.ulp(want));
            }
        }
    }

    @Test
    void dynamicQParamsFollowChooseQuantizationParams() {
        QParams p = QuantMath.dynamicQParams(-1f, 3f, false, "t");
        assertEquals((float) (4.0 / 255), p.scale());
        assertEquals(64, p.zeroPoint());    // 0 - (-1)/(4/255) = 63.75 -> 64
        QParams r = QuantMath.dynamicQParams(-1f, 3f, true, "t");
        assertEquals((float) (4.0 / 127), r.scale());
        assertEquals(127, r.quantMax());
        assertEquals(0.1f, QuantMath.dynamicQParams(0f, 0f, false, "t").scale());
        assertEquals(QuantMath.SMALL_SCALE_THRESHOLD, QuantMath.dynamicQParams(0f, 1e-4f, false, "t").scale());
        assertThrows(IllegalArgumentException.class, () -> QuantMath.dynamicQParams(0f, Float.NaN, false, "t"));
        assertThrows(IllegalArgumentException.class,
                () -> QuantMath.dynamicQParams(Float.NEGATIVE_INFINITY, 1f, false, "t"));
    }

    @Test
    void quantizeRoundsHalfToEvenAndSaturates() {
        assertEquals(2, QuantOps.quantizeValue(2.5f, 1f, 0, -128, 127));
        assertEquals(4, QuantOps.quantizeValue(3.5f, 1f, 0, -128, 127));
        assertEquals(127, QuantOps.quantizeValue(Float.POSITIVE_INFINITY, 1f, 0, -128, 127));
        assertEquals(0, QuantOps.quantizeValue(-1e30f, 1f, 5, 0, 255));
    }
}
