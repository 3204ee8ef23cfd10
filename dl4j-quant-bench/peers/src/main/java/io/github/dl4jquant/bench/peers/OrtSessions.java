package io.github.dl4jquant.bench.peers;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.OrtSession.SessionOptions.ExecutionMode;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime sessions on the models {@code build_onnx_models.py} writes next to a {@link PeerModel}'s manifest
 * ({@code fp32.onnx}, {@code int8.onnx}), configured the same way for the benchmark and for {@link OrtKernelCheck}:
 * CPU execution provider, graph optimization level ALL (what fuses the QDQ groups into QLinearConv, QGemm, ...),
 * {@code threads} intra-op threads (ORT counts the calling thread among them), one inter-op thread and sequential
 * execution. Everything else is ORT's default (thread spinning on, memory arena and memory patterns on).
 */
final class OrtSessions {
    static final List<String> VARIANTS = List.of("fp32", "int8");

    private OrtSessions() {
    }

    /** The variant's model file, with the fix named when it is missing. */
    static Path modelFile(PeerModel model, String variant) {
        if (!VARIANTS.contains(variant)) {
            throw new IllegalArgumentException("ONNX Runtime variant '" + variant + "': expected one of " + VARIANTS);
        }
        Path file = model.dir().resolve(variant + ".onnx");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("No " + file.toAbsolutePath() + ": run /usr/bin/python3 "
                    + "dl4j-quant-bench/python/build_onnx_models.py " + model.dir().getParent() + " " + model.name());
        }
        return file;
    }

    /** A session on the variant; {@code optimizedModel}, when not null, receives ORT's optimized graph. */
    static OrtSession open(PeerModel model, String variant, int threads, Path optimizedModel) throws OrtException {
        if (threads < 1) {
            throw new IllegalArgumentException("ONNX Runtime intra-op threads: " + threads + ", expected >= 1");
        }
        try (SessionOptions options = new SessionOptions()) {
            options.setOptimizationLevel(OptLevel.ALL_OPT);
            options.setExecutionMode(ExecutionMode.SEQUENTIAL);
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            if (optimizedModel != null) {
                options.setOptimizedModelFilePath(optimizedModel.toString());
            }
            return OrtEnvironment.getEnvironment().createSession(modelFile(model, variant).toString(), options);
        }
    }

    /** The session's output on {@code rows} (outside the timed path: it copies the rows into a direct buffer). */
    static float[] run(OrtSession session, PeerModel.Tensor rows) throws OrtException {
        String inputName = session.getInputNames().iterator().next();
        try (OnnxTensor x = OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), directBuffer(rows.data()),
                rows.shape());
                OrtSession.Result result = session.run(Map.of(inputName, x))) {
            FloatBuffer out = ((OnnxTensor) result.get(0)).getFloatBuffer();
            float[] values = new float[out.remaining()];
            out.get(values);
            return values;
        }
    }

    /** The rows PeerModel.expectedOutput() holds DL4J's output for. */
    static PeerModel.Tensor checkedRows(PeerModel model) {
        return model.input().rows(Math.toIntExact(model.expectedOutput().shape()[0]));
    }

    /** A native-order direct buffer, which OnnxTensor.createTensor wraps without copying. */
    static FloatBuffer directBuffer(float[] values) {
        FloatBuffer b = ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        b.put(values).rewind();
        return b;
    }
}
