package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.nn.DenseLayerSupport;
import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.InferenceOnlyOutputLayer;
import io.github.dl4jquant.nn.TimeSteps;
import org.deeplearning4j.nn.conf.RNNFormat;
import io.github.dl4jquant.nn.QuantMath;
import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The runtime layer of {@link ReferenceQuantizedDense}: fake-quantizes in float, inference only. The fake-quantized
 * weight is cached outside DL4J's workspaces and dropped whenever params are set through the layer.
 *
 * <pre>{@code
 * Layer l = graph.getLayer("d1");          // a ReferenceQuantizedDenseLayer
 * l.setParam("W", floatW);                 // also invalidates the cached qdq(W)
 * INDArray y = graph.outputSingle(x);
 * }</pre>
 */
public class ReferenceQuantizedDenseLayer extends BaseLayer<ReferenceQuantizedDense> implements InferenceOnlyOutputLayer {
    private volatile INDArray cachedWeight;

    public ReferenceQuantizedDenseLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        ReferenceQuantizedDense c = layerConf();
        if (c.getRnnDataFormat() == null) {
            return activateRows(input, workspaceMgr);
        }
        INDArray rows = TimeSteps.toRows(input, c.getRnnDataFormat(), c.getNIn(), describe());
        long steps = input.size(c.getRnnDataFormat() == RNNFormat.NWC ? 1 : 2);
        return TimeSteps.fromRows(activateRows(rows, workspaceMgr), input.size(0), steps, c.getRnnDataFormat(),
                dataType, workspaceMgr);
    }

    private INDArray activateRows(INDArray rows, LayerWorkspaceMgr workspaceMgr) {
        ReferenceQuantizedDense c = layerConf();
        String name = describe();
        INDArray x = DenseLayerSupport.floatMatrix(rows, c.getNIn(), name);
        int m = (int) x.size(0);
        int k = (int) c.getNIn();
        int n = (int) c.getNOut();
        if (m == 0) {
            return workspaceMgr.create(ArrayType.ACTIVATIONS, dataType, 0, n);
        }
        float[] xs = DenseLayerSupport.readFloats(x, null);
        QParams in = c.isDynamic() ? dynamicQParams(xs, c.isReduceRange(), name) : c.getInputQParams();
        QuantMath.fakeQuantize(xs, m, k, in, name + " input");
        INDArray z = Nd4j.createFromArray(xs).reshape('c', m, k).mmul(weight());
        if (c.hasBias()) {
            z.addiRowVector(getParam(DefaultParamInitializer.BIAS_KEY).castTo(DataType.FLOAT));
        }
        z = c.getActivationFn().getActivation(z, false);
        QParams out = c.getOutputQParams();
        if (out != null) {
            INDArray zc = z.dup('c');
            float[] zs = DenseLayerSupport.readFloats(zc, null);
            QuantMath.fakeQuantize(zs, m, n, out, name + " output");
            DenseLayerSupport.writeFloats(zc, zs);
            z = zc;
        }
        INDArray ret = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType, new long[] {m, n}, 'c');
        return ret.assign(z);
    }

    static QParams dynamicQParams(float[] xs, boolean reduceRange, String name) {
        float[] mm = DenseLayerSupport.minMax(xs, xs.length, name + " input");
        return QuantMath.dynamicQParams(mm[0], mm[1], reduceRange, name);
    }

    /** qdq(W) as FLOAT [nIn, nOut] 'c', computed once per set of params, outside any workspace. */
    INDArray weight() {
        INDArray w = cachedWeight;
        if (w == null) {
            ReferenceQuantizedDense c = layerConf();
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                INDArray raw = getParam(DefaultParamInitializer.WEIGHT_KEY).castTo(DataType.FLOAT).dup('c');
                int k = (int) raw.size(0);
                int n = (int) raw.size(1);
                float[] ws = DenseLayerSupport.readFloats(raw, null);
                QuantMath.fakeQuantize(ws, k, n, c.getWeightQParams(), describe() + " weight");
                w = Nd4j.createFromArray(ws).reshape('c', k, n);
            }
            cachedWeight = w;
        }
        return w;
    }

    @Override
    public String describe() {
        return "ReferenceQuantizedDense '" + layerConf().getLayerName() + "'";
    }

    @Override
    public void setParam(String key, INDArray val) {
        super.setParam(key, val);
        cachedWeight = null;
    }

    @Override
    public void setParams(INDArray params) {
        super.setParams(params);
        cachedWeight = null;
    }

    @Override
    public void setParamsViewArray(INDArray params) {
        super.setParamsViewArray(params);
        cachedWeight = null;
    }

    @Override
    public void setParamTable(Map<String, INDArray> paramTable) {
        super.setParamTable(paramTable);
        cachedWeight = null;
    }

    @Override
    public boolean hasBias() {
        return layerConf().hasBias();
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    public void computeGradientAndScore(LayerWorkspaceMgr workspaceMgr) {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    public void fit() {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    public void fit(INDArray data, LayerWorkspaceMgr workspaceMgr) {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    public boolean isPretrainLayer() {
        return false;
    }
}
