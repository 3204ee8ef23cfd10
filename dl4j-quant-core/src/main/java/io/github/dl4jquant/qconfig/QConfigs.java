package io.github.dl4jquant.qconfig;

import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.observer.HistogramObserver;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.ObserverFactory;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import io.github.dl4jquant.observer.PlaceholderObserver;
import java.util.List;
import java.util.Locale;
import org.deeplearning4j.nn.conf.layers.Convolution1D;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.Convolution2D;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.nn.conf.layers.Deconvolution3D;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PyTorch's default qconfigs ({@code get_default_qconfig}, {@code get_default_qconfig_mapping}) for the "x86",
 * "fbgemm", "onednn" and "qnnpack" backends, and the default dynamic qconfig, adapted to DL4J's weight layouts.
 *
 * <pre>{@code
 * QConfig x86 = QConfigs.getDefaultQConfig("x86");
 * // activation: HistogramObserver(reduce_range=true) -> quint8 [0, 127]
 * // weight:     PerChannelMinMaxObserver(qint8, per_channel_symmetric, chAxis=1)
 * QConfigMapping m = QConfigs.getDefaultQConfigMapping("onednn");
 * QConfigMapping dyn = QConfigs.getDefaultDynamicQConfigMapping();   // embeddings weight-only quint8 rows
 * QConfig rows4 = QConfigs.getFloatQParamsWeightOnlyQConfig4bit();
 * }</pre>
 *
 * <p>Choices, as PyTorch 2.x: x86/fbgemm: {@code HistogramObserver(reduce_range=True)} activations (7-bit, so u8*s8
 * pair sums cannot saturate on CPUs without VNNI) and per-channel symmetric qint8 weights; onednn: {@code
 * reduce_range=False} and per-channel weights (logs PyTorch's warning about CPUs without VNNI); qnnpack: {@code
 * reduce_range=False} and per-tensor symmetric qint8 weights ({@code default_weight_observer}).
 *
 * <p>DL4J differences: a {@code DenseLayer}/{@code OutputLayer} weight is {@code [nIn, nOut]}, so the default
 * per-channel weight observer uses {@code chAxis=1} (PyTorch: 0); the mappings override it with {@code chAxis=0} for
 * convolutions (weight {@code [nOut, nIn, k...]}) and use per-tensor weights for deconvolutions (PyTorch does so for
 * ConvTranspose on x86/fbgemm; here on every backend, since the output channel is not axis 0 there either). Histogram
 * observers use the fixed {@code histc} range (see {@link HistogramObserver.Builder#truncateHistcRange}).
 */
public final class QConfigs {
    private static final Logger LOG = LoggerFactory.getLogger(QConfigs.class);
    private static final List<String> BACKENDS = List.of("x86", "fbgemm", "onednn", "qnnpack");

    private QConfigs() {
    }

    /** The default static post-training QConfig of {@code backend}: "x86", "fbgemm", "onednn" or "qnnpack". */
    public static QConfig getDefaultQConfig(String backend) {
        switch (normalise(backend)) {
            case "x86":
            case "fbgemm":
                return new QConfig(HistogramObserver.builder().reduceRange(true), perChannelWeight(1));
            case "onednn":
                LOG.warn("Default qconfig of oneDNN backend with reduce_range of false may have accuracy issues on "
                        + "CPU without Vector Neural Network Instruction support.");
                return new QConfig(HistogramObserver.builder().reduceRange(false), perChannelWeight(1));
            default:
                return new QConfig(HistogramObserver.builder().reduceRange(false), perTensorWeight());
        }
    }

    /**
     * {@code getDefaultQConfig(backend)} as the global QConfig, plus convolution weights per channel on axis 0 and
     * per-tensor deconvolution weights.
     */
    public static QConfigMapping getDefaultQConfigMapping(String backend) {
        QConfig global = getDefaultQConfig(backend);
        boolean perChannel = !normalise(backend).equals("qnnpack");
        QConfig conv = new QConfig(global.activation(), perChannel ? perChannelWeight(0) : perTensorWeight());
        QConfig deconv = new QConfig(global.activation(), perTensorWeight());
        QConfigMapping m = new QConfigMapping().setGlobal(global);
        for (Class<?> c : List.of(ConvolutionLayer.class, Convolution2D.class, Convolution1DLayer.class,
                Convolution1D.class, Convolution3D.class, DepthwiseConvolution2D.class,
                SeparableConvolution2D.class)) {
            m.setObjectType(c, conv);
        }
        m.setObjectType(Deconvolution2D.class, deconv);
        m.setObjectType(Deconvolution3D.class, deconv);
        return m;
    }

    /**
     * The default dynamic QConfig: activations {@code PlaceholderObserver(quint8, [0, 255], is_dynamic=True)} (qparams
     * from each batch at run time), weights per-channel symmetric qint8 on {@code chAxis=1} (PyTorch's {@code
     * per_channel_dynamic_qconfig}; its {@code default_dynamic_qconfig} uses per-tensor weights).
     */
    public static QConfig getDefaultDynamicQConfig() {
        ObserverFactory act = PlaceholderObserver.builder().dtype(QuantDType.QUINT8).quantMin(0).quantMax(255)
                .isDynamic(true);
        return new QConfig(act, perChannelWeight(1));
    }

    /**
     * A mapping with {@link #getDefaultDynamicQConfig()} as its global QConfig, and embeddings weight-only
     * ({@link #withWeightOnlyEmbeddings}).
     */
    public static QConfigMapping getDefaultDynamicQConfigMapping() {
        return withWeightOnlyEmbeddings(new QConfigMapping().setGlobal(getDefaultDynamicQConfig()));
    }

    /**
     * The dynamic QConfig for {@code backend}: as {@link #getDefaultDynamicQConfig()}, with 7-bit activations
     * {@code [0, 127]} on "x86" and "fbgemm", where PyTorch's dynamic Linear passes {@code reduce_range=True} at run
     * time (u8*s8 pair sums then cannot saturate on CPUs without VNNI).
     */
    public static QConfig getDefaultDynamicQConfig(String backend) {
        String b = normalise(backend);
        boolean reduceRange = b.equals("x86") || b.equals("fbgemm");
        ObserverFactory act = PlaceholderObserver.builder().dtype(QuantDType.QUINT8).quantMin(0)
                .quantMax(reduceRange ? 127 : 255).isDynamic(true);
        return new QConfig(act, perChannelWeight(1));
    }

    /**
     * A mapping with {@link #getDefaultDynamicQConfig(String)} as its global QConfig, and embeddings weight-only
     * ({@link #withWeightOnlyEmbeddings}).
     */
    public static QConfigMapping getDefaultDynamicQConfigMapping(String backend) {
        return withWeightOnlyEmbeddings(new QConfigMapping().setGlobal(getDefaultDynamicQConfig(backend)));
    }

    /**
     * PyTorch's {@code float_qparams_weight_only_qconfig}: activations stay float ({@code default_placeholder_observer})
     * and weights are quint8 with one float scale and zero point per row ({@code default_float_qparams_observer}:
     * PerChannelMinMaxObserver, per_channel_affine_float_qparams, chAxis 0: DL4J's embedding W is
     * {@code [nIn (vocabulary), nOut]}, one row per index, as PyTorch's). For EmbeddingLayer and
     * EmbeddingSequenceLayer.
     */
    public static QConfig getFloatQParamsWeightOnlyQConfig() {
        return new QConfig(PlaceholderObserver.builder(), floatQParamsRows(QuantDType.QUINT8));
    }

    /** {@link #getFloatQParamsWeightOnlyQConfig()} with 4-bit rows (quint4x2, two codes per byte), PyTorch's _4bit. */
    public static QConfig getFloatQParamsWeightOnlyQConfig4bit() {
        return new QConfig(PlaceholderObserver.builder(), floatQParamsRows(QuantDType.QUINT4X2));
    }

    /**
     * {@code mapping} with EmbeddingLayer and EmbeddingSequenceLayer mapped to {@link
     * #getFloatQParamsWeightOnlyQConfig()}, as PyTorch's {@code quantize_dynamic} default spec for quint8 maps
     * nn.Embedding; applied by the default dynamic mappings, so that {@code Quantizer.quantizeDynamic} quantizes
     * embeddings too (PyTorch's qint8 default spec leaves them float). The static default mapping gives them the
     * global static QConfig, which no embedding pattern accepts: they stay fp32 with that reason, as in PyTorch.
     */
    public static QConfigMapping withWeightOnlyEmbeddings(QConfigMapping mapping) {
        QConfig rows = getFloatQParamsWeightOnlyQConfig();
        return mapping.setObjectType(EmbeddingLayer.class, rows).setObjectType(EmbeddingSequenceLayer.class, rows);
    }

    /** PyTorch's {@code default_per_channel_weight_observer} on the given axis. */
    private static ObserverFactory perChannelWeight(int chAxis) {
        return PerChannelMinMaxObserver.builder().chAxis(chAxis).dtype(QuantDType.QINT8)
                .qscheme(QScheme.PER_CHANNEL_SYMMETRIC);
    }

    /** PyTorch's {@code default_float_qparams_observer} (quint8) and {@code _4bit} (quint4x2). */
    private static ObserverFactory floatQParamsRows(QuantDType dtype) {
        return PerChannelMinMaxObserver.builder().chAxis(0).dtype(dtype)
                .qscheme(QScheme.PER_CHANNEL_AFFINE_FLOAT_QPARAMS);
    }

    /** PyTorch's {@code default_weight_observer}. */
    private static ObserverFactory perTensorWeight() {
        return MinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_TENSOR_SYMMETRIC);
    }

    private static String normalise(String backend) {
        String b = backend == null ? "" : backend.trim().toLowerCase(Locale.ROOT);
        if (!BACKENDS.contains(b)) {
            throw new IllegalArgumentException("Unknown backend '" + backend + "'; accepted: " + BACKENDS);
        }
        return b;
    }
}
