package io.github.dl4jquant.nn;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.AbstractLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What the int8 runtime layers share: DL4J's {@code AbstractLayer} with {@code setInput} and {@code activate} under
 * the layer's lock and the input's owner checked ({@link InputOwner}), so that one layer run from several threads
 * computes each thread's own input or fails with a clear error, never with another thread's numbers. The lock is
 * uncontended where DL4J serialises the calls itself ({@code ComputationGraph.output()}). Every training call throws
 * {@link #inferenceOnly}: int8 layers have no gradients.
 *
 * <pre>{@code
 * public class MyInt8Layer extends Int8Layer<MyInt8Conf> {
 *     protected INDArray forward(boolean training, LayerWorkspaceMgr mgr) { ... input ... }
 * }
 * }</pre>
 */
public abstract class Int8Layer<T extends Layer> extends AbstractLayer<T> {
    private final InputOwner inputOwner = new InputOwner();

    protected Int8Layer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    public synchronized void setInput(INDArray input, LayerWorkspaceMgr workspaceMgr) {
        super.setInput(input, workspaceMgr);
        inputOwner.set();
    }

    /** Sets the input and runs on it as one step: direct calls from several threads are serialised, not mixed. */
    @Override
    public synchronized INDArray activate(INDArray input, boolean training, LayerWorkspaceMgr workspaceMgr) {
        setInput(input, workspaceMgr);
        return activate(training, workspaceMgr);
    }

    @Override
    public final synchronized INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        inputOwner.check(getClass().getSimpleName() + " '" + layerConf().getLayerName() + "'");
        return forward(training, workspaceMgr);
    }

    /** The forward pass on {@link #input}, which the current thread set. */
    protected abstract INDArray forward(boolean training, LayerWorkspaceMgr workspaceMgr);

    /** The layer as messages name it: its kind and its name in the model. */
    public String describe() {
        return layerConf().getClass().getSimpleName() + " '" + layerConf().getLayerName() + "'";
    }

    /** The error for training calls on an inference-only layer or vertex, named as messages name it. */
    public static UnsupportedOperationException inferenceOnly(String layer) {
        return new UnsupportedOperationException(layer + " is inference only and cannot be trained: fit the fp32 "
                + "model, then quantize it again");
    }

    @Override
    public final Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        throw inferenceOnly(describe());
    }

    @Override
    public final void computeGradientAndScore(LayerWorkspaceMgr workspaceMgr) {
        throw inferenceOnly(describe());
    }

    @Override
    public final void fit() {
        throw inferenceOnly(describe());
    }

    @Override
    public final void fit(INDArray data, LayerWorkspaceMgr workspaceMgr) {
        throw inferenceOnly(describe());
    }

    @Override
    public final boolean isPretrainLayer() {
        return false;
    }

    @Override
    public final void clearNoiseWeightParams() {
        // int8 weights are fixed: there is no weight noise to clear
    }
}
