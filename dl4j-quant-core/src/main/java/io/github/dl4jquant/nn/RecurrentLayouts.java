package io.github.dl4jquant.nn;

import org.deeplearning4j.nn.conf.layers.GravesLSTM;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Where DL4J's recurrent layers keep their weights ({@code LSTMParamInitializer}, {@code GravesLSTMParamInitializer},
 * {@code SimpleRnnParamInitializer}): input weights {@code W [nIn, G]}, recurrent weights {@code RW [nOut, G]} (GravesLSTM
 * appends its three peephole columns {@code wFF, wOO, wGG}: {@code [nOut, G + 3]}), bias {@code b [1, G]}, with
 * {@code G = 4 * nOut} gate columns in DL4J's order {@code [block input | forget | output | input gate]} for LSTMs
 * (PyTorch: rows {@code [i | f | g | o]}) and {@code G = nOut} for a SimpleRnn. Output channels are columns (axis 1),
 * as for dense layers. Inside {@code Bidirectional} the keys carry the prefix "f" or "b".
 *
 * <pre>{@code
 * INDArray gatesOnly = RecurrentLayouts.recurrentGateWeights(gravesConf, rw);   // [nOut, 4 * nOut]
 * float[] peep = RecurrentLayouts.peepholes(gravesConf, rw);                    // [wFF | wOO | wGG]
 * }</pre>
 */
public final class RecurrentLayouts {
    public static final String INPUT_WEIGHTS = "W";
    public static final String RECURRENT_WEIGHTS = "RW";
    public static final String BIAS = "b";

    private RecurrentLayouts() {
    }

    /** Gate columns per hidden unit: 1 for a SimpleRnn, 4 for LSTMs. */
    public static int gatesPerUnit(Layer recurrent) {
        return recurrent instanceof SimpleRnn ? 1 : 4;
    }

    /** The recurrent weight's gate columns (GravesLSTM's peephole columns left out). */
    public static INDArray recurrentGateWeights(Layer recurrent, INDArray rw) {
        if (!(recurrent instanceof GravesLSTM)) {
            return rw;
        }
        long gates = 4 * rw.size(0);
        return rw.get(NDArrayIndex.all(), NDArrayIndex.interval(0, gates));
    }

    /** GravesLSTM's peephole weights as {@code [wFF | wOO | wGG]} (3 * nOut values), or null for other layers. */
    public static float[] peepholes(Layer recurrent, INDArray rw) {
        if (!(recurrent instanceof GravesLSTM)) {
            return null;
        }
        long h = rw.size(0);
        return rw.get(NDArrayIndex.all(), NDArrayIndex.interval(4 * h, 4 * h + 3)).transpose().dup('c')
                .castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).data().asFloat();
    }

    /** {@code rw} with its gate columns replaced by {@code gates} (peepholes kept), as a new array. */
    public static INDArray withRecurrentGateWeights(Layer recurrent, INDArray rw, INDArray gates) {
        INDArray out = rw.dup();
        recurrentGateWeights(recurrent, out).assign(gates);
        return out;
    }
}
