package io.github.dl4jquant.bench.peers;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which kernels ONNX Runtime runs for each model and variant: opens the session as {@link OnnxRuntimeBenchmark}
 * does (optimization level ALL, one thread), has ORT write its optimized graph next to the model
 * ({@code ort-optimized-<variant>.onnx}) and prints that graph's op-type counts, with the output's distance to DL4J's
 * on the checked rows (and OrtOutputCheck's verdict). For int8 it fails (exit status 1)
 * when a float Conv / Gemm / MatMul (plain, fused or NCHWc) is left, i.e. when ORT did not fuse a QDQ group
 * (DequantizeLinear -> Gemm) into its integer kernel. The optimized graph is ORT's for this CPU: the NCHWc layout of
 * the fp32 convolutions depends on the vector width.
 *
 * <pre>{@code
 * java -cp dl4j-quant-bench/peers/target/classes:$(cat /tmp/ort-cp.txt) \
 *     io.github.dl4jquant.bench.peers.OrtKernelCheck [model ...]
 * }</pre>
 */
public final class OrtKernelCheck {
    static final List<String> MODELS = List.of("dense784x512", "dense4096", "mlp", "lenet", "resnet");
    /** Float compute ops that must not survive in an int8 graph. */
    static final Set<String> FLOAT_COMPUTE = Set.of("Conv", "Gemm", "MatMul", "com.microsoft:FusedConv",
            "com.microsoft:FusedGemm", "com.microsoft:FusedMatMul", "com.microsoft.nchwc:Conv");

    private OrtKernelCheck() {
    }

    public static void main(String[] args) throws OrtException, IOException {
        List<String> models = args.length > 0 ? List.of(args) : MODELS;
        // ORT warns at every save that a level-ALL graph (NCHWc) is specific to this CPU: said once above instead
        OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "OrtKernelCheck");
        List<String> unfused = new ArrayList<>();
        for (String name : models) {
            PeerModel model = PeerModel.load(name);
            for (String variant : OrtSessions.VARIANTS) {
                Path optimized = model.dir().resolve("ort-optimized-" + variant + ".onnx");
                float[] out;
                try (OrtSession session = OrtSessions.open(model, variant, 1, optimized)) {
                    out = OrtSessions.run(session, OrtSessions.checkedRows(model)); // graph written at creation
                }
                Map<String, Integer> ops = OnnxOpCounts.of(optimized);
                float[] expected = model.expectedOutput().data();
                System.out.printf("%s %s: %s%n    vs DL4J fp32 on %d rows: max abs %.3g, relative L2 %.3g%n", name,
                        variant, ops, model.expectedOutput().shape()[0], OrtOutputCheck.maxAbs(expected, out),
                        OrtOutputCheck.relativeL2(expected, out));
                OrtOutputCheck.check(model, variant, out);
                if (variant.equals("int8")) {
                    ops.keySet().stream().filter(FLOAT_COMPUTE::contains)
                            .forEach(op -> unfused.add(name + " int8: float " + op + " x" + ops.get(op)));
                }
            }
        }
        if (!unfused.isEmpty()) {
            System.out.println("NOT FUSED into integer kernels: " + unfused);
            System.exit(1);
        }
    }
}
