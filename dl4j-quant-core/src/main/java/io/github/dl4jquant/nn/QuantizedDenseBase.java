package io.github.dl4jquant.nn;

import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.inputs.InputType;

import io.github.dl4jquant.QParams;
import java.util.Objects;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.nd4j.shade.jackson.annotation.JsonIgnore;

/**
 * What the reference and the int8 dense layer configurations share: the activation qparams around the layer and the
 * dynamic-quantization switches, stored as JSON-friendly bean properties.
 *
 * <pre>{@code
 * QuantizedDenseBase conf = (QuantizedDenseBase) graph.getLayer("d1").conf().getLayer();
 * conf.getInputQParams();    // null when dynamic
 * conf.getOutputQParams();   // null when the output stays float
 * }</pre>
 */
public abstract class QuantizedDenseBase extends FeedForwardLayer {
    private boolean dynamic;
    private boolean reduceRange;
    private QParamsConfig inputQParamsConfig;
    private QParamsConfig outputQParamsConfig;
    private RNNFormat rnnDataFormat;

    /** For Jackson. */
    protected QuantizedDenseBase() {
    }

    protected QuantizedDenseBase(Builder<?> b) {
        super(b);
        this.dynamic = b.dynamic;
        this.reduceRange = b.reduceRange;
        this.inputQParamsConfig = QParamsConfig.of(b.inputQParams);
        this.outputQParamsConfig = QParamsConfig.of(b.outputQParams);
        this.rnnDataFormat = b.rnnDataFormat;
    }

    /**
     * The sequence format when the layer is applied at every time step (from DL4J's {@code RnnOutputLayer}), or null
     * for a feed-forward layer.
     */
    public RNNFormat getRnnDataFormat() {
        return rnnDataFormat;
    }

    public void setRnnDataFormat(RNNFormat rnnDataFormat) {
        this.rnnDataFormat = rnnDataFormat;
    }

    /** Recurrent output for a per-time-step layer, as DL4J's {@code RnnOutputLayer}; feed-forward otherwise. */
    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        if (rnnDataFormat == null || inputType == null || inputType.getType() != InputType.Type.RNN) {
            return super.getOutputType(layerIndex, inputType);
        }
        return InputType.recurrent(nOut, ((InputType.InputTypeRecurrent) inputType).getTimeSeriesLength(),
                rnnDataFormat);
    }

    /** Per-tensor input parameters (null when dynamic). */
    @JsonIgnore
    public QParams getInputQParams() {
        return inputQParamsConfig == null ? null : inputQParamsConfig.toQParams("inputQParams of " + getLayerName());
    }

    /** Output parameters, or null when the output stays float. */
    @JsonIgnore
    public QParams getOutputQParams() {
        return outputQParamsConfig == null ? null
                : outputQParamsConfig.toQParams("outputQParams of " + getLayerName());
    }

    public boolean isDynamic() {
        return dynamic;
    }

    public void setDynamic(boolean dynamic) {
        this.dynamic = dynamic;
    }

    public boolean isReduceRange() {
        return reduceRange;
    }

    public void setReduceRange(boolean reduceRange) {
        this.reduceRange = reduceRange;
    }

    public QParamsConfig getInputQParamsConfig() {
        return inputQParamsConfig;
    }

    public void setInputQParamsConfig(QParamsConfig c) {
        this.inputQParamsConfig = c;
    }

    public QParamsConfig getOutputQParamsConfig() {
        return outputQParamsConfig;
    }

    public void setOutputQParamsConfig(QParamsConfig c) {
        this.outputQParamsConfig = c;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof QuantizedDenseBase) || !super.equals(o)) {
            return false;
        }
        QuantizedDenseBase q = (QuantizedDenseBase) o;
        return dynamic == q.dynamic && reduceRange == q.reduceRange
                && Objects.equals(inputQParamsConfig, q.inputQParamsConfig)
                && Objects.equals(outputQParamsConfig, q.outputQParamsConfig) && rnnDataFormat == q.rnnDataFormat;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), dynamic, reduceRange, inputQParamsConfig, outputQParamsConfig,
                rnnDataFormat);
    }

    /** The builder options both layers take. */
    @SuppressWarnings("unchecked")
    public abstract static class Builder<T extends Builder<T>> extends FeedForwardLayer.Builder<T> {
        protected boolean dynamic;
        protected boolean reduceRange;
        protected QParams inputQParams;
        protected QParams outputQParams;
        protected RNNFormat rnnDataFormat;

        /** Applies the layer at every time step of sequences in {@code format} (an RnnOutputLayer's). */
        public T perTimeStep(RNNFormat format) {
            this.rnnDataFormat = format;
            return (T) this;
        }

        /** Per-tensor parameters of the input; ignored when dynamic. */
        public T inputQParams(QParams q) {
            this.inputQParams = q;
            return (T) this;
        }

        /** Nullable: null keeps the output in float. */
        public T outputQParams(QParams q) {
            this.outputQParams = q;
            return (T) this;
        }

        /** True: input parameters from each batch's min/max (quint8). */
        public T dynamic(boolean dynamic) {
            this.dynamic = dynamic;
            return (T) this;
        }

        /** Dynamic mode only: 7-bit activations [0, 127] as PyTorch's fbgemm/x86 engines use. */
        public T reduceRange(boolean reduceRange) {
            this.reduceRange = reduceRange;
            return (T) this;
        }
    }
}
