package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.EmbeddingIndices;
import java.util.Arrays;
import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.feedforward.embedding.EmbeddingLayer;
import org.deeplearning4j.nn.layers.feedforward.embedding.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The runtime layers of {@link QuantizedEmbedding} and {@link QuantizedEmbeddingSequence}: DL4J's own embedding
 * layers with the lookup ({@code preOutput}) replaced by {@link QuantizedRows#lookup}, so that the activation and
 * the mask are applied by DL4J's code. Input shapes are handled as DL4J M2.1 handles them; the indices are checked
 * ({@link EmbeddingIndices}).
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(indices);   // runs QuantizedEmbeddingRuntime.Sequence for the "emb" vertex
 * }</pre>
 */
final class QuantizedEmbeddingRuntime {
    private QuantizedEmbeddingRuntime() {
    }

    /** The looked-up rows in the network's data type. */
    private static INDArray lookup(QuantizedRows rows, int[] indices, DataType dataType, LayerWorkspaceMgr mgr) {
        INDArray out = rows.lookup(indices, mgr);
        return dataType == DataType.FLOAT ? out : mgr.castTo(ArrayType.ACTIVATIONS, dataType, out, false);
    }

    /** For {@link QuantizedEmbedding}: {@code [mb, 1]} indices to {@code [mb, nOut]}. */
    static final class Plain extends EmbeddingLayer {
        private final QuantizedRows rows;
        private final String name;

        Plain(NeuralNetConfiguration conf, DataType dataType, QuantizedRows rows, String name) {
            super(conf, dataType);
            this.rows = rows;
            this.name = name;
        }

        @Override
        protected INDArray preOutput(boolean training, LayerWorkspaceMgr workspaceMgr) {
            assertInputSet(false);
            INDArray in = input;
            if (in.columns() != 1) {
                if (!in.isRowVector()) {
                    throw new DL4JInvalidInputException(name + ": expected input [numExamples, 1] with one integer "
                            + "index per example; got shape " + Arrays.toString(in.shape()));
                }
                in = in.reshape(in.length(), 1);
            }
            return lookup(rows, EmbeddingIndices.read(in, layerConf().getNIn(), name), dataType, workspaceMgr);
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            throw Int8Layer.inferenceOnly(name);
        }
    }

    /** For {@link QuantizedEmbeddingSequence}: {@code [mb, T]} or {@code [mb, 1, T]} to NCW or NWC. */
    static final class Sequence extends EmbeddingSequenceLayer {
        private final QuantizedRows rows;
        private final String name;

        Sequence(NeuralNetConfiguration conf, DataType dataType, QuantizedRows rows, String name) {
            super(conf, dataType);
            this.rows = rows;
            this.name = name;
        }

        @Override
        protected INDArray preOutput(boolean training, LayerWorkspaceMgr workspaceMgr) {
            assertInputSet(false);
            INDArray in = input.rank() == 1 ? input.reshape(1, input.length()) : input;
            if ((in.rank() == 3 && in.size(1) != 1) || (in.rank() != 2 && in.rank() != 3)) {
                throw new DL4JInvalidInputException(name + ": expected input [minibatch, seqLength] or [minibatch, 1, "
                        + "seqLength] of integer indices; got shape " + Arrays.toString(input.shape()));
            }
            if (in.rank() == 3) {
                in = in.reshape(in.ordering(), in.size(0), in.size(2));
            }
            org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer c = layerConf();
            if (!c.isInferInputLength() && in.columns() != c.getInputLength()) {
                throw new DL4JInvalidInputException(name + ": the sequence length of the input (" + in.columns()
                        + ", shape " + Arrays.toString(input.shape()) + ") must equal the layer's inputLength "
                        + c.getInputLength() + " (or build the layer with inferInputLength(true))");
            }
            long minibatch = in.size(0);
            long length = in.size(1);
            INDArray rowsOut = lookup(rows, EmbeddingIndices.read(in, c.getNIn(), name), dataType, workspaceMgr);
            INDArray ret = rowsOut.reshape('c', minibatch, length, c.getNOut());
            if (c.getOutputFormat() == RNNFormat.NCW) {
                ret = ret.permute(0, 2, 1);
            }
            return workspaceMgr.leverageTo(ArrayType.ACTIVATIONS, ret);
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            throw Int8Layer.inferenceOnly(name);
        }
    }
}
