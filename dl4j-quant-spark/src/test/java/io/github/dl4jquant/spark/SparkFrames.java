package io.github.dl4jquant.spark;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.nd4j.linalg.dataset.DataSet;

/** Test DataFrames: one row per example with its index, class label and feature vector. */
final class SparkFrames {
    static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.LongType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("features", DataTypes.createArrayType(DataTypes.FloatType, false), false);

    private SparkFrames() {
    }

    static Dataset<Row> features(DataSet data, int partitions) {
        float[][] x = data.getFeatures().toFloatMatrix();
        int[] labels = data.getLabels().argMax(1).toIntVector();
        List<Row> rows = new ArrayList<>(x.length);
        for (int i = 0; i < x.length; i++) {
            rows.add(RowFactory.create((long) i, labels[i], x[i]));
        }
        // parallelize keeps the order: partition p holds a contiguous run of rows
        return SparkTestContext.session().createDataFrame(SparkTestContext.sc().parallelize(rows, partitions), SCHEMA);
    }
}
