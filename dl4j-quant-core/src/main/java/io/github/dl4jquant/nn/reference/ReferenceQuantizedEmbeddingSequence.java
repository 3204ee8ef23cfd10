package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.nn.LayerCopies;
import io.github.dl4jquant.nn.RuntimeLayers;
import io.github.dl4jquant.nn.QParamsConfig;
import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonIgnore;

/**
 * {@link ReferenceQuantizedEmbedding} for sequences: a DL4J {@code EmbeddingSequenceLayer} (input {@code [mb, T]} or
 * {@code [mb, 1, T]}, output {@code [mb, nOut, T]} or NWC, masks and {@code inputLength} as DL4J handles them) whose
 * float {@code W} holds the quantize-dequantized rows. Inference only.
 *
 * <pre>{@code
 * ReferenceQuantizedEmbeddingSequence ref = ReferenceQuantizedEmbeddingSequence.fromFloat(sequenceConf, rowQParams);
 * }</pre>
 */
public class ReferenceQuantizedEmbeddingSequence extends EmbeddingSequenceLayer {
    private QParamsConfig weightQParamsConfig;

    /** For Jackson. */
    public ReferenceQuantizedEmbeddingSequence() {
    }

    /** A copy of {@code root} that looks up rows quantized with {@code rowQParams} (per row, float qparams). */
    public static ReferenceQuantizedEmbeddingSequence fromFloat(EmbeddingSequenceLayer root, QParams rowQParams) {
        ReferenceQuantizedEmbeddingSequence r = LayerCopies.asSubclass(root, ReferenceQuantizedEmbeddingSequence.class);
        r.setWeightQParamsConfig(QParamsConfig.of(rowQParams));
        return r;
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        ReferenceEmbeddingRuntime.Sequence layer = new ReferenceEmbeddingRuntime.Sequence(conf, networkDataType);
        return RuntimeLayers.initialise(layer, conf, listeners, layerIndex, layerParamsView, initializeParams);
    }

    /** The per-row qparams of the table. */
    @JsonIgnore
    public QParams getWeightQParams() {
        return weightQParamsConfig.toQParams("weightQParams of " + getLayerName());
    }

    public QParamsConfig getWeightQParamsConfig() {
        return weightQParamsConfig;
    }

    public void setWeightQParamsConfig(QParamsConfig c) {
        this.weightQParamsConfig = c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReferenceQuantizedEmbeddingSequence r && super.equals(o)
                && Objects.equals(weightQParamsConfig, r.weightQParamsConfig);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), weightQParamsConfig);
    }
}
