package io.github.dl4jquant.bench;

import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
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
 * {@link InferenceBenchmark}'s models served the allocation-free way DL4J offers: {@code output(false,
 * outputWorkspace, input)}, which writes the result into a workspace the caller reuses from call to call. Plain
 * {@code output()} returns a fresh ND4J array, and ND4J zero-fills it in memory that it frees only after a garbage
 * collection, so every call page-faults fresh memory: measured on this 2-vCPU VM, about 0.6-0.9 ms for a
 * [256, 512] float result, as much as the int8 product itself. fp32 and int8 run the same way here, so the ratios
 * compare like with like.
 *
 * <pre>{@code
 * java -cp ... org.openjdk.jmh.Main WorkspaceInferenceBenchmark -p model=mlp
 * }</pre>
 * The CNNs of {@link BenchModels} run at their own batch sizes, which run-benchmarks.sh passes: {@code -p model=lenet
 * -p batch=1,32,256} and {@code -p model=resnet -p batch=1,8,32}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2", "-Xmx4g",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class WorkspaceInferenceBenchmark {
    /** Sized on the first call, then reused as is: the README's serving recipe. */
    static final WorkspaceConfiguration OUTPUT_WORKSPACE = WorkspaceConfiguration.builder().initialSize(0)
            .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.FIRST_LOOP).build();

    /** Also "lenet" and "resnet" (see above). */
    @Param({"dense784x512", "dense4096", "mlp"})
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

    /** The first output value, read inside the workspace: the array itself is not valid once it closes. */
    @Benchmark
    public float outputInWorkspace() {
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(OUTPUT_WORKSPACE,
                "BENCH_OUTPUT")) {
            return graph.output(false, ws, input)[0].getFloat(0);
        }
    }
}
