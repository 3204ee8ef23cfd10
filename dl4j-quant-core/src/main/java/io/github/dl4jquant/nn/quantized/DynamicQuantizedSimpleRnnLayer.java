package io.github.dl4jquant.nn.quantized;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The runtime of {@link DynamicQuantizedSimpleRnn}: {@code h = act(gates)}.
 *
 * <pre>{@code
 * DynamicQuantizedSimpleRnnLayer rnn = (DynamicQuantizedSimpleRnnLayer) int8Graph.getLayer("rnn");
 * INDArray h = rnn.activate(sequence, false, LayerWorkspaceMgr.noWorkspaces());   // [batch, hidden, T]
 * }</pre>
 */
public class DynamicQuantizedSimpleRnnLayer extends DynamicQuantizedRecurrentLayer<DynamicQuantizedSimpleRnn> {

    public DynamicQuantizedSimpleRnnLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected boolean keepsFeedForwardMask() {
        return true;
    }

    @Override
    protected boolean hasCellState() {
        return false;
    }

    @Override
    protected void cellStep(INDArray gates, State s, INDArray[] peepholes) {
        activateInPlace(layerConf().getActivationFn(), gates);
        s.h.assign(gates);
    }
}
