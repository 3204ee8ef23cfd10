package io.github.dl4jquant.nn.reference;

import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;

/** DenseLayer's "W"/"b" params, honouring {@link ReferenceQuantizedDense#hasBias()} (DL4J only asks DenseLayer). */
final class ReferenceParamInitializer extends DefaultParamInitializer {
    static final ReferenceParamInitializer INSTANCE = new ReferenceParamInitializer();

    @Override
    protected boolean hasBias(Layer layer) {
        return !(layer instanceof ReferenceQuantizedDense) || ((ReferenceQuantizedDense) layer).hasBias();
    }

    @Override
    protected boolean hasLayerNorm(Layer layer) {
        return false;
    }
}
