package io.github.dl4jquant.observer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/** Bad input gives exceptions whose messages name the observer and the offending values. */
class ObserverBadInputTest {

    private static void assertMessage(Class<? extends Throwable> type, Executable e, String... parts) {
        String msg = assertThrows(type, e).getMessage();
        for (String p : parts) {
            assertTrue(msg.contains(p), "message '" + msg + "' lacks '" + p + "'");
        }
    }

    @Test
    void uncalibratedObserversRefuseToInventQParams() {
        for (ObserverFactory f : List.of(MinMaxObserver.builder(), MovingAverageMinMaxObserver.builder(),
                PerChannelMinMaxObserver.builder(), MovingAveragePerChannelMinMaxObserver.builder(),
                HistogramObserver.builder(), PercentileObserver.builder())) {
            Observer o = f.create();
            String name = (String) f.toMap().get("name");
            assertMessage(IllegalStateException.class, o::calculateQParams, name, "observe");
            o.observe(Nd4j.createFromArray(new float[][] {{1f, 2f}}));
            o.reset();
            assertMessage(IllegalStateException.class, o::calculateQParams, name);
        }
    }

    @Test
    void nanIsRejectedEverywhereAndInfinityByMinMaxObservers() {
        float[] nan = {1f, Float.NaN, 3f};
        float[] inf = {1f, Float.NEGATIVE_INFINITY, 3f};
        for (ObserverFactory f : List.of(MinMaxObserver.builder(), MovingAverageMinMaxObserver.builder(),
                PerChannelMinMaxObserver.builder(), HistogramObserver.builder(), PercentileObserver.builder())) {
            String name = (String) f.toMap().get("name");
            assertMessage(IllegalArgumentException.class, () -> f.create().observe(Nd4j.createFromArray(nan)), name,
                    "1 NaN", "index 1");
        }
        assertMessage(IllegalArgumentException.class,
                () -> MinMaxObserver.builder().build().observe(Nd4j.createFromArray(inf)), "1 infinite", "-Infinity");
        assertMessage(IllegalArgumentException.class, () -> PerChannelMinMaxObserver.builder().build()
                .observe(Nd4j.createFromArray(inf)), "infinite");
    }

    @Test
    void emptyNullAndIntegerArraysAreRejected() {
        Observer o = MinMaxObserver.builder().build();
        assertMessage(IllegalArgumentException.class, () -> o.observe(Nd4j.create(DataType.FLOAT, 0)),
                "MinMaxObserver", "empty");
        assertMessage(IllegalArgumentException.class, () -> o.observe(null), "null");
        assertMessage(IllegalArgumentException.class, () -> o.observe(Nd4j.createFromArray(1, 2)), "INT");
    }

    @Test
    void perChannelChecksAxisAndChannelCount() {
        Observer o = PerChannelMinMaxObserver.builder().chAxis(2).build();
        assertMessage(IllegalArgumentException.class, () -> o.observe(Nd4j.rand(DataType.FLOAT, 3, 4)),
                "chAxis 2", "[3, 4]", "rank 2");
        Observer p = PerChannelMinMaxObserver.builder().chAxis(1).build();
        p.observe(Nd4j.rand(DataType.FLOAT, 3, 4));
        assertMessage(IllegalArgumentException.class, () -> p.observe(Nd4j.rand(DataType.FLOAT, 3, 5)),
                "4 channels", "has 5");
    }

    @Test
    void invalidSettingsAreRejectedAtBuild() {
        assertMessage(IllegalArgumentException.class,
                () -> MinMaxObserver.builder().quantMin(10).quantMax(10).build(), "quantMin (10)", "quantMax (10)");
        assertMessage(IllegalArgumentException.class, () -> MinMaxObserver.builder().dtype(QuantDType.QINT8)
                .quantMin(-128).quantMax(255).build(), "[-128, 255]", "wider", "torch.qint8");
        assertMessage(IllegalArgumentException.class, () -> MinMaxObserver.builder().quantMin(0).build(),
                "quantMax=null");
        assertMessage(IllegalArgumentException.class,
                () -> MinMaxObserver.builder().quantMin(1).quantMax(255).build(), "contain 0");
        assertMessage(IllegalArgumentException.class,
                () -> MinMaxObserver.builder().qscheme(QScheme.PER_CHANNEL_AFFINE).build(), "per_channel_affine");
        assertMessage(IllegalArgumentException.class, () -> MinMaxObserver.builder()
                .qscheme(QScheme.PER_TENSOR_SYMMETRIC).reduceRange(true).build(), "symmetric", "quint8");
        assertMessage(IllegalArgumentException.class,
                () -> MinMaxObserver.builder().dtype(QuantDType.FLOAT16).build(), "torch.float16");
        assertMessage(IllegalArgumentException.class, () -> MinMaxObserver.builder().eps(0f).build(), "eps");
        assertMessage(IllegalArgumentException.class,
                () -> MovingAverageMinMaxObserver.builder().isDynamic(true).build(), "0.01");
        assertMessage(IllegalArgumentException.class,
                () -> PerChannelMinMaxObserver.builder().isDynamic(true).build(), "dynamic");
        assertMessage(IllegalArgumentException.class, () -> HistogramObserver.builder().bins(0).build(), "bins");
        assertMessage(IllegalArgumentException.class,
                () -> PercentileObserver.builder().percentile(0).build(), "percentile");
        assertMessage(IllegalArgumentException.class,
                () -> FixedQParamsObserver.builder(0.1f, 300).build(), "300");
    }

    @Test
    void mergeNeedsTheSameKindAndSettings() {
        Observer a = MinMaxObserver.builder().build();
        assertMessage(IllegalArgumentException.class, () -> a.merge(MinMaxObserver.builder().reduceRange(true)
                .build()), "different settings", "reduce_range=true");
        assertMessage(IllegalArgumentException.class, () -> a.merge(HistogramObserver.builder().build()),
                "MinMaxObserver", "HistogramObserver");
        Observer p = PerChannelMinMaxObserver.builder().build();
        p.observe(Nd4j.rand(DataType.FLOAT, 3, 4));
        Observer q = PerChannelMinMaxObserver.builder().build();
        q.observe(Nd4j.rand(DataType.FLOAT, 5, 4));
        assertMessage(IllegalArgumentException.class, () -> p.merge(q), "3 channels", "5 channels");
    }

    @Test
    void factoryMapsWithUnknownNamesOrOptionsAreRejected() {
        assertMessage(IllegalArgumentException.class,
                () -> ObserverFactories.fromMap(java.util.Map.of("name", "NoSuchObserver")), "NoSuchObserver",
                "HistogramObserver");
        assertMessage(IllegalArgumentException.class, () -> ObserverFactories.fromMap(
                java.util.Map.of("name", "MinMaxObserver", "binz", 3)), "binz", "reduce_range");
        assertMessage(IllegalArgumentException.class, () -> ObserverFactories.fromMap(
                java.util.Map.of("name", "MinMaxObserver", "reduce_range", "yes")), "reduce_range", "yes");
    }
}
