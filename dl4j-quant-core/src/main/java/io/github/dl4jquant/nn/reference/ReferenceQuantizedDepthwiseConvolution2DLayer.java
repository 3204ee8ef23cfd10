package io.github.dl4jquant.nn.reference;

import java.util.Map;
import io.github.dl4jquant.nn.Int8Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The runtime layer of {@link ReferenceQuantizedDepthwiseConvolution2D}: DL4J's own {@code DepthwiseConvolution2DLayer} on fake-quantized input and weight,
 * then the output fake-quantization ({@link ReferenceConvolutionRuntime}). Inference only.
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(x);   // runs ReferenceQuantizedDepthwiseConvolution2DLayer.activate for the reference vertex
 * }</pre>
 */
public class ReferenceQuantizedDepthwiseConvolution2DLayer extends org.deeplearning4j.nn.layers.convolution.DepthwiseConvolution2DLayer {
    private final ReferenceConvolutionRuntime runtime;

    public ReferenceQuantizedDepthwiseConvolution2DLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
        this.runtime = new ReferenceConvolutionRuntime((ReferenceQuantizedDepthwiseConvolution2D) conf.getLayer());
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        INDArray original = input;
        return runtime.forward(training, input, quantized -> {
            input = quantized;
            try {
                return super.activate(false, workspaceMgr);
            } finally {
                input = original;
            }
        }, workspaceMgr);
    }

    /** DL4J's convolution reads its weight through here: it gets qdq(W). */
    @Override
    protected INDArray getParamWithNoise(String param, boolean training, LayerWorkspaceMgr workspaceMgr) {
        INDArray p = super.getParamWithNoise(param, training, workspaceMgr);
        return "W".equals(param) ? runtime.weight(p) : p;
    }

    @Override
    public void setParam(String key, INDArray val) {
        super.setParam(key, val);
        runtime.paramsChanged();
    }

    @Override
    public void setParams(INDArray params) {
        super.setParams(params);
        runtime.paramsChanged();
    }

    @Override
    public void setParamsViewArray(INDArray params) {
        super.setParamsViewArray(params);
        runtime.paramsChanged();
    }

    @Override
    public void setParamTable(Map<String, INDArray> paramTable) {
        super.setParamTable(paramTable);
        if (runtime != null) {
            runtime.paramsChanged();
        }
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        throw Int8Layer.inferenceOnly(runtime.name());
    }
}
