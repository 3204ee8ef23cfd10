package io.github.dl4jquant.nn.quantized;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The runtime of {@link DynamicQuantizedLSTM}: DL4J's {@code LSTMHelpers} cell update on gates from the int8
 * products, block by block in DL4J's order {@code [a | f | o | i]}, GravesLSTM's peepholes included.
 */
public class DynamicQuantizedLSTMLayer extends DynamicQuantizedRecurrentLayer<DynamicQuantizedLSTM> {

    public DynamicQuantizedLSTMLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected boolean hasCellState() {
        return true;
    }

    @Override
    protected void cellStep(INDArray gates, State s, INDArray[] peepholes) {
        DynamicQuantizedLSTM c = layerConf();
        long h = c.getNOut();
        IActivation act = c.getActivationFn();
        IActivation gate = c.getGateActivationFn();
        INDArray a = block(gates, 0, h);
        INDArray f = block(gates, 1, h);
        INDArray o = block(gates, 2, h);
        INDArray i = block(gates, 3, h);
        activateInPlace(act, a);
        if (peepholes != null) {
            f.addi(s.c.mulRowVector(peepholes[0]));
            i.addi(s.c.mulRowVector(peepholes[2]));
        }
        activateInPlace(gate, f);
        activateInPlace(gate, i);
        s.c.muli(f).addi(i.muli(a));
        if (peepholes != null) {
            o.addi(s.c.mulRowVector(peepholes[1]));
        }
        activateInPlace(gate, o);
        INDArray cellActivation = s.c.dup('c');
        activateInPlace(act, cellActivation);
        s.h.assign(cellActivation.muli(o));
    }

    private static INDArray block(INDArray gates, int k, long h) {
        return gates.get(NDArrayIndex.all(), NDArrayIndex.interval(k * h, (k + 1) * h));
    }
}
