package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.backendconfig.DTypeConfigs.DEFAULT_DYNAMIC_INT8;
import static io.github.dl4jquant.backendconfig.DTypeConfigs.DEFAULT_OP_QUINT8;
import static io.github.dl4jquant.backendconfig.DTypeConfigs.FIXED_QPARAMS_0TO1;
import static io.github.dl4jquant.backendconfig.DTypeConfigs.FIXED_QPARAMS_NEG1TO1;
import static io.github.dl4jquant.backendconfig.DTypeConfigs.QNNPACK_DEFAULT_OP_QINT8_SYMMETRIC;
import static io.github.dl4jquant.backendconfig.DTypeConfigs.QNNPACK_WEIGHTED_OP_QINT8_SYMMETRIC;
import static io.github.dl4jquant.backendconfig.DTypeConfigs.WEIGHTED_OP_QUINT8;
import static io.github.dl4jquant.backendconfig.DTypeConfigs.WEIGHT_ONLY_QUINT4X2;
import static io.github.dl4jquant.backendconfig.DTypeConfigs.WEIGHT_ONLY_QUINT8;

import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution1D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution2D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDepthwiseConvolution2D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbedding;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbeddingSequence;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Subsampling1DLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling1D;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.ZeroPadding1DLayer;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping1D;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping2D;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.GravesLSTM;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedRecurrent;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.nd4j.linalg.activations.Activation;

/**
 * The predefined backend configs, PyTorch's {@code get_*_backend_config()} translated to DL4J patterns. Each call
 * returns a new, independent config.
 *
 * <p>Every backend has these patterns (observers "different" unless noted):
 * <ul>
 * <li>{@code DenseLayer} (any activation), {@code DenseLayer[RELU]} (PyTorch's LinearReLU), {@code OutputLayer} and
 *     {@code RnnOutputLayer} (a Linear at every time step):
 *     the weighted static int8 dtype configs plus dynamic int8; root module the layer itself.</li>
 * <li>{@code (DenseLayer[IDENTITY], ActivationLayer[RELU])}: fused by {@code fuse_dense_activation} into a
 *     {@code DenseLayer}.</li>
 * <li>{@code DenseLayer}, {@code OutputLayer} and {@code ActivationLayer} with SIGMOID, HARDSIGMOID or SOFTMAX (output
 *     pinned to scale 1/256, zero point 0) or TANH (scale 2/256, zero point 128): PyTorch's fixed-qparams ops, the
 *     constants as exact-match output constraints on quint8 outputs; the input stays unconstrained. Dense and output
 *     layers keep dynamic int8, whose float output needs no pinning.</li>
 * <li>{@code ActivationLayer} with RELU, RELU6, HARDTANH or IDENTITY and {@code MergeVertex} (concatenation): output
 *     shares the input's observer.</li>
 * <li>{@code LSTM}, {@code GravesLSTM}, {@code SimpleRnn}, {@code Bidirectional} and {@code LastTimeStep} (holding
 *     one of them): dynamic int8 only, PyTorch's {@code _get_rnn_op_configs}; the reference module is the layer
 *     class itself with quantize-dequantized weights.</li>
 * <li>{@code ElementWiseVertex} (add, product, ...) and {@code (ElementWiseVertex, ActivationLayer[RELU])}: PyTorch's
 *     binary ops with and without a trailing ReLU.</li>
 * <li>{@code EmbeddingLayer} and {@code EmbeddingSequenceLayer} (any activation): PyTorch's
 *     {@code _get_embedding_op_configs} for nn.Embedding, weight-only quint8 and quint4x2 rows, float in and out
 *     (PyTorch 2.x's onednn lists weight-only qint8 instead, which no quantized embedding of PyTorch accepts:
 *     nnq.Embedding asserts quint8 or quint4x2; so onednn here keeps the list its 1.13 sibling backends share).</li>
 * </ul>
 * Per backend, as PyTorch 2.x: {@code native} and {@code fbgemm} use quint8/quint8/qint8/float for weighted ops and
 * quint8 for the others; {@code x86} also uses the weighted config for element-wise and fixed-qparams ops;
 * {@code qnnpack} lists first a symmetric qint8 variant (scale at least 2^-12, weights in [-127, 127]) and then the
 * quint8 one; {@code onednn} adds (DenseLayer[IDENTITY], ActivationLayer[LEAKYRELU|TANH]) fusions and a
 * {@code DenseLayer[LEAKYRELU]} pattern. The 7-bit activation range of fbgemm/x86 is not encoded here: as in
 * PyTorch, it lives in the default QConfigs ({@code reduce_range}). Float16 configs are left out because no float16
 * kernels exist. Reference quantized modules are not set here.
 * <pre>{@code
 * BackendConfig x86 = BackendConfigs.getX86BackendConfig();
 * BackendConfig same = BackendConfigs.get("x86");
 * Files.writeString(Path.of("x86-backend.json"), x86.toJson());
 * }</pre>
 */
public final class BackendConfigs {

    /** The names accepted by {@link #get(String)}. */
    public static final List<String> NAMES = List.of("native", "fbgemm", "x86", "qnnpack", "onednn");

    private static final Map<String, Supplier<BackendConfig>> BY_NAME = Map.of(
            "native", BackendConfigs::getNativeBackendConfig,
            "fbgemm", BackendConfigs::getFbgemmBackendConfig,
            "x86", BackendConfigs::getX86BackendConfig,
            "qnnpack", BackendConfigs::getQnnpackBackendConfig,
            "onednn", BackendConfigs::getOnednnBackendConfig);

    private static final List<Activation> ZERO_TO_ONE = List.of(Activation.SIGMOID, Activation.HARDSIGMOID,
            Activation.SOFTMAX);
    private static final List<Activation> SHARE_OBSERVER = List.of(Activation.RELU, Activation.RELU6,
            Activation.HARDTANH, Activation.IDENTITY);
    /**
     * PyTorch's share-qparams ops ({@code _get_share_qparams_op_configs}: pooling, padding, flatten, dropout, ...) in
     * DL4J: their output reuses their input's observer. A CnnToFeedForwardPreProcessor flatten belongs to the layer
     * after it, whose input observer sees the unflattened values.
     */
    static final List<Class<?>> SHARE_QPARAMS_LAYERS = List.of(SubsamplingLayer.class, Subsampling1DLayer.class,
            GlobalPoolingLayer.class, ZeroPaddingLayer.class, ZeroPadding1DLayer.class, Cropping2D.class,
            Cropping1D.class, Upsampling2D.class, Upsampling1D.class, DropoutLayer.class);

    private static final List<Class<? extends Layer>> RECURRENT_LAYERS = List.of(LSTM.class, GravesLSTM.class,
            SimpleRnn.class, Bidirectional.class, LastTimeStep.class);

    private static final List<Activation> ONEDNN_EXTRA_FUSIONS = List.of(Activation.LEAKYRELU, Activation.TANH);

    private static final DTypes NATIVE = new DTypes(List.of(WEIGHTED_OP_QUINT8), List.of(DEFAULT_DYNAMIC_INT8),
            List.of(DEFAULT_OP_QUINT8), List.of(DEFAULT_OP_QUINT8), List.of(DEFAULT_OP_QUINT8));
    private static final DTypes X86 = new DTypes(List.of(WEIGHTED_OP_QUINT8), List.of(DEFAULT_DYNAMIC_INT8),
            List.of(DEFAULT_OP_QUINT8), List.of(WEIGHTED_OP_QUINT8), List.of(WEIGHTED_OP_QUINT8));
    private static final DTypes QNNPACK = new DTypes(
            List.of(QNNPACK_WEIGHTED_OP_QINT8_SYMMETRIC, WEIGHTED_OP_QUINT8), List.of(DEFAULT_DYNAMIC_INT8),
            List.of(QNNPACK_DEFAULT_OP_QINT8_SYMMETRIC, DEFAULT_OP_QUINT8),
            List.of(QNNPACK_WEIGHTED_OP_QINT8_SYMMETRIC, WEIGHTED_OP_QUINT8),
            List.of(QNNPACK_WEIGHTED_OP_QINT8_SYMMETRIC, WEIGHTED_OP_QUINT8));

    /** The dtype config lists of one backend, by op group (PyTorch's {@code *_dtype_configs} locals). */
    private record DTypes(List<DTypeConfig> weighted, List<DTypeConfig> dynamic, List<DTypeConfig> defaultOp,
            List<DTypeConfig> binaryOp, List<DTypeConfig> fixedQParamsOp) {

        List<DTypeConfig> dense() {
            List<DTypeConfig> all = new ArrayList<>(weighted);
            all.addAll(dynamic);
            return all;
        }
    }

    private BackendConfigs() {
    }

    /** PyTorch's default backend config (fbgemm/qnnpack kernels), name {@code "native"}. */
    public static BackendConfig getNativeBackendConfig() {
        return common("native", NATIVE);
    }

    /** FBGEMM (server x86); identical patterns and dtypes to native, as in PyTorch. */
    public static BackendConfig getFbgemmBackendConfig() {
        return common("fbgemm", NATIVE);
    }

    /** x86 (PyTorch's default server backend since 2.0); element-wise and fixed-qparams ops use the weighted config. */
    public static BackendConfig getX86BackendConfig() {
        return common("x86", X86);
    }

    /** QNNPACK/XNNPACK (ARM): symmetric qint8 variant with xnnpack's scale and weight-range limits, then quint8. */
    public static BackendConfig getQnnpackBackendConfig() {
        return common("qnnpack", QNNPACK);
    }

    /** oneDNN: native's patterns plus dense + LeakyReLU / Tanh fusions, as PyTorch's onednn config. */
    public static BackendConfig getOnednnBackendConfig() {
        BackendConfig onednn = common("onednn", NATIVE);
        for (Activation act : ONEDNN_EXTRA_FUSIONS) {
            onednn.setBackendPatternConfig(denseActivationFusion(act, NATIVE));
        }
        return onednn.setBackendPatternConfig(rooted(new BackendPatternConfig(
                Pattern.of(DenseLayer.class, Activation.LEAKYRELU)).setDtypeConfigs(NATIVE.dense()),
                DenseLayer.class));
    }

    /**
     * The predefined config by name.
     *
     * @throws IllegalArgumentException naming {@link #NAMES} when {@code backend} is unknown
     */
    public static BackendConfig get(String backend) {
        Supplier<BackendConfig> factory = backend == null ? null : BY_NAME.get(backend);
        if (factory == null) {
            throw new IllegalArgumentException("backend: got '" + backend + "'; accepted: one of " + NAMES);
        }
        return factory.get();
    }

    private static BackendConfig common(String name, DTypes t) {
        BackendConfig backend = dense(name, t);
        for (Class<? extends Layer> conv : FuserMethods.CONVOLUTIONS) {
            backend.setBackendPatternConfigs(convolutionConfigs(conv, t));
        }
        backend.setBackendPatternConfigs(batchNormConfigs(t));
        backend.setBackendPatternConfigs(recurrentConfigs(t));
        backend.setBackendPatternConfigs(embeddingConfigs());
        for (Class<?> op : SHARE_QPARAMS_LAYERS) {
            backend.setBackendPatternConfig(new BackendPatternConfig(op)
                    .setObservationType(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT)
                    .setDtypeConfigs(t.defaultOp()));
        }
        return backend;
    }

    private static BackendConfig dense(String name, DTypes t) {
        BackendConfig backend = new BackendConfig(name)
                .setBackendPatternConfig(rooted(new BackendPatternConfig(DenseLayer.class)
                        .setDtypeConfigs(t.dense()), DenseLayer.class))
                .setBackendPatternConfig(rooted(new BackendPatternConfig(Pattern.of(DenseLayer.class, Activation.RELU))
                        .setDtypeConfigs(t.dense()), DenseLayer.class))
                .setBackendPatternConfig(denseActivationFusion(Activation.RELU, t))
                .setBackendPatternConfig(rooted(new BackendPatternConfig(OutputLayer.class)
                        .setDtypeConfigs(t.dense()), OutputLayer.class))
                .setBackendPatternConfig(rooted(new BackendPatternConfig(RnnOutputLayer.class)
                        .setDtypeConfigs(t.dense()), RnnOutputLayer.class));
        for (Activation act : ZERO_TO_ONE) {
            backend.setBackendPatternConfigs(fixedQParams(act, FIXED_QPARAMS_0TO1, t));
        }
        backend.setBackendPatternConfigs(fixedQParams(Activation.TANH, FIXED_QPARAMS_NEG1TO1, t));
        for (Activation act : SHARE_OBSERVER) {
            backend.setBackendPatternConfig(new BackendPatternConfig(Pattern.of(ActivationLayer.class, act))
                    .setObservationType(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT)
                    .setDtypeConfigs(t.defaultOp()));
        }
        return backend
                .setBackendPatternConfig(new BackendPatternConfig(ElementWiseVertex.class)
                        .setDtypeConfigs(t.binaryOp()))
                .setBackendPatternConfig(new BackendPatternConfig(Pattern.sequence(
                        PatternElement.of(ElementWiseVertex.class),
                        PatternElement.of(ActivationLayer.class, Activation.RELU)))
                        .setDtypeConfigs(t.binaryOp()))
                .setBackendPatternConfig(new BackendPatternConfig(MergeVertex.class)
                        .setObservationType(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT)
                        .setDtypeConfigs(t.defaultOp()));
    }

    /**
     * PyTorch's {@code _get_conv_configs} for one DL4J convolution class: the convolution (any activation; ReLU is
     * PyTorch's ConvReLU), (conv, ReLU), (conv, BN) and (conv, BN, ReLU) fused, and sigmoid/tanh/softmax with their
     * fixed output qparams. Static int8 only: PyTorch has no dynamic convolution.
     */
    private static List<BackendPatternConfig> convolutionConfigs(Class<? extends Layer> conv, DTypes t) {
        List<BackendPatternConfig> configs = new ArrayList<>();
        configs.add(rooted(new BackendPatternConfig(conv).setDtypeConfigs(t.weighted()), conv));
        configs.add(rooted(new BackendPatternConfig(Pattern.of(conv, Activation.RELU)).setDtypeConfigs(t.weighted()),
                conv));
        PatternElement identity = PatternElement.of(conv, Activation.IDENTITY);
        PatternElement relu = PatternElement.of(ActivationLayer.class, Activation.RELU);
        PatternElement bn = PatternElement.of(BatchNormalization.class);
        configs.add(fusion(Pattern.sequence(identity, relu), FuserMethods.FUSE_CONV_ACTIVATION, conv, t.weighted()));
        configs.add(fusion(Pattern.sequence(identity, bn), FuserMethods.FUSE_CONV_BN, conv, t.weighted()));
        configs.add(fusion(Pattern.sequence(identity, bn, relu), FuserMethods.FUSE_CONV_BN_ACTIVATION, conv,
                t.weighted()));
        for (Activation act : ZERO_TO_ONE) {
            configs.add(fixedQParamsWeighted(conv, act, FIXED_QPARAMS_0TO1, t.weighted()));
        }
        configs.add(fixedQParamsWeighted(conv, Activation.TANH, FIXED_QPARAMS_NEG1TO1, t.weighted()));
        return configs;
    }

    /**
     * PyTorch's {@code _get_bn_configs} and {@code fuse_linear_bn}: a batch norm on its own (quantized in and out, no
     * weight), and (DenseLayer, BN) and (DenseLayer, BN, ReLU) folded into the DenseLayer.
     */
    private static List<BackendPatternConfig> batchNormConfigs(DTypes t) {
        PatternElement dense = PatternElement.of(DenseLayer.class, Activation.IDENTITY);
        PatternElement bn = PatternElement.of(BatchNormalization.class);
        PatternElement relu = PatternElement.of(ActivationLayer.class, Activation.RELU);
        return List.of(
                new BackendPatternConfig(BatchNormalization.class).setDtypeConfigs(t.defaultOp()),
                fusion(Pattern.sequence(dense, bn), FuserMethods.FUSE_DENSE_BN, DenseLayer.class, t.weighted()),
                fusion(Pattern.sequence(dense, bn, relu), FuserMethods.FUSE_DENSE_BN_ACTIVATION, DenseLayer.class,
                        t.weighted()));
    }

    /** PyTorch's {@code _get_embedding_op_configs} with its weight-only dtype configs, for both DL4J embeddings. */
    private static List<BackendPatternConfig> embeddingConfigs() {
        List<DTypeConfig> weightOnly = List.of(WEIGHT_ONLY_QUINT8, WEIGHT_ONLY_QUINT4X2);
        return List.of(
                new BackendPatternConfig(EmbeddingLayer.class).setDtypeConfigs(weightOnly)
                        .setRootModule(EmbeddingLayer.class)
                        .setReferenceQuantizedModule(ReferenceQuantizedEmbedding.class),
                new BackendPatternConfig(EmbeddingSequenceLayer.class).setDtypeConfigs(weightOnly)
                        .setRootModule(EmbeddingSequenceLayer.class)
                        .setReferenceQuantizedModule(ReferenceQuantizedEmbeddingSequence.class));
    }

    private static BackendPatternConfig fusion(Pattern pattern, String fuser, Class<? extends Layer> fused,
                                               List<DTypeConfig> dtypes) {
        return new BackendPatternConfig(pattern).setDtypeConfigs(dtypes).setFuserMethod(fuser)
                .setFusedModule(fused);
    }

    private static BackendPatternConfig fixedQParamsWeighted(Class<? extends Layer> layer, Activation act,
                                                            DTypeWithConstraints output, List<DTypeConfig> dtypes) {
        List<DTypeConfig> pinned = dtypes.stream().map(c -> DTypeConfigs.withFixedOutput(c, output)).toList();
        return rooted(new BackendPatternConfig(Pattern.of(layer, act)).setDtypeConfigs(pinned), layer);
    }

    private static BackendPatternConfig denseActivationFusion(Activation act, DTypes t) {
        return new BackendPatternConfig(Pattern.sequence(
                PatternElement.of(DenseLayer.class, Activation.IDENTITY),
                PatternElement.of(ActivationLayer.class, act)))
                .setDtypeConfigs(t.dense())
                .setFuserMethod(FuserMethods.FUSE_DENSE_ACTIVATION)
                .setFusedModule(DenseLayer.class);
    }

    private static List<BackendPatternConfig> fixedQParams(Activation act, DTypeWithConstraints output, DTypes t) {
        List<DTypeConfig> weighted = new ArrayList<>();
        t.weighted().forEach(c -> weighted.add(DTypeConfigs.withFixedOutput(c, output)));
        weighted.addAll(t.dynamic());
        List<DTypeConfig> op = t.fixedQParamsOp().stream().map(c -> DTypeConfigs.withFixedOutput(c, output))
                .toList();
        return List.of(
                rooted(new BackendPatternConfig(Pattern.of(DenseLayer.class, act)).setDtypeConfigs(weighted),
                        DenseLayer.class),
                rooted(new BackendPatternConfig(Pattern.of(OutputLayer.class, act)).setDtypeConfigs(weighted),
                        OutputLayer.class),
                new BackendPatternConfig(Pattern.of(ActivationLayer.class, act)).setDtypeConfigs(op));
    }

    /**
     * PyTorch's {@code _get_rnn_op_configs}: DL4J's LSTM, GravesLSTM and SimpleRnn, also as the wrappers that hold them
     * (Bidirectional, LastTimeStep), with the dynamic int8 dtype configs only: PyTorch quantizes RNNs dynamically. The
     * reference module is the layer class itself, computing with quantize-dequantized weights
     * ({@link ReferenceQuantizedRecurrent}), as PyTorch's reference LSTM is an {@code nn.LSTM}.
     */
    private static List<BackendPatternConfig> recurrentConfigs(DTypes t) {
        List<BackendPatternConfig> configs = new ArrayList<>();
        for (Class<? extends Layer> rnn : RECURRENT_LAYERS) {
            configs.add(new BackendPatternConfig(rnn).setDtypeConfigs(t.dynamic()).setRootModule(rnn)
                    .setReferenceQuantizedModule(rnn));
        }
        return configs;
    }

    /**
     * The single place where a pattern is tied to the layer that conversion replaces and to its reference quantized
     * module: DenseLayer and OutputLayer both become {@link ReferenceQuantizedDense} (inference needs no loss), each
     * convolution class its reference subclass.
     */
    private static BackendPatternConfig rooted(BackendPatternConfig config, Class<? extends Layer> root) {
        return config.setRootModule(root).setReferenceQuantizedModule(referenceModuleFor(root));
    }

    private static Class<?> referenceModuleFor(Class<? extends Layer> root) {
        if (root == DepthwiseConvolution2D.class) {
            return ReferenceQuantizedDepthwiseConvolution2D.class;
        }
        if (Convolution1DLayer.class.isAssignableFrom(root)) {
            return ReferenceQuantizedConvolution1D.class;
        }
        if (ConvolutionLayer.class.isAssignableFrom(root)) {
            return ReferenceQuantizedConvolution2D.class;
        }
        return ReferenceQuantizedDense.class;
    }
}
