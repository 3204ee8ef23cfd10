package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.nn.LayerCopies;
import io.github.dl4jquant.nn.RuntimeLayers;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbeddingSequence;
import java.util.Collection;
import java.util.Objects;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.params.EmptyParamInitializer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@link QuantizedEmbedding} for sequences, as a DL4J {@code EmbeddingSequenceLayer}: input {@code [mb, T]} or
 * {@code [mb, 1, T]} indices, output {@code [mb, nOut, T]} (NCW) or {@code [mb, T, nOut]} (NWC) as its
 * {@code outputFormat} says; {@code inputLength}, bias, activation and masks as DL4J handles them. Inference only.
 *
 * <pre>{@code
 * QuantizedEmbeddingSequence q = QuantizedEmbeddingSequence.fromReference(referenceConf, floatW, floatB);
 * }</pre>
 */
public class QuantizedEmbeddingSequence extends EmbeddingSequenceLayer {
    private QuantizedRows rows;

    /** For Jackson. */
    public QuantizedEmbeddingSequence() {
    }

    /**
     * Quantizes {@code floatW [nIn, nOut]} with the reference's per-row qparams; {@code floatB} (nullable) is kept in
     * float.
     */
    public static QuantizedEmbeddingSequence fromReference(ReferenceQuantizedEmbeddingSequence ref, INDArray floatW,
                                                           INDArray floatB) {
        EmbeddingSequenceLayer plain = LayerCopies.asSuperclass(ref, EmbeddingSequenceLayer.class,
                "weightQParamsConfig");
        QuantizedEmbeddingSequence q = LayerCopies.asSubclass(plain, QuantizedEmbeddingSequence.class);
        q.rows = QuantizedRows.quantize(floatW, ref.hasBias() ? floatB : null, ref.getWeightQParams(), q.describe());
        q.rows.validate(q.getNIn(), q.getNOut(), q.describe());
        return q;
    }

    /** E.g. {@code QuantizedEmbeddingSequence 'emb'}, for messages. */
    String describe() {
        return "QuantizedEmbeddingSequence '" + getLayerName() + "'";
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
        return RuntimeLayers.initialise(new QuantizedEmbeddingRuntime.Sequence(conf, networkDataType, rows,
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
        return o instanceof QuantizedEmbeddingSequence q && super.equals(o) && Objects.equals(rows, q.rows);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), rows);
    }

    @Override
    public String toString() {
        return describe() + "(nIn=" + getNIn() + ", nOut=" + getNOut() + ", " + rows + ", inputLength="
                + getInputLength() + ", outputFormat=" + getOutputFormat() + ", activation=" + getActivationFn() + ")";
    }
}
