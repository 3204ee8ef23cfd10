package io.github.dl4jquant.backendconfig;

/**
 * Where observers go around a matched pattern, as PyTorch's {@code ObservationType}.
 *
 * <p>The graph preparer reads this from the {@link BackendPatternConfig} that matched a group of vertices:
 * <pre>{@code
 * new BackendPatternConfig(Pattern.of(MergeVertex.class))
 *     .setObservationType(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT)
 *     .addDtypeConfig(DTypeConfigs.DEFAULT_OP_QUINT8);
 * }</pre>
 */
public enum ObservationType {
    /**
     * The output gets its own observer, separate from the observer of the input, both created from the QConfig's
     * activation factory. Used by ops whose output range differs from their input range: dense and output layers,
     * element-wise vertices, sigmoid/tanh/softmax. PyTorch's default.
     */
    OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT,
    /**
     * The output reuses the very observer instance of the input, so input and output end up with the same scale and
     * zero point. Used by ops that only select or reorder values (ReLU, concatenation through {@code MergeVertex}),
     * where requantising would only add error. If the input is not observed in the graph, no output observer is added.
     */
    OUTPUT_SHARE_OBSERVER_WITH_INPUT,
    /**
     * Neither input nor output is observed: the op does not produce tensor values that need quantization
     * (PyTorch's {@code x.shape}, {@code x.size()}).
     */
    INPUT_OUTPUT_NOT_OBSERVED
}
