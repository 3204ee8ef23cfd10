package io.github.dl4jquant.bench;

import static org.bytedeco.pytorch.global.torch.adaptive_avg_pool2d;
import static org.bytedeco.pytorch.global.torch.batch_norm;
import static org.bytedeco.pytorch.global.torch.conv2d;
import static org.bytedeco.pytorch.global.torch.get_num_threads;
import static org.bytedeco.pytorch.global.torch.globalContext;
import static org.bytedeco.pytorch.global.torch.linear;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.max_pool2d;
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
import org.bytedeco.pytorch.CompilationUnit;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.Function;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.OperatorHandle;
import org.bytedeco.pytorch.QualifiedName;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.ScalarTypeOptional;
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
 * The CNNs ({@code lenet}, {@code resnet}: {@link BenchModels}' shapes) run what eager {@code torch.nn} runs in
 * {@code eval()} for fp32 ({@code conv2d}, {@code batch_norm}, {@code relu}, {@code max_pool2d},
 * {@code adaptive_avg_pool2d}, {@code add}, {@code linear}, {@code softmax}) and, for int8, what {@code convert_fx}
 * lowers them to with the batch norms folded: {@code quantized::conv2d_relu}/{@code quantized::conv2d} ("new"
 * overloads) on weights packed once by {@code quantized::conv2d_prepack}, {@code max_pool2d} and
 * {@code adaptive_avg_pool2d} on the quint8 tensors (sharing their input's qparams), {@code quantized::add_relu}
 * for the residual adds, the quantized linears above, one {@code dequantize} and the float softmax. The batch norms
 * get gamma in [0.5, 1.5), beta in [-0.1, 0.1) and the running statistics of their input on a 64-example batch;
 * calibration (min/max, 7 bits) is on 32 examples. The int lists {@code conv2d_prepack} takes are built by a
 * one-line TorchScript function, as the presets have no IValue constructor for lists.
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

    /** Also "lenet" and "resnet" (run-benchmarks.sh passes them with their own batch sizes). */
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

        /** Packs per-channel symmetric qint8 weights, fixes the output's qparams from {@code x}'s; fp32 output. */
        Tensor calibrate(Tensor x) {
            Tensor wScale = weight.abs().amax(new long[] {1}, false).div(new Scalar(127.5))
                    .clamp_min(new Scalar(1e-8)).toType(ScalarType.Double);
            Tensor qw = quantize_per_channel(weight, wScale, zeros(weight.size(0)).toType(ScalarType.Long), 0,
                    ScalarType.QInt8);
            IValueVector stack = new IValueVector(new IValue(qw), new IValue(bias.get()));
            Dispatcher.singleton().findSchemaOrThrow("quantized::linear_prepack", "").callBoxed(stack);
            // a copy: get(0) points into the vector's storage, which is freed with the vector
            packed = new IValue(stack.get(0));
            Tensor h = fp32(x);
            double[] q = qparams(h);
            outScale = new IValue(q[0]);
            outZeroPoint = new IValue((long) q[1]);
            return h;
        }

        Tensor apply(Tensor x, Mode m) {
            return m == Mode.INT8 ? int8(x) : m == Mode.CALIBRATE ? calibrate(x) : fp32(x);
        }
    }

    /**
     * How a CNN pass runs: STATS (fp32, setting each batch norm's running statistics from its input), FP32,
     * CALIBRATE (fp32 with the batch norms folded, fixing the qparams and packing the int8 weights) or INT8.
     */
    private enum Mode { STATS, FP32, CALIBRATE, INT8 }

    /**
     * Compiles {@code pair}; held for the JVM's lifetime: the Function points into it, and a collected
     * CompilationUnit frees it (a SIGSEGV in {@code Function.run} when it was a temporary).
     */
    private static final CompilationUnit PAIR_UNIT =
            new CompilationUnit("def pair(a: int) -> List[int]:\n    return [a, a]\n");
    /** {@code [a, a]} as an IValue int list, for {@code conv2d_prepack}'s stride, padding and dilation. */
    private static final Function PAIR = PAIR_UNIT.get_function(new QualifiedName("pair"));

    private static IValue pair(long a) {
        IValueVector stack = new IValueVector(new IValue(a));
        PAIR.run(stack);
        return new IValue(stack.get(0));
    }

    /** Conv (3x3 or 1x1, padding k / 2) + BatchNorm2d [+ ReLU]; for int8 one fused, folded quantized conv. */
    private static final class Conv {
        private static final double EPS = 1e-5;
        final Tensor weight;
        final Tensor bias;
        final Tensor gamma;
        final Tensor beta;
        Tensor mean;
        Tensor var;
        final long stride;
        final long pad;
        final boolean relu;
        final OperatorHandle op;
        Tensor foldedWeight;
        Tensor foldedBias;
        IValue packed;
        IValue outScale;
        IValue outZeroPoint;

        Conv(long in, long out, long k, long stride, boolean relu) {
            weight = randn(out, in, k, k).mul(new Scalar(Math.sqrt(2.0 / (in * k * k)))); // He, as WeightInit.RELU
            bias = randn(out).mul(new Scalar(0.01));
            gamma = rand(out).add(new Scalar(0.5));
            beta = rand(out).sub(new Scalar(0.5)).mul(new Scalar(0.2));
            this.stride = stride;
            this.pad = k / 2;
            this.relu = relu;
            op = Dispatcher.singleton().findSchemaOrThrow(relu ? "quantized::conv2d_relu" : "quantized::conv2d",
                    "new");
        }

        Tensor apply(Tensor x, Mode m) {
            if (m == Mode.INT8) {
                IValueVector stack = new IValueVector(new IValue(x), packed, outScale, outZeroPoint);
                op.callBoxed(stack);
                return stack.get(0).toTensor();
            }
            if (m == Mode.CALIBRATE) {
                fold();
                Tensor y = conv2d(x, foldedWeight, new TensorOptional(foldedBias), new long[] {stride, stride},
                        new long[] {pad, pad}, new long[] {1, 1}, 1);
                y = relu ? y.relu() : y;
                double[] q = qparams(y);
                outScale = new IValue(q[0]);
                outZeroPoint = new IValue((long) q[1]);
                return y;
            }
            Tensor y = conv2d(x, weight, new TensorOptional(bias), new long[] {stride, stride},
                    new long[] {pad, pad}, new long[] {1, 1}, 1);
            if (m == Mode.STATS) {
                mean = y.mean(new long[] {0, 2, 3}, false, new ScalarTypeOptional());
                var = y.var(new long[] {0, 2, 3}, false, false);
            }
            y = batch_norm(y, new TensorOptional(gamma), new TensorOptional(beta), new TensorOptional(mean),
                    new TensorOptional(var), false, 0.1, EPS, false);
            return relu ? y.relu() : y;
        }

        /** fuse_conv_bn_eval, then per-channel symmetric qint8 weights packed for FBGEMM. */
        private void fold() {
            Tensor s = gamma.div(var.add(new Scalar(EPS)).sqrt());
            foldedWeight = weight.mul(s.reshape(-1, 1, 1, 1));
            foldedBias = bias.sub(mean).mul(s).add(beta);
            Tensor wScale = foldedWeight.abs().amax(new long[] {1, 2, 3}, false).div(new Scalar(127.5))
                    .clamp_min(new Scalar(1e-8)).toType(ScalarType.Double);
            Tensor qw = quantize_per_channel(foldedWeight, wScale,
                    zeros(foldedWeight.size(0)).toType(ScalarType.Long), 0, ScalarType.QInt8);
            IValueVector stack = new IValueVector(new IValue(qw), new IValue(foldedBias), pair(stride), pair(pad),
                    pair(1), new IValue(1L));
            Dispatcher.singleton().findSchemaOrThrow("quantized::conv2d_prepack", "").callBoxed(stack);
            packed = new IValue(stack.get(0));
        }
    }

    /** Residual add + ReLU: {@code quantized::add_relu} for int8. */
    private static final class AddRelu {
        IValue outScale;
        IValue outZeroPoint;

        Tensor apply(Tensor a, Tensor b, Mode m) {
            if (m == Mode.INT8) {
                IValueVector stack = new IValueVector(new IValue(a), new IValue(b), outScale, outZeroPoint);
                Dispatcher.singleton().findSchemaOrThrow("quantized::add_relu", "").callBoxed(stack);
                return stack.get(0).toTensor();
            }
            Tensor y = a.add(b).relu();
            if (m == Mode.CALIBRATE) {
                double[] q = qparams(y);
                outScale = new IValue(q[0]);
                outZeroPoint = new IValue((long) q[1]);
            }
            return y;
        }
    }

    /** A basic residual block; a 1x1 conv + BN projection shortcut when it strides. */
    private static final class Block {
        final Conv c1;
        final Conv c2;
        final Conv proj;
        final AddRelu add = new AddRelu();

        Block(long in, long out, long stride) {
            c1 = new Conv(in, out, 3, stride, true);
            c2 = new Conv(out, out, 3, 1, false);
            proj = stride != 1 || in != out ? new Conv(in, out, 1, stride, false) : null;
        }

        Tensor apply(Tensor x, Mode m) {
            Tensor shortcut = proj == null ? x : proj.apply(x, m);
            return add.apply(c2.apply(c1.apply(x, m), m), shortcut, m);
        }
    }

    private static Tensor maxPool2(Tensor x) {
        return max_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1}, false);
    }

    /** lenet or resnet: one forward written once for every {@link Mode}; float in, float out. */
    private final class Cnn {
        final List<Conv> convs = new ArrayList<>();
        final List<Block> blocks = new ArrayList<>();
        final List<Layer> dense = new ArrayList<>();

        Cnn() {
            if (model.equals("lenet")) {
                convs.add(new Conv(1, 32, 3, 1, true));
                convs.add(new Conv(32, 64, 3, 1, true));
                dense.add(new Layer(64 * 7 * 7, 128, true));
                dense.add(new Layer(128, 10, false));
            } else {
                convs.add(new Conv(3, 32, 3, 1, true));
                blocks.add(new Block(32, 32, 1));
                blocks.add(new Block(32, 64, 2));
                blocks.add(new Block(64, 64, 1));
                dense.add(new Layer(64, 10, false));
            }
        }

        Tensor forward(Tensor x, Mode m) {
            long n = x.size(0);
            Tensor h = model.equals("lenet") ? x.reshape(n, 1, 28, 28) : x;
            if (m == Mode.CALIBRATE) {
                double[] q = qparams(h);
                inScale = q[0];
                inZeroPoint = (long) q[1];
            } else if (m == Mode.INT8) {
                h = quantize_per_tensor(h, inScale, inZeroPoint, ScalarType.QUInt8);
            }
            if (model.equals("lenet")) {
                h = maxPool2(convs.get(0).apply(h, m));
                h = maxPool2(convs.get(1).apply(h, m));
            } else {
                h = convs.get(0).apply(h, m);
                for (Block b : blocks) {
                    h = b.apply(h, m);
                }
                h = adaptive_avg_pool2d(h, 1, 1);
            }
            h = h.reshape(n, -1);
            for (Layer l : dense) {
                h = l.apply(h, m);
            }
            return softmax(m == Mode.INT8 ? h.dequantize() : h, 1);
        }
    }

    private final List<Layer> layers = new ArrayList<>();
    private Cnn cnn;
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
        if (model.equals("lenet") || model.equals("resnet")) {
            setUpCnn();
            return;
        }
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
                        + "'; known: dense784x512, dense4096, mlp, lenet, resnet");
        }
        long features = layers.get(0).weight.size(1);
        if (variant.equals("int8")) {
            calibrate(rand(256, features));
        } else if (!variant.equals("fp32")) {
            throw new IllegalArgumentException("Unknown variant '" + variant + "'; known: fp32, int8");
        }
        input = rand(batch, features);
        checkInt8();
    }

    private void setUpCnn() {
        cnn = new Cnn();
        long[] example = model.equals("lenet") ? new long[] {784} : new long[] {3, 32, 32};
        cnn.forward(rand(shape(64, example)), Mode.STATS);
        if (variant.equals("int8")) {
            cnn.forward(rand(shape(32, example)), Mode.CALIBRATE);
        } else if (!variant.equals("fp32")) {
            throw new IllegalArgumentException("Unknown variant '" + variant + "'; known: fp32, int8");
        }
        input = rand(shape(batch, example));
        checkInt8();
    }

    private static long[] shape(long n, long[] example) {
        long[] s = new long[example.length + 1];
        s[0] = n;
        System.arraycopy(example, 0, s, 1, example.length);
        return s;
    }

    private void checkInt8() {
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
            h = l.calibrate(h);
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
        if (cnn != null) {
            return cnn.forward(x, Mode.FP32);
        }
        Tensor h = x;
        for (Layer l : layers) {
            h = l.fp32(h);
        }
        return softmaxOut ? softmax(h, 1) : h;
    }

    private Tensor int8(Tensor x) {
        if (cnn != null) {
            return cnn.forward(x, Mode.INT8);
        }
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
