package io.github.dl4jquant.nn.quantized;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.graph.SkipReason;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbedding;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedEmbeddingSequence;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import io.github.dl4jquant.observer.PlaceholderObserver;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.File;
import java.nio.file.Path;
import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The quantized and reference embeddings behave as DL4J's EmbeddingLayer and EmbeddingSequenceLayer on the table
 * they look up (bias, activation, masks, NCW/NWC, rank-2/3 input), survive ModelSerializer bit for bit, leave the
 * user's model alone, refuse bad indices naming the layer, and say why an embedding stayed fp32.
 */
class QuantizedEmbeddingTest {
    private static final int VOCAB = 40;
    private static final int DIM = 6;
    private static final int LENGTH = 5;

    @ParameterizedTest
    @CsvSource({"8, NCW", "8, NWC", "4, NCW", "4, NWC"})
    void sequenceLookupIsDl4jsEmbeddingSequenceLayerOnTheLookedUpTable(int bits, RNNFormat format) {
        ComputationGraph fp32 = graph(sequence(format), 1);
        ComputationGraph q = Quantizer.convert(prepare(fp32, bits));
        assertEquals(QuantizedEmbeddingSequence.class, layer(q).getClass());
        ComputationGraph expected = withLookedUpTable(fp32, ((QuantizedEmbeddingSequence) layer(q)).getRows());
        INDArray x = indices(3, LENGTH, 7);
        INDArray mask = Nd4j.createFromArray(new float[][] {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}, {1, 0, 0, 0, 0}});
        assertArrayEquals(floats(expected.output(false, new INDArray[] {x}, new INDArray[] {mask})[0]),
                floats(q.output(false, new INDArray[] {x}, new INDArray[] {mask})[0]));
        // DL4J's own layer fails on [mb, 1, T] input at inference (it dups its reshaped view into a closed
        // workspace); the quantized one reads it as [mb, T]
        INDArray out = q.outputSingle(x.reshape(3, 1, LENGTH));
        assertArrayEquals(format == RNNFormat.NCW ? new long[] {3, DIM, LENGTH} : new long[] {3, LENGTH, DIM},
                out.shape());
        assertArrayEquals(floats(expected.outputSingle(x)), floats(out));
    }

    @ParameterizedTest
    @ValueSource(ints = {8, 4})
    void plainLookupIsDl4jsEmbeddingLayerOnTheLookedUpTable(int bits) {
        ComputationGraph fp32 = graph(plain(), 2);
        ComputationGraph q = Quantizer.convert(prepare(fp32, bits));
        ComputationGraph expected = withLookedUpTable(fp32, ((QuantizedEmbedding) layer(q)).getRows());
        INDArray x = indices(8, 1, 3);
        INDArray mask = Nd4j.createFromArray(new float[] {1, 0, 1, 1, 0, 1, 1, 1}).reshape(8, 1);
        assertArrayEquals(floats(expected.output(false, new INDArray[] {x}, new INDArray[] {mask})[0]),
                floats(q.output(false, new INDArray[] {x}, new INDArray[] {mask})[0]));
        INDArray row = x.reshape(1, 8);
        assertArrayEquals(floats(expected.outputSingle(row)), floats(q.outputSingle(row)), "a row vector of indices");
    }

    @Test
    void referenceLooksUpTheDequantizedRowsWithBiasAndActivation() {
        ComputationGraph fp32 = graph(sequence(RNNFormat.NCW), 3);
        PreparedModel p = prepare(fp32, 8);
        ComputationGraph ref = Quantizer.convertToReference(p);
        ReferenceQuantizedEmbeddingSequence conf = (ReferenceQuantizedEmbeddingSequence) layer(ref);
        QParams rows = conf.getWeightQParams();
        INDArray table = io.github.dl4jquant.QuantOps.fakeQuantize(fp32.getLayer("emb").getParam("W"), rows);
        assertEquals(table, ref.getLayer("emb").getParam("W"));
        INDArray x = indices(2, LENGTH, 11);
        ComputationGraph expected = fp32.clone();
        expected.getLayer("emb").setParam("W", table);
        assertArrayEquals(floats(expected.outputSingle(x)), floats(ref.outputSingle(x)));
    }

    @ParameterizedTest
    @ValueSource(ints = {8, 4})
    void saveAndRestoreAreBitIdentical(int bits, @TempDir Path dir) throws Exception {
        ComputationGraph q = Quantizer.convert(prepare(classifier(4), bits));
        File f = dir.resolve("q.zip").toFile();
        ModelSerializer.writeModel(q, f, false);
        ComputationGraph back = ModelSerializer.restoreComputationGraph(f);
        assertEquals(layer(q), layer(back));
        INDArray x = indices(6, LENGTH, 5);
        assertArrayEquals(floats(q.outputSingle(x)), floats(back.outputSingle(x)));
        assertEquals(0, back.getLayer("emb").numParams(), "the rows live in the configuration, not in DL4J params");
    }

    @Test
    void theUsersModelIsNotChanged() {
        ComputationGraph fp32 = classifier(5);
        INDArray params = fp32.params().dup();
        String json = fp32.getConfiguration().toJson();
        INDArray x = indices(4, LENGTH, 1);
        INDArray before = fp32.outputSingle(x).dup();
        Quantizer.convert(prepare(fp32, 4));
        Quantizer.quantizeDynamic(fp32);
        assertEquals(params, fp32.params());
        assertEquals(json, fp32.getConfiguration().toJson());
        assertEquals(before, fp32.outputSingle(x));
    }

    @Test
    void badIndicesAreRefusedNamingTheLayer() {
        ComputationGraph fp32 = graph(sequence(RNNFormat.NCW), 6);
        for (ComputationGraph g : new ComputationGraph[] {Quantizer.convert(prepare(fp32, 8)),
                Quantizer.convertToReference(prepare(fp32, 4))}) {
            INDArray x = indices(2, LENGTH, 2);
            x.putScalar(1, 3, VOCAB);
            assertMessage(g, x, "'emb'", "[1, 3]", "outside [0, nIn - 1] = [0, 39]");
            x.putScalar(1, 3, 2.5);
            assertMessage(g, x, "'emb'", "[1, 3]", "not an integer (2.5)");
            x.putScalar(1, 3, Double.NaN);
            assertMessage(g, x, "'emb'", "is NaN");
            x.putScalar(1, 3, -1);
            assertMessage(g, x, "'emb'", "outside");
        }
        EmbeddingSequenceLayer fixedLength = sequence(RNNFormat.NCW);
        fixedLength.setInferInputLength(false);
        ComputationGraph q = Quantizer.convert(prepare(graph(fixedLength, 6), 8));
        assertMessage(q, indices(2, LENGTH + 1, 3), "QuantizedEmbeddingSequence 'emb'", "inputLength 5");
        assertEquals(DIM * (LENGTH + 1) * 2, Quantizer.convert(prepare(fp32, 8)).outputSingle(indices(2, LENGTH + 1, 3))
                .length(), "inferInputLength (DL4J's default) takes any length");
        ComputationGraph plain = Quantizer.convert(prepare(graph(plain(), 1), 8));
        assertMessage(plain, indices(2, 2, 3), "QuantizedEmbedding 'emb'", "[numExamples, 1]");
        assertEquals(ReferenceQuantizedEmbedding.class,
                layer(Quantizer.convertToReference(prepare(graph(plain(), 1), 8))).getClass());
    }

    @Test
    void quantizeDynamicQuantizesEmbeddingsByDefault() {
        ComputationGraph fp32 = classifier(7);
        ComputationGraph q = Quantizer.quantizeDynamic(fp32);
        assertEquals(QuantizedEmbeddingSequence.class, layer(q).getClass());
        assertEquals(8, ((QuantizedEmbeddingSequence) layer(q)).getRows().getBits());
        assertEquals(QuantizedDense.class, q.getLayer("out").conf().getLayer().getClass());
        INDArray x = indices(16, LENGTH, 9);
        INDArray diff = q.outputSingle(x).sub(fp32.outputSingle(x));
        assertTrue(diff.amaxNumber().doubleValue() < 0.02, "int8 rows and a dynamic output layer: " + diff);
    }

    @Test
    void theStaticDefaultKeepsEmbeddingsFp32WithTheReasonAndCalibratesOnIndices() {
        ComputationGraph fp32 = classifier(8);
        PreparedModel p = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        ReportEntry e = entry(p, "emb");
        assertEquals(SkipReason.DTYPE_MISMATCH, e.reason());
        assertTrue(e.detail().contains("the backend needs float32") && e.detail().contains(
                "QConfigs.getFloatQParamsWeightOnlyQConfig()"), e.detail());
        p.calibrate(indices(32, LENGTH, 4));
        ComputationGraph q = Quantizer.convert(p);
        assertEquals(EmbeddingSequenceLayer.class, layer(q).getClass());
        assertEquals(QuantizedDense.class, q.getLayer("out").conf().getLayer().getClass());

        QConfig integerZeroPoints = new QConfig(PlaceholderObserver.builder(),
                PerChannelMinMaxObserver.builder().chAxis(0).dtype(QuantDType.QUINT8));
        PreparedModel affine = Quantizer.prepare(fp32, QConfigs.getDefaultDynamicQConfigMapping("x86")
                .setObjectType(EmbeddingSequenceLayer.class, integerZeroPoints), BackendConfigs.getX86BackendConfig());
        ReportEntry a = entry(affine, "emb");
        assertEquals(SkipReason.UNSUPPORTED_LAYER, a.reason());
        assertTrue(a.detail().contains("float scales and zero points"), a.detail());
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static PreparedModel prepare(ComputationGraph fp32, int bits) {
        QConfig rows = bits == 8 ? QConfigs.getFloatQParamsWeightOnlyQConfig()
                : QConfigs.getFloatQParamsWeightOnlyQConfig4bit();
        return Quantizer.prepare(fp32, QConfigs.withWeightOnlyEmbeddings(QConfigs.getDefaultDynamicQConfigMapping("x86"))
                .setObjectType(EmbeddingLayer.class, rows).setObjectType(EmbeddingSequenceLayer.class, rows),
                BackendConfigs.getX86BackendConfig());
    }

    private static EmbeddingSequenceLayer sequence(RNNFormat format) {
        return new EmbeddingSequenceLayer.Builder().nIn(VOCAB).nOut(DIM).inputLength(LENGTH).hasBias(true)
                .activation(Activation.TANH).outputDataFormat(format).build();
    }

    private static EmbeddingLayer plain() {
        return new EmbeddingLayer.Builder().nIn(VOCAB).nOut(DIM).hasBias(true).activation(Activation.RELU).build();
    }

    private static ComputationGraph graph(Layer embedding, long seed) {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(seed)
                .dataType(DataType.FLOAT).graphBuilder().addInputs("in").addLayer("emb", embedding, "in")
                .setOutputs("emb").build());
        g.init();
        g.getLayer("emb").setParam("b", Nd4j.rand(DataType.FLOAT, 1, DIM).subi(0.5));
        return g;
    }

    /** EmbeddingSequenceLayer -> average over time -> softmax OutputLayer. */
    static ComputationGraph classifier(long seed) {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(seed)
                .dataType(DataType.FLOAT).graphBuilder().addInputs("in")
                .addLayer("emb", sequence(RNNFormat.NCW), "in")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "emb")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(DIM).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build());
        g.init();
        return g;
    }

    /** The fp32 model with its table replaced by the quantized lookups of every row (without the bias). */
    private static ComputationGraph withLookedUpTable(ComputationGraph fp32, QuantizedRows rows) {
        QuantizedRows noBias = new QuantizedRows(rows.getBits(), rows.getRowLength(), rows.getCodes(),
                rows.getQparams(), null);
        int[] all = java.util.stream.IntStream.range(0, VOCAB).toArray();
        float[] table = new float[VOCAB * DIM];
        noBias.lookup(all, table);
        ComputationGraph g = fp32.clone();
        g.getLayer("emb").setParam("W", Nd4j.createFromArray(table).reshape(VOCAB, DIM));
        return g;
    }

    private static INDArray indices(int rows, int cols, long seed) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.rand(DataType.FLOAT, rows, cols).muli(VOCAB).castTo(DataType.INT).castTo(DataType.FLOAT);
    }

    private static Layer layer(ComputationGraph g) {
        return g.getLayer("emb").conf().getLayer();
    }

    private static float[] floats(INDArray a) {
        return a.dup('c').data().asFloat();
    }

    private static ReportEntry entry(PreparedModel p, String vertex) {
        return p.report().entries().stream().filter(e -> e.vertex().equals(vertex)).findFirst().orElseThrow();
    }

    private static void assertMessage(ComputationGraph g, INDArray x, String... parts) {
        DL4JInvalidInputException e = assertThrows(DL4JInvalidInputException.class, () -> g.outputSingle(x),
                layer(g).getClass().getSimpleName() + " on " + x);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "'" + part + "' missing from: " + e.getMessage());
        }
    }
}
