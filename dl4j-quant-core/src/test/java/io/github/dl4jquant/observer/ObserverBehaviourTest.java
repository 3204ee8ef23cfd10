package io.github.dl4jquant.observer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Defaults, merge, moving averages, histograms and the settings round trip of the observers. */
class ObserverBehaviourTest {

    private static INDArray randn(long seed, int rows, int cols, float scale) {
        Random r = new Random(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian() * scale;
        }
        return Nd4j.createFromArray(v).reshape(rows, cols);
    }

    @Test
    void buildersDefaultToPyTorchsConstructors() {
        Observer mm = MinMaxObserver.builder().build();
        assertEquals(QuantDType.QUINT8, mm.dtype());
        assertEquals(QScheme.PER_TENSOR_AFFINE, mm.qscheme());
        assertEquals(0, mm.quantMin());
        assertEquals(255, mm.quantMax());
        assertEquals(0x1p-23f, mm.eps());
        assertFalse(mm.isDynamic());
        Observer pc = PerChannelMinMaxObserver.builder().build();
        assertEquals(QScheme.PER_CHANNEL_AFFINE, pc.qscheme());
        assertEquals(0, pc.factory().toMap().get("ch_axis"));
        assertEquals(0.01, MovingAverageMinMaxObserver.builder().toMap().get("averaging_constant"));
        assertEquals(0.01, MovingAveragePerChannelMinMaxObserver.builder().toMap().get("averaging_constant"));
        Map<String, Object> h = HistogramObserver.builder().toMap();
        assertEquals(2048, h.get("bins"));
        assertEquals(128, h.get("upsample_rate"));
        assertEquals("torch.quint8", h.get("dtype"));
        assertEquals(QuantDType.FLOAT32, PlaceholderObserver.builder().build().dtype());
        assertEquals(255, FixedQParamsObserver.builder(0.5f, 3).build().quantMax());
    }

    @Test
    void calculateQminQmaxFollowsPyTorch() {
        assertArrayEquals(new int[] {0, 127}, UniformQuantizationObserverBase.calculateQminQmax(0, 255,
                QuantDType.QUINT8, true));
        assertArrayEquals(new int[] {-64, 63}, UniformQuantizationObserverBase.calculateQminQmax(-127, 127,
                QuantDType.QINT8, true));
        assertArrayEquals(new int[] {-64, 63}, UniformQuantizationObserverBase.calculateQminQmax(null, null,
                QuantDType.QINT8, true));
        assertArrayEquals(new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE},
                UniformQuantizationObserverBase.calculateQminQmax(null, null, QuantDType.QINT32, false));
        // symmetric quint8 with a custom range: zero point is the rounded-down middle, (0 + 127) // 2 = 63
        Observer o = MinMaxObserver.builder().qscheme(QScheme.PER_TENSOR_SYMMETRIC).quantMin(0).quantMax(127).build();
        o.observe(Nd4j.createFromArray(-1f, 2f));
        assertEquals(63, o.calculateQParams().zeroPoint());
        assertEquals(2f / 63.5f, o.calculateQParams().scale());
    }

    @Test
    void minMaxMergeEqualsObservingEverything() {
        INDArray a = randn(1, 64, 32, 1f);
        INDArray b = randn(2, 64, 32, 3f);
        for (ObserverFactory f : List.of(MinMaxObserver.builder(), PerChannelMinMaxObserver.builder().chAxis(1)
                .dtype(QuantDType.QINT8).qscheme(QScheme.PER_CHANNEL_SYMMETRIC))) {
            Observer whole = f.create();
            whole.observe(a);
            whole.observe(b);
            Observer left = f.create();
            left.observe(a);
            Observer right = f.create();
            right.observe(b);
            left.merge(right);
            assertArrayEquals(whole.minVal(), left.minVal(), 0f);
            assertArrayEquals(whole.maxVal(), left.maxVal(), 0f);
            assertEquals(whole.calculateQParams(), left.calculateQParams());
            Observer empty = f.create();
            empty.merge(left);
            assertEquals(whole.calculateQParams(), empty.calculateQParams());
        }
    }

    @Test
    void perChannelFindsTheChannelsOfDl4jDenseWeights() {
        // W [nIn=3, nOut=2]: channel j is column j
        INDArray w = Nd4j.createFromArray(new float[][] {{1f, -8f}, {-2f, 4f}, {0.5f, 2f}});
        Observer obs = PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8)
                .qscheme(QScheme.PER_CHANNEL_SYMMETRIC).build();
        obs.observe(w);
        assertArrayEquals(new float[] {-2f, -8f}, obs.minVal(), 0f);
        assertArrayEquals(new float[] {1f, 4f}, obs.maxVal(), 0f);
        QParams q = obs.calculateQParams();
        assertEquals(1, q.axis());
        assertArrayEquals(new float[] {2f / 127.5f, 8f / 127.5f}, q.scales(), 0f);
        Observer last = PerChannelMinMaxObserver.builder().chAxis(-1).build();
        last.observe(w);
        assertArrayEquals(obs.maxVal(), last.maxVal(), 0f);
        Observer view = PerChannelMinMaxObserver.builder().chAxis(1).build();
        view.observe(Nd4j.createFromArray(new float[][] {{9f, 1f, -8f}, {9f, -2f, 4f}, {9f, 0.5f, 2f}})
                .get(NDArrayIndex.all(), NDArrayIndex.interval(1, 3)));
        assertArrayEquals(obs.minVal(), view.minVal(), 0f);
    }

    @Test
    void movingAverageFollowsTheFormulaAndMergesByBatchCount() {
        MovingAverageMinMaxObserver obs = MovingAverageMinMaxObserver.builder().averagingConstant(0.5).build();
        obs.observe(Nd4j.createFromArray(0f, 1f));
        obs.observe(Nd4j.createFromArray(-2f, 3f));
        assertArrayEquals(new float[] {-1f}, obs.minVal(), 0f);
        assertArrayEquals(new float[] {2f}, obs.maxVal(), 0f);
        MovingAverageMinMaxObserver other = MovingAverageMinMaxObserver.builder().averagingConstant(0.5).build();
        other.observe(Nd4j.createFromArray(-4f, 8f));
        obs.merge(other);   // weights 2:1
        assertEquals(-2f, obs.minVal()[0], 1e-6f);
        assertEquals(4f, obs.maxVal()[0], 1e-6f);
        Observer pc = MovingAveragePerChannelMinMaxObserver.builder().averagingConstant(0.25).build();
        pc.observe(Nd4j.createFromArray(new float[][] {{0f, 4f}, {-4f, 0f}}));
        pc.observe(Nd4j.createFromArray(new float[][] {{-4f, 8f}, {-8f, 4f}}));
        assertArrayEquals(new float[] {-1f, -5f}, pc.minVal(), 0f);
        assertArrayEquals(new float[] {5f, 1f}, pc.maxVal(), 0f);
    }

    @Test
    void histogramKeepsEveryCountWhileTheRangeGrows() {
        HistogramObserver obs = HistogramObserver.builder().build();
        obs.observe(randn(3, 32, 32, 1f));
        obs.observe(randn(4, 32, 32, 5f));
        obs.observe(randn(5, 32, 32, 0.1f));
        float total = 0;
        for (float c : obs.histogram()) {
            total += c;
        }
        assertEquals(3 * 1024f, total, 1e-2f);
        Observer minmax = MinMaxObserver.builder().build();
        minmax.observe(randn(3, 32, 32, 1f));
        minmax.observe(randn(4, 32, 32, 5f));
        assertEquals(minmax.minVal()[0], obs.minVal()[0]);
        assertTrue(obs.maxVal()[0] >= minmax.maxVal()[0]);
        // the L2 search clips the tails of a Gaussian: a smaller scale than min/max
        assertTrue(obs.calculateQParams().scale() < minmax.calculateQParams().scale());
    }

    @Test
    void fixedHistcRangeEqualsPyTorch113WhenTheRangeIsIntegral() {
        INDArray x = randn(6, 64, 48, 0.5f);
        float[] v = x.data().asFloat();
        v[0] = -3f;
        v[1] = 4f;
        INDArray integral = Nd4j.createFromArray(v).reshape(64, 48);
        HistogramObserver fixed = HistogramObserver.builder().build();
        HistogramObserver legacy = HistogramObserver.builder().truncateHistcRange(true).build();
        fixed.observe(integral);
        legacy.observe(integral);
        assertArrayEquals(legacy.histogram(), fixed.histogram(), 0f);
        assertEquals(legacy.calculateQParams(), fixed.calculateQParams());
    }

    @Test
    void histogramMergeUnionsRangesAndKeepsCounts() {
        HistogramObserver a = HistogramObserver.builder().build();
        HistogramObserver b = HistogramObserver.builder().build();
        a.observe(randn(7, 16, 16, 1f));
        b.observe(randn(8, 16, 16, 4f));
        HistogramObserver copy = HistogramObserver.builder().build();
        copy.merge(b);
        assertArrayEquals(b.histogram(), copy.histogram(), 0f);
        a.merge(b);
        assertEquals(Math.min(a.minVal()[0], b.minVal()[0]), a.minVal()[0]);
        assertEquals(b.maxVal()[0], Math.max(b.maxVal()[0], a.maxVal()[0]), 0f);
        float total = 0;
        for (float c : a.histogram()) {
            total += c;
        }
        assertEquals(512f, total, 1e-3f);
        HistogramObserver seq = HistogramObserver.builder().build();
        seq.observe(randn(7, 16, 16, 1f));
        seq.observe(randn(8, 16, 16, 4f));
        assertEquals(seq.calculateQParams().scale(), a.calculateQParams().scale(),
                0.05f * seq.calculateQParams().scale());
    }

    @Test
    void histogramKeepsAConstantFirstBatchAndIgnoresInfinities() {
        HistogramObserver obs = HistogramObserver.builder().build();
        obs.observe(Nd4j.valueArrayOf(new long[] {4, 4}, 5f));
        obs.observe(Nd4j.createFromArray(-1f, 1f, Float.POSITIVE_INFINITY));
        assertArrayEquals(new float[] {-1f}, obs.minVal(), 0f);
        assertArrayEquals(new float[] {5f}, obs.maxVal(), 0f);
        float[] h = obs.histogram();
        assertEquals(16f, h[2047], "the 16 fives");
        assertEquals(1f, h[0], "-1");
        assertEquals(1f, h[682], "1 = -1 + 682.67 bins of 6/2048");
    }

    @Test
    void percentileClipsRareOutliers() {
        float[] v = new float[10001];
        for (int i = 0; i < 10000; i++) {
            v[i] = i;
        }
        v[10000] = 1e6f;
        PercentileObserver obs = PercentileObserver.builder().percentile(99.9).build();
        obs.observe(Nd4j.createFromArray(v));
        float[] range = obs.clippedRange();
        assertEquals(0f, range[0]);
        assertTrue(range[1] > 9990f && range[1] < 11000f, "clipped max " + range[1]);
        assertEquals(range[1] / 255f, obs.calculateQParams().scale(), 1e-6f);
        PercentileObserver all = PercentileObserver.builder().percentile(100).build();
        all.observe(Nd4j.createFromArray(v));
        assertEquals(1e6f, all.clippedRange()[1]);
    }

    @Test
    void placeholderAndFixedQParams() {
        PlaceholderObserver dyn = PlaceholderObserver.builder().dtype(QuantDType.QUINT8).quantMin(0).quantMax(255)
                .isDynamic(true).build();
        dyn.observe(Nd4j.createFromArray(1f, 2f));
        assertTrue(dyn.isDynamic());
        assertFalse(dyn.isCalibrated());
        assertEquals(255, dyn.quantMax());
        assertTrue(assertThrows(IllegalStateException.class, dyn::calculateQParams).getMessage()
                .contains("PlaceholderObserver"));
        FixedQParamsObserver sigmoid = FixedQParamsObserver.builder(1f / 256, 0).build();
        assertEquals(QParams.perTensor(1f / 256, 0, QuantDType.QUINT8), sigmoid.calculateQParams());
        assertArrayEquals(new float[] {255f / 256}, sigmoid.maxVal(), 0f);
        assertEquals(0.00390625f, sigmoid.scale());
    }

    @Test
    void everyFactoryRoundTripsThroughItsMap() {
        List<ObserverFactory> factories = List.of(
                MinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_TENSOR_SYMMETRIC)
                        .quantMin(-127).quantMax(127).eps(0x1p-12f),
                MovingAverageMinMaxObserver.builder().averagingConstant(1).isDynamic(true),
                PerChannelMinMaxObserver.builder().chAxis(1),
                MovingAveragePerChannelMinMaxObserver.builder().averagingConstant(0.1).chAxis(1),
                HistogramObserver.builder().bins(1024).upsampleRate(16).reduceRange(true).truncateHistcRange(true),
                PercentileObserver.builder().percentile(99.5),
                PlaceholderObserver.builder().dtype(QuantDType.FLOAT16),
                FixedQParamsObserver.builder(2f / 256, 128).quantMin(0).quantMax(255));
        for (ObserverFactory f : factories) {
            ObserverFactory back = ObserverFactories.fromMap(f.toMap());
            assertEquals(f.toMap(), back.toMap());
            assertEquals(f, back);
            assertEquals(f.toMap(), f.create().factory().toMap());
        }
        assertNotEquals(MinMaxObserver.builder(), MinMaxObserver.builder().reduceRange(true));
    }

    @Test
    void observingIsCheapEnoughForLargeBatches() {
        INDArray x = Nd4j.rand(DataType.FLOAT, 256, 4096);
        Observer mm = MinMaxObserver.builder().build();
        Observer pc = PerChannelMinMaxObserver.builder().chAxis(1).build();
        Observer h = HistogramObserver.builder().build();
        for (int i = 0; i < 3; i++) {
            mm.observe(x);
            pc.observe(x);
            h.observe(x);
        }
        long t0 = System.nanoTime();
        h.observe(x);
        long histogramNanos = System.nanoTime() - t0;
        assertTrue(histogramNanos < 500_000_000L, "HistogramObserver took " + histogramNanos / 1e6 + " ms");
        assertEquals(x.minNumber().floatValue(), mm.minVal()[0]);
        assertEquals(4096, pc.minVal().length);
    }

    @Test
    void aBinHoldingMoreThan2To24ValuesOfOneBatchKeepsCounting() {
        INDArray x = Nd4j.zeros(DataType.FLOAT, 17_000_000);
        x.putScalar(0, 1f);
        HistogramObserver h = HistogramObserver.builder().build();
        h.observe(x);
        // a float32 counter would stop at 16,777,216
        assertEquals((float) 16_999_999, h.histogram()[0], "16,999,999 rounded to float32, not stuck at 2^24");
        assertEquals(1f, h.histogram()[2047]);
    }
}
