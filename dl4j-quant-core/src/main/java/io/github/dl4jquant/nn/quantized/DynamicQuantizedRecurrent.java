package io.github.dl4jquant.nn.quantized;

import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.nn.params.EmptyParamInitializer;

/**
 * What the dynamic int8 recurrent layers share, after PyTorch's {@code torch.ao.nn.quantized.dynamic} RNNs: the int8
 * weights of one direction, or of two when the float layer was wrapped in DL4J's {@code Bidirectional} (as PyTorch's
 * {@code LSTM(bidirectional=True)} is one module with two directions), combined as the wrapper's mode says.
 * Activations are quantized per product call, gates and states stay float.
 *
 * <pre>{@code
 * DynamicQuantizedRecurrent conf = (DynamicQuantizedRecurrent) graph.getLayer("lstm").conf().getLayer();
 * conf.getForward().getInputWeights();    // the int8 input product of the forward direction
 * conf.getBidirectionalMode();            // null: one direction
 * }</pre>
 *
 * <p>The weights live in this configuration (base64 in {@code configuration.json}) and the layer has 0 DL4J params,
 * as {@link QuantizedDense}: DL4J's flattened params can only be float.
 */
public abstract class DynamicQuantizedRecurrent extends BaseRecurrentLayer {
    private RecurrentWeights forward;
    private RecurrentWeights backward;
    private Bidirectional.Mode bidirectionalMode;

    /** For Jackson. */
    protected DynamicQuantizedRecurrent() {
    }

    protected DynamicQuantizedRecurrent(Builder<?> b) {
        super(b);
        this.forward = b.forward;
        this.backward = b.backward;
        this.bidirectionalMode = b.bidirectionalMode;
    }

    /** The runtime layer this configuration instantiates. */
    protected abstract DynamicQuantizedRecurrentLayer<?> runtimeLayer(NeuralNetConfiguration conf, DataType dataType);

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        validate();
        DynamicQuantizedRecurrentLayer<?> layer = runtimeLayer(conf, networkDataType);
        layer.setListeners(listeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        layer.setParamTable(initializer().init(conf, layerParamsView, initializeParams));
        layer.setConf(conf);
        return layer;
    }

    /** Gate blocks per hidden unit: 4 for LSTMs, 1 for a SimpleRnn. */
    protected abstract int gatesPerUnit();

    /** Checks the stored state, naming the layer (a hand-edited configuration must fail here, not deep in DL4J). */
    public void validate() {
        String name = getClass().getSimpleName() + " '" + getLayerName() + "'";
        if (nIn <= 0 || nOut <= 0) {
            throw new IllegalArgumentException(name + ": nIn and nOut must be > 0; got " + nIn + ", " + nOut);
        }
        if (forward == null) {
            throw new IllegalArgumentException(name + ": no forward weights. The model configuration was probably "
                    + "truncated or edited; convert the fp32 model again");
        }
        forward.validate(name + " (forward)", nIn, nOut, gatesPerUnit());
        if ((backward == null) != (bidirectionalMode == null)) {
            throw new IllegalArgumentException(name + ": a bidirectional layer needs both backward weights and a mode; "
                    + "got backward=" + (backward != null) + ", mode=" + bidirectionalMode);
        }
        if (backward != null) {
            backward.validate(name + " (backward)", nIn, nOut, gatesPerUnit());
        }
    }

    /** Size of the output per time step: twice the hidden size for a concatenating bidirectional layer. */
    public long outputSize() {
        return bidirectionalMode == Bidirectional.Mode.CONCAT ? 2 * nOut : nOut;
    }

    public boolean isBidirectional() {
        return backward != null;
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        if (inputType == null || inputType.getType() != InputType.Type.RNN) {
            throw new IllegalStateException(getClass().getSimpleName() + " '" + getLayerName() + "' needs recurrent "
                    + "input (InputType.recurrent); got " + inputType);
        }
        InputType.InputTypeRecurrent r = (InputType.InputTypeRecurrent) inputType;
        return InputType.recurrent(outputSize(), r.getTimeSeriesLength(), getRnnDataFormat());
    }

    @Override
    public ParamInitializer initializer() {
        return EmptyParamInitializer.getInstance();
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        return new LayerMemoryReport.Builder(getLayerName(), getClass(), inputType, getOutputType(-1, inputType))
                .standardMemory(0, 0)
                .workingMemory(0, 6 * nOut * gatesPerUnit(), 0, 0)
                .cacheMemory(MemoryReport.CACHE_MODE_ALL_ZEROS, MemoryReport.CACHE_MODE_ALL_ZEROS)
                .build();
    }

    public RecurrentWeights getForward() {
        return forward;
    }

    public void setForward(RecurrentWeights forward) {
        this.forward = forward;
    }

    /** The backward direction's weights, or null for a unidirectional layer. */
    public RecurrentWeights getBackward() {
        return backward;
    }

    public void setBackward(RecurrentWeights backward) {
        this.backward = backward;
    }

    /** How the two directions combine (DL4J's {@code Bidirectional.Mode}), or null for one direction. */
    public Bidirectional.Mode getBidirectionalMode() {
        return bidirectionalMode;
    }

    public void setBidirectionalMode(Bidirectional.Mode bidirectionalMode) {
        this.bidirectionalMode = bidirectionalMode;
    }

    @Override
    public DynamicQuantizedRecurrent clone() {
        DynamicQuantizedRecurrent c = (DynamicQuantizedRecurrent) super.clone();
        c.forward = forward == null ? null : forward.copy();
        c.backward = backward == null ? null : backward.copy();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof DynamicQuantizedRecurrent r) || !super.equals(o)) {
            return false;
        }
        return Objects.equals(forward, r.forward) && Objects.equals(backward, r.backward)
                && bidirectionalMode == r.bidirectionalMode;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), forward, backward, bidirectionalMode);
    }

    /** The builder options every dynamic recurrent layer takes. */
    @SuppressWarnings("unchecked")
    public abstract static class Builder<T extends Builder<T>> extends BaseRecurrentLayer.Builder<T> {
        protected RecurrentWeights forward;
        protected RecurrentWeights backward;
        protected Bidirectional.Mode bidirectionalMode;

        public T forward(RecurrentWeights weights) {
            this.forward = weights;
            return (T) this;
        }

        /** Makes the layer bidirectional: {@code weights} run from the last time step to the first. */
        public T backward(RecurrentWeights weights, Bidirectional.Mode mode) {
            this.backward = weights;
            this.bidirectionalMode = mode;
            return (T) this;
        }
    }
}
