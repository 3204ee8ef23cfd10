package io.github.dl4jquant.nn;

import java.util.Collection;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a layer configuration's {@code instantiate} does to the runtime layer it creates, as DL4J's own layers do it:
 * listeners, index, parameter view and table, configuration.
 *
 * <pre>{@code
 * return RuntimeLayers.initialise(new MyRuntime(conf, dataType), conf, listeners, index, view, initializeParams);
 * }</pre>
 */
public final class RuntimeLayers {
    private RuntimeLayers() {
    }

    public static <L extends BaseLayer<?>> L initialise(L layer, NeuralNetConfiguration conf,
                                                        Collection<TrainingListener> listeners, int layerIndex,
                                                        INDArray paramsView, boolean initializeParams) {
        layer.setListeners(listeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(paramsView);
        layer.setParamTable(conf.getLayer().initializer().init(conf, paramsView, initializeParams));
        layer.setConf(conf);
        return layer;
    }
}
