package io.github.dl4jquant;

import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.ConvertCustomConfig;
import io.github.dl4jquant.graph.Converter;
import io.github.dl4jquant.graph.GraphModel;
import io.github.dl4jquant.graph.PrepareCustomConfig;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.ns.AccuracyControl;
import io.github.dl4jquant.ns.AccuracyControlConfig;
import io.github.dl4jquant.ns.AccuracyControlResult;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * Post-training quantization of DL4J models, with PyTorch FX's flow and names: {@code prepare} (prepare_fx),
 * {@code calibrate}, {@code convertToReference} (convert_to_reference_fx) and {@code convert} (convert_fx).
 *
 * <pre>{@code
 * PreparedModel prepared = Quantizer.prepare(model, QConfigs.getDefaultQConfigMapping("x86"),
 *         BackendConfigs.getX86BackendConfig());
 * prepared.calibrate(calibrationIterator);
 * System.out.println(prepared.report());                  // what was quantized, and why not where it was not
 * ComputationGraph int8 = Quantizer.convert(prepared);    // int8 weights and kernels
 *
 * ComputationGraph quick = Quantizer.quantizeStatic(model, calibrationIterator);   // the same in one line
 * }</pre>
 *
 * <p>The user's model is never modified: {@code prepare} works on a copy. A {@link MultiLayerNetwork} is quantized
 * through its {@code ComputationGraph} form (vertices "0", "1", ...); reports and QConfigMapping module names use the
 * network's layer names where it has them. The result is always a {@link ComputationGraph}.
 */
public final class Quantizer {

    private static final String QUANTIZED_PACKAGES = "io.github.dl4jquant.nn";

    private Quantizer() {
    }

    public static PreparedModel prepare(ComputationGraph model, QConfigMapping qconfigMapping,
                                        BackendConfig backendConfig) {
        return prepare(model, qconfigMapping, backendConfig, PrepareCustomConfig.defaults());
    }

    public static PreparedModel prepare(ComputationGraph model, QConfigMapping qconfigMapping,
                                        BackendConfig backendConfig, PrepareCustomConfig options) {
        requireInitialised(model == null || model.getVertices() == null ? null : model.params(), "ComputationGraph");
        requireFp32(model.getConfiguration().getVertices());
        return prepareCopy(GraphModel.of(model.clone(), Map.of()), qconfigMapping, backendConfig, options);
    }

    public static PreparedModel prepare(MultiLayerNetwork model, QConfigMapping qconfigMapping,
                                        BackendConfig backendConfig) {
        return prepare(model, qconfigMapping, backendConfig, PrepareCustomConfig.defaults());
    }

    public static PreparedModel prepare(MultiLayerNetwork model, QConfigMapping qconfigMapping,
                                        BackendConfig backendConfig, PrepareCustomConfig options) {
        requireInitialised(model == null || model.getLayers() == null ? null : model.params(), "MultiLayerNetwork");
        Map<String, GraphVertex> layers = new LinkedHashMap<>();
        for (int i = 0; i < model.getnLayers(); i++) {
            layers.put(String.valueOf(i), new LayerVertex(model.getLayerWiseConfigurations().getConf(i), null));
        }
        requireFp32(layers);
        GraphModel graph = GraphModel.of(model.clone().toComputationGraph(), layerNames(model));
        return prepareCopy(graph, qconfigMapping, backendConfig, options);
    }

    private static PreparedModel prepareCopy(GraphModel copy, QConfigMapping mapping, BackendConfig backendConfig,
                                             PrepareCustomConfig options) {
        if (mapping == null || backendConfig == null || options == null) {
            throw new IllegalArgumentException("prepare needs a QConfigMapping, a BackendConfig and options; got "
                    + "qconfigMapping=" + mapping + ", backendConfig=" + (backendConfig == null ? null
                    : backendConfig.getName()) + ", options=" + options);
        }
        return PreparedModel.plan(copy, mapping, backendConfig, options);
    }

    /** Reference model: quantize-dequantize around float ops, as PyTorch's {@code convert_to_reference_fx}. */
    public static ComputationGraph convertToReference(PreparedModel prepared) {
        return convertToReference(prepared, new ConvertCustomConfig());
    }

    public static ComputationGraph convertToReference(PreparedModel prepared, ConvertCustomConfig custom) {
        return Converter.convert(prepared, custom, false).model();
    }

    /** Int8 model: int8 weights and int8 GEMM kernels, as PyTorch's {@code convert_fx}. */
    public static ComputationGraph convert(PreparedModel prepared) {
        return convert(prepared, new ConvertCustomConfig());
    }

    public static ComputationGraph convert(PreparedModel prepared, ConvertCustomConfig custom) {
        return Converter.convert(prepared, custom, true).model();
    }

    /**
     * Static int8 quantization in one call, with x86 defaults ({@code getDefaultQConfigMapping("x86")},
     * {@code getX86BackendConfig()}): prepare, calibrate on every batch of {@code calibrationData}, convert.
     */
    public static ComputationGraph quantizeStatic(ComputationGraph model, DataSetIterator calibrationData) {
        PreparedModel p = prepare(model, QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig());
        return convert(p.calibrate(calibrationData));
    }

    /** {@link #quantizeStatic(ComputationGraph, DataSetIterator)} for a MultiLayerNetwork. */
    public static ComputationGraph quantizeStatic(MultiLayerNetwork model, DataSetIterator calibrationData) {
        PreparedModel p = prepare(model, QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig());
        return convert(p.calibrate(calibrationData));
    }

    /**
     * Dynamic int8 quantization with x86 defaults: weights become int8 once; activations are quantized per batch from
     * their own min/max to 7 bits, as PyTorch's x86 engine does ({@code reduce_range}); EmbeddingLayer and
     * EmbeddingSequenceLayer tables become 8-bit rows with per-row float qparams (PyTorch's
     * {@code float_qparams_weight_only_qconfig}). Needs no calibration data.
     */
    public static ComputationGraph quantizeDynamic(ComputationGraph model) {
        return convert(prepare(model, QConfigs.getDefaultDynamicQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()));
    }

    public static ComputationGraph quantizeDynamic(MultiLayerNetwork model) {
        return convert(prepare(model, QConfigs.getDefaultDynamicQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig()));
    }

    /**
     * Accuracy-aware quantization, after NNCF's {@code quantize_with_accuracy_control}: quantizes with
     * {@code qconfigMapping}, then keeps the fewest, most sensitive layers in fp32 until {@code metric} (higher is
     * better) drops no more than {@code config} allows. Returns the best model found and every trial; never null.
     * See {@link AccuracyControl}.
     */
    public static AccuracyControlResult quantizeWithAccuracyControl(ComputationGraph model,
                                                                    QConfigMapping qconfigMapping,
                                                                    BackendConfig backendConfig,
                                                                    DataSetIterator calibrationData,
                                                                    ToDoubleFunction<ComputationGraph> metric,
                                                                    AccuracyControlConfig config) {
        return AccuracyControl.quantizeWithAccuracyControl(model, qconfigMapping, backendConfig, calibrationData,
                metric, config);
    }

    /**
     * {@link #quantizeWithAccuracyControl(ComputationGraph, QConfigMapping, BackendConfig, DataSetIterator,
     * ToDoubleFunction, AccuracyControlConfig)} with classification accuracy on {@code labelledEvaluationData} as the
     * metric.
     */
    public static AccuracyControlResult quantizeWithAccuracyControl(ComputationGraph model,
                                                                    QConfigMapping qconfigMapping,
                                                                    BackendConfig backendConfig,
                                                                    DataSetIterator calibrationData,
                                                                    DataSetIterator labelledEvaluationData,
                                                                    AccuracyControlConfig config) {
        return quantizeWithAccuracyControl(model, qconfigMapping, backendConfig, calibrationData,
                AccuracyControl.accuracy(labelledEvaluationData), config);
    }

    private static void requireInitialised(INDArray params, String what) {
        if (params == null) {
            throw new IllegalArgumentException("prepare needs an initialised " + what + "; got none, or one without "
                    + "parameters: call init() (or train it) before quantizing");
        }
    }

    /**
     * A model that already holds this library's layers came out of {@code convert}: quantizing it again would find
     * nothing to match and report every layer "kept fp32", which hides the real mistake.
     */
    private static void requireFp32(Map<String, GraphVertex> vertices) {
        for (Map.Entry<String, GraphVertex> e : vertices.entrySet()) {
            Object conf = e.getValue() instanceof LayerVertex v ? v.getLayerConf().getLayer() : e.getValue();
            if (conf.getClass().getPackageName().startsWith(QUANTIZED_PACKAGES)) {
                throw new IllegalArgumentException("prepare needs an fp32 model, but vertex '" + e.getKey() + "' is "
                        + "already a " + conf.getClass().getSimpleName() + ": this model is already quantized. "
                        + "Quantize the fp32 model it was converted from");
            }
        }
    }

    private static Map<String, String> layerNames(MultiLayerNetwork model) {
        Map<String, String> names = new HashMap<>();
        for (int i = 0; i < model.getnLayers(); i++) {
            Layer l = model.getLayerWiseConfigurations().getConf(i).getLayer();
            if (l.getLayerName() != null && !l.getLayerName().equals("layer" + i)) {
                names.put(String.valueOf(i), l.getLayerName());
            }
        }
        return names;
    }
}
