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
 * {@code output()} latency of DL4J fp32 against the reference-quantized, int8-lowered and dynamic-int8 versions of
 * the same model, in one run so that the ratios compare like with like. Run by {@code run-benchmarks.sh} under
 * {@code OMP_NUM_THREADS=1} and the default, since DL4J's fp32 path is faster with one OpenMP thread on 2 cores.
 *
 * <pre>{@code
 * java -cp ... org.openjdk.jmh.Main InferenceBenchmark -p model=mlp -p batch=256
 * }</pre>
 * The CNNs of {@link BenchModels} run at their own batch sizes, which run-benchmarks.sh passes: {@code -p model=lenet
 * -p batch=1,32,256} and {@code -p model=resnet -p batch=1,8,32}; the LSTM (dynamic quantization only, as in PyTorch)
 * {@code -p model=lstm -p batch=1,32,64 -p variant=fp32,dynamic}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
// 8 s of warm-up: C2 keeps compiling DL4J's graph code for several seconds, and on 2 cores a compiler thread that
// preempts one of oneDNN's OpenMP threads stalls the whole parallel region (measured: 2-6 ms spikes after 2 s)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2", "-Xmx4g",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class InferenceBenchmark {

    /** Also "lenet", "resnet" and "lstm" (see above). */
    @Param({"dense784x512", "dense4096", "mlp"})
    public String model;

    @Param({"1", "32", "256"})
    public int batch;

    @Param({"fp32", "reference", "int8", "dynamic"})
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
