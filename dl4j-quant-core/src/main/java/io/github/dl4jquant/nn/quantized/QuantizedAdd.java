package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.nn.QParamsConfig;
import java.util.Objects;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * PyTorch's {@code quantized::add} and {@code add_relu} for DL4J's {@code ElementWiseVertex(Add)} with or without the
 * {@code ActivationLayer(RELU)} after it, so that residual networks stay int8 through their shortcuts: the inputs are
 * the dequantized outputs of int8 layers (the converter quantizes any other input first), the sum is requantized to
 * the observed output qparams ({@link io.github.dl4jquant.kernel.DnnlInt8Add}). An ElementWiseVertex itself, so DL4J
 * handles its inputs, masks and output type as for the float vertex.
 *
 * <pre>{@code
 * QuantizedAdd add = new QuantizedAdd(outputQParams, true, false);   // add + ReLU, NCHW activations
 * builder.addVertex("res2a", add, "bn2a_branch2c", "bn2a_branch1");
 * }</pre>
 */
public class QuantizedAdd extends ElementWiseVertex implements Int8Handover {
    private QParamsConfig outputQParamsConfig;
    private boolean relu;
    private boolean channelsLast;
    private boolean handsOverOutput;

    /** For Jackson. */
    @JsonCreator
    public QuantizedAdd(@JsonProperty("op") Op op) {
        super(Op.Add);
    }

    /**
     * @param output       quint8 per-tensor qparams of the sum (after the ReLU)
     * @param relu         true for PyTorch's {@code add_relu}
     * @param channelsLast true when the 3-D or 4-D activations are NWC/NHWC: the u8 values handed to the next int8
     *                     layer are channels last
     */
    public QuantizedAdd(QParams output, boolean relu, boolean channelsLast) {
        super(Op.Add);
        String unsupported = unsupportedReason(output);
        if (unsupported != null) {
            throw new IllegalArgumentException("QuantizedAdd: " + unsupported);
        }
        this.outputQParamsConfig = QParamsConfig.of(output);
        this.relu = relu;
        this.channelsLast = channelsLast;
    }

    /** Why the int8 add cannot produce {@code output}, or null. */
    public static String unsupportedReason(QParams output) {
        return output != null && !output.isPerChannel() && output.dtype() == QuantDType.QUINT8 ? null
                : "the int8 add produces per-tensor quint8 outputs; got " + output;
    }

    public QParams outputQParams() {
        return outputQParamsConfig.toQParams("output qparams of a QuantizedAdd");
    }

    @Override
    public org.deeplearning4j.nn.graph.vertex.GraphVertex instantiate(ComputationGraph graph, String name, int idx,
                                                                      INDArray paramsView, boolean initializeParams,
                                                                      DataType networkDatatype) {
        if (outputQParamsConfig == null) {
            throw new IllegalArgumentException("QuantizedAdd '" + name + "' has no output qparams. The model "
                    + "configuration was probably truncated or edited; convert the fp32 model again");
        }
        return new QuantizedAddVertex(graph, name, idx, this, networkDatatype);
    }

    public QParamsConfig getOutputQParamsConfig() {
        return outputQParamsConfig;
    }

    public void setOutputQParamsConfig(QParamsConfig c) {
        this.outputQParamsConfig = c;
    }

    public boolean isRelu() {
        return relu;
    }

    public void setRelu(boolean relu) {
        this.relu = relu;
    }

    public boolean isChannelsLast() {
        return channelsLast;
    }

    public void setChannelsLast(boolean channelsLast) {
        this.channelsLast = channelsLast;
    }

    @Override
    public boolean isHandsOverOutput() {
        return handsOverOutput;
    }

    @Override
    public void setHandsOverOutput(boolean handsOverOutput) {
        this.handsOverOutput = handsOverOutput;
    }

    @Override
    public QuantizedAdd clone() {
        QuantizedAdd c = new QuantizedAdd(Op.Add);
        c.outputQParamsConfig = outputQParamsConfig;
        c.relu = relu;
        c.channelsLast = channelsLast;
        c.handsOverOutput = handsOverOutput;
        return c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedAdd q && Objects.equals(outputQParamsConfig, q.outputQParamsConfig)
                && relu == q.relu && channelsLast == q.channelsLast && handsOverOutput == q.handsOverOutput;
    }

    @Override
    public int hashCode() {
        return Objects.hash(outputQParamsConfig, relu, channelsLast, handsOverOutput);
    }

    @Override
    public String toString() {
        return "QuantizedAdd(" + (relu ? "add_relu" : "add") + ", output=" + outputQParamsConfig + ", channelsLast="
                + channelsLast + ", handsOverOutput=" + handsOverOutput + ")";
    }
}
