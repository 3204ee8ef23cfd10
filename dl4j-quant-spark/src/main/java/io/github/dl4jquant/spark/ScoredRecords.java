package io.github.dl4jquant.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A partition's records, each joined with its row of the model's output, scored one batch at a time as they are
 * consumed (a partition is never held in memory whole); {@code onEnd} runs once, when the last record has been read.
 *
 * @param <T> the record type
 * @param <R> the result type ({@code attach(record, outputRow)})
 */
final class ScoredRecords<T, R> implements Iterator<R> {
    private final Iterator<RowBatches.Batch<T>> batches;
    private final Function<INDArray, INDArray> model;
    private final BiFunction<T, float[], R> attach;
    private final Runnable onEnd;
    private List<R> current = List.of();
    private int next;
    private boolean ended;

    ScoredRecords(Iterator<RowBatches.Batch<T>> batches, Function<INDArray, INDArray> model,
                  BiFunction<T, float[], R> attach, Runnable onEnd) {
        this.batches = batches;
        this.model = model;
        this.attach = attach;
        this.onEnd = onEnd;
    }

    @Override
    public boolean hasNext() {
        while (next == current.size()) {
            if (!batches.hasNext()) {
                end();
                return false;
            }
            current = score(batches.next());
            next = 0;
        }
        return true;
    }

    private void end() {
        if (!ended) {
            ended = true;
            onEnd.run();
        }
    }

    private List<R> score(RowBatches.Batch<T> batch) {
        float[] flat = model.apply(batch.features()).dup('c').data().asFloat();
        int rows = batch.records().size();
        int width = flat.length / rows;
        List<R> results = new ArrayList<>(rows);
        for (int i = 0; i < rows; i++) {
            results.add(attach.apply(batch.records().get(i), Arrays.copyOfRange(flat, i * width, (i + 1) * width)));
        }
        return results;
    }

    @Override
    public R next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        return current.get(next++);
    }
}
