package io.github.dl4jquant.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.nn.quantized.DynamicQuantizedLSTM;
import io.github.dl4jquant.nn.quantized.DynamicQuantizedLSTMLayer;
import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import io.github.dl4jquant.testing.Golden;
import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * PyTorch 1.13's {@code quantize_dynamic} LSTM ({@code golden/lstm_dynamic.json}, onednn engine: 7-bit activations,
 * one dynamic scale for the whole sequence's input product, one per step for the hidden product) against DL4J LSTMs
 * with the same weights, quantized by {@link Quantizer}: outputs within PyTorch's own tolerance for its dynamic LSTM
 * ({@code test_qlstmGRU}: atol 1e-5, rtol 1.3e-6), int8 weights and their scales exactly.
 */
class GoldenLstmDynamicParityTest {
    /** DL4J's gate block k holds PyTorch's gate block GATE_FROM_PYTORCH[k]: DL4J [a f o i], PyTorch [i f g o]. */
    private static final int[] GATE_FROM_PYTORCH = {2, 1, 3, 0};
    private static final double ATOL = 1e-5;
    private static final double RTOL = 1.3e-6;

    private static JsonNode golden;

    @BeforeAll
    static void load() {
        golden = Golden.load("lstm_dynamic.json");
    }

    private static JsonNode caseNamed(String name) {
        for (JsonNode c : golden.get("cases")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException("no case " + name);
    }

    /** PyTorch [4H, in] (rows i f g o) as DL4J [in, 4H] (columns a f o i). */
    static INDArray dl4jGates(INDArray pytorch) {
        long h = pytorch.size(0) / 4;
        INDArray[] blocks = new INDArray[4];
        for (int k = 0; k < 4; k++) {
            int p = GATE_FROM_PYTORCH[k];
            blocks[k] = pytorch.get(NDArrayIndex.interval(p * h, (p + 1) * h), NDArrayIndex.all());
        }
        return Nd4j.concat(0, blocks).transpose().dup('c');
    }

    static INDArray dl4jBias(INDArray bih, INDArray bhh) {
        return dl4jGates(bih.add(bhh).reshape(-1, 1)).reshape(1, -1);
    }

    private static ComputationGraph lstmGraph(JsonNode c, boolean bidirectional, int layers) {
        int in = c.get("input_size").asInt();
        int hidden = c.get("hidden_size").asInt();
        NeuralNetConfiguration.Builder nb = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT);
        var gb = nb.graphBuilder().addInputs("x");
        String prev = "x";
        for (int l = 0; l < layers; l++) {
            LSTM lstm = new LSTM.Builder().nIn(l == 0 ? in : hidden).nOut(hidden).activation(Activation.TANH)
                    .gateActivationFunction(Activation.SIGMOID).build();
            String name = "lstm" + l;
            gb.addLayer(name, bidirectional ? new Bidirectional(Bidirectional.Mode.CONCAT, lstm) : lstm, prev);
            prev = name;
        }
        ComputationGraph g = new ComputationGraph(gb.setOutputs(prev).build());
        g.init();
        JsonNode w = c.get("weights");
        for (int l = 0; l < layers; l++) {
            for (String dir : bidirectional ? new String[] {"", "_reverse"} : new String[] {""}) {
                String prefix = bidirectional ? (dir.isEmpty() ? "f" : "b") : "";
                String sfx = "_l" + l + dir;
                org.deeplearning4j.nn.api.Layer layer = g.getLayer("lstm" + l);
                layer.setParam(prefix + "W", dl4jGates(Golden.tensor(w.get("weight_ih" + sfx))));
                layer.setParam(prefix + "RW", dl4jGates(Golden.tensor(w.get("weight_hh" + sfx))));
                layer.setParam(prefix + "b", dl4jBias(Golden.tensor(w.get("bias_ih" + sfx)),
                        Golden.tensor(w.get("bias_hh" + sfx))));
            }
        }
        return g;
    }

    private static QConfigMapping mapping(boolean perTensor) {
        QConfig dynamic = QConfigs.getDefaultDynamicQConfig("x86");
        if (!perTensor) {
            return new QConfigMapping().setGlobal(dynamic);
        }
        return new QConfigMapping().setGlobal(new QConfig(dynamic.activation(),
                MinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_TENSOR_SYMMETRIC)));
    }

    /** PyTorch [T, B, F] as DL4J NCW [B, F, T]. */
    private static INDArray ncw(JsonNode seqFirst) {
        return Golden.tensor(seqFirst).permute(1, 2, 0).dup('c');
    }

    private static void assertClose(INDArray expected, INDArray actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + " shape");
        INDArray diff = Transforms.abs(expected.sub(actual));
        INDArray bound = Transforms.abs(expected).muli(RTOL).addi(ATOL);
        double worst = diff.sub(bound).maxNumber().doubleValue();
        assertTrue(worst <= 0, what + ": max |diff| " + diff.maxNumber() + " exceeds atol 1e-5 + rtol 1.3e-6");
    }

    @ParameterizedTest
    @ValueSource(strings = {"per_tensor", "per_channel"})
    void unidirectionalOutputsMatchPyTorchWithinItsTolerance(String name) {
        JsonNode c = caseNamed(name);
        ComputationGraph fp32 = lstmGraph(c, false, 1);
        ComputationGraph q = Quantizer.convert(Quantizer.prepare(fp32, mapping(name.equals("per_tensor")),
                BackendConfigs.getX86BackendConfig()));
        assertInstanceOf(DynamicQuantizedLSTMLayer.class, q.getLayer("lstm0"));
        INDArray y = q.outputSingle(ncw(c.get("input")));
        assertClose(ncw(c.get("quantized").get("onednn").get("output")), y, name + " output");
    }

    @ParameterizedTest
    @ValueSource(strings = {"per_tensor", "per_channel"})
    void int8WeightsAndScalesEqualPyTorchs(String name) {
        JsonNode c = caseNamed(name);
        ComputationGraph q = Quantizer.convert(Quantizer.prepare(lstmGraph(c, false, 1),
                mapping(name.equals("per_tensor")), BackendConfigs.getX86BackendConfig()));
        DynamicQuantizedLSTM conf = (DynamicQuantizedLSTM) q.getLayer("lstm0").conf().getLayer();
        JsonNode wq = c.get("weight_qparams");
        assertWeights(wq.get("weight_ih_l0"), conf.getForward().getInputWeights());
        assertWeights(wq.get("weight_hh_l0"), conf.getForward().getRecurrentWeights());
    }

    private static void assertWeights(JsonNode pytorch, QuantizedDense product) {
        INDArray expectedInt = dl4jGates(Golden.tensor(pytorch.get("int_repr")));
        long k = expectedInt.size(0);
        long n = expectedInt.size(1);
        byte[] actual = product.getWeightInt8();
        for (int r = 0; r < k; r++) {
            for (int col = 0; col < n; col++) {
                assertEquals(expectedInt.getInt(r, col), actual[(int) (r * n + col)], "int8 weight [" + r + ", "
                        + col + "]");
            }
        }
        float[] scales = product.getWeightScales();
        JsonNode s = pytorch.get("scale");
        float[] expected = new float[(int) n];
        if (s.isArray()) {
            INDArray perRow = dl4jGates(Golden.tensor(s).reshape(-1, 1));
            for (int j = 0; j < n; j++) {
                expected[j] = perRow.getFloat(0, j);
            }
        } else {
            java.util.Arrays.fill(expected, (float) s.asDouble());
        }
        assertArrayEquals(expected, scales, "weight scales");
    }

    @Test
    void bidirectionalConcatMatchesPyTorch() {
        JsonNode c = caseNamed("bidirectional");
        ComputationGraph q = Quantizer.convert(Quantizer.prepare(lstmGraph(c, true, 1), mapping(true),
                BackendConfigs.getX86BackendConfig()));
        DynamicQuantizedLSTM conf = (DynamicQuantizedLSTM) q.getLayer("lstm0").conf().getLayer();
        assertEquals(Bidirectional.Mode.CONCAT, conf.getBidirectionalMode());
        INDArray y = q.outputSingle(ncw(c.get("input")));
        assertClose(ncw(c.get("quantized").get("onednn").get("output")), y, "bidirectional output");
    }

    @Test
    void stackedLayersMatchPyTorchsTwoLayerLstm() {
        JsonNode c = caseNamed("two_layers");
        ComputationGraph q = Quantizer.convert(Quantizer.prepare(lstmGraph(c, false, 2), mapping(true),
                BackendConfigs.getX86BackendConfig()));
        INDArray y = q.outputSingle(ncw(c.get("input")));
        assertClose(ncw(c.get("quantized").get("onednn").get("output")), y, "two-layer output");
    }

    @Test
    void storedStateContinuesAsPyTorchsInitialState() {
        JsonNode c = caseNamed("nonzero_state");
        ComputationGraph q = Quantizer.convert(Quantizer.prepare(lstmGraph(c, false, 1), mapping(true),
                BackendConfigs.getX86BackendConfig()));
        INDArray h0 = Golden.tensor(c.get("h0")).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        INDArray c0 = Golden.tensor(c.get("c0")).get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        q.rnnSetPreviousState("lstm0", Map.of(DynamicQuantizedLSTMLayer.STATE_KEY_PREV_ACTIVATION, h0.dup(),
                DynamicQuantizedLSTMLayer.STATE_KEY_PREV_MEMCELL, c0.dup()));
        INDArray y = q.rnnTimeStep(ncw(c.get("input")))[0];
        assertClose(ncw(c.get("quantized").get("onednn").get("output")), y, "output from a stored state");
        INDArray hn = Golden.tensor(c.get("quantized").get("onednn").get("c_n"))
                .get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all());
        assertClose(hn, q.rnnGetPreviousState("lstm0").get(DynamicQuantizedLSTMLayer.STATE_KEY_PREV_MEMCELL),
                "final cell state");
    }
}
