package io.github.dl4jquant.nn.quantized;

/**
 * An int8 layer that can hand its u8 output to the next int8 layer without a float round trip (PyTorch keeps quint8
 * tensors between quantized modules). The graph converter switches it on only where every consumer of the layer's
 * output is an int8 layer that takes it over, so that nothing changes the offered float array in place; the layer
 * still returns its dequantized float output, which DL4J, listeners and the numeric suite read.
 *
 * <pre>{@code
 * if (layerConf instanceof Int8Handover h) {
 *     h.setHandsOverOutput(allConsumersAreInt8);
 * }
 * }</pre>
 */
public interface Int8Handover {

    /** True when the layer offers its u8 output to its int8 consumers. */
    boolean isHandsOverOutput();

    void setHandsOverOutput(boolean handsOverOutput);
}
