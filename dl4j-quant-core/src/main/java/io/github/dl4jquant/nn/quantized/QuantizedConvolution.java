package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.kernel.DnnlInt8Convolution;
import io.github.dl4jquant.nn.ConvolutionGeometry;
import io.github.dl4jquant.nn.LayerCopies;
import io.github.dl4jquant.nn.WeightLayouts;
import io.github.dl4jquant.nn.reference.ReferenceQuantization;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution;
import java.util.Arrays;
import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.NoParamLayer;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The int8 convolution PyTorch's {@code convert_fx} lowers a reference convolution to ({@code nnq.Conv2d},
 * {@code nniq.ConvReLU2d}, {@code nnq.Conv1d}): int8 weights with per-output-channel symmetric scales, quint8
 * activations with the calibrated qparams, and {@link DnnlInt8Convolution} (oneDNN's int8 convolution with bias,
 * activation and requantization fused). It keeps a copy of the float convolution's configuration (without its
 * weights), so every stride, padding, {@code ConvolutionMode}, dilation and data format is DL4J's, and the layer can
 * fall back to the reference computation where oneDNN's primitives do not load.
 *
 * <pre>{@code
 * QuantizedConvolution q = QuantizedConvolution.fromReference(referenceConv, floatW, floatB);
 * // a layer with 0 DL4J params: the int8 weights are in this configuration (base64 in configuration.json)
 * }</pre>
 */
public class QuantizedConvolution extends NoParamLayer implements Int8Handover {
    private ConvolutionLayer convolution;
    private ReferenceQuantization quantization;
    private byte[] weightInt8;
    private float[] bias;
    private boolean handsOverOutput;

    /** For Jackson. */
    public QuantizedConvolution() {
    }

    /**
     * Lowers a reference convolution: quantizes its float weight (in DL4J's layout for the layer type) with the
     * reference's weight qparams, which must be qint8 and symmetric, and keeps the float bias.
     *
     * @throws IllegalArgumentException when the weight, the qparams or the activation cannot be lowered
     */
    public static QuantizedConvolution fromReference(ReferenceQuantizedConvolution reference, INDArray floatW,
                                                     INDArray floatB) {
        ConvolutionLayer ref = reference.asConvolution();
        String name = "QuantizedConvolution.fromReference('" + ref.getLayerName() + "')";
        ReferenceQuantization q = reference.getQuantization();
        String unsupported = unsupportedReason(ref, q);
        if (unsupported != null) {
            throw new IllegalArgumentException(name + ": " + unsupported);
        }
        QuantizedConvolution c = new QuantizedConvolution();
        c.setLayerName(ref.getLayerName());
        c.convolution = floatCopyOf(ref);
        c.quantization = q;
        INDArray oihw = WeightLayouts.observedWeight(ref, floatW.castTo(DataType.FLOAT));
        INDArray qw = QuantOps.quantize(oihw, perChannel(q.weight(), oihw.size(0)));
        c.weightInt8 = qw.dup('c').data().asBytes();
        c.bias = ref.hasBias() && floatB != null ? floatB.castTo(DataType.FLOAT).dup('c').data().asFloat() : null;
        c.validate();
        return c;
    }

    /**
     * Why {@code conf} with qparams {@code q} cannot become an int8 convolution, or null: the int8 kernel takes quint8
     * activations and qint8 symmetric weights, and fuses only the activations oneDNN expresses.
     */
    public static String unsupportedReason(ConvolutionLayer conf, ReferenceQuantization q) {
        QParams in = q.input();
        QParams out = q.output();
        QParams w = q.weight();
        if (in.dtype() != QuantDType.QUINT8 || (out != null && out.dtype() != QuantDType.QUINT8)) {
            return "the int8 convolution takes quint8 activations; the qconfig gives input " + in.dtype().torchName()
                    + (out == null ? "" : " and output " + out.dtype().torchName());
        }
        if (w.dtype() != QuantDType.QINT8 || Arrays.stream(w.zeroPoints()).anyMatch(z -> z != 0)
                || (w.isPerChannel() && w.axis() != 0)) {
            return "the int8 convolution needs qint8 weights with zero points 0, per tensor or per output channel; got "
                    + w + ". Use a symmetric weight observer (PyTorch asserts the same for nnq.Conv2d)";
        }
        if (!DnnlInt8Convolution.expresses(conf.getActivationFn())) {
            return "the int8 convolution fuses only " + DnnlInt8Convolution.expressibleActivations() + "; this layer's "
                    + "activation is " + conf.getActivationFn();
        }
        if (ConvolutionGeometry.of(conf).spec().reductionLength() > QuantizedDense.MAX_N_IN) {
            return "each output sums " + ConvolutionGeometry.of(conf).spec().reductionLength() + " products, more than "
                    + "the " + QuantizedDense.MAX_N_IN + " whose int32 accumulators cannot overflow";
        }
        return null;
    }

    /** The float convolution's configuration, of its own DL4J class, without the reference's qparams. */
    private static ConvolutionLayer floatCopyOf(ConvolutionLayer ref) {
        @SuppressWarnings("unchecked")
        Class<? extends ConvolutionLayer> floatClass = (Class<? extends ConvolutionLayer>) ref.getClass()
                .getSuperclass();
        return LayerCopies.asSuperclass(ref, floatClass, "quantization");
    }

    private static QParams perChannel(QParams w, long channels) {
        if (w.isPerChannel()) {
            return w;
        }
        float[] s = new float[(int) channels];
        Arrays.fill(s, w.scale());
        return QParams.perChannel(s, new int[(int) channels], 0, QuantDType.QINT8, w.quantMin(), w.quantMax(),
                io.github.dl4jquant.QScheme.PER_CHANNEL_SYMMETRIC);
    }

    /**
     * Checks the stored state (a hand-edited or truncated configuration must fail here with the reason, not deep in
     * the kernel).
     */
    void validate() {
        String name = "QuantizedConvolution '" + getLayerName() + "'";
        String fix = ". The model configuration was probably truncated or edited; convert the fp32 model again";
        if (convolution == null || quantization == null) {
            throw new IllegalArgumentException(name + ": no " + (convolution == null ? "convolution configuration"
                    : "quantization parameters") + fix);
        }
        ConvolutionGeometry g = ConvolutionGeometry.of(convolution);
        long expected = g.spec().weightLength();
        if (weightInt8 == null || weightInt8.length != expected) {
            throw new IllegalArgumentException(name + ": stored int8 weights hold "
                    + (weightInt8 == null ? "nothing" : weightInt8.length + " values") + " but the convolution "
                    + g.spec() + " needs " + expected + fix);
        }
        int oc = g.spec().outChannels();
        float[] scales = weightScales();
        for (int i = 0; i < oc; i++) {
            if (!(scales[i] > 0f) || Float.isInfinite(scales[i])) {
                throw new IllegalArgumentException(name + ": weight scale " + i + " must be finite and > 0; got "
                        + scales[i] + fix);
            }
        }
        if (bias != null && bias.length != oc) {
            throw new IllegalArgumentException(name + ": expected " + oc + " bias values; got " + bias.length + fix);
        }
        String unsupported = unsupportedReason(convolution, quantization);
        if (unsupported != null) {
            throw new IllegalArgumentException(name + ": " + unsupported + fix);
        }
    }

    /** One scale per output channel. */
    public float[] weightScales() {
        QParams w = quantization.weight();
        int oc = ConvolutionGeometry.of(convolution).spec().outChannels();
        return perChannel(w, oc).scales();
    }

    /** The int8 weight dequantized, in the float layer's own layout: what the reference computes with. */
    INDArray dequantizedWeight() {
        return WeightLayouts.fromObservedWeight(convolution, dequantizedWeightOihw());
    }

    /** The int8 weight dequantized, {@code [out, in / groups, kH, kW]}: the layout weight observers see. */
    public INDArray dequantizedWeightOihw() {
        ConvolutionGeometry g = ConvolutionGeometry.of(convolution);
        long[] oihw = {g.spec().outChannels(), g.spec().inChannels() / g.spec().groups(), g.spec().kernelH(),
                g.spec().kernelW()};
        INDArray q = Nd4j.createFromArray(weightInt8).reshape('c', oihw);
        return QuantOps.dequantize(q, perChannel(quantization.weight(), oihw[0]));
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        validate();
        QuantizedConvolutionLayer layer = new QuantizedConvolutionLayer(conf, networkDataType);
        layer.setListeners(listeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        layer.setParamTable(initializer().init(conf, layerParamsView, initializeParams));
        layer.setConf(conf);
        return layer;
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return convolution.getOutputType(layerIndex, inputType);
    }

    @Override
    public InputPreProcessor getPreProcessorForInputType(InputType inputType) {
        return convolution.getPreProcessorForInputType(inputType);
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        return new LayerMemoryReport.Builder(getLayerName(), QuantizedConvolution.class, inputType,
                getOutputType(-1, inputType))
                .standardMemory(0, 0)
                .workingMemory(0, 0, 0, 0)
                .cacheMemory(MemoryReport.CACHE_MODE_ALL_ZEROS, MemoryReport.CACHE_MODE_ALL_ZEROS)
                .build();
    }

    /** The float convolution's configuration (no weights): its geometry and activation. */
    public ConvolutionLayer getConvolution() {
        return convolution;
    }

    public void setConvolution(ConvolutionLayer convolution) {
        this.convolution = convolution;
    }

    public ReferenceQuantization getQuantization() {
        return quantization;
    }

    public void setQuantization(ReferenceQuantization quantization) {
        this.quantization = quantization;
    }

    /** The int8 weight {@code [out, in / groups, kH, kW]} row-major (a copy). */
    public byte[] getWeightInt8() {
        return weightInt8 == null ? null : weightInt8.clone();
    }

    public void setWeightInt8(byte[] weightInt8) {
        this.weightInt8 = weightInt8 == null ? null : weightInt8.clone();
    }

    /** The float bias (a copy), or null. */
    public float[] getBias() {
        return bias == null ? null : bias.clone();
    }

    public void setBias(float[] bias) {
        this.bias = bias == null ? null : bias.clone();
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
    public QuantizedConvolution clone() {
        QuantizedConvolution c = (QuantizedConvolution) super.clone();
        c.convolution = convolution == null ? null : convolution.clone();
        c.weightInt8 = getWeightInt8();
        c.bias = getBias();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof QuantizedConvolution q)) {
            return false;
        }
        return Objects.equals(getLayerName(), q.getLayerName()) && Objects.equals(convolution, q.convolution)
                && Objects.equals(quantization, q.quantization) && Arrays.equals(weightInt8, q.weightInt8)
                && Arrays.equals(bias, q.bias) && handsOverOutput == q.handsOverOutput;
    }

    @Override
    public int hashCode() {
        return Objects.hash(getLayerName(), convolution, quantization, Arrays.hashCode(weightInt8),
                Arrays.hashCode(bias), handsOverOutput);
    }

    @Override
    public String toString() {
        return "QuantizedConvolution(name=" + getLayerName() + ", " + (convolution == null ? "?"
                : convolution.getClass().getSimpleName() + " " + ConvolutionGeometry.of(convolution).spec()
                + ", activation=" + convolution.getActivationFn()) + ", " + quantization + ", bias=" + (bias != null)
                + ", handsOverOutput=" + handsOverOutput + ")";
    }
}
