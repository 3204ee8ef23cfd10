package io.github.dl4jquant.nn.quantized;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.factory.Nd4j;
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
    protected boolean keepsFeedForwardMask() {
        return false;
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
        INDArray a = block(gates, 0, 1, h);
        INDArray f = block(gates, 1, 1, h);
        INDArray o = block(gates, 2, 1, h);
        INDArray i = block(gates, 3, 1, h);
        activateInPlace(act, a);
        if (peepholes == null) {
            activateInPlace(gate, block(gates, 1, 3, h));   // f, o and i in one op: nothing else feeds them
        } else {
            f.addi(s.c.mulRowVector(peepholes[0]));
            i.addi(s.c.mulRowVector(peepholes[2]));
            activateInPlace(gate, f);
            activateInPlace(gate, i);
        }
        s.c.muli(f).addi(i.muli(a));
        if (peepholes != null) {
            o.addi(s.c.mulRowVector(peepholes[1]));
            activateInPlace(gate, o);
        }
        INDArray cellActivation = s.c.dup('c');
        activateInPlace(act, cellActivation);
        Nd4j.getExecutioner().exec(new MulOp(cellActivation, o, s.h));
    }

    /** Gate blocks {@code first .. first + count - 1} of the [a | f | o | i] gate columns. */
    private static INDArray block(INDArray gates, int first, int count, long h) {
        return gates.get(NDArrayIndex.all(), NDArrayIndex.interval(first * h, (first + count) * h));
    }
}
