package io.github.dl4jquant.kernel;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationHardSigmoid;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftSign;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** {@link DnnlLstmCell} against the same step computed with ND4J's ops, as DL4J's LSTMHelpers computes it. */
class DnnlLstmCellTest {

    private static INDArray block(INDArray gates, int k, int h) {
        return gates.get(NDArrayIndex.all(), NDArrayIndex.interval((long) k * h, (long) (k + 1) * h)).dup();
    }

    private static void assertStepMatches(int batch, int hidden, IActivation gate, IActivation act) {
        Nd4j.getRandom().setSeed(batch * 31L + hidden);
        INDArray gates = Nd4j.randn(DataType.FLOAT, batch, 4L * hidden).muli(2);
        INDArray c = Nd4j.randn(DataType.FLOAT, batch, hidden);
        INDArray a = act.getActivation(block(gates, 0, hidden), false);
        INDArray f = gate.getActivation(block(gates, 1, hidden), false);
        INDArray o = gate.getActivation(block(gates, 2, hidden), false);
        INDArray i = gate.getActivation(block(gates, 3, hidden), false);
        INDArray cNew = c.mul(f).addi(i.mul(a));
        INDArray hNew = act.getActivation(cNew.dup(), false).muli(o);

        INDArray cByUnit = c.transpose().dup('c');
        INDArray hByUnit = Nd4j.create(DataType.FLOAT, hidden, batch);
        INDArray h = Nd4j.create(DataType.FLOAT, batch, hidden);
        DnnlLstmCell cell = DnnlLstmCell.of(hidden, gate, act);
        assertNotNull(cell, gate + "/" + act);
        cell.step(gates.dup('c'), cByUnit.data().addressPointer(), hByUnit.data().addressPointer(), h);
        double dc = cNew.sub(cByUnit.transpose()).amaxNumber().doubleValue();
        double dh = hNew.sub(h).amaxNumber().doubleValue();
        double dhT = hNew.sub(hByUnit.transpose()).amaxNumber().doubleValue();
        assertTrue(dc < 1e-6 && dh < 1e-6 && dhT < 1e-6, gate + "/" + act + " batch " + batch + ": |dc| " + dc
                + ", |dh| " + dh + ", |dhT| " + dhT);
    }

    @Test
    void stepEqualsNd4jsOpsForTheUsualActivationsAndShapes() {
        for (int[] shape : new int[][] {{1, 1}, {1, 256}, {3, 7}, {32, 64}, {64, 256}}) {
            assertStepMatches(shape[0], shape[1], new ActivationSigmoid(), new ActivationTanH());
        }
        assertStepMatches(5, 9, new ActivationSigmoid(), new ActivationReLU());
    }

    @Test
    void successiveStepsReuseThePlanWithNewStates() {
        assertStepMatches(4, 16, new ActivationSigmoid(), new ActivationTanH());
        assertStepMatches(4, 16, new ActivationSigmoid(), new ActivationTanH());
    }

    @Test
    void activationsOneDnnCannotComputeExactlyHaveNoCell() {
        assertNull(DnnlLstmCell.of(8, new ActivationHardSigmoid(), new ActivationTanH()));
        assertNull(DnnlLstmCell.of(8, new ActivationSigmoid(), new ActivationSoftSign()));
    }
}
