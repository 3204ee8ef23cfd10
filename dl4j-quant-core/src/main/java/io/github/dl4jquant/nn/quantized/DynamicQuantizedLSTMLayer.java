package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.kernel.DnnlLstmCell;
import java.util.Optional;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The runtime of {@link DynamicQuantizedLSTM}: DL4J's {@code LSTMHelpers} cell update on gates from the int8
 * products, block by block in DL4J's order {@code [a | f | o | i]}. Without peepholes and masks, and with activations
 * oneDNN computes (sigmoid, tanh, ReLU, ...), the update runs as {@link DnnlLstmCell}'s six primitives; otherwise
 * (GravesLSTM's peepholes, a mask, other activations) as ND4J ops.
 *
 * <pre>{@code
 * DynamicQuantizedLSTMLayer lstm = (DynamicQuantizedLSTMLayer) int8Graph.getLayer("lstm");
 * INDArray h = lstm.activate(sequence, false, LayerWorkspaceMgr.noWorkspaces());   // [batch, hidden, T]
 * }</pre>
 */
public class DynamicQuantizedLSTMLayer extends DynamicQuantizedRecurrentLayer<DynamicQuantizedLSTM> {
    private volatile Optional<DnnlLstmCell> nativeCell;

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
    protected void runSteps(Direction d, INDArray inputProducts, boolean forwards, State s, INDArray out) {
        DnnlLstmCell cell = nativeCell().orElse(null);
        if (cell == null || d.peepholes != null || maskArray != null || out.ordering() != 'f' || out.offset() != 0) {
            super.runSteps(d, inputProducts, forwards, s, out);
            return;
        }
        int batch = (int) out.size(0);
        int steps = (int) out.size(2);
        long hidden = out.size(1);
        INDArray cByUnit = s.c.transpose().dup('c');
        INDArray gates = Nd4j.createUninitialized(DataType.FLOAT, new long[] {batch, inputProducts.size(1)}, 'c');
        Pointer output = out.data().addressPointer();
        for (int i = 0; i < steps; i++) {
            int t = forwards ? i : steps - 1 - i;
            gatesAt(d, inputProducts, t, s.h, gates);
            // out is 'f' [batch, hidden, T]: step t is batch * hidden floats, hidden unit major, as the cell writes h
            Pointer step = new BytePointer(output).position((long) t * batch * hidden * Float.BYTES);
            cell.step(gates, cByUnit.data().addressPointer(), step, s.h);
        }
        s.c.assign(cByUnit.transpose());
    }

    private Optional<DnnlLstmCell> nativeCell() {
        Optional<DnnlLstmCell> c = nativeCell;
        if (c == null) {
            DynamicQuantizedLSTM conf = layerConf();
            c = Optional.ofNullable(DnnlLstmCell.of((int) conf.getNOut(), conf.getGateActivationFn(),
                    conf.getActivationFn()));
            nativeCell = c;
        }
        return c;
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
