package io.github.dl4jquant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.testing.Golden;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** QuantOps against PyTorch's golden {@code fake_quant.json} (exact) and edge cases. */
class QuantOpsTest {

    private static int[] flatInts(JsonNode rows) {
        int[] out = new int[rows.size() * rows.get(0).size()];
        int k = 0;
        for (JsonNode r : rows) {
            for (JsonNode v : r) {
                out[k++] = v.asInt();
            }
        }
        return out;
    }

    @Test
    void perTensorMatchesPyTorchExactly() {
        int cases = 0;
        for (JsonNode c : Golden.load("fake_quant.json").get("per_tensor")) {
            QuantDType dtype = QuantDType.fromTorchName(c.get("dtype").asText());
            float scale = (float) c.get("scale").asDouble();
            int zp = c.get("zero_point").asInt();
            INDArray x = Nd4j.createFromArray(Golden.floats(c.get("x")));
            INDArray q = QuantOps.quantizePerTensor(x, scale, zp, dtype);
            assertEquals(dtype.nd4jType(), q.dataType());
            assertArrayEquals(Golden.ints(c.get("int_repr")), q.data().asInt(),
                    "int_repr " + c.get("dtype") + " " + scale);
            INDArray dq = QuantOps.dequantize(q, QParams.perTensor(scale, zp, dtype));
            assertEquals(DataType.FLOAT, dq.dataType());
            assertArrayEquals(Golden.floats(c.get("dequantized")), dq.toFloatVector(), 0f, "dequantized");
            assertArrayEquals(Golden.floats(c.get("dequantized")),
                    QuantOps.fakeQuantize(x, QParams.perTensor(scale, zp, dtype)).toFloatVector(), 0f);
            cases++;
        }
        assertEquals(5, cases);
    }

    @Test
    void perChannelMatchesPyTorchExactlyOnBothLayouts() {
        JsonNode c = Golden.load("fake_quant.json").get("per_channel");
        float[] scales = Golden.floats(c.get("scales"));
        int[] zps = Golden.ints(c.get("zero_points"));
        JsonNode w = c.get("w");
        INDArray x = Nd4j.createFromArray(Golden.flatFloats(w)).reshape(w.size(), w.get(0).size());
        QParams p = QParams.perChannel(scales, zps, 0, QuantDType.QINT8, -128, 127, QScheme.PER_CHANNEL_SYMMETRIC);
        int[] want = flatInts(c.get("int_repr"));
        float[] wantDq = Golden.flatFloats(c.get("dequantized"));
        INDArray q = QuantOps.quantize(x, p);
        assertEquals(DataType.BYTE, q.dataType());
        assertArrayEquals(want, q.data().asInt());
        // the golden scales (0.01, 0.02, ...) are doubles, which ATen keeps for per-channel dequantize; ours are
        // float32: exact against ATen's formula on the float32 scale, within one ulp of the double-scale golden
        float[] dq = QuantOps.dequantize(q, p).data().asFloat();
        int channels = scales.length;
        int perChannel = want.length / channels;
        for (int i = 0; i < want.length; i++) {
            int ch = i / perChannel;
            float aten = (float) ((double) (want[i] - zps[ch]) * (double) scales[ch]);
            assertEquals(aten, dq[i], 0f, "dequantized[" + i + "]");
            assertEquals(wantDq[i], dq[i], Math.ulp(wantDq[i]), "golden dequantized[" + i + "]");
        }

        // DL4J layout: the transposed weight [in, out] quantized per channel on axis 1 gives the transposed result
        INDArray xt = x.transpose().dup('c');
        QParams pt = QParams.perChannel(scales, zps, 1, QuantDType.QINT8, -128, 127, QScheme.PER_CHANNEL_SYMMETRIC);
        INDArray qt = QuantOps.quantize(xt, pt);
        assertArrayEquals(want, qt.transpose().dup('c').data().asInt());
        assertArrayEquals(dq, QuantOps.fakeQuantize(xt, pt).transpose().dup('c').data().asFloat(), 0f);
    }

    @Test
    void roundsHalfToEvenAndClampsToTheDtypeNotTheObserverRange() {
        INDArray x = Nd4j.createFromArray(0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300f);
        // quant range [0, 127] (reduce_range) but quantized values clamp to the dtype [0, 255], as ATen does
        QParams p = QParams.perTensor(1f, 10, QuantDType.QUINT8, 0, 127, QScheme.PER_TENSOR_AFFINE);
        assertArrayEquals(new int[] {10, 12, 12, 10, 8, 255}, QuantOps.quantize(x, p).data().asInt());
    }

    @Test
    void handlesViewsFortranOrderAndQint32() {
        INDArray base = Nd4j.createFromArray(new float[][] {{0.1f, 0.2f, 0.3f}, {0.4f, 0.5f, 0.6f}});
        INDArray view = base.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 3));
        assertArrayEquals(new int[] {2, 3, 5, 6}, QuantOps.quantizePerTensor(view, 0.1f, 0, QuantDType.QINT8)
                .data().asInt());
        INDArray f = base.dup('f');
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6},
                QuantOps.quantizePerTensor(f, 0.1f, 0, QuantDType.QINT8).dup('c').data().asInt());
        INDArray q32 = QuantOps.quantizePerTensor(Nd4j.createFromArray(1e9f, -1e12f), 0.5f, 0, QuantDType.QINT32);
        assertEquals(DataType.INT, q32.dataType());
        assertArrayEquals(new int[] {2000000000, Integer.MIN_VALUE}, q32.data().asInt());
    }

    @Test
    void infinitiesSaturateAndNanIsRejected() {
        INDArray x = Nd4j.createFromArray(Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1f);
        assertArrayEquals(new int[] {127, -128, 10},
                QuantOps.quantizePerTensor(x, 0.1f, 0, QuantDType.QINT8).data().asInt());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantOps.quantizePerTensor(
                Nd4j.createFromArray(1f, Float.NaN, Float.NaN), 0.1f, 0, QuantDType.QINT8));
        assertTrue(e.getMessage().contains("2 NaN") && e.getMessage().contains("index 1"), e.getMessage());
    }

    @Test
    void badArgumentsNameTheValue() {
        INDArray x = Nd4j.createFromArray(new float[][] {{1f, 2f}, {3f, 4f}});
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> QuantOps.quantizePerTensor(x, 0f, 0, QuantDType.QINT8)).getMessage().contains("0.0"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> QuantOps.quantizePerTensor(x, 1f, 200, QuantDType.QINT8)).getMessage().contains("200"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> QuantOps.quantizePerTensor(x, 1f, 0, QuantDType.FLOAT32)).getMessage().contains("float32"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> QuantOps.quantizePerChannel(x,
                new float[] {1f, 1f, 1f}, new int[3], 1, QuantDType.QINT8)).getMessage().contains("3 scales"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> QuantOps.quantizePerChannel(x,
                new float[] {1f, 1f}, new int[2], 2, QuantDType.QINT8)).getMessage().contains("axis 2"));
        assertThrows(IllegalArgumentException.class,
                () -> QuantOps.dequantize(x, QParams.perTensor(1f, 0, QuantDType.QINT8)));
    }
}
