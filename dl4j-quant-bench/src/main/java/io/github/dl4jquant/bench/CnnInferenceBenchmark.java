package io.github.dl4jquant.bench;

import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code outputSingle} latency of the CNN bench models (LeNet-style and a small ResNet, see {@link BenchModels}) in
 * DL4J fp32 and lowered int8, in one run, as {@link InferenceBenchmark} does for the dense models. The reference and
 * dynamic variants are left out: a reference CNN is fp32 plus fake quantization, and dynamic quantization keeps
 * convolutions fp32.
 *
 * <pre>{@code
 * java -cp ... org.openjdk.jmh.Main CnnInferenceBenchmark -p model=lenet -p batch=32
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2", "-Xmx4g",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class CnnInferenceBenchmark {

    @Param({"lenet", "resnet"})
    public String model;

    @Param({"1", "32", "256"})
    public int batch;

    @Param({"fp32", "int8"})
    public String variant;

    private ComputationGraph graph;
    private INDArray input;

    @Setup(Level.Trial)
    public void setUp() {
        graph = BenchModels.graph(model, variant);
        input = BenchModels.timedInput(model, batch);
    }

    @Benchmark
    public INDArray output() {
        return graph.outputSingle(input);
    }
}
