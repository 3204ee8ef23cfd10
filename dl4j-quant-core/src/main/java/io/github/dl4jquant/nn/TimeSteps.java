package io.github.dl4jquant.nn;

import java.util.Arrays;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A dense product applied at every time step, as DL4J's {@code RnnOutputLayer} computes it: the sequence
 * {@code [batch, features, T]} (NCW) or {@code [batch, T, features]} (NWC) as {@code batch * T} rows and back. The
 * quantized dense layers use it, so one per-tensor scale (static or dynamic) covers the whole sequence, as PyTorch's
 * Linear on a 3-d input.
 *
 * <pre>{@code
 * INDArray rows = TimeSteps.toRows(x, RNNFormat.NCW, 64, "out");        // [batch * T, 64]
 * INDArray y = TimeSteps.fromRows(rowsOut, batch, steps, RNNFormat.NCW, mgr);
 * }</pre>
 */
public final class TimeSteps {
    private TimeSteps() {
    }

    /** The sequence as contiguous 'c' rows {@code [batch * T, features]}, time steps of one example together. */
    public static INDArray toRows(INDArray x, RNNFormat format, long features, String layer) {
        boolean ncw = format != RNNFormat.NWC;
        if (x.rank() != 3 || x.size(ncw ? 1 : 2) != features) {
            throw new IllegalArgumentException(layer + " expects a sequence [batch, " + (ncw ? features + ", time]"
                    : "time, " + features + "]") + " (" + format + ", nIn = " + features + "); got shape "
                    + Arrays.toString(x.shape()) + ". Check the data's feature size and rnnDataFormat");
        }
        INDArray btf = ncw ? x.permute(0, 2, 1) : x;
        INDArray f = btf.dataType() == DataType.FLOAT ? btf : btf.castTo(DataType.FLOAT);
        return f.dup('c').reshape('c', x.size(0) * btf.size(1), features);
    }

    /** Rows {@code [batch * T, n]} back as the sequence in {@code format}, in the activations workspace. */
    public static INDArray fromRows(INDArray rows, long batch, long steps, RNNFormat format, DataType dataType,
                                    LayerWorkspaceMgr workspaceMgr) {
        INDArray btn = rows.reshape('c', batch, steps, rows.size(1));
        INDArray seq = format == RNNFormat.NWC ? btn : btn.permute(0, 2, 1);
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType, seq.shape(), 'c');
        return out.assign(seq);
    }
}
