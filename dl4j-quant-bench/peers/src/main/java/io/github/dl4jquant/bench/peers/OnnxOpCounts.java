package io.github.dl4jquant.bench.peers;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The op types of an .onnx file's main graph and how often each occurs, read straight from the protobuf wire format
 * (ModelProto.graph = field 7, GraphProto.node = 1, NodeProto.op_type = 4, NodeProto.domain = 7), since no ONNX
 * library for Java is on the classpath. Ops outside the default domain are keyed "domain:op_type", e.g.
 * "com.microsoft:QGemm"; subgraphs in attributes are not visited (these models have none).
 */
final class OnnxOpCounts {
    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_NODE = 1;
    private static final int NODE_OP_TYPE = 4;
    private static final int NODE_DOMAIN = 7;

    private OnnxOpCounts() {
    }

    static Map<String, Integer> of(Path onnxFile) throws IOException {
        ByteBuffer model = ByteBuffer.wrap(Files.readAllBytes(onnxFile));
        Map<String, Integer> counts = new TreeMap<>();
        ByteBuffer graph = field(model, MODEL_GRAPH);
        if (graph == null) {
            throw new IOException(onnxFile + " has no graph (ModelProto field 7): not an ONNX model?");
        }
        while (graph.hasRemaining()) {
            long tag = varint(graph);
            if (tag >>> 3 == GRAPH_NODE && (tag & 7) == 2) {
                counts.merge(opType(lengthDelimited(graph)), 1, Integer::sum);
            } else {
                skip(graph, (int) (tag & 7));
            }
        }
        return counts;
    }

    private static String opType(ByteBuffer node) {
        String op = "?";
        String domain = "";
        while (node.hasRemaining()) {
            long tag = varint(node);
            int number = (int) (tag >>> 3);
            if ((tag & 7) == 2 && (number == NODE_OP_TYPE || number == NODE_DOMAIN)) {
                String s = utf8(lengthDelimited(node));
                if (number == NODE_OP_TYPE) {
                    op = s;
                } else {
                    domain = s;
                }
            } else {
                skip(node, (int) (tag & 7));
            }
        }
        return domain.isEmpty() || domain.equals("ai.onnx") ? op : domain + ":" + op;
    }

    /** The first length-delimited field {@code number} of the message, or null. */
    private static ByteBuffer field(ByteBuffer message, int number) {
        while (message.hasRemaining()) {
            long tag = varint(message);
            if (tag >>> 3 == number && (tag & 7) == 2) {
                return lengthDelimited(message);
            }
            skip(message, (int) (tag & 7));
        }
        return null;
    }

    private static ByteBuffer lengthDelimited(ByteBuffer b) {
        int length = Math.toIntExact(varint(b));
        ByteBuffer slice = b.slice(b.position(), length);
        b.position(b.position() + length);
        return slice;
    }

    private static void skip(ByteBuffer b, int wireType) {
        switch (wireType) {
            case 0 -> varint(b);
            case 1 -> b.position(b.position() + 8);
            case 2 -> lengthDelimited(b);
            case 5 -> b.position(b.position() + 4);
            default -> throw new IllegalArgumentException("protobuf wire type " + wireType + " at byte "
                    + b.position() + ": groups are not used by ONNX; the file is corrupt");
        }
    }

    private static long varint(ByteBuffer b) {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte x = b.get();
            value |= (long) (x & 0x7f) << shift;
            if (x >= 0) {
                return value;
            }
        }
        throw new IllegalArgumentException("protobuf varint longer than 10 bytes at byte " + b.position());
    }

    private static String utf8(ByteBuffer b) {
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
    }
}
