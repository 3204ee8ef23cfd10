package io.github.dl4jquant.nn.quantized;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * DL4J's {@code SimpleRnn}, {@code h_t = act(x_t W + h_{t-1} RW + b)}, with int8 weights and dynamic activations, as
 * PyTorch's dynamic {@code RNNCell} unrolled, except that the input product runs over the whole sequence at once (one
 * dynamic scale, as PyTorch's dynamic LSTM does; PyTorch has no dynamic {@code nn.RNN}). Optionally bidirectional.
 *
 * <pre>{@code
 * DynamicQuantizedSimpleRnn q = new DynamicQuantizedSimpleRnn.Builder().nIn(16).nOut(32)
 *         .activation(Activation.TANH).forward(new RecurrentWeights(inputProduct, recurrentProduct, null)).build();
 * }</pre>
 */
public class DynamicQuantizedSimpleRnn extends DynamicQuantizedRecurrent {

    /** For Jackson. */
    public DynamicQuantizedSimpleRnn() {
    }

    private DynamicQuantizedSimpleRnn(Builder b) {
        super(b);
    }

    @Override
    protected int gatesPerUnit() {
        return 1;
    }

    @Override
    protected DynamicQuantizedRecurrentLayer<?> runtimeLayer(NeuralNetConfiguration conf, DataType dataType) {
        return new DynamicQuantizedSimpleRnnLayer(conf, dataType);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DynamicQuantizedSimpleRnn && super.equals(o);
    }

    @Override
    public int hashCode() {
        return super.hashCode();
    }

    @Override
    public String toString() {
        return "DynamicQuantizedSimpleRnn(name=" + getLayerName() + ", nIn=" + nIn + ", nOut=" + nOut
                + ", activation=" + getActivationFn() + ", bidirectional=" + getBidirectionalMode() + ", format="
                + getRnnDataFormat() + ")";
    }

    /** Fluent builder. */
    public static class Builder extends DynamicQuantizedRecurrent.Builder<Builder> {
        @Override
        @SuppressWarnings("unchecked")
        public DynamicQuantizedSimpleRnn build() {
            DynamicQuantizedSimpleRnn q = new DynamicQuantizedSimpleRnn(this);
            q.validate();
            return q;
        }
    }
}
