package io.github.dl4jquant.graph;

import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;

/**
 * What a user can do about a layer that no pattern matches, for the layers where there is something: the sentence
 * appended to the report's "no matching pattern" reason.
 */
final class NoPatternHints {
    private NoPatternHints() {
    }

    /** A hint starting with "; ", or "" when there is none. */
    static String hintFor(Object conf) {
        if (conf instanceof SeparableConvolution2D) {
            return "; a separable convolution fuses a depthwise and a pointwise convolution into one layer with two "
                    + "weights, which PyTorch has no quantized module for either: build it as a "
                    + "DepthwiseConvolution2D followed by a 1x1 ConvolutionLayer (the same function) to have both "
                    + "quantized to int8";
        }
        return "";
    }
}
