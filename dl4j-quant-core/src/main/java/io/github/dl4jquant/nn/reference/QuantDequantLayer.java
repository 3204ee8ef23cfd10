package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.NoParamLayer;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonIgnore;

/**
 * A quantize-dequantize step on an edge of the graph: PyTorch's {@code quantize_per_tensor -> dequantize} pair in a
 * reference model. The converter puts one after a quantized op that has no reference module of its own (a merge, an
 * element-wise add, a sigmoid {@code ActivationLayer}) so that its output carries the observed qparams.
 *
 * <pre>{@code
 * QuantDequantLayer qdq = new QuantDequantLayer.Builder()
 *     .qparams(QParams.perTensor(1f / 256, 0, QuantDType.QUINT8))
 *     .build();
 * }</pre>
 */
public class QuantDequantLayer extends NoParamLayer {
    private float scale;
    private int zeroPoint;
    private String dtype;
    private int quantMin;
    private int quantMax;

    /** For JSON deserialisation. */
    public QuantDequantLayer() {
        super();
    }

    private QuantDequantLayer(Builder b) {
        super(b);
        QParams q = b.qparams;
        this.scale = q.scale();
        this.zeroPoint = q.zeroPoint();
        this.dtype = q.dtype().torchName();
        this.quantMin = q.quantMin();
        this.quantMax = q.quantMax();
    }

    /** The per-tensor qparams this layer quantizes to. */
    @JsonIgnore
    public QParams qparams() {
        return QParams.perTensor(scale, zeroPoint, QuantDType.fromTorchName(dtype), quantMin, quantMax,
                QScheme.PER_TENSOR_AFFINE);
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        QuantDequantLayerImpl impl = new QuantDequantLayerImpl(conf, networkDataType);
        impl.setListeners(listeners);
        impl.setIndex(layerIndex);
        impl.setParamsViewArray(layerParamsView);
        impl.setParamTable(initializer().init(conf, layerParamsView, initializeParams));
        impl.setConf(conf);
        return impl;
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return inputType;
    }

    @Override
    public InputPreProcessor getPreProcessorForInputType(InputType inputType) {
        return null;
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        return new LayerMemoryReport.Builder(layerName, QuantDequantLayer.class, inputType, inputType)
                .standardMemory(0, 0).workingMemory(0, 0, 0, 0).cacheMemory(0, 0).build();
    }

    public float getScale() {
        return scale;
    }

    public void setScale(float scale) {
        this.scale = scale;
    }

    public int getZeroPoint() {
        return zeroPoint;
    }

    public void setZeroPoint(int zeroPoint) {
        this.zeroPoint = zeroPoint;
    }

    public String getDtype() {
        return dtype;
    }

    public void setDtype(String dtype) {
        this.dtype = dtype;
    }

    public int getQuantMin() {
        return quantMin;
    }

    public void setQuantMin(int quantMin) {
        this.quantMin = quantMin;
    }

    public int getQuantMax() {
        return quantMax;
    }

    public void setQuantMax(int quantMax) {
        this.quantMax = quantMax;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof QuantDequantLayer)) {
            return false;
        }
        QuantDequantLayer q = (QuantDequantLayer) o;
        return Objects.equals(layerName, q.layerName) && scale == q.scale && zeroPoint == q.zeroPoint
                && Objects.equals(dtype, q.dtype) && quantMin == q.quantMin && quantMax == q.quantMax;
    }

    @Override
    public int hashCode() {
        return Objects.hash(layerName, scale, zeroPoint, dtype, quantMin, quantMax);
    }

    @Override
    public String toString() {
        return "QuantDequantLayer(" + layerName + ", " + qparams() + ")";
    }

    /** Builds a {@link QuantDequantLayer}. */
    public static class Builder extends org.deeplearning4j.nn.conf.layers.Layer.Builder<Builder> {
        private QParams qparams;

        /** Per-tensor qparams to quantize to. */
        public Builder qparams(QParams q) {
            if (q == null || q.isPerChannel()) {
                throw new IllegalArgumentException("QuantDequantLayer needs per-tensor qparams; got " + q);
            }
            this.qparams = q;
            return this;
        }

        @Override
        @SuppressWarnings("unchecked")
        public QuantDequantLayer build() {
            if (qparams == null) {
                throw new IllegalArgumentException("QuantDequantLayer.Builder: qparams(...) is required");
            }
            return new QuantDequantLayer(this);
        }
    }
}
