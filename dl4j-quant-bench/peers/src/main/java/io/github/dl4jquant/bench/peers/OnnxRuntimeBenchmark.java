package io.github.dl4jquant.bench.peers;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.Map;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * ONNX Runtime 1.20 (Java API, CPU execution provider) latency on the benchmark networks, with the weights, inputs
 * and calibration rows DL4J's benchmarks use (PeerModelExport), fp32 and int8. The models are
 * {@code build_onnx_models.py}'s: {@code fp32.onnx}, and {@code int8.onnx}, the QDQ model ORT's
 * {@code quantize_static} makes (uint8 asymmetric activations calibrated min/max, int8 symmetric per-channel
 * weights, int32 bias, BN folded, Relu fused away) which ORT's optimizer (level ALL) turns into QLinearConv / QGemm /
 * QLinearAdd / QLinearGlobalAveragePool / QLinearSoftmax ({@link OrtKernelCheck} prints what runs). Sessions: see
 * {@link OrtSessions}; {@code threads} is ORT's intra-op thread count, inter-op 1, sequential execution.
 *
 * <p>What one call times, float in and float out as a caller of {@code output()} sees it: wrapping the
 * {@code batch} input rows, already in a direct FloatBuffer, in an OnnxTensor (no copy: ORT reads a direct buffer in
 * place; a heap buffer would add a copy), {@code session.run}, copying the output into a Java FloatBuffer
 * ({@code getFloatBuffer()}), and closing the result and the input tensor. Session creation and graph optimization
 * happen once, in setUp, which also checks the output against DL4J's ({@link OrtOutputCheck}) and fails the trial
 * otherwise.
 *
 * <pre>{@code
 * java -cp dl4j-quant-bench/peers/target/classes:$(cat /tmp/ort-cp.txt) org.openjdk.jmh.Main OnnxRuntimeBenchmark \
 *     -p model=mlp,dense784x512,dense4096,lenet -p batch=1,32,256
 * java -cp ... org.openjdk.jmh.Main OnnxRuntimeBenchmark -p model=resnet -p batch=1,8,32
 * }</pre>
 * Run from the repository root (the models are read from {@link PeerModel#DEFAULT_DIR}, or {@code -Dpeer.models},
 * which then needs {@code -jvmArgsAppend -Dpeer.models=...} to reach JMH's fork).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
public class OnnxRuntimeBenchmark {

    @Param({"dense784x512", "dense4096", "mlp", "lenet", "resnet"})
    public String model;

    /** resnet: run-benchmarks.sh's 1, 8, 32 ({@code -p batch=1,8,32}). */
    @Param({"1", "32", "256"})
    public int batch;

    @Param({"fp32", "int8"})
    public String variant;

    /** ORT intra-op threads. */
    @Param({"1", "2"})
    public int threads;

    private OrtEnvironment env;
    private OrtSession session;
    private String inputName;
    private FloatBuffer input;
    private long[] shape;

    @Setup(Level.Trial)
    public void setUp() throws OrtException {
        PeerModel peer = PeerModel.load(model);
        env = OrtEnvironment.getEnvironment();
        session = OrtSessions.open(peer, variant, threads, null);
        inputName = session.getInputNames().iterator().next();
        PeerModel.Tensor all = peer.input();
        if (batch < 1 || batch > all.shape()[0]) {
            throw new IllegalArgumentException("batch " + batch + ": the export holds " + all.shape()[0]
                    + " input rows; export more with PeerModelExport");
        }
        PeerModel.Tensor rows = all.rows(batch);
        shape = rows.shape();
        input = OrtSessions.directBuffer(rows.data());
        OrtOutputCheck.check(peer, variant, OrtSessions.run(session, OrtSessions.checkedRows(peer)));
    }

    @Benchmark
    public FloatBuffer output() throws OrtException {
        try (OnnxTensor x = OnnxTensor.createTensor(env, input, shape);
                OrtSession.Result result = session.run(Map.of(inputName, x))) {
            return ((OnnxTensor) result.get(0)).getFloatBuffer();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws OrtException {
        session.close();
    }
}
