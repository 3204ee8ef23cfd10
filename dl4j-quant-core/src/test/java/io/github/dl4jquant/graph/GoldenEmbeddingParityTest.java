package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.QuantMath;
import io.github.dl4jquant.nn.quantized.QuantizedEmbedding;
import io.github.dl4jquant.nn.quantized.QuantizedEmbeddingSequence;
import io.github.dl4jquant.nn.quantized.QuantizedRows;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.Golden;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * PyTorch 1.13 quantized a 50 x 12 nn.Embedding with {@code float_qparams_weight_only_qconfig} (quint8) and its 4-bit
 * variant (quint4x2) ({@code embedding_weight_only.json}, made by {@code gen_golden_sequence.py}). The same table in a
 * DL4J EmbeddingLayer and EmbeddingSequenceLayer (no bias, identity activation: nn.Embedding's function) must give
 * PyTorch's per-row scales and float zero points, its int_repr (and, 4-bit, its packed bytes and fp16 lookup qparams),
 * its quantized lookups ({@code quantized::embedding_byte} / {@code embedding_4bit}) from {@code convert} and its
 * dequantized rows ({@code qweight.dequantize()}, what nnqr.Embedding looks up) from {@code convertToReference}, all
 * bit for bit.
 */
class GoldenEmbeddingParityTest {
    private static final JsonNode GOLDEN = Golden.load("embedding_weight_only.json");

    @ParameterizedTest
    @ValueSource(strings = {"int8", "int4"})
    void rowQParamsAndCodesArePyTorchs(String section) {
        JsonNode g = GOLDEN.get(section);
        QuantizedRows rows = ((QuantizedEmbedding) layer(convert(plain(), section, true), "emb")).getRows();
        QParams q = rows.qparams("golden");
        assertEquals(g.get("dtype").asText(), q.dtype().torchName().substring("torch.".length()));
        assertEquals(g.get("qscheme").asText(), q.qscheme().torchName().substring("torch.".length()));
        assertArrayEquals(Golden.ints(g.get("quant_range")), new int[] {q.quantMin(), q.quantMax()});
        assertArrayEquals(Golden.floats(g.get("scale")), q.scales());
        assertArrayEquals(Golden.floats(g.get("zero_point")), q.floatZeroPoints());
        assertArrayEquals(flatInts(g.get("int_repr")), rows.intRepr());
        if (section.equals("int4")) {
            byte[] packed = rows.getCodes();
            int[] expected = Golden.ints(g.get("packed_bytes"));
            assertEquals(expected.length, packed.length);
            for (int i = 0; i < packed.length; i++) {
                assertEquals(expected[i], packed[i] & 0xFF, "packed byte " + i);
            }
            float[] scales = q.scales();
            float[] zps = q.floatZeroPoints();
            float[] scale16 = Golden.floats(g.get("lookup_scale_fp16"));
            float[] bias16 = Golden.floats(g.get("lookup_bias_fp16"));
            for (int r = 0; r < scales.length; r++) {
                assertEquals(scale16[r], QuantMath.roundToFloat16(scales[r]), "fp16 scale of row " + r);
                assertEquals(bias16[r], QuantMath.roundToFloat16(-(zps[r] * scales[r])), "fp16 bias of row " + r);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"int8", "int4"})
    void lookupsArePyTorchsQuantizedAndDequantizedRows(String section) {
        JsonNode g = GOLDEN.get(section);
        INDArray indices = Nd4j.createFromArray(Golden.ints(GOLDEN.get("indices"))).castTo(DataType.FLOAT)
                .reshape(-1, 1);
        assertArrayEquals(Golden.flatFloats(g.get("lookup_output")), floats(convert(plain(), section, true), indices));
        assertArrayEquals(Golden.flatFloats(g.get("dequantized_rows_output")),
                floats(convert(plain(), section, false), indices));
    }

    @ParameterizedTest
    @ValueSource(strings = {"int8", "int4"})
    void sequenceLookupsArePyTorchsOnTwoDimensionalIndices(String section) {
        JsonNode g = GOLDEN.get(section);
        INDArray indices = Golden.matrix(GOLDEN.get("indices_2d"));
        ComputationGraph q = convert(sequence((int) indices.size(1)), section, true);
        assertEquals(QuantizedEmbeddingSequence.class, layer(q, "emb").getClass());
        // DL4J's sequence output is [mb, nOut, T]; PyTorch's [mb, T, nOut]
        INDArray out = q.outputSingle(indices).permute(0, 2, 1).dup('c');
        assertArrayEquals(Golden.tensor(g.get("lookup_output_2d")).data().asFloat(), out.data().asFloat());
    }

    private static ComputationGraph convert(ComputationGraph fp32, String section, boolean lowered) {
        QConfig rows = section.equals("int8") ? QConfigs.getFloatQParamsWeightOnlyQConfig()
                : QConfigs.getFloatQParamsWeightOnlyQConfig4bit();
        PreparedModel p = Quantizer.prepare(fp32, new QConfigMapping().setGlobal(rows),
                BackendConfigs.getX86BackendConfig());
        return lowered ? Quantizer.convert(p) : Quantizer.convertToReference(p);
    }

    private static ComputationGraph plain() {
        return graph(new EmbeddingLayer.Builder().nIn(GOLDEN.get("num_embeddings").asInt())
                .nOut(GOLDEN.get("embedding_dim").asInt()).hasBias(false).activation(Activation.IDENTITY).build());
    }

    private static ComputationGraph sequence(int length) {
        return graph(new EmbeddingSequenceLayer.Builder().nIn(GOLDEN.get("num_embeddings").asInt())
                .nOut(GOLDEN.get("embedding_dim").asInt()).inputLength(length).hasBias(false)
                .activation(Activation.IDENTITY).build());
    }

    private static ComputationGraph graph(Layer embedding) {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .graphBuilder().addInputs("in").addLayer("emb", embedding, "in").setOutputs("emb").build());
        g.init();
        g.getLayer("emb").setParam("W", Golden.matrix(GOLDEN.get("weight")));
        return g;
    }

    private static Layer layer(ComputationGraph g, String name) {
        return g.getLayer(name).conf().getLayer();
    }

    private static float[] floats(ComputationGraph g, INDArray input) {
        return g.outputSingle(input).dup('c').data().asFloat();
    }

    private static int[] flatInts(JsonNode rows) {
        return java.util.stream.StreamSupport.stream(rows.spliterator(), false)
                .flatMapToInt(r -> java.util.Arrays.stream(Golden.ints(r))).toArray();
    }
}
