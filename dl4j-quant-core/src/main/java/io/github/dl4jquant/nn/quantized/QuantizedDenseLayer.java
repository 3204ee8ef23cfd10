package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.nn.ActivationArrays;
import io.github.dl4jquant.nn.DenseLayerSupport;
import io.github.dl4jquant.nn.InferenceOnlyOutputLayer;
import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.TimeSteps;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The runtime layer of {@link QuantizedDense}: its {@link Int8LinearProduct} on the layer's input.
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(x);    // runs QuantizedDenseLayer.activate for the "d1" vertex
 * }</pre>
 *
 * <p>Thread safety: the product's prepared state is immutable and its scratch buffers are per thread, so concurrent
 * calls (DL4J itself serialises {@code ComputationGraph.output}) never share mutable arrays, and the input is set and
 * checked under the layer's lock ({@link io.github.dl4jquant.nn.Int8Layer}).
 */
public class QuantizedDenseLayer extends Int8Layer<QuantizedDense> implements InferenceOnlyOutputLayer {
    private volatile Int8LinearProduct product;

    public QuantizedDenseLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected INDArray forward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        QuantizedDense c = layerConf();
        if (c.getRnnDataFormat() == null) {
            return activateRows(input, workspaceMgr);
        }
        INDArray rows = TimeSteps.toRows(input, c.getRnnDataFormat(), c.getNIn(), describe(c));
        long steps = input.size(c.getRnnDataFormat() == RNNFormat.NWC ? 1 : 2);
        return TimeSteps.fromRows(activateRows(rows, workspaceMgr), input.size(0), steps, c.getRnnDataFormat(),
                dataType, workspaceMgr);
    }

    private INDArray activateRows(INDArray rows, LayerWorkspaceMgr workspaceMgr) {
        QuantizedDense c = layerConf();
        INDArray x = DenseLayerSupport.floatMatrix(rows, c.getNIn(), describe(c));
        int m = (int) x.size(0);
        int n = (int) c.getNOut();
        if (m == 0) {
            return workspaceMgr.create(ArrayType.ACTIVATIONS, dataType, 0, n);
        }
        INDArray out = ActivationArrays.createUninitialized(workspaceMgr, m, n);
        product().apply(x, out);
        return dataType == DataType.FLOAT ? out : workspaceMgr.castTo(ArrayType.ACTIVATIONS, dataType, out, false);
    }

    private Int8LinearProduct product() {
        Int8LinearProduct p = product;
        if (p == null) {
            p = new Int8LinearProduct(layerConf());
            product = p;
        }
        return p;
    }

    static String describe(QuantizedDense c) {
        return "QuantizedDense '" + c.getLayerName() + "'";
    }
}
