package io.github.dl4jquant.bench.peers;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Whether ONNX Runtime runs the network DL4J runs: its output on the first rows of the timed input against
 * {@link PeerModel#expectedOutput()} (DL4J's fp32). fp32 within 1e-4 (max abs); int8, being quantized, within a loose
 * bound: max abs difference below 0.05 where the network ends in a softmax, relative L2 error below 10% otherwise
 * (dense4096's identity output, dense784x512's relu output).
 */
final class OrtOutputCheck {
    static final double FP32_MAX_ABS = 1e-4;
    static final double INT8_SOFTMAX_MAX_ABS = 0.05;
    static final double INT8_RELATIVE_L2 = 0.10;

    private OrtOutputCheck() {
    }

    /** Throws, naming model, variant, the measured error and its bound, when {@code actual} is not close enough. */
    static void check(PeerModel model, String variant, float[] actual) {
        float[] expected = model.expectedOutput().data();
        if (actual.length != expected.length) {
            throw new IllegalStateException("ONNX Runtime " + model.name() + " " + variant + ": " + actual.length
                    + " output values on the checked rows, DL4J has " + expected.length
                    + ": the .onnx file is not this manifest's network; run build_onnx_models.py again");
        }
        double maxAbs = maxAbs(expected, actual);
        double relL2 = relativeL2(expected, actual);
        boolean ok;
        String bound;
        if (variant.equals("fp32")) {
            ok = maxAbs <= FP32_MAX_ABS;
            bound = "max abs " + maxAbs + " <= " + FP32_MAX_ABS;
        } else if (endsInSoftmax(model)) {
            ok = maxAbs < INT8_SOFTMAX_MAX_ABS;
            bound = "max abs " + maxAbs + " < " + INT8_SOFTMAX_MAX_ABS;
        } else {
            ok = relL2 < INT8_RELATIVE_L2;
            bound = "relative L2 " + relL2 + " < " + INT8_RELATIVE_L2;
        }
        if (!ok) {
            throw new IllegalStateException("ONNX Runtime " + model.name() + " " + variant + " disagrees with DL4J's "
                    + "fp32 output: needed " + bound + " (max abs " + maxAbs + ", relative L2 " + relL2 + "). "
                    + "Rebuild the .onnx files with build_onnx_models.py from the current export");
        }
    }

    static boolean endsInSoftmax(PeerModel model) {
        for (JsonNode n : model.nodes()) {
            if (n.get("name").asText().equals(model.output())) {
                return n.has("activation") && n.get("activation").asText().equals("softmax");
            }
        }
        return false;
    }

    static double maxAbs(float[] expected, float[] actual) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs((double) expected[i] - actual[i]));
        }
        return max;
    }

    static double relativeL2(float[] expected, float[] actual) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = (double) expected[i] - actual[i];
            diff += d * d;
            norm += (double) expected[i] * expected[i];
        }
        return Math.sqrt(diff / Math.max(norm, Double.MIN_NORMAL));
    }
}
