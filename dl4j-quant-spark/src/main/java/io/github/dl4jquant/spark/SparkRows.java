package io.github.dl4jquant.spark;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructType;

/** Reading feature vectors and labels out of Spark SQL rows, with messages that name the column. */
final class SparkRows {
    private SparkRows() {
    }

    /**
     * The index of {@code column}, which must hold arrays of numbers (a feature vector).
     *
     * @throws IllegalArgumentException naming the column and its type otherwise
     */
    static int featureColumn(StructType schema, String column) {
        int i = columnIndex(schema, column);
        DataType t = schema.fields()[i].dataType();
        if (!(t instanceof ArrayType) || !(((ArrayType) t).elementType() instanceof NumericType)) {
            throw new IllegalArgumentException("Column '" + column + "' must hold feature vectors as arrays of "
                    + "numbers (array<float> or array<double>); it is " + t.simpleString()
                    + ". Convert it first, e.g. with pyspark.ml.functions.vector_to_array / "
                    + "org.apache.spark.ml.functions.vector_to_array for ML vectors");
        }
        return i;
    }

    /** The index of {@code column}, which must hold a class index (any integral or floating type) or an array. */
    static int labelColumn(StructType schema, String column) {
        int i = columnIndex(schema, column);
        DataType t = schema.fields()[i].dataType();
        boolean numeric = t instanceof NumericType;
        boolean vector = t instanceof ArrayType && ((ArrayType) t).elementType() instanceof NumericType;
        if (!numeric && !vector) {
            throw new IllegalArgumentException("Column '" + column + "' must hold labels as a class index (a number) "
                    + "or a one-hot array of numbers; it is " + t.simpleString());
        }
        return i;
    }

    private static int columnIndex(StructType schema, String column) {
        List<String> names = Arrays.asList(schema.fieldNames());
        int i = names.indexOf(column);
        if (i < 0) {
            throw new IllegalArgumentException("No column '" + column + "' in the Dataset; its columns are " + names);
        }
        return i;
    }

    /** The feature vector in column {@code index} of {@code row}. */
    static float[] features(Row row, int index) {
        if (row.isNullAt(index)) {
            throw new IllegalArgumentException("Row " + row + " has no feature vector (null in column " + index
                    + ")");
        }
        List<Object> values = row.getList(index);
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = values.get(i);
            if (v == null) {
                throw new IllegalArgumentException("Feature " + i + " of row " + row + " is null");
            }
            out[i] = ((Number) v).floatValue();
        }
        return out;
    }

    /** The label in column {@code index} of {@code row} as a one-hot (or given) vector of {@code classes} entries. */
    static float[] label(Row row, int index, int classes) {
        Object v = row.get(index);
        if (v instanceof Number) {
            int c = ((Number) v).intValue();
            if (c < 0 || c >= classes || c != ((Number) v).doubleValue()) {
                throw new IllegalArgumentException("Label " + v + " of row " + row + " is not a class index in [0, "
                        + classes + ")");
            }
            float[] oneHot = new float[classes];
            oneHot[c] = 1f;
            return oneHot;
        }
        float[] given = features(row, index);
        if (given.length != classes) {
            throw new IllegalArgumentException("Label vector of row " + row + " has " + given.length + " entries; the "
                    + "model has " + classes + " outputs");
        }
        return given;
    }

    /** The type of an output column: the model's float outputs per row. */
    static DataType outputType() {
        return DataTypes.createArrayType(DataTypes.FloatType, false);
    }
}
