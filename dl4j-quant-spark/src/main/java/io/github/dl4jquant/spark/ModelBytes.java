package io.github.dl4jquant.spark;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.Objects;
import java.util.UUID;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

/**
 * A DL4J model as its {@code ModelSerializer} zip bytes, what is broadcast to the executors, with an id that names
 * this copy in each executor's {@link ExecutorModels} cache. Serialised once per broadcast, deserialised once per
 * executor task slot.
 */
final class ModelBytes implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String id;
    private final byte[] bytes;
    private final boolean multiLayer;

    private ModelBytes(byte[] bytes, boolean multiLayer) {
        this.id = UUID.randomUUID().toString();
        this.bytes = bytes;
        this.multiLayer = multiLayer;
    }

    /** The model's bytes (updater state left out: inference and calibration only). */
    static ModelBytes of(Model model) {
        Objects.requireNonNull(model, "model");
        if (!(model instanceof ComputationGraph) && !(model instanceof MultiLayerNetwork)) {
            throw new IllegalArgumentException("Only ComputationGraph and MultiLayerNetwork models can be shipped to "
                    + "Spark executors; got " + model.getClass().getName());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ModelSerializer.writeModel(model, out, false);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not serialise the model for the Spark executors", e);
        }
        return new ModelBytes(out.toByteArray(), model instanceof MultiLayerNetwork);
    }

    String id() {
        return id;
    }

    int size() {
        return bytes.length;
    }

    boolean isMultiLayer() {
        return multiLayer;
    }

    /** A fresh copy of the model, as the type it was shipped as. */
    Model restore() {
        try {
            return multiLayer ? ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(bytes), false)
                    : ModelSerializer.restoreComputationGraph(new ByteArrayInputStream(bytes), false);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not restore the broadcast model (" + bytes.length + " bytes)", e);
        }
    }
}
