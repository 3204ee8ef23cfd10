package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.nn.QParamsConfig;
import java.util.Objects;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonIgnore;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * The qparams a reference quantized module computes with, as PyTorch's reference modules hold them (weight qparams
 * in the module, activation qparams on the quantize/dequantize nodes around it): the input's (per tensor), the
 * weight's (per channel along the output channel, or per tensor) and the output's (null: the output stays float).
 * Immutable, and stored in DL4J's layer JSON.
 *
 * <pre>{@code
 * ReferenceQuantization q = new ReferenceQuantization(inputQParams, weightQParams, outputQParams);
 * q.input();    // QParams, never null
 * q.output();   // null when the output is not quantized by this module
 * }</pre>
 */
public final class ReferenceQuantization {
    private final QParamsConfig inputConfig;
    private final QParamsConfig weightConfig;
    private final QParamsConfig outputConfig;

    /**
     * @throws IllegalArgumentException when the input or weight qparams are missing or the input's are per channel
     */
    public ReferenceQuantization(QParams input, QParams weight, QParams output) {
        this(QParamsConfig.of(input), QParamsConfig.of(weight), QParamsConfig.of(output));
    }

    @JsonCreator
    public ReferenceQuantization(@JsonProperty("input") QParamsConfig input,
                                 @JsonProperty("weight") QParamsConfig weight,
                                 @JsonProperty("output") QParamsConfig output) {
        if (input == null || weight == null) {
            throw new IllegalArgumentException("A reference quantized convolution needs input and weight qparams; got "
                    + "input " + input + ", weight " + weight);
        }
        this.inputConfig = input;
        this.weightConfig = weight;
        this.outputConfig = output;
        if (input().isPerChannel()) {
            throw new IllegalArgumentException("Input qparams must be per tensor; got " + input);
        }
    }

    @JsonIgnore
    public QParams input() {
        return inputConfig.toQParams("input qparams");
    }

    @JsonIgnore
    public QParams weight() {
        return weightConfig.toQParams("weight qparams");
    }

    /** Null when the output stays float. */
    @JsonIgnore
    public QParams output() {
        return outputConfig == null ? null : outputConfig.toQParams("output qparams");
    }

    @JsonProperty("input")
    public QParamsConfig getInput() {
        return inputConfig;
    }

    @JsonProperty("weight")
    public QParamsConfig getWeight() {
        return weightConfig;
    }

    @JsonProperty("output")
    public QParamsConfig getOutput() {
        return outputConfig;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReferenceQuantization q && inputConfig.equals(q.inputConfig)
                && weightConfig.equals(q.weightConfig) && Objects.equals(outputConfig, q.outputConfig);
    }

    @Override
    public int hashCode() {
        return Objects.hash(inputConfig, weightConfig, outputConfig);
    }

    @Override
    public String toString() {
        return "ReferenceQuantization(input=" + inputConfig + ", weight=" + weightConfig + ", output=" + outputConfig
                + ")";
    }
}
