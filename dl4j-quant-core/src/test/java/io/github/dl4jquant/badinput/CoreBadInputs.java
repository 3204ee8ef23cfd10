package io.github.dl4jquant.badinput;

import static io.github.dl4jquant.badinput.BadInputCase.of;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.backendconfig.DTypeWithConstraints;
import io.github.dl4jquant.backendconfig.Pattern;
import io.github.dl4jquant.graph.PrepareCustomConfig;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.ns.AccuracyControlConfig;
import io.github.dl4jquant.ns.NumericSuite;
import io.github.dl4jquant.observer.HistogramObserver;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.TestModels;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.adapter.SingletonDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import io.github.dl4jquant.data.IdxReader;

/**
 * The library's bad-input catalogue: every row is a mistake a user makes, the exception it must give, what the
 * message must name and the fix it must suggest, and the user's models that must come out unchanged. The rows are
 * rendered into {@code docs/bad-input-catalogue.md} by {@link CoreBadInputCatalogueTest}.
 */
final class CoreBadInputs {

    private static final Class<IllegalArgumentException> IAE = IllegalArgumentException.class;
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;

    /** The user's models: built once, read before and after every row. */
    private static final ComputationGraph MLP = TestModels.mlp();
    private static final MultiLayerNetwork NETWORK = TestModels.multiLayer();
    private static final ComputationGraph TWO_INPUTS = TwoInputModel.create();

    private CoreBadInputs() {
    }

    static List<BadInputCase> cases() {
        return List.of(
                // ------------------------------------------------------------------ builders and configurations
                of("builders", "QParams with scale 0", () -> QParams.perTensor(0f, 0, QuantDType.QUINT8))
                        .throwsA(IAE).naming("scale", "0.0").fix("> 0"),
                of("builders", "QParams with a NaN scale", () -> QParams.perTensor(Float.NaN, 0, QuantDType.QUINT8))
                        .throwsA(IAE).naming("scale", "NaN").fix("finite"),
                of("builders", "QParams with a zero point outside the dtype", () -> QParams.perTensor(0.1f, 300,
                        QuantDType.QUINT8)).throwsA(IAE).naming("zero point", "300").fix("[0, 255]"),
                of("builders", "per-channel QParams with fewer zero points than scales", () -> QParams.perChannel(
                        new float[] {0.1f, 0.2f}, new int[] {0}, 0, QuantDType.QINT8, -128, 127,
                        QScheme.PER_CHANNEL_SYMMETRIC)).throwsA(IAE).naming("2 scales", "1 zero points").fix("as many zero points as scales"),
                of("builders", "observer with quant_min above quant_max", () -> MinMaxObserver.builder().quantMin(10)
                        .quantMax(5).build()).throwsA(IAE).naming("quantMin (10)", "quantMax (5)").fix("must be below"),
                of("builders", "per-channel observer whose channel axis the data lacks", () -> PerChannelMinMaxObserver
                        .builder().chAxis(2).build().observe(batch(3, 4))).throwsA(IAE).naming("chAxis 2", "[3, 4]")
                        .fix("rank 2"),
                of("builders", "QParams without a qscheme", () -> QParams.perTensor(0.1f, 0, QuantDType.QUINT8, 0, 255,
                        null)).throwsA(IAE).naming("qscheme", "null").fix("per-tensor qscheme"),
                of("builders", "QParams range wider than the dtype", () -> QParams.perTensor(0.1f, 0, QuantDType.QUINT8,
                        0, 1000, QScheme.PER_TENSOR_AFFINE)).throwsA(IAE).naming("[0, 1000]", "torch.quint8")
                        .fix("inside the dtype's"),
                of("builders", "histogram observer with 0 bins", () -> HistogramObserver.builder().bins(0).build())
                        .throwsA(IAE).naming("bins", "0").fix(">= 1"),
                of("builders", "QConfig without an activation observer", () -> new QConfig(null,
                        MinMaxObserver.builder())).throwsA(IAE).naming("activation observer").fix("PlaceholderObserver"),
                of("builders", "weight constraint with a negative scale bound", () -> DTypeWithConstraints
                        .builder(QuantDType.QINT8).scaleMinLowerBound(-1.0).build())
                        .throwsA(IAE).naming("scale_min_lower_bound", "-1.0").fix("> 0"),
                of("builders", "BackendPatternConfig given a null DTypeConfig", () -> new BackendPatternConfig(
                        DenseLayer.class).addDtypeConfig(null)).throwsA(IAE).naming("dtype_configs", "null DTypeConfig")
                        .fix("new DTypeConfig(QUINT8, QUINT8, QINT8, FLOAT32)"),
                of("builders", "pattern of a runtime layer class", () -> Pattern.of(
                        org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer.class))
                        .throwsA(IAE).naming("org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer")
                        .fix("layer configuration class"),
                of("builders", "pattern longer than 3 layers", () -> Pattern.sequence(DenseLayer.class,
                        DenseLayer.class, DenseLayer.class, DenseLayer.class)).throwsA(IAE).naming("got 4 elements").fix("1 to 3"),
                of("builders", "BackendConfig given a config without a pattern", () -> new BackendConfig("b")
                        .setBackendPatternConfig(new BackendPatternConfig())).throwsA(IAE)
                        .naming("'b'", "without a pattern").fix("pattern set"),
                of("builders", "QConfigMapping regex that does not compile", () -> new QConfigMapping()
                        .setModuleNameRegex("d[", QConfigs.getDefaultQConfig("x86"))).throwsA(IAE).naming("'d['")
                        .fix("setModuleNameRegex"),
                of("builders", "QConfigMapping object type index below 0", () -> new QConfigMapping()
                        .setModuleNameObjectTypeOrder("", DenseLayer.class, -1, null)).throwsA(IAE).naming("index", "-1")
                        .fix(">= 0"),
                of("builders", "accuracy control without a drop limit", () -> AccuracyControlConfig.builder().build())
                        .throwsA(IAE).naming("maxAbsoluteDrop", "maxRelativeDrop").fix("needs"),
                of("builders", "accuracy control with 0 trials", () -> AccuracyControlConfig.builder()
                        .maxAbsoluteDrop(0.01).maxTrials(0).build()).throwsA(IAE).naming("maxTrials", "0").fix(">= 1"),
                of("builders", "unknown default backend name", () -> QConfigs.getDefaultQConfigMapping("tpu"))
                        .throwsA(IAE).naming("'tpu'").fix("x86"),

                // ------------------------------------------------------------------ BackendConfig / QConfigMapping JSON
                of("JSON", "BackendConfig JSON with a syntax error", () -> BackendConfig.fromJson("{\"name\": \"x\",,}"))
                        .throwsA(IAE).naming("line 1, column").fix("Invalid BackendConfig JSON"),
                of("JSON", "BackendConfig JSON that is null", () -> BackendConfig.fromJson(null)).throwsA(IAE)
                        .naming("got null").fix("toJson()"),
                of("JSON", "BackendConfig JSON with an unknown key", () -> BackendConfig.fromJson(
                        "{\"name\": \"x\", \"config\": []}")).throwsA(IAE).naming("'config'").fix("accepted keys"),
                of("JSON", "BackendConfig JSON naming a class not on the classpath", () -> BackendConfig.fromJson(
                        "{\"configs\": [{\"pattern\": \"org.example.NoSuchLayer\"}]}")).throwsA(IAE)
                        .naming("configs[0]", "org.example.NoSuchLayer").fix("fully qualified name"),
                of("JSON", "BackendConfig JSON with a misspelt dtype", () -> BackendConfig.fromJson(
                        "{\"configs\": [{\"pattern\": \"org.deeplearning4j.nn.conf.layers.DenseLayer\", "
                                + "\"dtype_configs\": [{\"input_dtype\": \"torch.uint8\"}]}]}")).throwsA(IAE)
                        .naming("input_dtype", "torch.uint8").fix("torch.quint8"),
                of("JSON", "BackendConfig JSON with an unknown observation type", () -> BackendConfig.fromJson(
                        "{\"configs\": [{\"pattern\": \"org.deeplearning4j.nn.conf.layers.DenseLayer\", "
                                + "\"observation_type\": \"SHARE\"}]}")).throwsA(IAE)
                        .naming("observation_type", "SHARE").fix("OUTPUT_SHARE_OBSERVER_WITH_INPUT"),
                of("JSON", "QConfigMapping JSON that is not JSON", () -> QConfigMapping.fromJson("{object_type: ["))
                        .throwsA(IAE).naming("line 1, column").fix("Invalid QConfigMapping JSON"),
                of("JSON", "QConfigMapping JSON that is null", () -> QConfigMapping.fromJson(null)).throwsA(IAE)
                        .naming("got null").fix("toJson()"),
                of("JSON", "QConfigMapping JSON that is the literal null", () -> QConfigMapping.fromJson("null"))
                        .throwsA(IAE).naming("null").fix("JSON object"),
                of("JSON", "QConfigMapping JSON with an unknown layer class", () -> QConfigMapping.fromJson(
                        "{\"object_type\": [[\"DenseLayr\", null]]}")).throwsA(IAE).naming("object_type[0]",
                        "'DenseLayr'").fix("fully qualified class name", "\"DenseLayer\""),
                of("JSON", "QConfigMapping JSON with a non-integer order index", () -> QConfigMapping.fromJson(
                        "{\"module_name_object_type_order\": [[\"\", \"DenseLayer\", \"first\", null]]}"))
                        .throwsA(IAE).naming("module_name_object_type_order[0]", "\"first\"").fix("an integer >= 0"),
                of("JSON", "QConfigMapping JSON with a misspelt observer option", () -> QConfigMapping.fromJson(
                        "{\"\": {\"activation\": {\"name\": \"MinMaxObserver\", \"reduce_rang\": true}, "
                                + "\"weight\": null}}")).throwsA(IAE).naming("global", "'activation'", "reduce_rang")
                        .fix("accepted: [name, dtype"),
                of("JSON", "QConfigMapping JSON with an unknown observer", () -> QConfigMapping.fromJson(
                        "{\"\": {\"activation\": {\"name\": \"MaxObserver\"}, \"weight\": null}}")).throwsA(IAE)
                        .naming("'MaxObserver'").fix("registered"),
                of("JSON", "QConfigMapping JSON mapping a class that is no layer", () -> QConfigMapping.fromJson(
                        "{\"object_type\": [[\"java.lang.String\", null]]}")).throwsA(IAE).naming("java.lang.String")
                        .fix("subclass of org.deeplearning4j.nn.conf.layers.Layer"),

                // ------------------------------------------------------------------ models
                of("models", "uninitialised ComputationGraph", () -> Quantizer.quantizeDynamic(
                        new ComputationGraph(MLP.getConfiguration().clone()))).throwsA(IAE)
                        .naming("initialised ComputationGraph").fix("call init()"),
                of("models", "null model", () -> Quantizer.quantizeDynamic((ComputationGraph) null)).throwsA(IAE)
                        .naming("ComputationGraph").fix("init()"),
                of("models", "strict mode with a layer no backend quantizes", () -> Quantizer.prepare(
                        TestModels.withPReLU(), QConfigs.getDefaultQConfigMapping("x86"),
                        BackendConfigs.getX86BackendConfig(), PrepareCustomConfig.defaults().withStrict(true)))
                        .throwsA(ISE).naming("'prelu'", "PReLULayer").fix("null QConfig", "withStrict(false)"),
                of("models", "a QConfigMapping naming a layer the model lacks", () -> Quantizer.prepare(MLP,
                        new QConfigMapping().setGlobal(QConfigs.getDefaultQConfig("x86")).setModuleName("dense1", null),
                        BackendConfigs.getX86BackendConfig())).throwsA(IAE).naming("'dense1'", "d1, d2, act, out").fix("Use one of these names")
                        .untouched(() -> MLP),
                of("models", "nothing quantizable (global QConfig null)", () -> Quantizer.prepare(MLP,
                        new QConfigMapping().setGlobal(null), BackendConfigs.getX86BackendConfig())).throwsA(IAE)
                        .naming("Nothing to quantize").fix("QConfigMapping").untouched(() -> MLP),
                of("models", "convert before calibrate", () -> Quantizer.convert(prepared(MLP))).throwsA(ISE)
                        .naming("'d1'", "seen no data").fix("calibrate(").untouched(() -> MLP),
                of("models", "convertToReference before calibrate", () -> Quantizer.convertToReference(prepared(MLP)))
                        .throwsA(ISE).naming("seen no data").fix("calibrate(").untouched(() -> MLP),
                of("models", "quantizing an already quantized model", () -> Quantizer.prepare(int8(), QConfigs
                        .getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig())).throwsA(IAE)
                        .naming("vertex 'd1'", "QuantizedDense", "already quantized").fix("Quantize the fp32 model")
                        .untouched(CoreBadInputs::int8),
                of("models", "multi-input graph calibrated with one array", () -> prepared(TWO_INPUTS).calibrate(
                        batch(4, 6))).throwsA(IAE).naming("1 input array", "[a, b]").fix("MultiDataSetIterator")
                        .untouched(() -> TWO_INPUTS),
                of("models", "multi-output graph given to NumericSuite.compare with one output", () -> NumericSuite
                        .compare(MLP, TWO_INPUTS, batch(4, 12))).throwsA(IAE).naming("inputs").fix("own quantized version")
                        .untouched(() -> MLP, () -> TWO_INPUTS),
                of("models", "numeric suite given no data", () -> NumericSuite.compare(MLP, int8(), (INDArray) null))
                        .throwsA(IAE).naming("'data'").fix("at least one example").untouched(() -> MLP),

                // ------------------------------------------------------------------ calibration data
                of("calibration", "NaN in a calibration batch", () -> prepared(MLP).calibrate(withValue(Float.NaN)))
                        .throwsA(IAE).naming("batch #1", "'in'", "NaN", "flat index 5").fix("clean or clip the data")
                        .untouched(() -> MLP),
                of("calibration", "+infinity in a calibration batch", () -> prepared(MLP).calibrate(
                        withValue(Float.POSITIVE_INFINITY))).throwsA(IAE).naming("batch #1", "'in'", "Infinity", "flat index 5")
                        .fix("must be finite")
                        .untouched(() -> MLP),
                of("calibration", "too few features per example", () -> prepared(MLP).calibrate(batch(4, 11)))
                        .throwsA(IAE).naming("11 features", "'d1'", "nIn=12").fix("shape").untouched(() -> MLP),
                of("calibration", "rank-3 batch for a dense model", () -> prepared(MLP).calibrate(
                        Nd4j.rand(DataType.FLOAT, 4, 12, 2))).throwsA(IAE).naming("batch #1", "[4, 12, 2]", "d1")
                        .fix("Missing preprocessor or wrong input type")
                        .untouched(() -> MLP),
                of("calibration", "an empty batch", () -> prepared(MLP).calibrate(Nd4j.create(DataType.FLOAT, 0, 12)))
                        .throwsA(IAE).naming("batch #1", "empty").fix("at least one example").untouched(() -> MLP),
                of("calibration", "an empty iterator", () -> prepared(MLP).calibrate(new INDArray[0])).throwsA(IAE)
                        .naming("empty").fix("at least one example").untouched(() -> MLP),
                of("calibration", "a null iterator", () -> prepared(MLP).calibrate((DataSetIterator) null))
                        .throwsA(IAE).naming("null calibration data").fix("pass a DataSetIterator").untouched(() -> MLP),
                of("calibration", "integer features", () -> prepared(MLP).calibrate(Nd4j.zeros(DataType.INT, 4, 12)))
                        .throwsA(IAE).naming("'in'", "INT").fix("must be floating point").untouched(() -> MLP),
                of("calibration", "a features mask (variable-length data) for a dense model", () -> prepared(MLP)
                        .calibrate(new SingletonDataSetIterator(new DataSet(batch(4, 12), null, Nd4j.ones(4, 12), null))))
                        .throwsA(IAE).naming("batch #1", "features mask").fix("Calibrate without masks").untouched(() -> MLP),
                of("calibration", "a MultiLayerNetwork batch with the wrong width", () -> Quantizer.prepare(NETWORK,
                        QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig())
                        .calibrate(batch(3, 7))).throwsA(IAE).naming("7 features", "'hidden'").fix("shape")
                        .untouched(() -> NETWORK),

                // ------------------------------------------------------------------ int8 inference input
                of("int8 inference", "wrong number of features", () -> int8().outputSingle(batch(2, 11)))
                        .throwsA(IAE).naming("'d1'", "[2, 11]").fix("[batch, 12]").untouched(CoreBadInputs::int8),
                of("int8 inference", "NaN in the input", () -> int8().outputSingle(withValue(Float.NaN)))
                        .throwsA(IAE).naming("NaN", "index 5").fix("input").untouched(CoreBadInputs::int8),
                of("int8 inference", "rank-3 input to a dense layer", () -> int8().outputSingle(
                        Nd4j.rand(DataType.FLOAT, 2, 12, 3))).throwsA(IAE).naming("'d1'", "[2, 12, 3]").fix("[batch, 12]")
                        .untouched(CoreBadInputs::int8),
                of("int8 inference", "training a quantized model", () -> partlyInt8().fit(new DataSet(batch(2, 12),
                        Nd4j.zeros(DataType.FLOAT, 2, 5)))).throwsA(UnsupportedOperationException.class)
                        .naming("'out'", "inference only").fix("fit the fp32 model").untouched(CoreBadInputs::partlyInt8),

                // ------------------------------------------------------------------ model files
                of("model files", "corrupted quantized weights (a scale of NaN)", () -> ModelSerializer
                        .restoreComputationGraph(new ByteArrayInputStream(editConfiguration(savedInt8(),
                                "\"scales\"\\s*:\\s*\\[", "\"scales\" : [ \"NaN\", ")), false).outputSingle(batch(2, 12)))
                        .throwsA(IAE).naming("scale", "NaN").fix("convert the fp32 model again"),
                of("model files", "an IDX file announcing more data than it has", () -> IdxReader.readImages(
                        new ByteArrayInputStream(new byte[] {0, 0, 8, 3, 0x7f, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28}),
                        "huge.idx")).throwsA(IAE).naming("huge.idx", "[2130706432, 28, 28]").fix("header is corrupt"),
                of("model files", "an IDX file shorter than its header says", () -> IdxReader.readImages(
                        new ByteArrayInputStream(new byte[] {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3}),
                        "short.idx")).throwsA(IAE).naming("short.idx", "[2, 2, 2]", "only 3 bytes").fix("truncated"),
                of("model files", "a labels file given as images", () -> IdxReader.readImages(
                        new ByteArrayInputStream(new byte[] {0, 0, 8, 1, 0, 0, 0, 1, 7}), "labels.idx")).throwsA(IAE)
                        .naming("labels.idx", "0x801").fix("right IDX file")
        );
    }

    private static INDArray batch(int rows, int cols) {
        return TestModels.randomBatch(rows * 31L + cols, rows, cols);
    }

    private static INDArray withValue(float value) {
        INDArray x = batch(2, 12);
        x.putScalar(5, value);
        return x;
    }

    private static PreparedModel prepared(ComputationGraph model) {
        return Quantizer.prepare(model, QConfigs.getDefaultQConfigMapping("x86"), BackendConfigs.getX86BackendConfig());
    }

    private static ComputationGraph int8Model;
    private static byte[] savedInt8;

    /** The quantized MLP every int8 row uses (calibrated once). */
    private static synchronized ComputationGraph int8() {
        if (int8Model == null) {
            int8Model = Quantizer.convert(prepared(MLP).calibrate(batch(64, 12)));
        }
        return int8Model;
    }

    private static ComputationGraph partlyInt8Model;

    /** The MLP quantized with 'd1' kept fp32: a model with parameters left for DL4J's fit to train. */
    private static synchronized ComputationGraph partlyInt8() {
        if (partlyInt8Model == null) {
            partlyInt8Model = Quantizer.convert(Quantizer.prepare(MLP, QConfigs.getDefaultQConfigMapping("x86")
                    .setModuleName("d1", null), BackendConfigs.getX86BackendConfig()).calibrate(batch(64, 12)));
        }
        return partlyInt8Model;
    }

    private static synchronized byte[] savedInt8() throws IOException {
        if (savedInt8 == null) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ModelSerializer.writeModel(int8(), out, false);
            savedInt8 = out.toByteArray();
        }
        return savedInt8;
    }

    private static byte[] truncate(byte[] zip, double fraction) {
        return java.util.Arrays.copyOf(zip, (int) (zip.length * fraction));
    }

    /** The zip with the first match of the regex {@code from} in its configuration.json replaced by {@code to}. */
    static byte[] editConfiguration(byte[] zip, String from, String to) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip));
             ZipOutputStream z = new ZipOutputStream(out)) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                byte[] content = in.readAllBytes();
                if (e.getName().equals("configuration.json")) {
                    String json = new String(content, java.nio.charset.StandardCharsets.UTF_8);
                    String edited = json.replaceFirst(from, java.util.regex.Matcher.quoteReplacement(to));
                    if (edited.equals(json)) {
                        throw new IllegalStateException("configuration.json has no match of " + from);
                    }
                    content = edited.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                }
                z.putNextEntry(new ZipEntry(e.getName()));
                z.write(content);
                z.closeEntry();
            }
        }
        return out.toByteArray();
    }
}
