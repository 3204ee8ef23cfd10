package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.EmbeddingIndices;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.feedforward.embedding.EmbeddingLayer;
import org.deeplearning4j.nn.layers.feedforward.embedding.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The runtime layers of the reference embeddings: DL4J's own embedding layers (lookup, bias, activation, masks,
 * formats), with the indices checked before the lookup and training refused.
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(indices);   // runs ReferenceEmbeddingRuntime.Plain for a ReferenceQuantizedEmbedding
 * }</pre>
 */
final class ReferenceEmbeddingRuntime {
    private ReferenceEmbeddingRuntime() {
    }

    private static String describe(NeuralNetConfiguration conf) {
        return conf.getLayer().getClass().getSimpleName() + " '" + conf.getLayer().getLayerName() + "'";
    }

    /** For {@link ReferenceQuantizedEmbedding}. */
    static final class Plain extends EmbeddingLayer {
        Plain(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        @Override
        protected INDArray preOutput(boolean training, LayerWorkspaceMgr workspaceMgr) {
            assertInputSet(false);
            EmbeddingIndices.read(input, layerConf().getNIn(), describe(conf()));
            return super.preOutput(training, workspaceMgr);
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            throw Int8Layer.inferenceOnly(describe(conf()));
        }
    }

    /** For {@link ReferenceQuantizedEmbeddingSequence}. */
    static final class Sequence extends EmbeddingSequenceLayer {
        Sequence(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        @Override
        protected INDArray preOutput(boolean training, LayerWorkspaceMgr workspaceMgr) {
            assertInputSet(false);
            EmbeddingIndices.read(input, layerConf().getNIn(), describe(conf()));
            return super.preOutput(training, workspaceMgr);
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            throw Int8Layer.inferenceOnly(describe(conf()));
        }
    }
}
