package io.github.dl4jquant.examples;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigMapping;
import java.nio.file.Path;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A model read from a zip, either kind of DL4J network, with the few operations the tools need on both.
 *
 * <pre>{@code
 * LoadedModel m = ModelFiles.load(Path.of("model.zip"));
 * INDArray probabilities = m.output(features);
 * long nIn = m.inputSize();                 // 784 for the Fashion-MNIST MLP and CNN, -1 when it cannot tell
 * }</pre>
 *
 * @param file  where the model was read from
 * @param model a {@link ComputationGraph} or a {@link MultiLayerNetwork}
 */
public record LoadedModel(Path file, Model model) {

    public LoadedModel {
        if (!(model instanceof ComputationGraph) && !(model instanceof MultiLayerNetwork)) {
            throw new IllegalArgumentException("model: got " + model.getClass().getName() + "; a ComputationGraph or "
                    + "MultiLayerNetwork is needed");
        }
    }

    /** "ComputationGraph" or "MultiLayerNetwork". */
    public String kind() {
        return model.getClass().getSimpleName();
    }

    /** The network's single output for {@code features} (inference mode). */
    public INDArray output(INDArray features) {
        return model instanceof ComputationGraph g ? g.outputSingle(features)
                : ((MultiLayerNetwork) model).output(features);
    }

    /**
     * Features per example the network takes as a flat {@code [n, features]} array: the {@code nIn} of a dense-like
     * first layer fed by the network input, or {@code height x width x channels} when DL4J reshapes the flat input
     * for a convolution ({@code InputType.convolutionalFlat}); -1 when it cannot tell.
     */
    public long inputSize() {
        Layer first;
        InputPreProcessor preProcessor;
        if (model instanceof ComputationGraph g) {
            String input = g.getConfiguration().getNetworkInputs().get(0);
            LayerVertex vertex = g.getConfiguration().getVertexInputs().entrySet().stream()
                    .filter(e -> e.getValue().contains(input))
                    .map(e -> g.getConfiguration().getVertices().get(e.getKey()))
                    .filter(v -> v instanceof LayerVertex)
                    .map(v -> (LayerVertex) v)
                    .findFirst().orElse(null);
            first = vertex == null ? null : vertex.getLayerConf().getLayer();
            preProcessor = vertex == null ? null : vertex.getPreProcessor();
        } else {
            MultiLayerNetwork n = (MultiLayerNetwork) model;
            first = n.getLayerWiseConfigurations().getConf(0).getLayer();
            preProcessor = n.getLayerWiseConfigurations().getInputPreProcess(0);
        }
        if (preProcessor instanceof FeedForwardToCnnPreProcessor p) {
            return p.getInputHeight() * p.getInputWidth() * p.getNumChannels();
        }
        // a convolution's nIn is its channel count (1-D, depthwise, separable too), and other preprocessors reshape
        // in ways not checked here
        if (preProcessor != null || first instanceof ConvolutionLayer) {
            return -1;
        }
        return first instanceof FeedForwardLayer f ? f.getNIn() : -1;
    }

    /** {@code Quantizer.prepare} for whichever kind of network this is. */
    public PreparedModel prepare(QConfigMapping mapping, BackendConfig backendConfig) {
        return model instanceof ComputationGraph g ? Quantizer.prepare(g, mapping, backendConfig)
                : Quantizer.prepare((MultiLayerNetwork) model, mapping, backendConfig);
    }
}
