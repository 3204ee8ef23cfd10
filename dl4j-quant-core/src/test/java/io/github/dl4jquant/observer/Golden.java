package io.github.dl4jquant.observer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Reads the PyTorch golden files from {@code src/test/resources/golden}. */
final class Golden {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private Golden() {
    }

    static JsonNode load(String file) {
        try (InputStream in = Golden.class.getResourceAsStream("/golden/" + file)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource golden/" + file);
            }
            return MAPPER.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static float[] floats(JsonNode list) {
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) list.get(i).asDouble();
        }
        return out;
    }

    static int[] ints(JsonNode list) {
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i).asInt();
        }
        return out;
    }

    /** A nested JSON list of rows as a 2-D FLOAT array. */
    static INDArray matrix(JsonNode rows) {
        float[][] m = new float[rows.size()][];
        for (int r = 0; r < m.length; r++) {
            m[r] = floats(rows.get(r));
        }
        return Nd4j.createFromArray(m);
    }
}
