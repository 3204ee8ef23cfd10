package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.nn.LayerCopies;
import io.github.dl4jquant.nn.RuntimeLayers;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbedding;
import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.params.EmptyParamInitializer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch's quantized Embedding ({@code nnq.Embedding}: {@code quantized::embedding_byte} / {@code embedding_4bit})
 * as a DL4J {@code EmbeddingLayer}: the table is stored as 8-bit or 4-bit rows with float per-row qparams
 * ({@link QuantizedRows}, in this configuration; the layer has 0 DL4J params), and a lookup dequantizes only the rows
 * asked for. Input {@code [mb, 1]} indices (a row vector too, as DL4J), output {@code [mb, nOut]} float; the layer's
 * bias, activation and mask are applied as DL4J's EmbeddingLayer applies them. Inference only.
 *
 * <pre>{@code
 * QuantizedEmbedding q = QuantizedEmbedding.fromReference(referenceConf, floatW, floatB);   // rows quantized here
 * }</pre>
 */
public class QuantizedEmbedding extends EmbeddingLayer {
    private QuantizedRows rows;

    /** For Jackson. */
    public QuantizedEmbedding() {
    }

    /**
     * Quantizes {@code floatW [nIn, nOut]} with the reference's per-row qparams; {@code floatB} (nullable) is kept in
     * float.
     */
    public static QuantizedEmbedding fromReference(ReferenceQuantizedEmbedding ref, INDArray floatW, INDArray floatB) {
        EmbeddingLayer plain = LayerCopies.asSuperclass(ref, EmbeddingLayer.class, "weightQParamsConfig");
        QuantizedEmbedding q = LayerCopies.asSubclass(plain, QuantizedEmbedding.class);
        q.rows = QuantizedRows.quantize(floatW, ref.hasBias() ? floatB : null, ref.getWeightQParams(), q.describe());
        q.rows.validate(q.getNIn(), q.getNOut(), q.describe());
        return q;
    }

    /** E.g. {@code QuantizedEmbedding 'emb'}, for messages. */
    String describe() {
        return "QuantizedEmbedding '" + getLayerName() + "'";
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                       Collection<TrainingListener> listeners, int layerIndex,
                                                       INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        if (rows == null) {
            throw new IllegalArgumentException(describe() + ": no quantized rows stored. The model configuration was "
                    + "probably truncated or edited; convert the fp32 model again");
        }
        rows.validate(getNIn(), getNOut(), describe());
        return RuntimeLayers.initialise(new QuantizedEmbeddingRuntime.Plain(conf, networkDataType, rows,
                describe()), conf, listeners, layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public ParamInitializer initializer() {
        return EmptyParamInitializer.getInstance();
    }

    public QuantizedRows getRows() {
        return rows;
    }

    public void setRows(QuantizedRows rows) {
        this.rows = rows;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedEmbedding q && super.equals(o) && Objects.equals(rows, q.rows);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), rows);
    }

    @Override
    public String toString() {
        return describe() + "(nIn=" + getNIn() + ", nOut=" + getNOut() + ", " + rows + ", activation="
                + getActivationFn() + ")";
    }
}
