package io.github.dl4jquant.nn;

import java.util.List;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * Lets a quantized dense layer stand where an {@code OutputLayer} stood, so that DL4J's own
 * {@code graph.evaluate(iterator)} and {@code predict} keep working on converted models; everything that trains or
 * scores against labels throws, since quantized layers are inference only.
 *
 * <pre>{@code
 * ComputationGraph int8 = Quantizer.convert(prepared);
 * double accuracy = int8.evaluate(testIterator).accuracy();   // works: the last layer is an IOutputLayer
 * }</pre>
 */
public interface InferenceOnlyOutputLayer extends IOutputLayer {

    /** The layer's name for messages. */
    String describe();

    @Override
    default boolean needsLabels() {
        return false;
    }

    /** Labels are never used: an inference-only layer computes no loss. */
    @Override
    default void setLabels(INDArray labels) {
        // nothing to train against
    }

    @Override
    default INDArray getLabels() {
        return null;
    }

    @Override
    default double computeScore(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    default INDArray computeScoreForExamples(double fullNetRegTerm, LayerWorkspaceMgr workspaceMgr) {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    default double f1Score(DataSet data) {
        throw new UnsupportedOperationException(describe() + ": use graph.evaluate(iterator) for metrics");
    }

    @Override
    default double f1Score(INDArray examples, INDArray labels) {
        throw new UnsupportedOperationException(describe() + ": use graph.evaluate(iterator) for metrics");
    }

    @Override
    default int numLabels() {
        return (int) ((FeedForwardLayer) conf().getLayer()).getNOut();
    }

    @Override
    default int[] predict(INDArray examples) {
        return activate(examples, false, LayerWorkspaceMgr.noWorkspaces()).argMax(1).toIntVector();
    }

    @Override
    default List<String> predict(DataSet dataSet) {
        throw new UnsupportedOperationException(describe() + ": use predict(INDArray) or graph.output(...)");
    }

    @Override
    default void fit(DataSetIterator iter) {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    default void fit(INDArray examples, INDArray labels) {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    default void fit(DataSet data) {
        throw Int8Layer.inferenceOnly(describe());
    }

    @Override
    default void fit(INDArray examples, int[] labels) {
        throw Int8Layer.inferenceOnly(describe());
    }
}
