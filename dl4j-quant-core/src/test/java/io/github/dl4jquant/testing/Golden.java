package io.github.dl4jquant.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Reads the PyTorch golden files from {@code src/test/resources/golden} (copies of {@code ../shared/golden}, so that
 * the build needs nothing outside the repository).
 */
public final class Golden {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private Golden() {
    }

    public static JsonNode load(String file) {
        try (InputStream in = Golden.class.getResourceAsStream("/golden/" + file)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource golden/" + file);
            }
            return MAPPER.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static float[] floats(JsonNode list) {
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) list.get(i).asDouble();
        }
        return out;
    }

    public static int[] ints(JsonNode list) {
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i).asInt();
        }
        return out;
    }

    /** A nested JSON list of rows, flattened row by row. */
    public static float[] flatFloats(JsonNode rows) {
        float[] out = new float[rows.size() * rows.get(0).size()];
        int k = 0;
        for (JsonNode r : rows) {
            for (JsonNode v : r) {
                out[k++] = (float) v.asDouble();
            }
        }
        return out;
    }

    /** A nested JSON list of rows as {@code float[rows][cols]}. */
    public static float[][] floatRows(JsonNode rows) {
        float[][] m = new float[rows.size()][];
        for (int r = 0; r < m.length; r++) {
            m[r] = floats(rows.get(r));
        }
        return m;
    }

    /** A nested JSON list of any depth (a tensor, row-major) as a FLOAT array of that shape. */
    public static INDArray tensor(JsonNode nested) {
        java.util.List<Long> shape = new java.util.ArrayList<>();
        for (JsonNode n = nested; n.isArray(); n = n.get(0)) {
            shape.add((long) n.size());
        }
        float[] flat = new float[(int) shape.stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b)];
        int[] next = {0};
        flatten(nested, flat, next);
        return Nd4j.createFromArray(flat).reshape('c', shape.stream().mapToLong(Long::longValue).toArray());
    }

    private static void flatten(JsonNode n, float[] out, int[] next) {
        if (n.isArray()) {
            for (JsonNode c : n) {
                flatten(c, out, next);
            }
        } else {
            out[next[0]++] = (float) n.asDouble();
        }
    }

    /** A nested JSON list of rows as a 2-D FLOAT array. */
    public static INDArray matrix(JsonNode rows) {
        return Nd4j.createFromArray(floatRows(rows));
    }
}
