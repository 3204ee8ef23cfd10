package io.github.dl4jquant.spark;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * The one local Spark session of the test JVM, started on first use (a few seconds) and stopped at exit:
 * {@code local[2]}, two task threads in this JVM, the UI off.
 */
final class SparkTestContext {
    private static SparkSession session;

    private SparkTestContext() {
    }

    static synchronized SparkSession session() {
        if (session == null) {
            session = SparkSession.builder().master("local[2]").appName("dl4j-quant-spark-tests")
                    .config("spark.ui.enabled", "false")
                    .config("spark.driver.host", "127.0.0.1")
                    .config("spark.sql.shuffle.partitions", "2")
                    .getOrCreate();
            Runtime.getRuntime().addShutdownHook(new Thread(session::stop));
        }
        return session;
    }

    static JavaSparkContext sc() {
        return JavaSparkContext.fromSparkContext(session().sparkContext());
    }
}
