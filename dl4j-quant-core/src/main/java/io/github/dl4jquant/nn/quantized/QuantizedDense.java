package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.nn.QuantMath;
import io.github.dl4jquant.nn.QuantizedDenseBase;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import java.util.Arrays;
import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.nn.params.EmptyParamInitializer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The int8 dense layer PyTorch's {@code convert_fx} lowers a reference Linear to ({@code nnq.Linear},
 * {@code nniq.LinearReLU}, {@code nnqd.Linear}): int8 weights with per-output-channel symmetric scales, activations
 * quantized to quint8 (affine) or qint8 with the calibrated parameters (or per batch when dynamic), an exact int32
 * GEMM ({@link io.github.dl4jquant.kernel.Int8Gemms#best()}), zero-point correction from precomputed weight column
 * sums, scales and bias folded into one pass, the fused activation, and the output fake-quantized with the output
 * parameters so that it equals {@link ReferenceQuantizedDense}'s output.
 *
 * <pre>{@code
 * QuantizedDense q = QuantizedDense.fromReference(refConf, floatW, floatB);   // weights become int8 here
 * ComputationGraph g = new TransferLearning.GraphBuilder(net)
 *     .removeVertexKeepConnections("d1").addLayer("d1", q, "in").build();   // no params to set
 * }</pre>
 *
 * <p>The weights live in this configuration as {@code byte[]} (base64 in {@code configuration.json}, about a quarter
 * of the fp32 bytes) and the layer has 0 DL4J params: DL4J's flattened params can only be float (dl4j-facts 1.3).
 * So {@code params()} does not show them, and {@code toJson()}/{@code clone()} carry them.
 *
 * <p>Activations between layers stay FLOAT (dequantized). DL4J M2.1 does not check activation dtypes: a probe
 * layer emitting UBYTE reached the next custom layer unchanged, but a standard {@code DenseLayer} fed with it returned
 * wrong numbers without any error. Emitting quantized bytes is therefore only safe when every consumer is a
 * {@code QuantizedDense} with matching input parameters and the vertex is no graph output, a decision for the graph
 * converter; the float hand-over costs one dequantize and one quantize pass per layer boundary.
 *
 * <p>Kernel note: the layer runs on {@link io.github.dl4jquant.kernel.DnnlInt8Linear} where it can. On CPUs without
 * VNNI oneDNN's u8*s8 kernel is exact only for activations up to 128: 7-bit activations ({@code reduce_range}, the x86
 * config) run in one product; values above 128 cost an exact correction, or a second product when they are many.
 */
public class QuantizedDense extends QuantizedDenseBase implements Int8Handover {
    /** Longest input whose int32 accumulators cannot overflow: floor((2^31 - 1) / (255 * 128)). */
    public static final long MAX_N_IN = Integer.MAX_VALUE / (255L * 128);

    private byte[] weightInt8;
    private float[] weightScales;
    private float[] bias;
    private boolean handsOverOutput;

    /** For Jackson. */
    public QuantizedDense() {
    }

    /**
     * Lowers a reference layer: quantizes {@code floatW [nIn, nOut]} with the reference's weight parameters (which
     * must be qint8 and symmetric: per tensor, or per channel along axis 1), keeps the float bias.
     *
     * @param floatB nullable: no bias
     * @throws IllegalArgumentException when the weight shape or parameters cannot be lowered
     */
    public static QuantizedDense fromReference(ReferenceQuantizedDense conf, INDArray floatW, INDArray floatB) {
        String name = "QuantizedDense.fromReference('" + conf.getLayerName() + "')";
        int k = (int) conf.getNIn();
        int n = (int) conf.getNOut();
        if (floatW == null || floatW.rank() != 2 || floatW.size(0) != k || floatW.size(1) != n) {
            throw new IllegalArgumentException(name + ": W must be [nIn, nOut] = [" + k + ", " + n + "]; got "
                    + (floatW == null ? "null" : Arrays.toString(floatW.shape())));
        }
        if (floatB != null && floatB.length() != n) {
            throw new IllegalArgumentException(name + ": b must have nOut = " + n + " values; got "
                    + floatB.length());
        }
        QParams wq = conf.getWeightQParams();
        float[] scales = checkedWeightScales(wq, n, name);
        float[] w = floatW.castTo(DataType.FLOAT).dup('c').data().asFloat();
        byte[] q = new byte[k * n];
        int qmin = QuantDType.QINT8.quantMin();
        int qmax = QuantDType.QINT8.quantMax();
        for (int c = 0; c < n; c++) {
            float inv = 1.0f / scales[c];
            for (int r = 0; r < k; r++) {
                float v = w[r * n + c];
                if (v != v) {
                    throw QuantMath.nanError(name + " weight", (long) r * n + c);
                }
                q[r * n + c] = (byte) QuantOps.quantizeValue(v, inv, 0, qmin, qmax);
            }
        }
        Builder b = new Builder().weightInt8(q, scales)
                .bias(conf.hasBias() && floatB != null ? floatB.castTo(DataType.FLOAT).dup().data().asFloat() : null)
                .inputQParams(conf.isDynamic() ? null : conf.getInputQParams())
                .outputQParams(conf.getOutputQParams())
                .dynamic(conf.isDynamic())
                .perTimeStep(conf.getRnnDataFormat())
                .reduceRange(conf.isReduceRange())
                .nIn(k).nOut(n)
                .activation(conf.getActivationFn());
        b.name(conf.getLayerName());
        return b.build();
    }

    private static float[] checkedWeightScales(QParams wq, int n, String name) {
        if (wq == null || wq.dtype() != QuantDType.QINT8 || Arrays.stream(wq.zeroPoints()).anyMatch(z -> z != 0)
                || (wq.isPerChannel() && wq.axis() != 1)) {
            throw new IllegalArgumentException(name + ": int8 lowering needs qint8 weights with zero points 0, per "
                    + "tensor or per output channel (axis 1 of W [nIn, nOut]); got " + wq + ". Use a symmetric "
                    + "weight observer (PyTorch asserts the same for nnq.Linear)");
        }
        if (!wq.isPerChannel()) {
            float[] s = new float[n];
            Arrays.fill(s, wq.scale());
            return s;
        }
        if (wq.numChannels() != n) {
            throw new IllegalArgumentException(name + ": weight parameters have " + wq.numChannels()
                    + " channels but nOut = " + n);
        }
        return wq.scales();
    }

    /**
     * Checks the stored state (a hand-edited or truncated configuration must fail here with the reason, not deep in
     * DL4J).
     */
    void validate() {
        String name = "QuantizedDense '" + getLayerName() + "'";
        String fix = ". The model configuration was probably truncated or edited; convert the fp32 model again";
        long expected = nIn * nOut;
        if (nIn <= 0 || nOut <= 0) {
            throw new IllegalArgumentException(name + ": nIn and nOut must be > 0; got " + nIn + ", " + nOut + fix);
        }
        if (nIn > MAX_N_IN) {
            throw new IllegalArgumentException(name + ": nIn = " + nIn + " exceeds " + MAX_N_IN + ", the longest "
                    + "reduction whose int32 accumulators cannot overflow (255 * 128 * nIn < 2^31); keep this layer "
                    + "in fp32 or as a ReferenceQuantizedDense");
        }
        if (weightInt8 == null || weightInt8.length != expected) {
            throw new IllegalArgumentException(name + ": stored int8 weights hold "
                    + (weightInt8 == null ? "nothing" : weightInt8.length + " values") + " but nIn * nOut = "
                    + expected + fix);
        }
        if (weightScales == null || weightScales.length != nOut) {
            throw new IllegalArgumentException(name + ": expected nOut = " + nOut + " weight scales; got "
                    + (weightScales == null ? "none" : weightScales.length) + fix);
        }
        for (int i = 0; i < weightScales.length; i++) {
            if (!(weightScales[i] > 0f) || Float.isInfinite(weightScales[i])) {
                throw new IllegalArgumentException(name + ": weight scale " + i + " must be finite and > 0; got "
                        + weightScales[i] + fix);
            }
        }
        if (bias != null && bias.length != nOut) {
            throw new IllegalArgumentException(name + ": expected nOut = " + nOut + " bias values; got "
                    + bias.length + fix);
        }
        if (getActivationFn() == null) {
            throw new IllegalArgumentException(name + ": no activation function" + fix);
        }
        if (!isDynamic()) {
            QParams in = getInputQParams();
            if (in == null || in.isPerChannel()
                    || (in.dtype() != QuantDType.QUINT8 && in.dtype() != QuantDType.QINT8)) {
                throw new IllegalArgumentException(name + ": static quantization needs per-tensor quint8 or qint8 "
                        + "input parameters; got " + in + fix);
            }
        }
        getOutputQParams();
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        validate();
        QuantizedDenseLayer layer = new QuantizedDenseLayer(conf, networkDataType);
        layer.setListeners(listeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        layer.setParamTable(initializer().init(conf, layerParamsView, initializeParams));
        layer.setConf(conf);
        return layer;
    }

    @Override
    public ParamInitializer initializer() {
        return EmptyParamInitializer.getInstance();
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        return new LayerMemoryReport.Builder(getLayerName(), QuantizedDense.class, inputType,
                getOutputType(-1, inputType))
                .standardMemory(0, 0)
                .workingMemory(0, nIn + 2 * nOut, 0, 0)
                .cacheMemory(MemoryReport.CACHE_MODE_ALL_ZEROS, MemoryReport.CACHE_MODE_ALL_ZEROS)
                .build();
    }

    /** The int8 weight [nIn, nOut] in row-major order (a copy). */
    public byte[] getWeightInt8() {
        return weightInt8 == null ? null : weightInt8.clone();
    }

    public void setWeightInt8(byte[] weightInt8) {
        this.weightInt8 = weightInt8 == null ? null : weightInt8.clone();
    }

    /** One scale per output channel (a copy). */
    public float[] getWeightScales() {
        return weightScales == null ? null : weightScales.clone();
    }

    public void setWeightScales(float[] weightScales) {
        this.weightScales = weightScales == null ? null : weightScales.clone();
    }

    /** The float bias (a copy), or null. */
    public float[] getBias() {
        return bias == null ? null : bias.clone();
    }

    public void setBias(float[] bias) {
        this.bias = bias == null ? null : bias.clone();
    }

    public boolean hasBias() {
        return bias != null;
    }

    @Override
    public boolean isHandsOverOutput() {
        return handsOverOutput;
    }

    @Override
    public void setHandsOverOutput(boolean handsOverOutput) {
        this.handsOverOutput = handsOverOutput;
    }

    @Override
    public QuantizedDense clone() {
        QuantizedDense c = (QuantizedDense) super.clone();
        c.weightInt8 = getWeightInt8();
        c.weightScales = getWeightScales();
        c.bias = getBias();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof QuantizedDense) || !super.equals(o)) {
            return false;
        }
        QuantizedDense q = (QuantizedDense) o;
        return Arrays.equals(weightInt8, q.weightInt8) && Arrays.equals(weightScales, q.weightScales)
                && Arrays.equals(bias, q.bias) && handsOverOutput == q.handsOverOutput;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), Arrays.hashCode(weightInt8), Arrays.hashCode(weightScales),
                Arrays.hashCode(bias), handsOverOutput);
    }

    @Override
    public String toString() {
        return "QuantizedDense(name=" + getLayerName() + ", nIn=" + nIn + ", nOut=" + nOut + ", activation="
                + getActivationFn() + ", bias=" + (bias != null) + ", dynamic=" + isDynamic() + ", reduceRange="
                + isReduceRange() + ", input=" + getInputQParamsConfig() + ", output=" + getOutputQParamsConfig()
                + ", handsOverOutput=" + handsOverOutput + ")";
    }

    /** Fluent builder; {@link #fromReference} is the usual way in. */
    public static class Builder extends QuantizedDenseBase.Builder<Builder> {
        private byte[] weightInt8;
        private float[] weightScales;
        private float[] bias;

        /** The int8 weight [nIn, nOut] row-major and its nOut per-channel scales (zero points are 0). */
        public Builder weightInt8(byte[] values, float[] scales) {
            this.weightInt8 = values.clone();
            this.weightScales = scales.clone();
            return this;
        }

        /** Nullable: no bias. */
        public Builder bias(float[] bias) {
            this.bias = bias == null ? null : bias.clone();
            return this;
        }

        @Override
        public QuantizedDense build() {
            QuantizedDense q = new QuantizedDense(this);
            q.validate();
            return q;
        }
    }

    private QuantizedDense(Builder b) {
        super(b);
        this.weightInt8 = b.weightInt8;
        this.weightScales = b.weightScales;
        this.bias = b.bias;
    }
}
