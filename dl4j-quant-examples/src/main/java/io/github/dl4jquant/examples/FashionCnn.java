package io.github.dl4jquant.examples;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The examples' CNN: a LeNet-style ComputationGraph for Fashion-MNIST on flat {@code [n, 784]} features
 * ({@code InputType.convolutionalFlat(28, 28, 1)}): conv 3x3 pad 1 -> 32, batch norm, ReLU, max pool 2x2; conv 3x3
 * pad 1 -> 64, batch norm, ReLU, max pool 2x2; dense 128 ReLU; softmax 10. Each convolution has an identity
 * activation and its batch norm and ReLU as separate layers, PyTorch's Conv2d + BatchNorm2d + ReLU, which
 * quantization fuses (the batch norm folded into the convolution). {@link #buildNetwork(int, int, int)} gives the
 * same layers as a MultiLayerNetwork.
 *
 * <pre>{@code
 * ComputationGraph fp32 = FashionCnn.cached(ExampleData.load());   // trained once, then read from the cache
 * }</pre>
 */
public final class FashionCnn {

    /** Where the examples cache the trained model, relative to the working directory. */
    public static final Path DEFAULT_CACHE = Path.of("target", "fashion-mnist", "fashion-cnn-fp32.zip");
    /** Epochs the examples train for. */
    public static final int DEFAULT_EPOCHS = 1;
    /** Training batch size. */
    public static final int BATCH_SIZE = 64;
    /** The graph's vertex names, in forward order (the network input is "in"). */
    public static final String[] VERTICES = {"conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "fc",
        "out"};

    private static final Logger LOG = LoggerFactory.getLogger(FashionCnn.class);

    private FashionCnn() {
    }

    /**
     * A freshly initialised, untrained model with {@code c1} and {@code c2} convolution channels and a dense layer of
     * {@code hidden} (32, 64 and 128 in the examples; tests use smaller ones).
     */
    public static ComputationGraph build(int c1, int c2, int hidden) {
        Layer[] layers = layers(c1, c2, hidden);
        var b = base().graphBuilder().addInputs("in").setInputTypes(InputType.convolutionalFlat(28, 28, 1));
        String previous = "in";
        for (int i = 0; i < layers.length; i++) {
            b.addLayer(VERTICES[i], layers[i], previous);
            previous = VERTICES[i];
        }
        ComputationGraph g = new ComputationGraph(b.setOutputs("out").build());
        g.init();
        return g;
    }

    /** The examples' model: 32 and 64 channels, a dense layer of 128. */
    public static ComputationGraph build() {
        return build(32, 64, 128);
    }

    /** The same layers as a MultiLayerNetwork, each named as the graph's vertex ({@code conv1}, {@code bn1}, ...). */
    public static MultiLayerNetwork buildNetwork(int c1, int c2, int hidden) {
        Layer[] layers = layers(c1, c2, hidden);
        var list = base().list();
        for (int i = 0; i < layers.length; i++) {
            layers[i].setLayerName(VERTICES[i]);
            list.layer(layers[i]);
        }
        MultiLayerNetwork n = new MultiLayerNetwork(list.setInputType(InputType.convolutionalFlat(28, 28, 1)).build());
        n.init();
        return n;
    }

    private static NeuralNetConfiguration.Builder base() {
        return new NeuralNetConfiguration.Builder()
                .seed(42)
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.RELU)
                .updater(new Adam(1e-3));
    }

    private static Layer[] layers(int c1, int c2, int hidden) {
        return new Layer[] {
            new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(c1).activation(Activation.IDENTITY).build(),
            new BatchNormalization.Builder().build(),
            new ActivationLayer.Builder().activation(Activation.RELU).build(),
            new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(),
            new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(c2).activation(Activation.IDENTITY).build(),
            new BatchNormalization.Builder().build(),
            new ActivationLayer.Builder().activation(Activation.RELU).build(),
            new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(),
            new DenseLayer.Builder().nOut(hidden).activation(Activation.RELU).build(),
            new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX).build()
        };
    }

    /** Trains a new model for {@code epochs} epochs on the training split, in batches of {@value #BATCH_SIZE}. */
    public static ComputationGraph train(ExampleData data, int epochs) {
        LOG.info("Training the CNN for {} epoch(s) on {}", epochs, data.description());
        long start = System.nanoTime();
        ComputationGraph g = build();
        g.fit(data.trainIterator(BATCH_SIZE), epochs);
        LOG.info("Trained the CNN for {} epoch(s) in {} s", epochs,
                String.format(Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9));
        return g;
    }

    /** The examples' shared CNN: {@link #DEFAULT_EPOCHS} epoch(s), cached in {@link #DEFAULT_CACHE}. */
    public static ComputationGraph cached(ExampleData data) {
        return loadOrTrain(data, DEFAULT_EPOCHS, DEFAULT_CACHE);
    }

    /**
     * The model cached in {@code cache} when it was trained on the same data source for the same number of epochs,
     * else a newly trained one, which is then cached; the key is kept in a {@code .key} file next to it, as
     * {@link FashionMlp#loadOrTrain} does.
     */
    public static ComputationGraph loadOrTrain(ExampleData data, int epochs, Path cache) {
        String key = "cnn, " + data.description() + ", epochs=" + epochs;
        Path keyFile = cache.resolveSibling(cache.getFileName() + ".key");
        try {
            if (Files.isRegularFile(cache) && Files.isRegularFile(keyFile) && Files.readString(keyFile).equals(key)) {
                LOG.info("Loading the cached fp32 CNN {} ({})", cache, key);
                return ModelSerializer.restoreComputationGraph(cache.toFile(), false);
            }
            ComputationGraph g = train(data, epochs);
            ModelFiles.save(g, cache);
            Files.writeString(keyFile, key);
            return g;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read or write the model cache " + cache + ": " + e.getMessage(), e);
        }
    }
}
