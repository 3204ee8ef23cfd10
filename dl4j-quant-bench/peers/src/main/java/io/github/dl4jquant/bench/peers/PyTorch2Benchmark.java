package io.github.dl4jquant.bench.peers;

import static org.bytedeco.pytorch.global.torch.get_num_threads;
import static org.bytedeco.pytorch.global.torch.globalContext;
import static org.bytedeco.pytorch.global.torch.set_num_threads;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
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
 * PyTorch 2.7.1's own CPU inference (libtorch through the JavaCPP presets {@code org.bytedeco:pytorch} 2.7.1-1.5.12,
 * whose build has FBGEMM, oneDNN 3.7 and OpenBLAS, no MKL) on the benchmark networks as {@code PeerModelExport}
 * wrote them: the same weights, inputs and calibration rows as our DL4J benchmarks. Timed: one forward of the first
 * {@code batch} rows of the model's exported input, float in, float out (the output's softmax included).
 *
 * <ul>
 *   <li>{@code fp32} ({@link PyTorch2Fp32}): what eager {@code torch.nn} runs in {@code eval()}, one op per layer:
 *   {@code linear} (+ {@code relu}), {@code conv2d} (after {@code constant_pad_nd}, i.e. {@code F.pad}, for DL4J
 *   Same mode's asymmetric padding of the stride-2 3x3 conv), {@code batch_norm}, {@code relu}, {@code max_pool2d},
 *   {@code add}, {@code adaptive_avg_pool2d}, {@code softmax}.</li>
 *   <li>{@code int8} ({@link PyTorch2Int8}): what {@code convert_fx} lowers the network to under the selected
 *   engine's default qconfig: {@code quantize_per_tensor} of the input (quint8), per-channel symmetric qint8
 *   weights packed once for that engine, {@code quantized::linear}/{@code linear_relu},
 *   {@code quantized::conv2d}/{@code conv2d_relu} with the batch norms folded, quint8 {@code max_pool2d} and
 *   {@code adaptive_avg_pool2d}, {@code quantized::add_relu} for the residual add + relu, {@code dequantize}, then
 *   the float softmax. Activation qparams come from min/max (MinMaxObserver; the default qconfigs use a histogram
 *   observer, which only moves the ranges) over all the model's calibration rows through the batch-norm-folded fp32
 *   net: [0, 127] ({@code reduce_range}) for x86 and fbgemm, [0, 255] for onednn. The quantized ops are called
 *   through the c10 dispatcher, boxed, as TorchScript calls them.</li>
 * </ul>
 * {@code engine} is set with {@code globalContext().setQEngine} and read back before the weights are packed; the
 * packing picks the kernels: fbgemm's, oneDNN's, or for x86 oneDNN's convolutions on a CPU with AVX512-VNNI (this
 * one) and fbgemm's linears. fp32 runs no quantized op, so it takes only {@code -p engine=x86} (setUp refuses the
 * others rather than time the same thing three times): run fp32 and int8 as two JMH runs,
 * {@code -p variant=fp32 -p engine=x86} and {@code -p variant=int8 -p engine=x86,fbgemm,onednn}.
 *
 * <p>Intra-op threads: {@code OMP_NUM_THREADS} if set, else the available processors (set explicitly: this
 * libtorch defaults to 1 thread here). NNPACK is off ({@code torch.backends.nnpack.set_flags(False)}): it does not
 * initialize on this CPU, and PyTorch would log that on every batch-1 conv call. Each call frees its tensors when
 * it returns (a {@link PointerScope}), as Python's reference counting would; glibc must keep the memory they free
 * ({@code GLIBC_TUNABLES} below, checked by {@link #setUp}), or the time goes to page faults. {@link #setUp} checks
 * the fp32 net against DL4J's output on the exported checked rows ({@link PeerModel#expectedOutput}, within 1e-4)
 * and int8 against fp32 (softmax outputs within 0.05, others within 10% relative L2), and throws otherwise.
 *
 * <pre>{@code
 * mvn -B -o -q -Ppeers -pl dl4j-quant-bench/peers package dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296
 * java -cp dl4j-quant-bench/peers/target/classes:$(cat /tmp/cp.txt) org.openjdk.jmh.Main PyTorch2Benchmark \
 *     -p model=mlp -p batch=1,32,256 -p variant=int8 -p engine=x86,fbgemm,onednn
 * }</pre>
 * Run from the repository root (or set {@code -Dpeer.models}; JMH passes {@code -jvmArgsAppend} to the fork).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
public class PyTorch2Benchmark {
    /** Keep freed memory in the process: no mmap below glibc's maximum threshold (32 MB), no trimming. */
    static final String GLIBC_TUNABLES =
            "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296";
    /** DL4J vs PyTorch fp32: the same math in another summation order. */
    private static final double FP32_TOLERANCE = 1e-4;
    /** int8 vs fp32 on softmax outputs: max abs difference. */
    private static final double INT8_SOFTMAX_TOLERANCE = 0.05;
    /** int8 vs fp32 on other outputs: relative L2 error. */
    private static final double INT8_RELATIVE_L2_TOLERANCE = 0.1;

    @Param({"dense784x512", "dense4096", "mlp", "lenet", "resnet"})
    public String model;

    @Param({"1", "32", "256"})
    public int batch;

    @Param({"fp32", "int8"})
    public String variant;

    /** The quantized engine; fp32 takes x86 only (it runs no quantized op). */
    @Param({"x86", "fbgemm", "onednn"})
    public String engine;

    private PyTorch2Graph net;
    private Tensor input;

    @Setup(Level.Trial)
    public void setUp() {
        checkMalloc();
        int threads = threads();
        // torch.backends.nnpack.set_flags(False): NNPACK fails to initialize on this CPU ("Unsupported hardware")
        // and PyTorch logs that on every conv2d call that asks for it (the batch-1 convs oneDNN leaves to the
        // native im2col path), which would be timed; it is never picked over oneDNN for these shapes anyway
        globalContext().setUserEnabledNNPACK(false);
        PyTorch2Engine qengine = PyTorch2Engine.of(engine);
        boolean int8 = isInt8();
        if (!int8 && qengine != PyTorch2Engine.X86) {
            throw new IllegalArgumentException("variant=fp32 runs no quantized op, so engine=" + engine + " would "
                    + "time fp32 again: run fp32 with -p engine=x86 only");
        }
        qengine.select();
        PeerModel m = PeerModel.load(model);
        int rows = Math.toIntExact(m.input().shape()[0]);
        if (batch < 1 || batch > rows) {
            throw new IllegalArgumentException("batch=" + batch + " for " + model + ": the exported input has "
                    + rows + " rows; use 1.." + rows + " or export more");
        }
        PyTorch2Graph fp32 = PyTorch2Fp32.build(m);
        double fp32Error = checkFp32(fp32, m);
        input = PyTorch2Ops.tensor(m.input().rows(batch));
        String int8Check = "";
        if (int8) {
            net = PyTorch2Int8.build(m, qengine.activationQuantMax());
            net.calibrate(PyTorch2Ops.tensor(m.calibration()));
            int8Check = checkInt8(fp32, m, Math.min(rows, Math.max(batch, 8)));
        } else {
            net = fp32;
        }
        System.out.printf(Locale.ROOT, "PyTorch 2.7.1 %s %s batch %d, engine %s, %d threads: fp32 vs DL4J max abs "
                + "%.2e%s%n", model, variant, batch, int8 ? qengine.label() : "-", threads, fp32Error, int8Check);
    }

    private boolean isInt8() {
        if (!variant.equals("fp32") && !variant.equals("int8")) {
            throw new IllegalArgumentException("Unknown variant '" + variant + "'; known: fp32, int8");
        }
        return variant.equals("int8");
    }

    /**
     * Eager PyTorch allocates every activation afresh (c10's CPU allocator is malloc), and glibc hands the freed
     * blocks back to the OS (trimming the arena of the JMH worker thread, mmapping the large blocks once its
     * thresholds are tuned), so each call page-faults them in again; in this VM that made the fp32 CNNs 4-6x slower
     * (resnet batch 32: 165 ms against 27 ms), which would time the kernel, not PyTorch. Both thresholds must be
     * set: setting one turns off glibc's dynamic adjustment of the other.
     */
    private static void checkMalloc() {
        if (Boolean.getBoolean("pytorch2.skipMallocCheck")) {
            return;
        }
        String tunables = System.getenv("GLIBC_TUNABLES");
        boolean linux = System.getProperty("os.name").toLowerCase(Locale.ROOT).contains("linux");
        if (linux && (tunables == null || !tunables.contains("glibc.malloc.mmap_threshold=")
                || !tunables.contains("glibc.malloc.trim_threshold="))) {
            throw new IllegalStateException("GLIBC_TUNABLES=" + tunables + ": run with GLIBC_TUNABLES="
                    + GLIBC_TUNABLES + " so that glibc keeps the memory PyTorch frees after each call instead of "
                    + "page-faulting it back in on the next (PyTorch's CPU tuning guide recommends a caching "
                    + "allocator, jemalloc or tcmalloc, for the same reason)");
        }
    }

    /** {@code OMP_NUM_THREADS} if set, else the available processors; set and read back. */
    private static int threads() {
        String omp = System.getenv("OMP_NUM_THREADS");
        int threads;
        try {
            threads = omp != null && !omp.isBlank() ? Integer.parseInt(omp.trim())
                    : Runtime.getRuntime().availableProcessors();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("OMP_NUM_THREADS='" + omp + "' is not a thread count", e);
        }
        set_num_threads(threads);
        if (get_num_threads() != threads) {
            throw new IllegalStateException("torch.set_num_threads(" + threads + ") left " + get_num_threads()
                    + " intra-op threads");
        }
        return threads;
    }

    /** fp32 on the checked input rows against DL4J's output on them; the max abs difference. */
    private static double checkFp32(PyTorch2Graph fp32, PeerModel m) {
        Tensor expected = PyTorch2Ops.tensor(m.expectedOutput());
        int rows = Math.toIntExact(expected.size(0));
        Tensor diff = fp32.forward(PyTorch2Ops.tensor(m.input().rows(rows))).sub(expected).abs();
        // allclose(atol=rtol=1e-4): softmax outputs are < 1, so there it is 1e-4 abs; wider outputs scale it
        double excess = diff.sub(expected.abs().mul(new Scalar(FP32_TOLERANCE)))
                .max().item_double();
        double maxAbs = diff.max().item_double();
        if (!(excess <= FP32_TOLERANCE)) {
            throw new IllegalStateException("PyTorch 2 fp32 " + m.name() + " is not DL4J's network: its output on "
                    + "the first " + rows + " input rows is off DL4J's by up to " + maxAbs + " (tolerance "
                    + FP32_TOLERANCE + " + " + FP32_TOLERANCE + " relative); export the model again or fix the "
                    + "op mapping in PyTorch2Fp32");
        }
        return maxAbs;
    }

    /** int8 against fp32 on the first {@code rows} input rows; a summary for the log. */
    private String checkInt8(PyTorch2Graph fp32, PeerModel m, int rows) {
        Tensor x = PyTorch2Ops.tensor(m.input().rows(rows));
        Tensor ref = fp32.forward(x);
        Tensor diff = net.forward(x).sub(ref);
        double maxAbs = diff.abs().max().item_double();
        double relL2 = diff.norm().item_double() / ref.norm().item_double();
        boolean softmax = endsInSoftmax(m);
        boolean ok = softmax ? maxAbs < INT8_SOFTMAX_TOLERANCE : relL2 < INT8_RELATIVE_L2_TOLERANCE;
        String summary = String.format(Locale.ROOT, "; int8 vs fp32 on %d rows: max abs %.4f, relative L2 %.4f",
                rows, maxAbs, relL2);
        if (!ok) {
            throw new IllegalStateException("PyTorch 2 int8 " + m.name() + " (engine " + engine + ") is off fp32"
                    + summary + " (tolerance " + (softmax ? "max abs " + INT8_SOFTMAX_TOLERANCE
                    : "relative L2 " + INT8_RELATIVE_L2_TOLERANCE) + ")");
        }
        return summary;
    }

    private static boolean endsInSoftmax(PeerModel m) {
        for (JsonNode n : m.nodes()) {
            if (n.get("name").asText().equals(m.output())) {
                return n.has("activation") && n.get("activation").asText().equals("softmax");
            }
        }
        return false;
    }

    /** Float input to float output; the returned tensor's storage is already freed (it is only a JMH sink). */
    @Benchmark
    public Tensor output() {
        try (PointerScope scope = new PointerScope()) {
            return net.forward(input);
        }
    }
}
