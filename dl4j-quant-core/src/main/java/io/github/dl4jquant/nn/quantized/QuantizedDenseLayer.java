package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.kernel.DnnlInt8Linear;
import io.github.dl4jquant.kernel.Int8Gemm;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.kernel.PackedInt8Weight;
import io.github.dl4jquant.nn.ActivationArrays;
import io.github.dl4jquant.nn.DenseLayerSupport;
import io.github.dl4jquant.nn.InferenceOnlyOutputLayer;
import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.QuantMath;
import org.bytedeco.javacpp.IntPointer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The runtime layer of {@link QuantizedDense}. Two paths compute the same function:
 * <ul>
 *   <li>fused (the fast one): {@link DnnlInt8Linear} runs the input quantization, the int8 product (a 1x1
 *       convolution with static qparams built in, or dynamic ones read at run time) with zero point, per-channel
 *       scales, bias and activation (ReLU, tanh, sigmoid as post-ops, softmax as a primitive, others as one ND4J op),
 *       and the output requantization as oneDNN primitives, with no Java pass over the data; the next fused layer
 *       reuses the u8 output instead of quantizing the returned floats again. Used for layers with quint8
 *       per-tensor activations when {@link Int8Gemms#fusedLinearEnabled()}.
 *   <li>general: one Java pass quantizes the input into bytes (tracking min/max when dynamic), one int8 GEMM
 *       ({@link Int8Gemms#best()}) gives exact int32 accumulators, one Java pass applies the zero-point correction,
 *       the per-channel scale, the bias, the activation and the output fake-quantization. Other activations run as
 *       one ND4J op in between. It also takes the batches the fused kernel refuses: NaN, rejected with the
 *       element's index, and +inf with -inf in one batch, saturated.
 * </ul>
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(x);    // runs QuantizedDenseLayer.activate for the "d1" vertex
 * }</pre>
 *
 * <p>Thread safety: the prepared state is immutable and scratch buffers are per thread, so concurrent calls (DL4J
 * itself serialises {@code ComputationGraph.output}) never share mutable arrays, and the input is set and checked
 * under the layer's lock ({@link io.github.dl4jquant.nn.Int8Layer}). Memory: the fused kernel keeps, per thread and
 * batch size (up to 16), native buffers of about the layer's input and output size, freed with the model; a server
 * with hundreds of threads calling one model holds hundreds of sets. NaN inputs are rejected with an
 * {@link IllegalArgumentException}; infinities saturate to the quantized range as in PyTorch (static mode) and are
 * rejected in dynamic mode, where they would make the batch's scale infinite.
 */
public class QuantizedDenseLayer extends Int8Layer<QuantizedDense> implements InferenceOnlyOutputLayer {
    private static final IActivation RELU = new ActivationReLU();
    private static final float ROUNDING_SHIFT = 12582912f;

    private volatile Prepared prepared;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    public QuantizedDenseLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected INDArray forward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        QuantizedDense c = layerConf();
        Prepared p = prepared();
        INDArray x = DenseLayerSupport.floatMatrix(input, c.getNIn(), p.name);
        int m = (int) x.size(0);
        int n = (int) c.getNOut();
        if (m == 0) {
            return workspaceMgr.create(ArrayType.ACTIVATIONS, dataType, 0, n);
        }
        INDArray out = ActivationArrays.createUninitialized(workspaceMgr, m, n);
        if (p.fused == null || !runFused(p, c, x, out)) {
            runGeneral(p, c, x, m, n, out);
        }
        return dataType == DataType.FLOAT ? out : workspaceMgr.castTo(ArrayType.ACTIVATIONS, dataType, out, false);
    }

    private void runGeneral(Prepared p, QuantizedDense c, INDArray x, int m, int n, INDArray out) {
        Scratch s = scratch.get();
        s.ensure(m, p.k, n);
        float[] xs = DenseLayerSupport.readFloats(x, s.xs);
        s.xs = xs;
        QParams in = c.isDynamic() ? dynamicQParams(xs, m * p.k, c.isReduceRange(), p.name) : p.input;
        quantizeInput(xs, m * p.k, in, s.xq, p.name);
        General g = p.general();
        p.kernel.gemmInt32(s.xq, in.dtype() == QuantDType.QUINT8, m, g.weight, s.accArray);
        ((IntPointer) s.accArray.data().addressPointer()).get(s.acc, 0, m * n);
        epilogue(p, g, s, m, n, in, out, c.getActivationFn());
    }

    /**
     * False when the fused kernel refused the input (NaN, or +inf with -inf): the general path then names the NaN
     * element in its error, or saturates the infinities.
     */
    private static boolean runFused(Prepared p, QuantizedDense c, INDArray x, INDArray out) {
        QParams o = p.output;
        float outScale = o == null ? 0f : o.scale();
        int outZp = o == null ? 0 : o.zeroPoint();
        if (!c.isDynamic()) {
            return p.fused.forward(x, p.input.scale(), p.input.zeroPoint(), outScale, outZp, out);
        }
        float[] range = p.fused.range(x);
        if (range == null) {
            return false;   // NaN: the general path names the element
        }
        QParams in = QuantMath.dynamicQParams(range[0], range[1], c.isReduceRange(), p.name);
        return p.fused.forwardDynamic(x, in.scale(), in.zeroPoint(), outScale, outZp, out);
    }

    private static QParams dynamicQParams(float[] xs, int len, boolean reduceRange, String name) {
        float[] mm = DenseLayerSupport.minMax(xs, len, name + " input");
        return QuantMath.dynamicQParams(mm[0], mm[1], reduceRange, name);
    }

    private static void quantizeInput(float[] xs, int len, QParams in, byte[] out, String name) {
        float inv = 1.0f / in.scale();
        int zp = in.zeroPoint();
        float lo = in.dtype().quantMin() - zp;
        float hi = in.dtype().quantMax() - zp;
        boolean nan = false;
        for (int i = 0; i < len; i++) {
            float v = xs[i];
            nan |= v != v;
            float t = v * inv;
            t = Math.min(Math.max(t, lo), hi);
            out[i] = (byte) ((int) roundHalfEven(t) + zp);
        }
        if (nan) {
            // found after the loop so that the loop has no branch out of it and stays vectorisable
            for (int i = 0; i < len; i++) {
                if (xs[i] != xs[i]) {
                    throw QuantMath.nanError(name + " input", i);
                }
            }
        }
    }

    /**
     * Math.rint for |t| <= 2^22 in float arithmetic: adding and subtracting 1.5 * 2^23 rounds to an integer in the
     * FPU's round-half-to-even mode. Vectorisable, unlike the double-based Math.rint; quantized values are at most
     * 255 in magnitude after the clamp.
     */
    private static float roundHalfEven(float t) {
        return (t + ROUNDING_SHIFT) - ROUNDING_SHIFT;
    }

    /**
     * y = act((acc - zp * colsum) * (s_in * s_w) + b), then the output q/dq, written into {@code out}. The
     * corrected accumulator is exact in int32 (|sum| <= 255 * 128 * nIn < 2^31); the scaling rounds once in float.
     */
    private static void epilogue(Prepared p, General g, Scratch s, int m, int n, QParams in, INDArray out,
                                 IActivation act) {
        float sIn = in.scale();
        int zp = in.zeroPoint();
        float[] colScale = s.colScale;
        int[] colOffset = s.colOffset;
        for (int j = 0; j < n; j++) {
            colScale[j] = sIn * p.weightScales[j];
            colOffset[j] = (int) (zp * g.colSums[j]);
        }
        boolean relu = RELU.equals(act);
        boolean fused = relu || act instanceof ActivationIdentity;
        boolean requant = p.output != null;
        float floor = relu ? 0f : Float.NEGATIVE_INFINITY;
        float[] y = s.y;
        int[] acc = s.acc;
        float[] bias = p.bias;
        if (fused && requant) {
            epilogueRequantized(p.output, m, n, acc, colOffset, colScale, bias, floor, y);
            DenseLayerSupport.writeFloats(out, y);
            return;
        }
        for (int i = 0; i < m; i++) {
            int row = i * n;
            for (int j = 0; j < n; j++) {
                float v = (acc[row + j] - colOffset[j]) * colScale[j] + bias[j];
                y[row + j] = Math.max(v, floor);
            }
        }
        if (!fused) {
            DenseLayerSupport.writeFloats(out, y);
            INDArray a = act.getActivation(out, false);
            if (a != out) {
                out.assign(a);
            }
            DenseLayerSupport.readFloats(out, y);
        }
        if (requant) {
            requantize(y, m * n, p.output);
        }
        DenseLayerSupport.writeFloats(out, y);
    }

    /** The common case in one pass: scale, bias, ReLU/identity and the output fake-quantization. */
    private static void epilogueRequantized(QParams o, int m, int n, int[] acc, int[] colOffset, float[] colScale,
                                            float[] bias, float floor, float[] y) {
        float scale = o.scale();
        float inv = 1.0f / scale;
        float lo = o.dtype().quantMin() - o.zeroPoint();
        float hi = o.dtype().quantMax() - o.zeroPoint();
        for (int i = 0; i < m; i++) {
            int row = i * n;
            for (int j = 0; j < n; j++) {
                float v = Math.max((acc[row + j] - colOffset[j]) * colScale[j] + bias[j], floor);
                float t = v * inv;
                t = Math.min(Math.max(t, lo), hi);
                y[row + j] = roundHalfEven(t) * scale;
            }
        }
    }

    private static void requantize(float[] y, int len, QParams o) {
        float scale = o.scale();
        float inv = 1.0f / scale;
        int zp = o.zeroPoint();
        float lo = o.dtype().quantMin() - zp;
        float hi = o.dtype().quantMax() - zp;
        for (int i = 0; i < len; i++) {
            float t = y[i] * inv;
            t = Math.min(Math.max(t, lo), hi);
            y[i] = roundHalfEven(t) * scale;
        }
    }

    /** The immutable per-layer state; rebuilt when the process-wide kernel choice changes (tests, benchmarks). */
    private Prepared prepared() {
        Int8Gemm kernel = Int8Gemms.best();
        boolean fusedEnabled = Int8Gemms.fusedLinearEnabled();
        Prepared p = prepared;
        if (p == null || p.kernel != kernel || p.fusedEnabled != fusedEnabled) {
            p = new Prepared(layerConf(), kernel, fusedEnabled);
            prepared = p;
        }
        return p;
    }

    @Override
    public String describe() {
        return describe(layerConf());
    }

    private static String describe(QuantizedDense c) {
        return "QuantizedDense '" + c.getLayerName() + "'";
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        throw DenseLayerSupport.inferenceOnly(describe());
    }

    @Override
    public void computeGradientAndScore(LayerWorkspaceMgr workspaceMgr) {
        throw DenseLayerSupport.inferenceOnly(describe());
    }

    @Override
    public void fit() {
        throw DenseLayerSupport.inferenceOnly(describe());
    }

    @Override
    public void fit(INDArray data, LayerWorkspaceMgr workspaceMgr) {
        throw DenseLayerSupport.inferenceOnly(describe());
    }

    @Override
    public boolean isPretrainLayer() {
        return false;
    }

    @Override
    public void clearNoiseWeightParams() {
        // no params, so no weight noise
    }

    /**
     * The immutable per-layer state. The general path's packed weight is built on first use: with the fused kernel
     * most layers never need it, and it would hold three more copies of the int8 weight.
     */
    private static final class Prepared {
        /** For error messages, built once rather than on every call. */
        final String name;
        final QuantizedDense conf;
        final Int8Gemm kernel;
        final int k;
        final float[] weightScales;
        final float[] bias;
        final QParams input;
        final QParams output;
        final boolean fusedEnabled;
        /** Null when this layer cannot run fused: see {@link #canFuse}. */
        final DnnlInt8Linear fused;
        private volatile General general;

        Prepared(QuantizedDense c, Int8Gemm kernel, boolean fusedEnabled) {
            c.validate();
            this.name = describe(c);
            this.conf = c;
            this.kernel = kernel;
            this.k = (int) c.getNIn();
            int n = (int) c.getNOut();
            this.weightScales = c.getWeightScales();
            this.bias = c.hasBias() ? c.getBias() : new float[n];
            this.input = c.isDynamic() ? null : c.getInputQParams();
            this.output = c.getOutputQParams();
            this.fusedEnabled = fusedEnabled;
            this.fused = fusedEnabled && canFuse(c)
                    ? new DnnlInt8Linear(c.getWeightInt8(), k, n, weightScales, bias, c.getActivationFn(),
                    c.isHandsOverOutput()) : null;
        }

        General general() {
            General g = general;
            if (g == null) {
                synchronized (this) {
                    if (general == null) {
                        general = new General(conf.getWeightInt8(), k, (int) conf.getNOut(), kernel);
                    }
                    g = general;
                }
            }
            return g;
        }

        /** Quint8 per-tensor activations in and out: what oneDNN's u8 matmul and reorders express. */
        private boolean canFuse(QuantizedDense c) {
            return (c.isDynamic() || isQuint8PerTensor(input)) && (output == null || isQuint8PerTensor(output));
        }

        private static boolean isQuint8PerTensor(QParams q) {
            return q.dtype() == QuantDType.QUINT8 && !q.isPerChannel();
        }
    }

    /** The general path's weight, packed for {@link Int8Gemms#best()}, and its column sums (zero-point correction). */
    private static final class General {
        final PackedInt8Weight weight;
        final long[] colSums;

        General(byte[] w, int k, int n, Int8Gemm kernel) {
            this.colSums = PackedInt8Weight.columnSums(w, k, n);
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                INDArray wa = Nd4j.create(DataType.BYTE, new long[] {k, n}, 'c');
                wa.data().setData(w);
                this.weight = kernel.pack(wa);
            }
        }
    }

    /** Per-thread buffers, regrown only when the batch size grows. */
    private static final class Scratch {
        float[] xs;
        byte[] xq;
        int[] acc;
        float[] y;
        float[] colScale;
        int[] colOffset;
        INDArray accArray;

        void ensure(int m, int k, int n) {
            if (xq == null || xq.length != m * k) {
                xq = new byte[m * k];
            }
            if (acc == null || acc.length < m * n) {
                acc = new int[m * n];
                y = new float[m * n];
            }
            if (colScale == null || colScale.length != n) {
                colScale = new float[n];
                colOffset = new int[n];
            }
            if (accArray == null || accArray.size(0) != m || accArray.size(1) != n) {
                try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                    accArray = Nd4j.create(DataType.INT, new long[] {m, n}, 'c');
                }
            }
        }
    }
}
