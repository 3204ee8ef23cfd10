package io.github.dl4jquant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.nn.QParamsConfig;
import io.github.dl4jquant.nn.QuantMath;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.observer.ObserverFactories;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The vocabulary of weight-only embeddings: quint4x2, per_channel_affine_float_qparams with float zero points, the
 * observer's float-qparams formula, quantize/dequantize with them, float16 rounding, and the weight-only QConfigs
 * with their JSON round trips.
 */
class FloatQParamsTest {

    @Test
    void pyTorchNamesParse() {
        assertEquals(QuantDType.QUINT4X2, QuantDType.fromTorchName("torch.quint4x2"));
        assertEquals(QuantDType.QUINT4X2, QuantDType.fromTorchName("quint4x2"));
        assertEquals(15, QuantDType.QUINT4X2.quantMax());
        assertTrue(QuantDType.QUINT4X2.isQuantized());
        QScheme s = QScheme.fromTorchName("torch.per_channel_affine_float_qparams");
        assertEquals(QScheme.PER_CHANNEL_AFFINE_FLOAT_QPARAMS, s);
        assertTrue(s.isPerChannel() && s.isFloatQParams() && !s.isSymmetric());
    }

    @Test
    void observerGivesPyTorchsFloatQParamsPerRow() {
        Observer obs = QConfigs.getFloatQParamsWeightOnlyQConfig().weight().create();
        obs.observe(Nd4j.createFromArray(new float[][] {{-1f, 0.5f, 2f}, {0.25f, 0.75f, 1f}, {3f, 3f, 3f}}));
        QParams q = obs.calculateQParams();
        assertEquals(QScheme.PER_CHANNEL_AFFINE_FLOAT_QPARAMS, q.qscheme());
        assertEquals(0, q.axis());
        // scale = (max - min) / 255 (the range is not widened to 0); 1 where that is not above eps; zp = -min / scale
        float s0 = 3f / 255f;
        float s1 = 0.75f / 255f;
        assertArrayEquals(new float[] {s0, s1, 1f}, q.scales());
        assertArrayEquals(new float[] {1f / s0, -0.25f / s1, -3f}, q.floatZeroPoints());
        assertThrows(IllegalStateException.class, q::zeroPoints, "integer zero points do not exist here");
        Observer four = QConfigs.getFloatQParamsWeightOnlyQConfig4bit().weight().create();
        assertEquals(0, four.quantMin());
        assertEquals(15, four.quantMax());
    }

    @Test
    void quantizeAndDequantizeWithFloatZeroPointsAsAten() {
        QParams q = QParams.perChannelFloatQParams(new float[] {0.1f, 0.5f}, new float[] {2.5f, 0f}, 0,
                QuantDType.QUINT8, 0, 255);
        INDArray x = Nd4j.createFromArray(new float[][] {{-0.25f, 0f, 30f}, {1.25f, -4f, 0.75f}});
        INDArray codes = QuantOps.quantize(x, q);
        // rint(x * (1/s) + zp): -2.5 + 2.5 = 0; 2.5 (-> 2, half to even); 302.5 clamps to 255; 2.5 -> 2; -8 -> 0; 1.5 -> 2
        assertArrayEquals(new int[] {0, 2, 255, 2, 0, 2}, codes.data().asInt());
        assertArrayEquals(new float[] {(0 - 2.5f) * 0.1f, (2 - 2.5f) * 0.1f, (255 - 2.5f) * 0.1f, 1f, 0f, 1f},
                QuantOps.dequantize(codes, q).data().asFloat());
        QParams q4 = QParams.perChannelFloatQParams(new float[] {1f}, new float[] {0f}, 0, QuantDType.QUINT4X2, 0, 15);
        assertArrayEquals(new int[] {0, 15, 7}, QuantOps.quantize(Nd4j.createFromArray(new float[][] {{-3f, 40f, 7f}}),
                q4).data().asInt());
    }

    @Test
    void float16RoundingIsRoundHalfToEven() {
        assertEquals(65504f, QuantMath.roundToFloat16(65519.99f));
        assertEquals(Float.POSITIVE_INFINITY, QuantMath.roundToFloat16(65520f));
        assertEquals(0.333251953125f, QuantMath.roundToFloat16(1f / 3f));
        assertEquals(1f, QuantMath.roundToFloat16(1f + 0x1p-11f), "a tie rounds to the even significand");
        assertEquals(1f + 0x1p-9f, QuantMath.roundToFloat16(1f + 0x1.8p-10f), "a tie rounds to the even significand");
        assertEquals(0x1p-24f, QuantMath.roundToFloat16(0x1.2p-24f), "subnormal step 2^-24");
        assertEquals(-0f, QuantMath.roundToFloat16(-0x1p-26f));
    }

    @Test
    void weightOnlyConfigsRoundTripThroughJson() {
        QConfig rows4 = QConfigs.getFloatQParamsWeightOnlyQConfig4bit();
        assertEquals(rows4, QConfig.fromMap(rows4.toMap()));
        assertEquals("torch.per_channel_affine_float_qparams", rows4.weight().toMap().get("qscheme"));
        assertEquals("torch.quint4x2", rows4.weight().toMap().get("dtype"));
        assertEquals(PerChannelMinMaxObserver.builder().chAxis(0).dtype(QuantDType.QUINT8)
                .qscheme(QScheme.PER_CHANNEL_AFFINE_FLOAT_QPARAMS), ObserverFactories.fromMap(
                QConfigs.getFloatQParamsWeightOnlyQConfig().weight().toMap()));
        QConfigMapping dynamic = QConfigs.getDefaultDynamicQConfigMapping("x86");
        assertEquals(QConfigs.getFloatQParamsWeightOnlyQConfig(),
                dynamic.resolve("emb", EmbeddingSequenceLayer.class, 0).qconfig());
        assertEquals(QConfigs.getFloatQParamsWeightOnlyQConfig(), dynamic.resolve("e", EmbeddingLayer.class, 0).qconfig());
        assertEquals(QConfigs.getDefaultDynamicQConfig("x86"), dynamic.resolve("d", DenseLayer.class, 0).qconfig());
        assertEquals(dynamic, QConfigMapping.fromJson(dynamic.toJson()));

        QParams q = QParams.perChannelFloatQParams(new float[] {0.5f, 0.25f}, new float[] {3.75f, -1f}, 0,
                QuantDType.QUINT4X2, 0, 15);
        assertEquals(q, QParamsConfig.of(q).toQParams("q"));
        assertArrayEquals(new float[] {3.75f, -1f}, (float[]) q.toMap().get("zero_point"));
    }
}
