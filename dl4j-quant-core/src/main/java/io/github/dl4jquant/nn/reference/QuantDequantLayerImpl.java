package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.nn.Int8Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The runtime side of {@link QuantDequantLayer}: {@code dequantize(quantize(x))} with fixed per-tensor qparams.
 * Inference only.
 *
 * <pre>{@code
 * INDArray y = graph.getLayer("merge_qdq").activate(x, false, LayerWorkspaceMgr.noWorkspaces());
 * }</pre>
 */
public class QuantDequantLayerImpl extends Int8Layer<QuantDequantLayer> {

    public QuantDequantLayerImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected INDArray forward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        INDArray fq = QuantOps.fakeQuantize(input, layerConf().qparams());
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, input.dataType(), input.shape(), 'c');
        return out.assign(fq);
    }
}
