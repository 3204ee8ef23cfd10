package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.nn.PoolingGeometry;
import io.github.dl4jquant.nn.QParamsConfig;
import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.NoParamLayer;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch's quantized pooling ({@code max_pool2d}, {@code avg_pool2d}, {@code adaptive_avg_pool2d} on quint8
 * tensors) for DL4J's SubsamplingLayer, Subsampling1DLayer and GlobalPoolingLayer: input and output share the
 * observer's qparams, and the pooling runs on the u8 values handed over by the previous int8 layer (or quantized
 * from its floats), without a float round trip ({@link io.github.dl4jquant.kernel.DnnlInt8Pooling}). It keeps a copy
 * of the float pooling layer's configuration: its geometry, and the float computation (followed by the output
 * quantization) for what the int8 kernel cannot do.
 *
 * <pre>{@code
 * QuantizedPooling q = QuantizedPooling.of(maxPoolConf, sharedQParams);
 * }</pre>
 */
public class QuantizedPooling extends NoParamLayer implements Int8Handover {
    private Layer pooling;
    private QParamsConfig qparamsConfig;
    private boolean handsOverOutput;

    /** For Jackson. */
    public QuantizedPooling() {
    }

    /**
     * @throws IllegalArgumentException when {@link #unsupportedReason} is not null
     */
    public static QuantizedPooling of(Layer pooling, QParams qparams) {
        String unsupported = unsupportedReason(pooling, qparams);
        if (unsupported != null) {
            throw new IllegalArgumentException("QuantizedPooling '" + pooling.getLayerName() + "': " + unsupported);
        }
        QuantizedPooling q = new QuantizedPooling();
        q.setLayerName(pooling.getLayerName());
        q.pooling = pooling.clone();
        q.qparamsConfig = QParamsConfig.of(qparams);
        return q;
    }

    /** Why {@code pooling} cannot run int8 with {@code qparams}, or null. */
    public static String unsupportedReason(Layer pooling, QParams qparams) {
        if (qparams == null || qparams.isPerChannel() || qparams.dtype() != QuantDType.QUINT8) {
            return "the int8 pooling takes per-tensor quint8 activations; got " + qparams;
        }
        return PoolingGeometry.unsupportedReason(pooling);
    }

    /** The shared input and output qparams. */
    public QParams qparams() {
        return qparamsConfig.toQParams("qparams of " + getLayerName());
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        String unsupported = pooling == null || qparamsConfig == null ? "no pooling configuration or qparams"
                : unsupportedReason(pooling, qparams());
        if (unsupported != null) {
            throw new IllegalArgumentException("QuantizedPooling '" + getLayerName() + "': " + unsupported
                    + ". The model configuration was probably truncated or edited; convert the fp32 model again");
        }
        QuantizedPoolingLayer layer = new QuantizedPoolingLayer(conf, networkDataType);
        layer.setListeners(listeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        layer.setParamTable(initializer().init(conf, layerParamsView, initializeParams));
        layer.setConf(conf);
        return layer;
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return pooling.getOutputType(layerIndex, inputType);
    }

    @Override
    public InputPreProcessor getPreProcessorForInputType(InputType inputType) {
        return pooling.getPreProcessorForInputType(inputType);
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        return pooling.getMemoryReport(inputType);
    }

    /** The float pooling layer's configuration. */
    public Layer getPooling() {
        return pooling;
    }

    public void setPooling(Layer pooling) {
        this.pooling = pooling;
    }

    public QParamsConfig getQparamsConfig() {
        return qparamsConfig;
    }

    public void setQparamsConfig(QParamsConfig qparamsConfig) {
        this.qparamsConfig = qparamsConfig;
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
    public QuantizedPooling clone() {
        QuantizedPooling c = (QuantizedPooling) super.clone();
        c.pooling = pooling == null ? null : pooling.clone();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedPooling q && Objects.equals(getLayerName(), q.getLayerName())
                && Objects.equals(pooling, q.pooling) && Objects.equals(qparamsConfig, q.qparamsConfig)
                && handsOverOutput == q.handsOverOutput;
    }

    @Override
    public int hashCode() {
        return Objects.hash(getLayerName(), pooling, qparamsConfig, handsOverOutput);
    }

    @Override
    public String toString() {
        return "QuantizedPooling(name=" + getLayerName() + ", " + pooling + ", " + qparamsConfig + ", handsOverOutput="
                + handsOverOutput + ")";
    }
}
