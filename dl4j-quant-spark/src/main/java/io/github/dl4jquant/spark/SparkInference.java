package io.github.dl4jquant.spark;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.StructType;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Scores data held in Spark with a DL4J model, typically the int8 {@code ComputationGraph} of {@code
 * Quantizer.convert}: the model's bytes are broadcast once, each executor deserialises one copy per concurrently
 * running task and reuses it for every later partition, each partition is run through {@code output()} in batches,
 * and every result goes back to its own row or key. {@link #evaluate} computes DL4J's {@code Evaluation} per
 * partition and merges them, for accuracy checks on test sets too large for one JVM.
 *
 * <pre>{@code
 * try (SparkInference inference = SparkInference.of(sc, int8, 256)) {
 *     JavaPairRDD<Long, float[]> scores = inference.output(rowsById);            // same keys, model outputs
 *     Dataset<Row> scored = inference.transform(df, "features", "probabilities"); // df's columns + one
 *     Evaluation eval = inference.evaluate(testRdd).evaluation();
 * }
 * }</pre>
 *
 * <p>A row's output does not depend on the batch it is scored in for the quantized layers (integer products,
 * element-wise requantization), so the results are bit-identical to one JVM's {@code output()} on the same rows. The
 * model must have one input and one output.
 */
public final class SparkInference implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SparkInference.class);

    private final Broadcast<ModelBytes> model;
    private final long broadcastBytes;
    private final int batchSize;

    private SparkInference(JavaSparkContext sc, ModelBytes bytes, int batchSize) {
        this.model = sc.broadcast(bytes);
        this.broadcastBytes = bytes.size();
        this.batchSize = batchSize;
    }

    /**
     * Broadcasts {@code model} (a ComputationGraph or MultiLayerNetwork with one input and one output) for scoring in
     * batches of {@code batchSize} rows.
     */
    public static SparkInference of(JavaSparkContext sc, Model model, int batchSize) {
        Objects.requireNonNull(sc, "sc");
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1; got " + batchSize);
        }
        if (model instanceof ComputationGraph) {
            ComputationGraph g = (ComputationGraph) model;
            if (g.getNumInputArrays() != 1 || g.getNumOutputArrays() != 1) {
                throw new IllegalArgumentException("SparkInference scores models with one input and one output; this "
                        + "ComputationGraph has " + g.getNumInputArrays() + " input(s) and " + g.getNumOutputArrays()
                        + " output(s)");
            }
        }
        return new SparkInference(sc, ModelBytes.of(model), batchSize);
    }

    /** Bytes of the broadcast model: shipped once per executor, not per partition. */
    public long broadcastBytes() {
        return broadcastBytes;
    }

    /** The model's output for every keyed feature vector, under the same key and in the same partitions. */
    public <K> JavaPairRDD<K, float[]> output(JavaPairRDD<K, float[]> rows) {
        Broadcast<ModelBytes> m = model;
        int bs = batchSize;
        return rows.mapPartitionsToPair(it -> scored(m.value(), new RowBatches<>(it, Tuple2::_2, bs),
                (row, out) -> new Tuple2<>(row._1(), out)), true);
    }

    /**
     * {@code rows} with one more column, {@code outputColumn} (array&lt;float&gt;): the model's output for the
     * feature vector in {@code featuresColumn} (array&lt;float&gt; or array&lt;double&gt;) of the same row.
     */
    public Dataset<Row> transform(Dataset<Row> rows, String featuresColumn, String outputColumn) {
        StructType schema = rows.schema();
        int column = SparkRows.featureColumn(schema, featuresColumn);
        if (Arrays.asList(schema.fieldNames()).contains(outputColumn)) {
            throw new IllegalArgumentException("The Dataset already has a column '" + outputColumn
                    + "': choose another output column name");
        }
        StructType out = schema.add(outputColumn, SparkRows.outputType(), false);
        Broadcast<ModelBytes> m = model;
        int bs = batchSize;
        MapPartitionsFunction<Row, Row> score = it -> scored(m.value(),
                new RowBatches<>(it, r -> SparkRows.features(r, column), bs), SparkInference::withOutput);
        return rows.mapPartitions(score, Encoders.row(out));
    }

    private static Row withOutput(Row row, float[] output) {
        Object[] values = new Object[row.length() + 1];
        for (int i = 0; i < row.length(); i++) {
            values[i] = row.get(i);
        }
        values[row.length()] = output;
        return RowFactory.create(values);
    }

    /** DL4J's {@code Evaluation} of the model on every DataSet (features and one-hot labels), merged. */
    public EvaluationRun evaluate(JavaRDD<DataSet> data) {
        Broadcast<ModelBytes> m = model;
        int bs = batchSize;
        return evaluated(data.mapPartitions(it -> evaluatePartition(m.value(),
                new ArrayBatches(new MappedIterator<>(it, ds -> new INDArray[] {ds.getFeatures(), ds.getLabels()}),
                        bs), b -> b[0], (b, classes) -> b[1])));
    }

    /**
     * DL4J's {@code Evaluation} of the model on the feature vectors in {@code featuresColumn} against the labels in
     * {@code labelColumn}: a class index (any number type) or a one-hot array.
     */
    public EvaluationRun evaluate(Dataset<Row> rows, String featuresColumn, String labelColumn) {
        StructType schema = rows.schema();
        int features = SparkRows.featureColumn(schema, featuresColumn);
        int labels = SparkRows.labelColumn(schema, labelColumn);
        Broadcast<ModelBytes> m = model;
        int bs = batchSize;
        return evaluated(rows.javaRDD().mapPartitions(it -> evaluatePartition(m.value(),
                new RowBatches<>(it, r -> SparkRows.features(r, features), bs), RowBatches.Batch::features,
                (b, classes) -> labelsOf(b.records(), labels, classes))));
    }

    private static INDArray labelsOf(List<Row> rows, int column, int classes) {
        float[][] l = new float[rows.size()][];
        for (int i = 0; i < l.length; i++) {
            l[i] = SparkRows.label(rows.get(i), column, classes);
        }
        return Nd4j.create(l);
    }

    private EvaluationRun evaluated(JavaRDD<byte[]> states) {
        long start = System.nanoTime();
        JavaRDD<byte[]> cached = states.cache();
        List<Long> sizes = cached.map(s -> (long) s.length).collect();
        if (sizes.isEmpty()) {
            throw new IllegalArgumentException("Nothing to evaluate: every partition of the data is empty");
        }
        byte[] merged = cached.treeReduce(SparkInference::mergeEvaluations, 2);
        cached.unpersist(false);
        EvaluationRun run = new EvaluationRun(Evaluation.fromJson(new String(merged, StandardCharsets.UTF_8)),
                states.getNumPartitions(), Collections.max(sizes), (System.nanoTime() - start) / 1e9);
        LOG.info("Spark evaluation: {}", run);
        return run;
    }

    private static byte[] mergeEvaluations(byte[] a, byte[] b) {
        Evaluation e = Evaluation.fromJson(new String(a, StandardCharsets.UTF_8));
        e.merge(Evaluation.fromJson(new String(b, StandardCharsets.UTF_8)));
        return e.toJson().getBytes(StandardCharsets.UTF_8);
    }

    /** Runs on an executor: the partition's evaluation as JSON (nothing for an empty partition). */
    private static <B> Iterator<byte[]> evaluatePartition(ModelBytes bytes, Iterator<B> batches,
                                                          Function<B, INDArray> features,
                                                          BiFunction<B, Integer, INDArray> labels) {
        if (!batches.hasNext()) {
            return Collections.emptyIterator();
        }
        Model m = borrow(bytes);
        try {
            Evaluation e = new Evaluation();
            while (batches.hasNext()) {
                B b = batches.next();
                INDArray out = output(m, features.apply(b));
                INDArray l = labels.apply(b, (int) out.size(1));
                if (l.size(1) != out.size(1)) {
                    throw new IllegalArgumentException("Labels have " + l.size(1) + " columns; the model has "
                            + out.size(1) + " outputs");
                }
                e.eval(l, out);
            }
            return List.of(e.toJson().getBytes(StandardCharsets.UTF_8)).iterator();
        } finally {
            ExecutorModels.giveBack(bytes.id(), m);
        }
    }

    /** Runs on an executor: each record of each batch with its row of the model's output, streamed. */
    private static <T, R> Iterator<R> scored(ModelBytes bytes, Iterator<RowBatches.Batch<T>> batches,
                                            BiFunction<T, float[], R> attach) {
        if (!batches.hasNext()) {
            return Collections.emptyIterator();
        }
        Model m = borrow(bytes);
        Runnable giveBack = () -> ExecutorModels.giveBack(bytes.id(), m);
        TaskContext task = TaskContext.get();
        if (task != null) {
            // also when the task fails or stops reading early
            task.addTaskCompletionListener((TaskContext ctx) -> giveBack.run());
        }
        return new ScoredRecords<>(batches, x -> output(m, x), attach, task != null ? () -> { } : giveBack);
    }

    private static Model borrow(ModelBytes bytes) {
        return ExecutorModels.borrow(bytes.id(), bytes::restore);
    }

    /** The model's inference output for one batch. */
    static INDArray output(Model m, INDArray features) {
        return m instanceof MultiLayerNetwork ? ((MultiLayerNetwork) m).output(features, false)
                : ((ComputationGraph) m).outputSingle(false, features);
    }

    /** Releases the broadcast model on the executors. */
    @Override
    public void close() {
        model.destroy();
    }
}
