package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.nn.QParamsConfig;
import io.github.dl4jquant.nn.QuantizedDenseBase;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonIgnore;

/**
 * PyTorch's reference quantized Linear ({@code nnqr.Linear}, with the surrounding quantize/dequantize nodes) as a
 * DL4J layer: float {@code W [nIn, nOut]} and {@code b} params like {@code DenseLayer}, and
 * <pre>
 *   forward(x) = qdq_out( act( qdq_in(x) · qdq_w(W) + b ) )
 * </pre>
 * with every q/dq done in float as ATen does it (round half to even, float32 inverse scale, clamp to the dtype).
 * Inference only.
 *
 * <pre>{@code
 * ReferenceQuantizedDense conf = new ReferenceQuantizedDense.Builder().nIn(784).nOut(256)
 *     .activation(Activation.RELU)
 *     .inputQParams(QParams.perTensor(0.02f, 0, QuantDType.QUINT8))
 *     .weightQParams(QParams.perChannel(wScales, new int[256], 1, QuantDType.QINT8, -128, 127,
 *             QScheme.PER_CHANNEL_SYMMETRIC))
 *     .outputQParams(QParams.perTensor(0.05f, 0, QuantDType.QUINT8))   // null: the output stays float
 *     .build();
 * // after graph init: graph.getLayer("d1").setParam("W", floatW); graph.getLayer("d1").setParam("b", floatB);
 * }</pre>
 *
 * <p>Differences from {@code DenseLayer}: the activation defaults to IDENTITY (PyTorch's Linear) and the weight
 * init to ZERO (the converter always sets the weights). With {@code dynamic(true)} the input parameters come from
 * each batch's min/max ({@code quantize_per_tensor_dynamic}: quint8 [0, 255], or [0, 127] with {@code reduceRange}).
 */
public class ReferenceQuantizedDense extends QuantizedDenseBase {
    private boolean hasBias = true;
    private QParamsConfig weightQParamsConfig;

    /** For Jackson. */
    public ReferenceQuantizedDense() {
    }

    private ReferenceQuantizedDense(Builder b) {
        super(b);
        this.hasBias = b.hasBias;
        this.weightQParamsConfig = QParamsConfig.of(b.weightQParams);
        initializeConstraints(b);
        validate();
    }

    private void validate() {
        String name = "ReferenceQuantizedDense '" + getLayerName() + "'";
        if (weightQParamsConfig == null) {
            throw new IllegalArgumentException(name + ": weightQParams are required");
        }
        QParams w = getWeightQParams();
        if (w.isPerChannel() && w.axis() != 0 && w.axis() != 1) {
            throw new IllegalArgumentException(name + ": weight axis must be 0 or 1 for W [nIn, nOut] (1 = output "
                    + "channel); got " + w.axis());
        }
        if (!isDynamic() && getInputQParamsConfig() == null) {
            throw new IllegalArgumentException(name + ": inputQParams are required unless dynamic(true)");
        }
        if (!isDynamic() && getInputQParams().isPerChannel()) {
            throw new IllegalArgumentException(name + ": inputQParams must be per tensor; got " + getInputQParams());
        }
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        ReferenceQuantizedDenseLayer layer = new ReferenceQuantizedDenseLayer(conf, networkDataType);
        layer.setListeners(listeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        Map<String, INDArray> params = initializer().init(conf, layerParamsView, initializeParams);
        layer.setParamTable(params);
        layer.setConf(conf);
        return layer;
    }

    @Override
    public ParamInitializer initializer() {
        return ReferenceParamInitializer.INSTANCE;
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        return new LayerMemoryReport.Builder(getLayerName(), ReferenceQuantizedDense.class, inputType,
                getOutputType(-1, inputType))
                .standardMemory(initializer().numParams(this), 0)
                .workingMemory(0, nOut, 0, 0)
                .cacheMemory(MemoryReport.CACHE_MODE_ALL_ZEROS, MemoryReport.CACHE_MODE_ALL_ZEROS)
                .build();
    }

    /** Weight parameters: per channel (axis 1 = output channel of W [nIn, nOut]) or per tensor. */
    @JsonIgnore
    public QParams getWeightQParams() {
        return weightQParamsConfig == null ? null
                : weightQParamsConfig.toQParams("weightQParams of " + getLayerName());
    }

    public boolean hasBias() {
        return hasBias;
    }

    public boolean isHasBias() {
        return hasBias;
    }

    public void setHasBias(boolean hasBias) {
        this.hasBias = hasBias;
    }

    public QParamsConfig getWeightQParamsConfig() {
        return weightQParamsConfig;
    }

    public void setWeightQParamsConfig(QParamsConfig c) {
        this.weightQParamsConfig = c;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof ReferenceQuantizedDense) || !super.equals(o)) {
            return false;
        }
        ReferenceQuantizedDense r = (ReferenceQuantizedDense) o;
        return hasBias == r.hasBias && Objects.equals(weightQParamsConfig, r.weightQParamsConfig);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), hasBias, weightQParamsConfig);
    }

    @Override
    public String toString() {
        return "ReferenceQuantizedDense(name=" + getLayerName() + ", nIn=" + nIn + ", nOut=" + nOut + ", activation="
                + getActivationFn() + ", hasBias=" + hasBias + ", dynamic=" + isDynamic() + ", reduceRange="
                + isReduceRange() + ", input=" + getInputQParamsConfig() + ", weight=" + weightQParamsConfig
                + ", output=" + getOutputQParamsConfig() + ")";
    }

    /** Fluent builder; see the class example. */
    public static class Builder extends QuantizedDenseBase.Builder<Builder> {
        private boolean hasBias = true;
        private QParams weightQParams;

        public Builder() {
            activation(Activation.IDENTITY);
            weightInit(WeightInit.ZERO);
        }

        public Builder hasBias(boolean hasBias) {
            this.hasBias = hasBias;
            return this;
        }

        public Builder weightQParams(QParams q) {
            this.weightQParams = q;
            return this;
        }

        @Override
        public ReferenceQuantizedDense build() {
            if (dynamic && inputQParams != null && inputQParams.dtype() != QuantDType.QUINT8) {
                throw new IllegalArgumentException("ReferenceQuantizedDense: dynamic quantization uses quint8 "
                        + "activations; got inputQParams " + inputQParams);
            }
            return new ReferenceQuantizedDense(this);
        }
    }
}
