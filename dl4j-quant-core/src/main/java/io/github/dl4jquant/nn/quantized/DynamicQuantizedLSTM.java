package io.github.dl4jquant.nn.quantized;

import java.util.Objects;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * PyTorch's {@code torch.ao.nn.quantized.dynamic.LSTM} for DL4J's {@code LSTM} and {@code GravesLSTM} (with its
 * peepholes, which stay float), optionally bidirectional: int8 input and recurrent weights, activations quantized per
 * product call (7-bit, as PyTorch's dynamic LSTM always asks for {@code reduce_range}), gates and cell state in float.
 * DL4J's gate blocks are kept as DL4J stores them, {@code [block input | forget | output | input gate]}, with its
 * activation functions: {@code c = f * c + i * act(a)}, {@code h = o * act(c)}.
 *
 * <pre>{@code
 * DynamicQuantizedLSTM q = new DynamicQuantizedLSTM.Builder().nIn(128).nOut(256)
 *         .activation(Activation.TANH).gateActivationFunction(new ActivationSigmoid())
 *         .forward(new RecurrentWeights(inputProduct, recurrentProduct, null)).build();
 * }</pre>
 */
public class DynamicQuantizedLSTM extends DynamicQuantizedRecurrent {
    private IActivation gateActivationFn = new ActivationSigmoid();

    /** For Jackson. */
    public DynamicQuantizedLSTM() {
    }

    private DynamicQuantizedLSTM(Builder b) {
        super(b);
        this.gateActivationFn = b.gateActivationFn;
    }

    @Override
    protected int gatesPerUnit() {
        return 4;
    }

    @Override
    protected DynamicQuantizedRecurrentLayer<?> runtimeLayer(NeuralNetConfiguration conf, DataType dataType) {
        return new DynamicQuantizedLSTMLayer(conf, dataType);
    }

    public IActivation getGateActivationFn() {
        return gateActivationFn;
    }

    public void setGateActivationFn(IActivation gateActivationFn) {
        this.gateActivationFn = gateActivationFn;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DynamicQuantizedLSTM l && super.equals(o)
                && Objects.equals(gateActivationFn, l.gateActivationFn);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), gateActivationFn);
    }

    @Override
    public String toString() {
        return "DynamicQuantizedLSTM(name=" + getLayerName() + ", nIn=" + nIn + ", nOut=" + nOut + ", activation="
                + getActivationFn() + ", gateActivation=" + gateActivationFn + ", peepholes="
                + (getForward() != null && getForward().hasPeepholes()) + ", bidirectional=" + getBidirectionalMode()
                + ", format=" + getRnnDataFormat() + ")";
    }

    /** Fluent builder. */
    public static class Builder extends DynamicQuantizedRecurrent.Builder<Builder> {
        private IActivation gateActivationFn = new ActivationSigmoid();

        public Builder gateActivationFunction(IActivation gateActivationFn) {
            this.gateActivationFn = gateActivationFn;
            return this;
        }

        @Override
        @SuppressWarnings("unchecked")
        public DynamicQuantizedLSTM build() {
            DynamicQuantizedLSTM q = new DynamicQuantizedLSTM(this);
            q.validate();
            return q;
        }
    }
}
