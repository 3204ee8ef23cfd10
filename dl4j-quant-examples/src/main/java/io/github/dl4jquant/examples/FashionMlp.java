package io.github.dl4jquant.examples;

import io.github.dl4jquant.data.FashionMnist;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The examples' model: a ComputationGraph MLP 784-256-128-10 for Fashion-MNIST. The first ReLU is a separate
 * {@code ActivationLayer} (PyTorch's Linear + ReLU, fused on conversion), the second lives inside its
 * {@code DenseLayer}.
 *
 * <pre>{@code
 * ComputationGraph fp32 = FashionMlp.loadOrTrain(ExampleData.load(), 2, FashionMlp.DEFAULT_CACHE);
 * }</pre>
 */
public final class FashionMlp {

    /** Where the examples cache the trained model, relative to the working directory. */
    public static final Path DEFAULT_CACHE = Path.of("target", "fashion-mnist", "fashion-mlp-fp32.zip");
    /** Epochs the examples train for. */
    public static final int DEFAULT_EPOCHS = 2;
    /** Training batch size. */
    public static final int BATCH_SIZE = 128;

    private static final Logger LOG = LoggerFactory.getLogger(FashionMlp.class);

    private FashionMlp() {
    }

    /** A freshly initialised, untrained model. */
    public static ComputationGraph build() {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .seed(42)
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER)
                .updater(new Adam(1e-3))
                .graphBuilder()
                .addInputs("in")
                .addLayer("d1", new DenseLayer.Builder().nIn(784).nOut(256).activation(Activation.IDENTITY).build(),
                        "in")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "d1")
                .addLayer("d2", new DenseLayer.Builder().nIn(256).nOut(128).activation(Activation.RELU).build(),
                        "relu1")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(128).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "d2")
                .setOutputs("out")
                .build());
        g.init();
        return g;
    }

    /** Trains a new model for {@code epochs} epochs on the training split, in batches of {@value #BATCH_SIZE}. */
    public static ComputationGraph train(ExampleData data, int epochs) {
        LOG.info("Training the MLP for {} epoch(s) on {}", epochs, data.description());
        long start = System.nanoTime();
        ComputationGraph g = build();
        g.fit(data.trainIterator(BATCH_SIZE), epochs);
        LOG.info("Trained the MLP for {} epoch(s) in {} s", epochs,
                String.format(Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9));
        return g;
    }

    /** The examples' shared model: {@link #DEFAULT_EPOCHS} epochs, cached in {@link #DEFAULT_CACHE}. */
    public static ComputationGraph cached(ExampleData data) {
        return loadOrTrain(data, DEFAULT_EPOCHS, DEFAULT_CACHE);
    }

    /** The first {@code n} training examples in batches of 256: the examples' calibration data. */
    public static DataSetIterator calibrationData(ExampleData data, int n) {
        DataSet train = data.train();
        return FashionMnist.iterator((DataSet) train.getRange(0, Math.min(n, train.numExamples())), 256);
    }

    /**
     * The model cached in {@code cache} when it was trained on the same data source for the same number of epochs,
     * else a newly trained one, which is then cached. The cache key is kept in a small {@code .key} file next to it.
     */
    public static ComputationGraph loadOrTrain(ExampleData data, int epochs, Path cache) {
        String key = data.description() + ", epochs=" + epochs;
        Path keyFile = cache.resolveSibling(cache.getFileName() + ".key");
        try {
            if (Files.isRegularFile(cache) && Files.isRegularFile(keyFile) && Files.readString(keyFile).equals(key)) {
                LOG.info("Loading the cached fp32 model {} ({})", cache, key);
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
