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
 * The runtime layer of {@link ReferenceQuantizedConvolution1D}: DL4J's own {@code Convolution1DLayer} on fake-quantized input and weight,
 * then the output fake-quantization ({@link ReferenceConvolutionRuntime}). Inference only.
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(x);   // runs ReferenceQuantizedConvolution1DLayer.activate for the reference vertex
 * }</pre>
 */
public class ReferenceQuantizedConvolution1DLayer extends org.deeplearning4j.nn.layers.convolution.Convolution1DLayer {
    private final ReferenceConvolutionRuntime runtime;
    private boolean forwarding;

    public ReferenceQuantizedConvolution1DLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
        this.runtime = new ReferenceConvolutionRuntime((ReferenceQuantizedConvolution1D) conf.getLayer());
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        INDArray original = input;
        return runtime.forward(training, input, quantized -> {
            input = quantized;
            try {
                return forwardWithQuantizedWeight(workspaceMgr);
            } finally {
                input = original;
            }
        }, workspaceMgr);
    }

    /**
     * DL4J's Convolution1DLayer reads its weight with {@code getParam("W")} rather than through the weight-noise
     * hook: while this layer runs its forward pass that call returns qdq(W); at any other time the float weight.
     */
    @Override
    public INDArray getParam(String param) {
        INDArray p = super.getParam(param);
        return forwarding && "W".equals(param) ? runtime.weight(p) : p;
    }

    private INDArray forwardWithQuantizedWeight(LayerWorkspaceMgr workspaceMgr) {
        forwarding = true;
        try {
            return super.activate(false, workspaceMgr);
        } finally {
            forwarding = false;
        }
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
