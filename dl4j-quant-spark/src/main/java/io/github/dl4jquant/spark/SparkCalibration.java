package io.github.dl4jquant.spark;

import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.graph.CalibrationState;
import io.github.dl4jquant.graph.PrepareCustomConfig;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.observer.ObserverFactory;
import io.github.dl4jquant.observer.ObserverState;
import io.github.dl4jquant.qconfig.QConfigMapping;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calibrates a {@link PreparedModel} on data held in Spark: every partition runs the observers of its own copy of the
 * prepared model over its rows, the observer states (statistics only, a few KB; see {@link CalibrationState}) are
 * merged with {@code treeAggregate}, and the merged state is loaded into the driver's prepared model, which is then
 * converted as usual.
 *
 * <pre>{@code
 * try (SparkCalibration calibration = SparkCalibration.builder(model,
 *         QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig()).batchSize(256).build(sc)) {
 *     CalibrationRun run = calibration.calibrate(trainingRdd);   // JavaRDD<DataSet>; also INDArrays, Dataset<Row>
 *     ComputationGraph int8 = Quantizer.convert(calibration.prepared());
 * }
 * }</pre>
 *
 * <p>Results: min/max observers (per tensor and per channel) merge exactly, so the qparams are those of one JVM
 * calibrating on the same batches, whatever the partitioning. Histogram observers ({@code HistogramObserver},
 * {@code PercentileObserver}) build their histogram over a range that grows batch by batch, so shards with other
 * ranges can only be merged approximately; by default ({@link Builder#exactHistograms}) the data is therefore read
 * twice: the first pass finds each histogram's exact range, the second bins every value into that one grid, where the
 * partitions' counts add exactly. The histograms are then those of one JVM binning every row into the final range,
 * independent of the partitioning (cache the RDD: it is computed twice), as long as the rows are batched alike: DL4J's
 * fp32 forward pass can give a row other last bits in another batch size (OpenBLAS's AVX-512 kernels do), which
 * moves a count between neighbouring bins, not the qparams.
 *
 * <p>The executors rebuild the prepared model from the broadcast fp32 model and the QConfigMapping and BackendConfig
 * JSON, one copy per concurrently running task, reused across partitions. Rows are batched per partition: batches are
 * those of one JVM only when partition sizes are multiples of the batch size, which matters only if the forward pass
 * depends on the batch. Single-input models.
 */
public final class SparkCalibration implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SparkCalibration.class);

    private final JavaSparkContext sc;
    private final PreparedModel prepared;
    private final CalibrationState empty;
    private final Broadcast<CalibrationRecipe> recipe;
    private final long broadcastBytes;
    private final int batchSize;
    private final boolean exactHistograms;
    private final int treeDepth;

    private SparkCalibration(JavaSparkContext sc, Builder b) {
        CalibrationRecipe r = new CalibrationRecipe(b.model, b.mapping, b.backend, b.options);
        this.sc = sc;
        this.prepared = r.prepare(b.model);
        this.empty = prepared.calibrationState();
        this.recipe = sc.broadcast(r);
        this.broadcastBytes = r.model().size() + (long) b.mapping.toJson().length() + b.backend.toJson().length();
        this.batchSize = b.batchSize;
        this.exactHistograms = b.exactHistograms;
        this.treeDepth = b.treeDepth;
    }

    public static Builder builder(ComputationGraph model, QConfigMapping mapping, BackendConfig backend) {
        return new Builder(model, mapping, backend);
    }

    public static Builder builder(MultiLayerNetwork model, QConfigMapping mapping, BackendConfig backend) {
        return new Builder(model, mapping, backend);
    }

    /**
     * The driver's prepared model: what {@code calibrate} loads the merged statistics into. Each {@code calibrate}
     * replaces the statistics of the one before (to calibrate on several datasets, union the RDDs).
     */
    public PreparedModel prepared() {
        return prepared;
    }

    /** Calibrates on the features of every DataSet (of any size; rows are re-batched per partition). */
    public CalibrationRun calibrate(JavaRDD<DataSet> data) {
        return run(data, SparkCalibration::dataSetBatches);
    }

    /** Calibrates on feature arrays {@code [rows, ...]} (one row or many per element). */
    public CalibrationRun calibrateFeatures(JavaRDD<INDArray> features) {
        return run(features, SparkCalibration::arrayBatches);
    }

    /** Calibrates on the feature vectors in {@code featuresColumn} (array&lt;float&gt; or array&lt;double&gt;). */
    public CalibrationRun calibrate(Dataset<Row> rows, String featuresColumn) {
        int column = SparkRows.featureColumn(rows.schema(), featuresColumn);
        return run(rows.javaRDD(), (it, bs) -> rowBatches(it, bs, column));
    }

    private static Iterator<INDArray> dataSetBatches(Iterator<DataSet> it, int batchSize) {
        return featuresOnly(new ArrayBatches(new MappedIterator<>(it, ds -> new INDArray[] {ds.getFeatures()}),
                batchSize));
    }

    private static Iterator<INDArray> arrayBatches(Iterator<INDArray> it, int batchSize) {
        return featuresOnly(new ArrayBatches(new MappedIterator<>(it, a -> new INDArray[] {a}), batchSize));
    }

    private static Iterator<INDArray> rowBatches(Iterator<Row> it, int batchSize, int column) {
        return new MappedIterator<>(new RowBatches<>(it, r -> SparkRows.features(r, column), batchSize),
                RowBatches.Batch::features);
    }

    private static Iterator<INDArray> featuresOnly(Iterator<INDArray[]> groups) {
        return new MappedIterator<>(groups, g -> g[0]);
    }

    /** Turns a partition's records into feature batches on the executor. */
    @FunctionalInterface
    private interface FeatureBatcher<T> extends Serializable {
        Iterator<INDArray> batches(Iterator<T> records, int batchSize);
    }

    private record Pass(CalibrationState state, long stateBytes) {
    }

    private <T> CalibrationRun run(JavaRDD<T> data, FeatureBatcher<T> batcher) {
        long start = System.nanoTime();
        if (exactHistograms && empty.observers().values().stream().anyMatch(s -> usesHistogram(s.observerName()))
                && data.getStorageLevel().equals(StorageLevel.NONE())) {
            LOG.info("Histogram observers take two passes over the data; persist() the RDD to compute it only once");
        }
        Pass first = pass(data, batcher, empty);
        Pass last = first;
        if (exactHistograms && first.state().hasHistograms()) {
            CalibrationState seed = first.state().withEmptyHistogramsOverObservedRanges();
            last = pass(data, batcher, seed);
            warnIfOffGrid(seed, last.state());
        }
        prepared.loadCalibrationState(last.state());
        CalibrationRun run = new CalibrationRun(data.getNumPartitions(), last == first ? 1 : 2,
                last.state().examples(), last.state().batches(), Math.max(first.stateBytes(), last.stateBytes()),
                broadcastBytes, (System.nanoTime() - start) / 1e9);
        LOG.info("Spark calibration: {}", run);
        return run;
    }

    private static boolean usesHistogram(String observerName) {
        return observerName.equals("HistogramObserver") || observerName.equals("PercentileObserver");
    }

    private <T> Pass pass(JavaRDD<T> data, FeatureBatcher<T> batcher, CalibrationState start) {
        Broadcast<CalibrationRecipe> r = recipe;
        byte[] startBytes = start.toBytes();
        int bs = batchSize;
        LongAccumulator largest = sc.sc().longAccumulator();
        JavaRDD<byte[]> states = data.mapPartitions(it -> {
            byte[] s = calibratePartition(r.value(), startBytes, batcher.batches(it, bs), bs);
            largest.add(s.length);
            return List.of(s).iterator();
        });
        byte[] merged = states.treeAggregate(startBytes, SparkCalibration::mergeStates,
                SparkCalibration::mergeStates, treeDepth);
        long partitions = Math.max(1, largest.count());
        return new Pass(CalibrationState.fromBytes(merged), largest.value() / partitions);
    }

    /** Runs on an executor: one partition through a (reused) prepared model, starting from {@code startBytes}. */
    private static byte[] calibratePartition(CalibrationRecipe recipe, byte[] startBytes, Iterator<INDArray> batches,
                                             int batchSize) {
        if (!batches.hasNext()) {
            return startBytes;
        }
        String id = recipe.model().id();
        PreparedModel p = ExecutorModels.borrow(id, recipe::prepare);
        try {
            p.loadCalibrationState(CalibrationState.fromBytes(startBytes));
            p.calibrate(new FeatureBatchIterator(batches, batchSize));
            return p.calibrationState().toBytes();
        } finally {
            ExecutorModels.giveBack(id, p);
        }
    }

    private static byte[] mergeStates(byte[] a, byte[] b) {
        return CalibrationState.fromBytes(a).merge(CalibrationState.fromBytes(b)).toBytes();
    }

    private static void warnIfOffGrid(CalibrationState seed, CalibrationState result) {
        for (Map.Entry<String, ObserverState> e : seed.observers().entrySet()) {
            ObserverState s = e.getValue();
            ObserverState r = result.observers().get(e.getKey());
            if (s.histogram().length > 0 && !(Arrays.equals(s.minVal(), r.minVal())
                    && Arrays.equals(s.maxVal(), r.maxVal()))) {
                LOG.warn("Tensor '{}': the second calibration pass saw values outside the range of the first "
                        + "({} .. {}); the data changed between the passes (non-deterministic RDD?), so its "
                        + "histogram was merged approximately", e.getKey(), Arrays.toString(s.minVal()),
                        Arrays.toString(s.maxVal()));
            }
        }
    }

    /**
     * One observer's statistics over every array of {@code arrays}, observed per partition and merged with
     * {@code treeAggregate}: exactly what one observer that saw all the arrays computes for min/max observers, and
     * for histogram observers (two passes, as above) what one that saw them all in one array computes.
     *
     * <pre>{@code
     * Observer perChannel = SparkCalibration.observe(activations,
     *         PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8), 2);
     * QParams q = perChannel.calculateQParams();
     * }</pre>
     */
    public static Observer observe(JavaRDD<INDArray> arrays, ObserverFactory factory, int treeDepth) {
        ObserverState empty = factory.create().state();
        ObserverState merged = observePass(arrays, empty, treeDepth);
        if (merged.histogram().length > 0) {
            merged = observePass(arrays, merged.withEmptyHistogramOverObservedRange(), treeDepth);
        }
        return merged.restore();
    }

    private static ObserverState observePass(JavaRDD<INDArray> arrays, ObserverState start, int treeDepth) {
        byte[] startBytes = start.toBytes();
        byte[] merged = arrays.mapPartitions(it -> {
            Observer o = ObserverState.fromBytes(startBytes).restore();
            it.forEachRemaining(o::observe);
            return List.of(o.state().toBytes()).iterator();
        }).treeAggregate(startBytes, SparkCalibration::mergeObserverStates, SparkCalibration::mergeObserverStates,
                treeDepth);
        return ObserverState.fromBytes(merged);
    }

    private static byte[] mergeObserverStates(byte[] a, byte[] b) {
        return ObserverState.fromBytes(a).merge(ObserverState.fromBytes(b)).toBytes();
    }

    /** Releases the broadcast model on the executors. */
    @Override
    public void close() {
        recipe.destroy();
    }

    /**
     * Settings of a {@link SparkCalibration}.
     *
     * <pre>{@code
     * SparkCalibration.builder(model, mapping, backend).batchSize(512).exactHistograms(false).build(sc)
     * }</pre>
     */
    public static final class Builder {
        private final Model model;
        private final QConfigMapping mapping;
        private final BackendConfig backend;
        private PrepareCustomConfig options = PrepareCustomConfig.defaults();
        private int batchSize = 256;
        private boolean exactHistograms = true;
        private int treeDepth = 2;

        private Builder(Model model, QConfigMapping mapping, BackendConfig backend) {
            this.model = Objects.requireNonNull(model, "model");
            this.mapping = Objects.requireNonNull(mapping, "mapping");
            this.backend = Objects.requireNonNull(backend, "backend");
        }

        /** Rows per calibration batch within a partition (default 256). */
        public Builder batchSize(int rows) {
            if (rows < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1; got " + rows);
            }
            this.batchSize = rows;
            return this;
        }

        /**
         * Whether histogram observers take the exact second pass (default true); false merges the first pass's
         * histograms by re-binning, one pass, qparams close to but not equal to one JVM's.
         */
        public Builder exactHistograms(boolean exact) {
            this.exactHistograms = exact;
            return this;
        }

        /** Depth of the {@code treeAggregate} that merges the partitions' states (default 2). */
        public Builder treeDepth(int depth) {
            if (depth < 1) {
                throw new IllegalArgumentException("treeDepth must be >= 1; got " + depth);
            }
            this.treeDepth = depth;
            return this;
        }

        public Builder options(PrepareCustomConfig prepareOptions) {
            this.options = Objects.requireNonNull(prepareOptions, "prepareOptions");
            return this;
        }

        /** Prepares the driver's model and broadcasts the fp32 model and configs once. */
        public SparkCalibration build(JavaSparkContext sc) {
            return new SparkCalibration(Objects.requireNonNull(sc, "sc"), this);
        }
    }
}
