package io.github.dl4jquant.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Re-batches a partition's arrays into batches of exactly {@code batchSize} rows (the last one smaller): each element
 * is a group of arrays with the same number of rows (features, or features and labels), of any size, and the groups'
 * arrays are concatenated or split along dimension 0 in parallel. The rows keep their order.
 */
final class ArrayBatches implements Iterator<INDArray[]> {
    private final Iterator<INDArray[]> groups;
    private final int batchSize;
    private INDArray[] pending;
    private long pendingOffset;

    ArrayBatches(Iterator<INDArray[]> groups, int batchSize) {
        this.groups = groups;
        this.batchSize = batchSize;
    }

    @Override
    public boolean hasNext() {
        return pending != null || advance();
    }

    private boolean advance() {
        while (groups.hasNext()) {
            INDArray[] g = groups.next();
            long rows = rowsOf(g);
            if (rows > 0) {
                pending = g;
                pendingOffset = 0;
                return true;
            }
        }
        return false;
    }

    @Override
    public INDArray[] next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        List<INDArray[]> parts = new ArrayList<>();
        long rows = 0;
        while (rows < batchSize && (pending != null || advance())) {
            long available = rowsOf(pending) - pendingOffset;
            long take = Math.min(available, batchSize - rows);
            parts.add(slice(pending, pendingOffset, take));
            rows += take;
            pendingOffset += take;
            if (pendingOffset == rowsOf(pending)) {
                pending = null;
            }
        }
        return concat(parts);
    }

    private static long rowsOf(INDArray[] group) {
        long rows = group[0].size(0);
        for (INDArray a : group) {
            if (a.size(0) != rows) {
                throw new IllegalArgumentException("The arrays of one example group have different row counts: "
                        + Arrays.toString(Arrays.stream(group).map(x -> Arrays.toString(x.shape())).toArray())
                        + "; features and labels must have one row per example");
            }
        }
        return rows;
    }

    private static INDArray[] slice(INDArray[] group, long from, long count) {
        if (from == 0 && count == group[0].size(0)) {
            return group;
        }
        INDArray[] out = new INDArray[group.length];
        for (int i = 0; i < group.length; i++) {
            out[i] = group[i].get(NDArrayIndex.interval(from, from + count)).dup();
        }
        return out;
    }

    private static INDArray[] concat(List<INDArray[]> parts) {
        if (parts.size() == 1) {
            return parts.get(0);
        }
        INDArray[] out = new INDArray[parts.get(0).length];
        for (int i = 0; i < out.length; i++) {
            INDArray[] column = new INDArray[parts.size()];
            for (int p = 0; p < column.length; p++) {
                column[p] = parts.get(p)[i];
            }
            out[i] = Nd4j.concat(0, column);
        }
        return out;
    }
}
