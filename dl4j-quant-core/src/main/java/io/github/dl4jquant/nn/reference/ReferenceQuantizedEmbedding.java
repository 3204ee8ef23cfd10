package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.nn.LayerCopies;
import io.github.dl4jquant.nn.RuntimeLayers;
import io.github.dl4jquant.nn.QParamsConfig;
import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonIgnore;

/**
 * PyTorch's reference quantized Embedding ({@code nnqr.Embedding}) as a DL4J {@code EmbeddingLayer}: its float
 * {@code W} holds the quantize-dequantized table, {@code (q - zp) * scale} per row with the row's float qparams,
 * which is what {@code nnqr.Embedding} looks up, and the layer's bias and activation are applied as DL4J does.
 * Indices are checked first (integers in {@code [0, nIn)}). Inference only.
 *
 * <pre>{@code
 * ReferenceQuantizedEmbedding ref = ReferenceQuantizedEmbedding.fromFloat(embeddingConf, rowQParams);
 * // after graph init: W = QuantOps.fakeQuantize(floatW, rowQParams), b = floatB
 * }</pre>
 */
public class ReferenceQuantizedEmbedding extends EmbeddingLayer {
    private QParamsConfig weightQParamsConfig;

    /** For Jackson. */
    public ReferenceQuantizedEmbedding() {
    }

    /** A copy of {@code root} that looks up rows quantized with {@code rowQParams} (per row, float qparams). */
    public static ReferenceQuantizedEmbedding fromFloat(EmbeddingLayer root, QParams rowQParams) {
        ReferenceQuantizedEmbedding r = LayerCopies.asSubclass(root, ReferenceQuantizedEmbedding.class);
        r.setWeightQParamsConfig(QParamsConfig.of(rowQParams));
        return r;
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        ReferenceEmbeddingRuntime.Plain layer = new ReferenceEmbeddingRuntime.Plain(conf, networkDataType);
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
        return o instanceof ReferenceQuantizedEmbedding r && super.equals(o)
                && Objects.equals(weightQParamsConfig, r.weightQParamsConfig);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), weightQParamsConfig);
    }
}
