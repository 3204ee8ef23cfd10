package io.github.dl4jquant.examples;

import io.github.dl4jquant.data.FashionMnist;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * The CNN tests' model: {@link FashionCnn}'s layers with 8 and 16 channels and a dense layer of 32, trained for one
 * epoch on the first {@value #TRAIN_EXAMPLES} images of the embedded subset (about 70% test accuracy, a few seconds);
 * trained once per test JVM and shared (callers must not change it).
 */
public final class SmallCnn {

    public static final int C1 = 8;
    public static final int C2 = 16;
    public static final int HIDDEN = 32;
    public static final int TRAIN_EXAMPLES = 2000;

    private static ComputationGraph graph;

    private SmallCnn() {
    }

    /** The trained ComputationGraph. */
    public static synchronized ComputationGraph graph() {
        if (graph == null) {
            ComputationGraph g = FashionCnn.build(C1, C2, HIDDEN);
            g.fit(trainIterator());
            graph = g;
        }
        return graph;
    }

    /** The training images, in batches of 64. */
    public static DataSetIterator trainIterator() {
        DataSet train = ExampleData.embedded().train();
        return FashionMnist.iterator((DataSet) train.getRange(0, TRAIN_EXAMPLES), 64);
    }
}
