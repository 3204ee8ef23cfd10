package io.github.dl4jquant.spark.examples;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.examples.ExampleData;
import io.github.dl4jquant.examples.FashionMlp;
import io.github.dl4jquant.examples.LaunchDefaults;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.observer.ObserverState;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.spark.CalibrationRun;
import io.github.dl4jquant.spark.EvaluationRun;
import io.github.dl4jquant.spark.SparkCalibration;
import io.github.dl4jquant.spark.SparkInference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import scala.Tuple2;

/**
 * The Fashion-MNIST MLP quantized and scored on Spark, next to the single-JVM path on the same machine: calibration
 * over the 60,000 training images in {@code partitions} partitions (x86 defaults: histogram activation observers,
 * exact two-pass merge), conversion on the driver, scoring of the 60,000 images and evaluation on the 10,000 test
 * images on the executors. Prints the times, the bytes that crossed the network and whether the results are identical.
 *
 * <pre>{@code
 * spark-submit --class io.github.dl4jquant.spark.examples.SparkFashionMnist ... dl4j-quant-spark.jar 8
 * }</pre>
 *
 * Argument: the number of partitions (default 8). The master comes from spark-submit, or is {@code local[2]}.
 */
public final class SparkFashionMnist {
    private static final int CALIBRATION_BATCH = 250;
    private static final int SCORING_BATCH = 256;

    private SparkFashionMnist() {
    }

    public static void main(String[] args) {
        LaunchDefaults.apply(true);
        int partitions = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        SparkSession.Builder builder = SparkSession.builder().appName("dl4j-quant Fashion-MNIST");
        if (System.getProperty("spark.master") == null) {
            builder.master("local[2]").config("spark.ui.enabled", "false");
        }
        SparkSession spark = builder.getOrCreate();
        try {
            run(JavaSparkContext.fromSparkContext(spark.sparkContext()), partitions);
        } finally {
            spark.stop();
        }
    }

    private static void run(JavaSparkContext sc, int partitions) {
        ExampleData data = ExampleData.load();
        ComputationGraph fp32 = FashionMlp.loadOrTrain(data, FashionMlp.DEFAULT_EPOCHS, FashionMlp.DEFAULT_CACHE);
        DataSet train = data.train();
        DataSet test = data.test();
        QConfigMapping mapping = QConfigs.getDefaultQConfigMapping("x86");
        BackendConfig backend = BackendConfigs.getX86BackendConfig();
        System.out.printf(Locale.ROOT, "== dl4j-quant on Spark %s (%s, default parallelism %d): Fashion-MNIST MLP, "
                + "%,d training rows in %d partitions ==%n", sc.version(), sc.master(), sc.defaultParallelism(),
                train.numExamples(), partitions);

        JavaRDD<DataSet> trainRdd = onExecutors(sc, partitions, train.numExamples(),
                (from, to) -> chunks(ExecutorData.train(), from, to, CALIBRATION_BATCH).iterator());
        // warm up the JIT on both paths before timing either
        Quantizer.prepare(fp32, mapping, backend).calibrate(FashionMnist.iterator(chunk(train, 0, 2560), 256));
        long t0 = System.nanoTime();
        PreparedModel batched = Quantizer.prepare(fp32, mapping, backend)
                .calibrate(FashionMnist.iterator(train, CALIBRATION_BATCH));
        double batchedSeconds = seconds(t0);
        t0 = System.nanoTime();
        PreparedModel allAtOnce = Quantizer.prepare(fp32, mapping, backend).calibrate(train.getFeatures());
        double allAtOnceSeconds = seconds(t0);
        CalibrationRun run;
        ComputationGraph int8;
        try (SparkCalibration calibration = SparkCalibration.builder(fp32, mapping, backend)
                .batchSize(CALIBRATION_BATCH).build(sc)) {
            run = calibration.calibrate(trainRdd);
            int8 = Quantizer.convert(calibration.prepared());
            printCalibration(run, batchedSeconds, allAtOnceSeconds, calibration.prepared(), batched, allAtOnce);
        }
        trainRdd.unpersist();
        score(sc, int8, train, partitions);
        evaluate(sc, int8, test, partitions);
    }

    private static void printCalibration(CalibrationRun run, double batchedSeconds, double allAtOnceSeconds,
                                         PreparedModel spark, PreparedModel batched, PreparedModel allAtOnce) {
        System.out.printf(Locale.ROOT, "calibration   single JVM %.2f s (batches of %d), single JVM all rows in one "
                + "batch %.2f s, Spark %.2f s (%d partitions, %d passes)%n", batchedSeconds, CALIBRATION_BATCH,
                allAtOnceSeconds, run.seconds(), run.partitions(), run.passes());
        System.out.printf(Locale.ROOT, "shipped       model broadcast %,d bytes once per executor; observer state "
                + "%,d bytes per partition and pass%n", run.broadcastBytes(), run.stateBytesPerPartition());
        Map<String, ObserverState> s = spark.calibrationState().observers();
        Map<String, ObserverState> one = allAtOnce.calibrationState().observers();
        Map<String, ObserverState> b = batched.calibrationState().observers();
        for (String tensor : s.keySet()) {
            System.out.printf(Locale.ROOT, "  %-6s Spark %-22s all-at-once %-22s (%s)   batched %-22s%n", tensor,
                    describe(s.get(tensor)), describe(one.get(tensor)),
                    s.get(tensor).equals(one.get(tensor)) ? "identical state" : "different state",
                    describe(b.get(tensor)));
        }
    }

    private static String describe(ObserverState state) {
        io.github.dl4jquant.QParams q = state.restore().calculateQParams();
        return String.format(Locale.ROOT, "s=%.8g zp=%d", q.scale(), q.zeroPoint());
    }

    private static void score(JavaSparkContext sc, ComputationGraph int8, DataSet rows, int partitions) {
        JavaPairRDD<Long, float[]> rdd = JavaPairRDD.fromJavaRDD(onExecutors(sc, partitions, rows.numExamples(),
                (from, to) -> keyedRows(ExecutorData.train(), from, to).iterator()));
        int8.outputSingle(rows.getFeatures().get(NDArrayIndex.interval(0, 2560)));   // JIT warm-up
        long t0 = System.nanoTime();
        float[][] single = new float[rows.numExamples()][];
        for (int from = 0; from < single.length; from += SCORING_BATCH) {
            int to = Math.min(single.length, from + SCORING_BATCH);
            INDArray batch = rows.getFeatures().get(NDArrayIndex.interval(from, to));
            float[][] out = int8.outputSingle(batch).toFloatMatrix();
            System.arraycopy(out, 0, single, from, out.length);
        }
        double singleSeconds = seconds(t0);
        try (SparkInference inference = SparkInference.of(sc, int8, SCORING_BATCH)) {
            t0 = System.nanoTime();
            Map<Long, float[]> scored = inference.output(rdd).collectAsMap();
            double sparkSeconds = seconds(t0);
            long identical = 0;
            for (int i = 0; i < single.length; i++) {
                identical += Arrays.equals(single[i], scored.get((long) i)) ? 1 : 0;
            }
            long outputBytes = (long) single.length * single[0].length * Float.BYTES / partitions;
            System.out.printf(Locale.ROOT, "scoring       %,d rows: single JVM %.2f s (batches of %d), Spark %.2f s "
                            + "(%d partitions); bit-identical outputs: %,d of %,d%n", single.length, singleSeconds,
                    SCORING_BATCH, sparkSeconds, partitions, identical, single.length);
            System.out.printf(Locale.ROOT, "shipped       int8 model broadcast %,d bytes once per executor; outputs "
                    + "%,d bytes per partition (plus keys)%n", inference.broadcastBytes(), outputBytes);
        }
        rdd.unpersist();
    }

    private static void evaluate(JavaSparkContext sc, ComputationGraph int8, DataSet test, int partitions) {
        long t0 = System.nanoTime();
        Evaluation single = int8.evaluate(FashionMnist.iterator(test, SCORING_BATCH));
        double singleSeconds = seconds(t0);
        JavaRDD<DataSet> rdd = onExecutors(sc, partitions, test.numExamples(),
                (from, to) -> chunks(ExecutorData.test(), from, to, SCORING_BATCH).iterator());
        try (SparkInference inference = SparkInference.of(sc, int8, SCORING_BATCH)) {
            EvaluationRun run = inference.evaluate(rdd);
            System.out.printf(Locale.ROOT, "evaluation    %,d test rows: single JVM accuracy %.4f in %.2f s, Spark "
                            + "accuracy %.4f in %.2f s; identical statistics: %s; evaluation state %,d bytes per "
                            + "partition%n", test.numExamples(), single.accuracy(), singleSeconds,
                    run.evaluation().accuracy(), run.seconds(), single.stats().equals(run.evaluation().stats()),
                    run.stateBytesPerPartition());
        }
        rdd.unpersist();
    }

    /** Reads a slice of the data on the executors. */
    @FunctionalInterface
    private interface Slice<T> extends java.io.Serializable {
        Iterator<T> rows(int from, int to);
    }

    /**
     * An RDD whose partition p holds rows [p * n / partitions, (p + 1) * n / partitions), read where it is computed
     * (as from a distributed file system) and cached there: nothing but the slice bounds travels with a task.
     */
    private static <T> JavaRDD<T> onExecutors(JavaSparkContext sc, int partitions, int n, Slice<T> slice) {
        List<Integer> ids = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            ids.add(p);
        }
        JavaRDD<T> rdd = sc.parallelize(ids, partitions)
                .mapPartitions(it -> {
                    int p = it.next();
                    return slice.rows((int) ((long) p * n / partitions), (int) ((long) (p + 1) * n / partitions));
                }).cache();
        rdd.count();
        return rdd;
    }

    private static List<DataSet> chunks(DataSet data, int from, int to, int rows) {
        List<DataSet> out = new ArrayList<>();
        for (int start = from; start < to; start += rows) {
            out.add(chunk(data, start, Math.min(to, start + rows)));
        }
        return out;
    }

    private static DataSet chunk(DataSet data, int from, int to) {
        return new DataSet(data.getFeatures().get(NDArrayIndex.interval(from, to)).dup(),
                data.getLabels().get(NDArrayIndex.interval(from, to)).dup());
    }

    private static List<Tuple2<Long, float[]>> keyedRows(DataSet data, int from, int to) {
        float[][] x = data.getFeatures().get(NDArrayIndex.interval(from, to)).toFloatMatrix();
        List<Tuple2<Long, float[]>> out = new ArrayList<>(x.length);
        for (int i = 0; i < x.length; i++) {
            out.add(new Tuple2<>((long) from + i, x[i]));
        }
        return out;
    }

    /** The data set as each executor JVM reads it once, from its local copy. */
    private static final class ExecutorData {
        private static DataSet train;
        private static DataSet test;

        static synchronized DataSet train() {
            if (train == null) {
                train = ExampleData.load().train();
            }
            return train;
        }

        static synchronized DataSet test() {
            if (test == null) {
                test = ExampleData.load().test();
            }
            return test;
        }
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }
}
