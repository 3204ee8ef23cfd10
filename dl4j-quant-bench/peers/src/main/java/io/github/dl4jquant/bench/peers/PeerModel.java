package io.github.dl4jquant.bench.peers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A benchmark network as dl4j-quant-bench's {@code PeerModelExport} wrote it: its nodes in topological order, with
 * their weights, the timed input rows, the calibration rows and DL4J's fp32 output on the first input rows (see
 * PeerModelExport for the manifest's fields).
 *
 * <pre>{@code
 * PeerModel mlp = PeerModel.load("mlp");                 // dl4j-quant-bench/target/peer-models/mlp
 * PeerModel.Tensor x = mlp.input().rows(32);             // the rows our benchmarks time at batch 32
 * for (JsonNode node : mlp.nodes()) { ... node.get("op") ... mlp.tensor(node.get("weight")) ... }
 * }</pre>
 */
public final class PeerModel {
    /** Where run-benchmarks.sh has PeerModelExport write; {@code -Dpeer.models=...} overrides it. */
    public static final String DEFAULT_DIR = "dl4j-quant-bench/target/peer-models";

    /** A float32 tensor, C order. */
    public record Tensor(long[] shape, float[] data) {
        /** The first {@code rows} rows (along dimension 0). */
        public Tensor rows(int rows) {
            long[] s = shape.clone();
            s[0] = rows;
            return new Tensor(s, Arrays.copyOf(data, Math.toIntExact(data.length / shape[0] * rows)));
        }
    }

    private final Path dir;
    private final JsonNode manifest;

    private PeerModel(Path dir, JsonNode manifest) {
        this.dir = dir;
        this.manifest = manifest;
    }

    /** The exported model {@code name} under {@code -Dpeer.models} (default {@link #DEFAULT_DIR}). */
    public static PeerModel load(String name) {
        Path dir = Path.of(System.getProperty("peer.models", DEFAULT_DIR)).resolve(name);
        Path manifest = dir.resolve("manifest.json");
        if (!Files.isRegularFile(manifest)) {
            throw new IllegalArgumentException("No exported model '" + name + "' at " + manifest.toAbsolutePath()
                    + ": run io.github.dl4jquant.bench.PeerModelExport (dl4j-quant-bench) first, or set -Dpeer.models");
        }
        try {
            return new PeerModel(dir, new ObjectMapper().readTree(manifest.toFile()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String name() {
        return manifest.get("model").asText();
    }

    public Path dir() {
        return dir;
    }

    /** One example's shape: [784], [4096] or [3, 32, 32]. */
    public long[] exampleShape() {
        return longs(manifest.get("exampleShape"));
    }

    /** The nodes in topological order; each has "name", "op", "inputs" and the op's fields. */
    public List<JsonNode> nodes() {
        List<JsonNode> nodes = new ArrayList<>();
        manifest.get("nodes").forEach(nodes::add);
        return nodes;
    }

    /** The name of the node whose output is the network's. */
    public String output() {
        return manifest.get("output").asText();
    }

    /** 256 rows of the timed input. */
    public Tensor input() {
        return tensor(manifest.get("input"));
    }

    /** The rows our int8 model was calibrated on. */
    public Tensor calibration() {
        return tensor(manifest.get("calibration"));
    }

    /** DL4J's fp32 output on the first rows of {@link #input()}. */
    public Tensor expectedOutput() {
        return tensor(manifest.get("expectedOutput"));
    }

    /** The tensor a manifest entry ({"file", "shape"}) names, e.g. {@code tensor(node.get("weight"))}. */
    public Tensor tensor(JsonNode entry) {
        long[] shape = longs(entry.get("shape"));
        try {
            ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(dir.resolve(entry.get("file").asText())))
                    .order(ByteOrder.LITTLE_ENDIAN);
            float[] data = new float[bytes.remaining() / 4];
            bytes.asFloatBuffer().get(data);
            if (data.length != Arrays.stream(shape).reduce(1, (a, b) -> a * b)) {
                throw new IllegalArgumentException(entry + " in " + dir + " holds " + data.length
                        + " floats, not " + Arrays.toString(shape) + ": export the model again");
            }
            return new Tensor(shape, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static long[] longs(JsonNode array) {
        long[] v = new long[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).asLong();
        }
        return v;
    }
}
