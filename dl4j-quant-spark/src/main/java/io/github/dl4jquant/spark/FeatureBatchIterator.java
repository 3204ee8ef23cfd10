package io.github.dl4jquant.spark;

import java.util.Iterator;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * A partition's feature batches as the one-pass {@link DataSetIterator} {@code PreparedModel.calibrate} streams
 * (one calibration call per partition: one progress log, not one per batch). No labels, no reset.
 */
final class FeatureBatchIterator implements DataSetIterator {
    private static final long serialVersionUID = 1L;

    private final transient Iterator<INDArray> batches;
    private final int batchSize;

    FeatureBatchIterator(Iterator<INDArray> batches, int batchSize) {
        this.batches = batches;
        this.batchSize = batchSize;
    }

    @Override
    public boolean hasNext() {
        return batches.hasNext();
    }

    @Override
    public DataSet next() {
        return new DataSet(batches.next(), null);
    }

    @Override
    public DataSet next(int num) {
        return next();
    }

    @Override
    public int inputColumns() {
        return -1;
    }

    @Override
    public int totalOutcomes() {
        return -1;
    }

    @Override
    public boolean resetSupported() {
        return false;
    }

    @Override
    public boolean asyncSupported() {
        return false;
    }

    @Override
    public void reset() {
        throw new UnsupportedOperationException("A Spark partition is streamed once");
    }

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        throw new UnsupportedOperationException("Preprocess the features in the RDD instead");
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return null;
    }

    @Override
    public List<String> getLabels() {
        return null;
    }
}
