package io.github.dl4jquant.spark;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Function;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Groups a partition's records into batches of {@code batchSize} (the last one smaller) and builds each batch's
 * {@code [rows, width]} float feature matrix in one allocation; the records stay with their batch, in order, so that
 * results can be keyed back to them.
 *
 * @param <T> the record type (a Spark {@code Row}, a key-features pair, ...)
 */
final class RowBatches<T> implements Iterator<RowBatches.Batch<T>> {
    private final Iterator<T> records;
    private final Function<T, float[]> features;
    private final int batchSize;

    /** One batch: its records and their features, row i of {@code features} belonging to {@code records.get(i)}. */
    record Batch<T>(List<T> records, INDArray features) {
    }

    RowBatches(Iterator<T> records, Function<T, float[]> features, int batchSize) {
        this.records = records;
        this.features = features;
        this.batchSize = batchSize;
    }

    @Override
    public boolean hasNext() {
        return records.hasNext();
    }

    @Override
    public Batch<T> next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        List<T> batch = new ArrayList<>(batchSize);
        List<float[]> rows = new ArrayList<>(batchSize);
        while (batch.size() < batchSize && records.hasNext()) {
            T r = records.next();
            float[] f = features.apply(r);
            if (!rows.isEmpty() && f.length != rows.get(0).length) {
                throw new IllegalArgumentException("Feature vectors of one batch have different lengths: "
                        + rows.get(0).length + " and " + f.length + " (record " + r + "); every row needs the "
                        + "model's input width");
            }
            batch.add(r);
            rows.add(f);
        }
        int width = rows.get(0).length;
        float[] flat = new float[rows.size() * width];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(rows.get(i), 0, flat, i * width, width);
        }
        return new Batch<>(batch, Nd4j.create(flat, new long[] {rows.size(), width}, 'c'));
    }
}
