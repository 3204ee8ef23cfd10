package io.github.dl4jquant.bench;

import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.observer.HistogramObserver;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Calibration cost: observing one [256, 4096] float batch with each observer, and quantizing it to UBYTE, against
 * DL4J's fp32 forward of a 4096x4096 DenseLayer on the same batch (the yardstick issue 3 sets), in one run.
 *
 * <pre>{@code
 * java -cp ... org.openjdk.jmh.Main ObserverBenchmark
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2", "-Xmx4g",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class ObserverBenchmark {
    private INDArray batch;
    private ComputationGraph dense4096;
    private Observer minMax;
    private Observer perChannel;
    private Observer histogram;

    @Setup(Level.Trial)
    public void setUp() {
        Nd4j.getRandom().setSeed(5);
        batch = Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, 256, 4096);
        dense4096 = BenchModels.fp32("dense4096");
        minMax = MinMaxObserver.builder().build();
        perChannel = PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8)
                .qscheme(QScheme.PER_CHANNEL_SYMMETRIC).build();
        histogram = HistogramObserver.builder().build();
        histogram.observe(batch);
    }

    @Benchmark
    public INDArray fp32Dense4096Forward() {
        return dense4096.outputSingle(batch);
    }

    @Benchmark
    public Observer minMaxObserve() {
        minMax.observe(batch);
        return minMax;
    }

    @Benchmark
    public Observer perChannelMinMaxObserve() {
        perChannel.observe(batch);
        return perChannel;
    }

    @Benchmark
    public Observer histogramObserve() {
        histogram.observe(batch);
        return histogram;
    }

    @Benchmark
    public INDArray quantizeToUbyte() {
        return QuantOps.quantizePerTensor(batch, 0.02f, 128, QuantDType.QUINT8);
    }
}
