package io.github.dl4jquant.bench;

import static org.bytedeco.pytorch.global.torch.get_num_threads;
import static org.bytedeco.pytorch.global.torch.globalContext;
import static org.bytedeco.pytorch.global.torch.linear;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.quantize_per_channel;
import static org.bytedeco.pytorch.global.torch.quantize_per_tensor;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.set_num_threads;
import static org.bytedeco.pytorch.global.torch.softmax;
import static org.bytedeco.pytorch.global.torch.zeros;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.OperatorHandle;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch.QEngine;
import org.bytedeco.pytorch.global.torch.ScalarType;
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
 * PyTorch's own CPU inference on the {@link BenchModels} shapes, through libtorch 1.10.2 (JavaCPP presets
 * {@code org.bytedeco:pytorch}), as the yardstick for our int8 path. Only compiled with {@code -Ppytorch}.
 *
 * <ul>
 *   <li>{@code fp32}: {@code at::linear} (addmm; this libtorch build uses OpenBLAS, not MKL) then {@code relu}, and
 *   {@code softmax} after the MLP's last layer: what {@code nn.Linear} + {@code nn.ReLU} run.</li>
 *   <li>{@code int8}: the static quantized ops {@code torch.ao} lowers a calibrated model to, on the FBGEMM engine:
 *   {@code quantize_per_tensor} of the input (quint8), {@code quantized::linear_relu} (or {@code quantized::linear}
 *   for a layer without ReLU) with weights packed once by {@code quantized::linear_prepack} (per-channel symmetric
 *   qint8), outputs requantized to quint8 and kept quantized between layers, then {@code dequantize} (and the MLP's
 *   softmax in fp32). The ops are called through the c10 dispatcher, boxed, as TorchScript calls them.
 *   Activations use 7 bits (quant_max 127), the {@code reduce_range} of PyTorch's x86/fbgemm default qconfig;
 *   their scales come from min/max over a 256-row calibration batch.</li>
 * </ul>
 * Weights are random (Xavier-normal scale), inputs uniform in [0, 1). Each call frees its tensors when it returns
 * (a {@link PointerScope}), as Python's reference counting would. Intra-op threads: {@code OMP_NUM_THREADS} if set,
 * else the available processors ({@code torch.get_num_threads()}'s default on this machine). {@link #setUp} checks
 * that int8 stays within 10% (relative L2) of fp32.
 *
 * <pre>{@code
 * mvn -Ppytorch ... package; java -cp ... org.openjdk.jmh.Main PyTorchBenchmark -p model=mlp -p batch=256
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
public class PyTorchBenchmark {
    /** Activation range of x86/fbgemm's default qconfig: quint8 with reduce_range, [0, 127]. */
    private static final int QUANT_MAX = 127;

    @Param({"dense784x512", "dense4096", "mlp"})
    public String model;

    @Param({"1", "32", "256"})
    public int batch;

    @Param({"fp32", "int8"})
    public String variant;

    /** One linear layer: fp32 weights, and the packed int8 weights and output qparams for the int8 path. */
    private static final class Layer {
        final Tensor weight;
        final TensorOptional bias;
        final boolean relu;
        final OperatorHandle op;
        IValue packed;
        IValue outScale;
        IValue outZeroPoint;

        Layer(long in, long out, boolean relu) {
            weight = randn(out, in).mul(new Scalar(Math.sqrt(2.0 / (in + out))));
            bias = new TensorOptional(randn(out).mul(new Scalar(0.01)));
            this.relu = relu;
            op = Dispatcher.singleton().findSchemaOrThrow(relu ? "quantized::linear_relu" : "quantized::linear", "");
        }

        Tensor fp32(Tensor x) {
            Tensor y = linear(x, weight, bias);
            return relu ? y.relu() : y;
        }

        Tensor int8(Tensor qx) {
            IValueVector stack = new IValueVector(new IValue(qx), packed, outScale, outZeroPoint);
            op.callBoxed(stack);
            return stack.get(0).toTensor();
        }
    }

    private final List<Layer> layers = new ArrayList<>();
    private boolean softmaxOut;
    private double inScale;
    private long inZeroPoint;
    private Tensor input;

    @Setup(Level.Trial)
    public void setUp() {
        String omp = System.getenv("OMP_NUM_THREADS");
        set_num_threads(omp != null ? Integer.parseInt(omp) : Runtime.getRuntime().availableProcessors());
        globalContext().setQEngine(QEngine.FBGEMM);
        manual_seed(7);
        switch (model) {
            case "dense784x512":
                layers.add(new Layer(784, 512, true));
                break;
            case "dense4096":
                layers.add(new Layer(4096, 4096, false)); // identity activation, as in BenchModels
                break;
            case "mlp":
                layers.add(new Layer(784, 512, true));
                layers.add(new Layer(512, 256, true));
                layers.add(new Layer(256, 10, false));
                softmaxOut = true;
                break;
            default:
                throw new IllegalArgumentException("Unknown benchmark model '" + model
                        + "'; known: dense784x512, dense4096, mlp");
        }
        long features = layers.get(0).weight.size(1);
        if (variant.equals("int8")) {
            calibrate(rand(256, features));
        } else if (!variant.equals("fp32")) {
            throw new IllegalArgumentException("Unknown variant '" + variant + "'; known: fp32, int8");
        }
        input = rand(batch, features);
        if (variant.equals("int8")) {
            Tensor ref = fp32(input);
            double rel = int8(input).sub(ref).norm().item_double() / ref.norm().item_double();
            System.out.printf("PyTorch int8 %s batch %d: relative L2 error vs fp32 %.4f, %d threads%n",
                    model, batch, rel, get_num_threads());
            if (!(rel < 0.1)) {
                throw new IllegalStateException("PyTorch int8 output is off fp32 by " + rel);
            }
        }
    }

    /** Packs per-channel symmetric qint8 weights and fixes each activation's scale and zero point from min/max. */
    private void calibrate(Tensor x) {
        double[] q = qparams(x);
        inScale = q[0];
        inZeroPoint = (long) q[1];
        Tensor h = x;
        for (Layer l : layers) {
            Tensor wScale = l.weight.abs().amax(new long[] {1}, false).div(new Scalar(127.5))
                    .clamp_min(new Scalar(1e-8)).toType(ScalarType.Double);
            Tensor qw = quantize_per_channel(l.weight, wScale, zeros(l.weight.size(0)).toType(ScalarType.Long), 0,
                    ScalarType.QInt8);
            IValueVector stack = new IValueVector(new IValue(qw), new IValue(l.bias.get()));
            Dispatcher.singleton().findSchemaOrThrow("quantized::linear_prepack", "").callBoxed(stack);
            // a copy: get(0) points into the vector's storage, which is freed with the vector
            l.packed = new IValue(stack.get(0));
            h = l.fp32(h);
            q = qparams(h);
            l.outScale = new IValue(q[0]);
            l.outZeroPoint = new IValue((long) q[1]);
        }
    }

    /** Affine quint8 [0, QUANT_MAX] parameters {scale, zero point} covering min(t, 0) to max(t, 0). */
    private static double[] qparams(Tensor t) {
        double lo = Math.min(t.min().item_double(), 0);
        double hi = Math.max(t.max().item_double(), 0);
        double scale = Math.max((hi - lo) / QUANT_MAX, 1e-8);
        return new double[] {scale, Math.min(QUANT_MAX, Math.round(-lo / scale))};
    }

    private Tensor fp32(Tensor x) {
        Tensor h = x;
        for (Layer l : layers) {
            h = l.fp32(h);
        }
        return softmaxOut ? softmax(h, 1) : h;
    }

    private Tensor int8(Tensor x) {
        Tensor h = quantize_per_tensor(x, inScale, inZeroPoint, ScalarType.QUInt8);
        for (Layer l : layers) {
            h = l.int8(h);
        }
        h = h.dequantize();
        return softmaxOut ? softmax(h, 1) : h;
    }

    /** Float input to float output; the returned tensor's storage is already freed (it is only a JMH sink). */
    @Benchmark
    public Tensor output() {
        try (PointerScope scope = new PointerScope()) {
            return variant.equals("int8") ? int8(input) : fp32(input);
        }
    }
}
