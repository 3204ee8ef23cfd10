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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class ObserverStateTest {

    static Stream<ObserverFactory> factories() {
        return Stream.of(
                MinMaxObserver.builder().reduceRange(true),
                MovingAverageMinMaxObserver.builder().averagingConstant(0.1),
                PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8)
                        .qscheme(QScheme.PER_CHANNEL_SYMMETRIC),
                MovingAveragePerChannelMinMaxObserver.builder().chAxis(1),
                HistogramObserver.builder().reduceRange(true),
                HistogramObserver.builder().bins(64).truncateHistcRange(true),
                PercentileObserver.builder().percentile(99.9),
                PlaceholderObserver.builder().dtype(QuantDType.FLOAT16),
                FixedQParamsObserver.builder(1f / 256, 0));
    }

    /** Three differently ranged shards of [rows, 8] values, the last with a long right tail. */
    private static List<INDArray> shards() {
        return List.of(batch(1, 40, 1f, 0f), batch(2, 25, 3f, 0.5f), batch(3, 60, 0.5f, -2f));
    }

    private static INDArray batch(long seed, int rows, float scale, float shift) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.FLOAT, rows, 8).muli(scale).addi(shift);
    }

    private static Observer observed(ObserverFactory f, List<INDArray> batches) {
        Observer o = f.create();
        batches.forEach(o::observe);
        return o;
    }

    @ParameterizedTest
    @MethodSource("factories")
    void jsonAndBinaryRoundTripsRestoreTheSameStatistics(ObserverFactory f) {
        Observer original = observed(f, shards());
        ObserverState s = original.state();
        ObserverState fromJson = ObserverState.fromJson(s.toJson());
        ObserverState fromBytes = ObserverState.fromBytes(s.toBytes());
        assertEquals(s, fromJson, s.toJson());
        assertEquals(s, fromBytes);
        Observer restored = fromBytes.restore();
        assertEquals(original.getClass(), restored.getClass());
        assertEquals(s, restored.state());
        assertEquals(original.isCalibrated(), restored.isCalibrated());
        if (original.isCalibrated()) {
            assertEquals(original.calculateQParams(), restored.calculateQParams());
        }
    }

    @ParameterizedTest
    @MethodSource("factories")
    void mergingStatesIsMergingObservers(ObserverFactory f) {
        Observer a = observed(f, shards().subList(0, 2));
        Observer b = observed(f, shards().subList(2, 3));
        ObserverState viaStates = a.state().merge(b.state());
        a.merge(b);
        assertEquals(a.state(), viaStates);
    }

    @ParameterizedTest
    @MethodSource("factories")
    void anEmptyObserverHasAnEmptyStateThatLoadsBack(ObserverFactory f) {
        Observer fresh = f.create();
        ObserverState s = fresh.state();
        Observer loaded = observed(f, shards());
        loaded.loadState(s);
        assertEquals(fresh.isCalibrated(), loaded.isCalibrated());
        assertEquals(s, loaded.state());
    }

    @Test
    void minMaxAndPerChannelShardsMergeToExactlyTheSingleObserver() {
        for (ObserverFactory f : List.of(MinMaxObserver.builder().reduceRange(true),
                PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8)
                        .qscheme(QScheme.PER_CHANNEL_SYMMETRIC))) {
            Observer single = observed(f, shards());
            ObserverState merged = f.create().state();
            for (INDArray shard : shards()) {
                merged = merged.merge(ObserverState.fromBytes(observed(f, List.of(shard)).state().toBytes()));
            }
            QParams expected = single.calculateQParams();
            assertEquals(expected, merged.restore().calculateQParams(), f.toString());
            assertArrayEquals(single.minVal(), merged.minVal());
            assertArrayEquals(single.maxVal(), merged.maxVal());
        }
    }

    @Test
    void aSecondPassOverOneGridGivesTheHistogramOfAllValuesAtOnce() {
        HistogramObserver.Builder f = HistogramObserver.builder().reduceRange(true);
        INDArray all = Nd4j.vstack(shards().toArray(new INDArray[0]));
        Observer single = observed(f, List.of(all));

        ObserverState firstPass = f.create().state();
        for (INDArray shard : shards()) {
            firstPass = firstPass.merge(observed(f, List.of(shard)).state());
        }
        assertArrayEquals(new float[] {all.minNumber().floatValue(), all.maxNumber().floatValue()},
                firstPass.observedRange(), "the observed range is the data's, not the grown histogram range");
        ObserverState seed = firstPass.withEmptyHistogramOverObservedRange();
        assertEquals(0f, sum(seed.histogram()));
        ObserverState secondPass = seed;
        for (INDArray shard : shards()) {
            Observer o = f.create();
            o.loadState(seed);
            o.observe(shard);
            secondPass = secondPass.merge(o.state());
        }
        assertArrayEquals(single.state().histogram(), secondPass.histogram());
        assertEquals(single.calculateQParams(), secondPass.restore().calculateQParams());
        // the one-pass merge re-bins differently ranged shards, so it is only close
        assertFalse(java.util.Arrays.equals(single.state().histogram(), firstPass.histogram()));
        assertEquals(sum(single.state().histogram()), sum(firstPass.histogram()), 1e-2f);
    }

    private static float sum(float[] v) {
        float s = 0;
        for (float x : v) {
            s += x;
        }
        return s;
    }

    @Test
    void theBinaryFormIsCompact() {
        INDArray x = batch(4, 256, 1f, 0f);
        assertTrue(observed(MinMaxObserver.builder(), List.of(x)).state().toBytes().length < 250);
        int histogramBytes = observed(HistogramObserver.builder(), List.of(x)).state().toBytes().length;
        assertTrue(histogramBytes > 4 * 2048 && histogramBytes < 4 * 2048 + 400, "bytes: " + histogramBytes);
    }

    @Test
    void aStateOfOtherSettingsIsRefusedWithBothSettings() {
        ObserverState s = observed(MinMaxObserver.builder(), shards()).state();
        Observer reduced = MinMaxObserver.builder().reduceRange(true).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> reduced.loadState(s));
        assertTrue(e.getMessage().contains("other settings") && e.getMessage().contains("reduce_range"),
                e.getMessage());
        Observer histogram = HistogramObserver.builder().build();
        assertThrows(IllegalArgumentException.class, () -> histogram.loadState(s));
        assertThrows(IllegalArgumentException.class,
                () -> s.merge(observed(PercentileObserver.builder(), shards()).state()));
    }

    @Test
    void malformedStatesAreRejected() {
        byte[] bytes = observed(MinMaxObserver.builder(), shards()).state().toBytes();
        IllegalArgumentException truncated = assertThrows(IllegalArgumentException.class,
                () -> ObserverState.fromBytes(java.util.Arrays.copyOf(bytes, bytes.length - 3)));
        assertTrue(truncated.getMessage().contains("truncated"), truncated.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ObserverState.fromBytes(new byte[] {1, 2, 3, 4, 5}));
        assertThrows(IllegalArgumentException.class, () -> ObserverState.fromJson("{\"settings\": 3}"));
        IllegalArgumentException wrongBins = assertThrows(IllegalArgumentException.class,
                () -> HistogramObserver.builder().build().loadState(ObserverState
                        .builder(HistogramObserver.builder().toMap()).minVal(new float[] {0f})
                        .maxVal(new float[] {1f}).histogram(new float[3]).build()));
        assertTrue(wrongBins.getMessage().contains("2048 bin counts"), wrongBins.getMessage());
        assertNotEquals(ObserverState.builder(MinMaxObserver.builder().toMap()).build(),
                ObserverState.fromBytes(bytes));
    }

    @Test
    void anObserverWithoutStateSupportSaysWhatToImplement() {
        Observer custom = new Observer() {
            @Override
            public void observe(INDArray x) {
            }

            @Override
            public QParams calculateQParams() {
                return null;
            }

            @Override
            public void reset() {
            }

            @Override
            public void merge(Observer other) {
            }

            @Override
            public boolean isCalibrated() {
                return false;
            }

            @Override
            public float[] minVal() {
                return new float[0];
            }

            @Override
            public float[] maxVal() {
                return new float[0];
            }

            @Override
            public QuantDType dtype() {
                return QuantDType.QUINT8;
            }

            @Override
            public QScheme qscheme() {
                return QScheme.PER_TENSOR_AFFINE;
            }

            @Override
            public int quantMin() {
                return 0;
            }

            @Override
            public int quantMax() {
                return 255;
            }

            @Override
            public float eps() {
                return 1e-7f;
            }

            @Override
            public boolean isDynamic() {
                return false;
            }

            @Override
            public ObserverFactory factory() {
                return null;
            }
        };
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, custom::state);
        assertTrue(e.getMessage().contains("implement Observer.state()"), e.getMessage());
    }
}
