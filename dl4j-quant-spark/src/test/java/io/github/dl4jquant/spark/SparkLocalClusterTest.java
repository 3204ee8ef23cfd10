package io.github.dl4jquant.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.evaluation.classification.Evaluation;
import scala.Tuple2;

/**
 * The same checks across processes: Spark's {@code local-cluster[2,1,1536]} starts a master, a worker and two
 * executor JVMs, so broadcasts, closures and observer states really cross process boundaries. Spark's worker launches
 * the executors from a Spark home: this test makes {@code target/spark-home} from the test class path (a {@code jars}
 * folder and the {@code RELEASE} marker a distribution has) and hands it over as Spark's own tests do ({@code
 * spark.testing}, {@code spark.test.home}). The module's {@code local-cluster} surefire execution gives it a JVM of
 * its own: one SparkContext per JVM.
 */
class SparkLocalClusterTest {
    private static final int PARTITIONS = 8;
    private static final int BATCH = 250;
    private static JavaSparkContext sc;

    @BeforeAll
    static void startCluster() {
        String classPath = System.getProperty("java.class.path");
        System.setProperty("spark.testing", "true");
        System.setProperty("spark.test.home", makeSparkHome(classPath).toString());
        String jvmArgs = "-Dorg.bytedeco.javacpp.platform.extension="
                + System.getProperty("org.bytedeco.javacpp.platform.extension", "-onednn-avx2");
        sc = new JavaSparkContext(new SparkConf().setMaster("local-cluster[2,1,1536]")
                .setAppName("dl4j-quant-spark-local-cluster")
                .set("spark.ui.enabled", "false")
                .set("spark.driver.host", "127.0.0.1")
                .set("spark.executor.extraClassPath", classPath)
                .set("spark.executor.extraJavaOptions", jvmArgs)
                .set("spark.executorEnv.OMP_NUM_THREADS", "1")
                // the launcher reads the Scala version of the jars from here when no build directories exist
                .set("spark.executorEnv.SPARK_SCALA_VERSION", "2.12"));
    }

    @AfterAll
    static void stopCluster() {
        if (sc != null) {
            sc.stop();
        }
    }

    private static Path makeSparkHome(String classPath) {
        Path home = Path.of("target", "spark-home").toAbsolutePath();
        try {
            Path jars = Files.createDirectories(home.resolve("jars"));
            for (String entry : classPath.split(File.pathSeparator)) {
                Path p = Path.of(entry);
                if (entry.endsWith(".jar") && Files.isRegularFile(p) && !Files.exists(jars.resolve(p.getFileName()),
                        java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.createSymbolicLink(jars.resolve(p.getFileName()), p.toAbsolutePath());
                }
            }
            if (!Files.exists(home.resolve("RELEASE"))) {
                Files.createFile(home.resolve("RELEASE"));
            }
            return home;
        } catch (IOException e) {
            throw new UncheckedIOException("Could not make the Spark home " + home + " for local-cluster", e);
        }
    }

    @Test
    void twoExecutorJvmsCalibrateScoreAndEvaluateAsOneJvm() {
        FashionFixture f = FashionFixture.get();
        QConfig x86 = QConfigs.getDefaultQConfigMapping("x86").resolve("d1", DenseLayer.class, 0).qconfig();
        QConfigMapping minMax = new QConfigMapping()
                .setGlobal(new QConfig(MinMaxObserver.builder().reduceRange(true), x86.weight()));
        PreparedModel single = Quantizer.prepare(f.fp32, minMax, BackendConfigs.getX86BackendConfig())
                .calibrate(FashionMnist.iterator(f.calibration, BATCH));
        try (SparkCalibration spark = SparkCalibration.builder(f.fp32, minMax, BackendConfigs.getX86BackendConfig())
                .batchSize(BATCH).build(sc)) {
            spark.calibrate(sc.parallelize(FashionFixture.chunks(f.calibration, BATCH), PARTITIONS));
            assertEquals(single.calibrationState(), spark.prepared().calibrationState());
        }
        try (SparkCalibration spark = SparkCalibration.builder(f.fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()).batchSize(BATCH).build(sc)) {
            spark.calibrate(sc.parallelize(FashionFixture.chunks(f.calibration, BATCH), PARTITIONS));
            assertEquals(FashionFixture.twoPassSingleJvm(f.fp32, QConfigs.getDefaultQConfigMapping("x86"),
                    f.calibration, BATCH).calibrationState().observers(),
                    spark.prepared().calibrationState().observers());
        }
        assertEquals(2, sc.sc().getExecutorIds().size(), "two executor JVMs");

        float[][] x = f.test.getFeatures().toFloatMatrix();
        float[][] expected = f.int8.outputSingle(f.test.getFeatures()).toFloatMatrix();
        List<Tuple2<Long, float[]>> rows = new ArrayList<>();
        for (int i = 0; i < x.length; i++) {
            rows.add(new Tuple2<>((long) i, x[i]));
        }
        try (SparkInference inference = SparkInference.of(sc, f.int8, 64)) {
            Map<Long, float[]> scored = inference.output(sc.parallelizePairs(rows, PARTITIONS)).collectAsMap();
            for (int i = 0; i < x.length; i++) {
                assertArrayEquals(expected[i], scored.get((long) i), "row " + i);
            }
            Evaluation local = f.int8.evaluate(FashionMnist.iterator(f.test, 100));
            Evaluation distributed = inference.evaluate(sc.parallelize(FashionFixture.chunks(f.test, 100),
                    PARTITIONS)).evaluation();
            assertEquals(local.stats(), distributed.stats());
        }
    }
}
