package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.QuantDType.FLOAT32;
import static io.github.dl4jquant.QuantDType.QINT8;
import static io.github.dl4jquant.QuantDType.QUINT4X2;
import static io.github.dl4jquant.QuantDType.QUINT8;

/**
 * PyTorch's catalogue of {@link DTypeConfig}s and fixed-qparams constraints, under PyTorch's names, for building
 * custom backend configs that agree with the predefined ones in {@link BackendConfigs}.
 *
 * <pre>{@code
 * new BackendPatternConfig(DenseLayer.class)
 *     .addDtypeConfig(DTypeConfigs.WEIGHTED_OP_QUINT8)
 *     .addDtypeConfig(DTypeConfigs.DEFAULT_DYNAMIC_INT8);
 * }</pre>
 */
public final class DTypeConfigs {

    /** PyTorch's xnnpack lower threshold for requantization scales: {@code 2^-12}. */
    public static final double QNNPACK_SCALE_MIN = 0x1.0p-12;

    /** Static int8 for ops with weights: quint8 in and out, qint8 weight, float bias. */
    public static final DTypeConfig WEIGHTED_OP_QUINT8 = new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32);

    /** Static quint8 for ops without weights (concatenation, ReLU, sigmoid, ...). */
    public static final DTypeConfig DEFAULT_OP_QUINT8 = new DTypeConfig(QUINT8, QUINT8, null, null);

    /** Dynamic int8: input quantized to quint8 per batch, float output, qint8 weight, float bias. */
    public static final DTypeConfig DEFAULT_DYNAMIC_INT8 = new DTypeConfig(QUINT8, FLOAT32, QINT8, FLOAT32, true);

    /** Weight-only 8-bit (embeddings): float in and out, quint8 weight rows with float qparams. */
    public static final DTypeConfig WEIGHT_ONLY_QUINT8 = new DTypeConfig(FLOAT32, FLOAT32, QUINT8, null);

    /** Weight-only 4-bit (embeddings): float in and out, quint4x2 weight rows with float qparams. */
    public static final DTypeConfig WEIGHT_ONLY_QUINT4X2 = new DTypeConfig(FLOAT32, FLOAT32, QUINT4X2, null);

    /** qnnpack/xnnpack activations: qint8 with scale at least {@code 2^-12}. */
    public static final DTypeWithConstraints QNNPACK_ACT_QINT8_SCALE_MIN_2_NEG_12 =
            DTypeWithConstraints.builder(QINT8).scaleMinLowerBound(QNNPACK_SCALE_MIN).build();

    /** qnnpack/xnnpack weights: qint8 restricted to [-127, 127] (no -128), scale at least {@code 2^-12}. */
    public static final DTypeWithConstraints QNNPACK_WEIGHT_QINT8_NEG_127_TO_127_SCALE_MIN_2_NEG_12 =
            DTypeWithConstraints.builder(QINT8).quantMinLowerBound(-127).quantMaxUpperBound(127)
                    .scaleMinLowerBound(QNNPACK_SCALE_MIN).build();

    /** qnnpack's symmetric qint8 variant for ops with weights. */
    public static final DTypeConfig QNNPACK_WEIGHTED_OP_QINT8_SYMMETRIC = DTypeConfig.builder()
            .inputDtype(QNNPACK_ACT_QINT8_SCALE_MIN_2_NEG_12)
            .outputDtype(QNNPACK_ACT_QINT8_SCALE_MIN_2_NEG_12)
            .weightDtype(QNNPACK_WEIGHT_QINT8_NEG_127_TO_127_SCALE_MIN_2_NEG_12)
            .biasDtype(FLOAT32)
            .build();

    /** qnnpack's symmetric qint8 variant for ops without weights. */
    public static final DTypeConfig QNNPACK_DEFAULT_OP_QINT8_SYMMETRIC = DTypeConfig.builder()
            .inputDtype(QNNPACK_ACT_QINT8_SCALE_MIN_2_NEG_12)
            .outputDtype(QNNPACK_ACT_QINT8_SCALE_MIN_2_NEG_12)
            .build();

    /** Outputs in [0, 1] (sigmoid, hard sigmoid, softmax): quint8, scale exactly 1/256, zero point 0. */
    public static final DTypeWithConstraints FIXED_QPARAMS_0TO1 = fixed(1.0 / 256.0, 0);

    /** Outputs in [-1, 1] (tanh): quint8, scale exactly 2/256, zero point 128. */
    public static final DTypeWithConstraints FIXED_QPARAMS_NEG1TO1 = fixed(2.0 / 256.0, 128);

    private DTypeConfigs() {
    }

    private static DTypeWithConstraints fixed(double scale, int zeroPoint) {
        return DTypeWithConstraints.builder(QUINT8).quantMinLowerBound(0).quantMaxUpperBound(255)
                .scaleExactMatch(scale).zeroPointExactMatch(zeroPoint).build();
    }

    /**
     * {@code config} with its output pinned to {@code fixedOutput} when the output is quint8 (as PyTorch's
     * {@code _add_fixed_qparams_to_dtype_configs}, which leaves qint8 and float outputs alone). The input stays
     * unconstrained: it is whatever the previous op produced.
     */
    public static DTypeConfig withFixedOutput(DTypeConfig config, DTypeWithConstraints fixedOutput) {
        if (config.getOutputDtype() != QUINT8) {
            return config;
        }
        return config.toBuilder().outputDtype(fixedOutput).build();
    }
}
