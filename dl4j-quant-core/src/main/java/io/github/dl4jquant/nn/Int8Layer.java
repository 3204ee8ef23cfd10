package io.github.dl4jquant.nn;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.layers.AbstractLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What the int8 runtime layers share: DL4J's {@code AbstractLayer} with {@code setInput} and {@code activate} under
 * the layer's lock and the input's owner checked ({@link InputOwner}), so that one layer run from several threads
 * computes each thread's own input or fails with a clear error, never with another thread's numbers. The lock is
 * uncontended where DL4J serialises the calls itself ({@code ComputationGraph.output()}).
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
}
