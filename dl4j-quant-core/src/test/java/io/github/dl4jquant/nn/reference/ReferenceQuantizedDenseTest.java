package io.github.dl4jquant.nn.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.nn.NnTestSupport;
import io.github.dl4jquant.testing.Golden;
import java.io.File;
import java.nio.file.Path;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

class ReferenceQuantizedDenseTest {
    @Test
    void matchesPyTorchReferenceLinearGolden() {
        JsonNode root = Golden.load("linear_ref.json");
        for (JsonNode c : root.get("cases")) {
            float[][] w = Golden.floatRows(c.get("w"));             // PyTorch [out, in]
            int nOut = w.length;
            int nIn = w[0].length;
            float[] wScales = Golden.floats(c.get("w_scales"));
            ReferenceQuantizedDense conf = new ReferenceQuantizedDense.Builder().nIn(nIn).nOut(nOut)
                    .activation(c.get("relu").asBoolean() ? Activation.RELU : Activation.IDENTITY)
                    .inputQParams(QParams.perTensor((float) c.get("x_scale").asDouble(), c.get("x_zero_point").asInt(),
                            QuantDType.QUINT8))
                    .weightQParams(QParams.perChannel(wScales, new int[nOut], 1, QuantDType.QINT8, -128, 127,
                            QScheme.PER_CHANNEL_SYMMETRIC))
                    .outputQParams(QParams.perTensor((float) c.get("y_scale").asDouble(), c.get("y_zero_point").asInt(),
                            QuantDType.QUINT8))
                    .build();
            ComputationGraph g = single(conf);
            g.getLayer("q").setParam("W", Nd4j.createFromArray(w).transpose().dup());
            g.getLayer("q").setParam("b", Nd4j.createFromArray(Golden.floats(c.get("b"))).reshape(1, nOut));
            INDArray y = g.outputSingle(Nd4j.createFromArray(Golden.floatRows(c.get("x"))));
            float[][] want = Golden.floatRows(c.get("y_dequantized"));
            float step = (float) c.get("y_scale").asDouble();
            int off = 0;
            for (int i = 0; i < want.length; i++) {
                for (int j = 0; j < nOut; j++) {
                    float d = Math.abs(y.getFloat(i, j) - want[i][j]);
                    assertTrue(d <= step * 1.001f, "row " + i + " col " + j + ": " + y.getFloat(i, j) + " vs "
                            + want[i][j]);
                    off += d > 0 ? 1 : 0;
                }
            }
            assertTrue(off <= want.length * nOut / 100, off + " elements one step off (golden allows 1%)");
        }
    }

    @Test
    void matchesIndependentFloatComputationOnRandomData() {
        int m = 37;
        int k = 50;
        int n = 23;
        INDArray x = Nd4j.randn(DataType.FLOAT, m, k).muli(2).addi(0.3);
        INDArray w = Nd4j.randn(DataType.FLOAT, k, n).muli(0.2);
        INDArray b = Nd4j.randn(DataType.FLOAT, 1, n);
        QParams in = QParams.perTensor(0.031f, 121, QuantDType.QUINT8);
        QParams out = QParams.perTensor(0.047f, 90, QuantDType.QUINT8);
        QParams wPerChannel = NnTestSupport.perChannelSymmetric(w);
        QParams wPerTensor = QParams.perTensor(0.004f, 0, QuantDType.QINT8, -128, 127, QScheme.PER_TENSOR_SYMMETRIC);
        Object[][] cases = {
            {Activation.RELU, wPerChannel, out}, {Activation.SIGMOID, wPerTensor, out},
            {Activation.TANH, wPerChannel, null}, {Activation.IDENTITY, wPerTensor, null}};
        for (Object[] cs : cases) {
            Activation act = (Activation) cs[0];
            QParams wq = (QParams) cs[1];
            QParams oq = (QParams) cs[2];
            ComputationGraph g = single(new ReferenceQuantizedDense.Builder().nIn(k).nOut(n).activation(act)
                    .inputQParams(in).weightQParams(wq).outputQParams(oq).build());
            g.getLayer("q").setParam("W", w);
            g.getLayer("q").setParam("b", b);
            float[] got = g.outputSingle(x).dup('c').data().asFloat();
            float[] want = independent(x, in, w, wq, b, act, oq);
            assertClose(want, got, oq, act + " " + wq.qscheme());
        }
    }

    @Test
    void dynamicModeUsesEachBatchRange() {
        int k = 30;
        int n = 12;
        INDArray w = Nd4j.randn(DataType.FLOAT, k, n).muli(0.3);
        INDArray b = Nd4j.randn(DataType.FLOAT, 1, n);
        QParams wq = NnTestSupport.perChannelSymmetric(w);
        for (boolean reduceRange : new boolean[] {false, true}) {
            ComputationGraph g = single(new ReferenceQuantizedDense.Builder().nIn(k).nOut(n).weightQParams(wq)
                    .dynamic(true).reduceRange(reduceRange).build());
            g.getLayer("q").setParam("W", w);
            g.getLayer("q").setParam("b", b);
            for (double spread : new double[] {0.01, 1, 50}) {
                INDArray x = Nd4j.randn(DataType.FLOAT, 9, k).muli(spread);
                float min = Math.min(0, x.minNumber().floatValue());
                float max = Math.max(0, x.maxNumber().floatValue());
                int qmax = reduceRange ? 127 : 255;
                float scale = (float) (((double) max - min) / qmax);
                int zp = (int) Math.rint(-min / (double) scale);
                QParams in = QParams.perTensor(scale, Math.min(qmax, Math.max(0, zp)), QuantDType.QUINT8);
                float[] want = independent(x, in, w, wq, b, Activation.IDENTITY, null);
                assertClose(want, g.outputSingle(x).dup('c').data().asFloat(), null,
                        "dynamic reduceRange=" + reduceRange + " spread " + spread);
            }
        }
    }

    @Test
    void savesAndRestoresBitIdenticallyThroughModelSerializer(@TempDir Path dir) throws Exception {
        ComputationGraph fp32 = NnTestSupport.mlp(5, new int[] {20, 16, 8}, Activation.RELU, Activation.SOFTMAX);
        INDArray x = Nd4j.randn(DataType.FLOAT, 64, 20);
        ComputationGraph ref = NnTestSupport.toReference(fp32, x, false, true);
        INDArray before = ref.outputSingle(x);
        File f = dir.resolve("ref.zip").toFile();
        ModelSerializer.writeModel(ref, f, false);
        ComputationGraph back = ModelSerializer.restoreComputationGraph(f, false);
        assertEquals(ref.getConfiguration().getVertices().get("d0"), back.getConfiguration().getVertices().get("d0"));
        assertArrayEquals(before.data().asFloat(), back.outputSingle(x).data().asFloat());
        assertTrue(ref.getConfiguration().toJson().contains("weightQParamsConfig"));
        assertEquals(fp32.numParams(), back.numParams(), "float W and b params like DenseLayer");
    }

    @Test
    void paramChangesThroughTheLayerInvalidateTheCachedWeight() {
        ComputationGraph fp32 = NnTestSupport.mlp(6, new int[] {10, 4}, Activation.IDENTITY);
        INDArray x = Nd4j.randn(DataType.FLOAT, 3, 10);
        ComputationGraph ref = NnTestSupport.toReference(fp32, x, false, false);
        INDArray first = ref.outputSingle(x).dup();
        ref.getLayer("d0").setParam("W", ref.getLayer("d0").getParam("W").mul(0.5));
        INDArray second = ref.outputSingle(x);
        assertTrue(first.sub(second).amaxNumber().doubleValue() > 1e-3, "output must follow the new weights");
    }

    @Test
    void trainingFailsWithAClearMessage() {
        ComputationGraph fp32 = new ComputationGraph(new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in").addLayer("d0", new DenseLayer.Builder().nIn(6).nOut(5).build(), "in")
                .addLayer("out", new OutputLayer.Builder().nIn(5).nOut(3).activation(Activation.SOFTMAX).build(), "d0")
                .setOutputs("out").build());
        fp32.init();
        INDArray x = Nd4j.randn(DataType.FLOAT, 4, 6);
        ComputationGraph ref = NnTestSupport.toReference(fp32, x, false, true);
        Exception e = assertThrows(Exception.class, () -> ref.fit(new DataSet(x, Nd4j.createFromArray(new float[][] {
            {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0}}))));
        Throwable t = e;
        while (!(t instanceof UnsupportedOperationException) && t.getCause() != null) {
            t = t.getCause();
        }
        String msg = String.valueOf(t.getMessage());
        assertTrue(t instanceof UnsupportedOperationException && msg.contains("'d0'")
                && msg.contains("fit the fp32 model"), String.valueOf(e));
    }

    @Test
    void badInputsFailClearlyOrSaturate() {
        ComputationGraph fp32 = NnTestSupport.mlp(8, new int[] {6, 3}, Activation.IDENTITY);
        ComputationGraph ref = NnTestSupport.toReference(fp32, Nd4j.randn(DataType.FLOAT, 4, 6), false, true);
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> ref.outputSingle(Nd4j.randn(DataType.FLOAT, 2, 7)));
        assertTrue(wrong.getMessage().contains("'d0'") && wrong.getMessage().contains("nIn = 6")
                && wrong.getMessage().contains("[2, 7]"), wrong.getMessage());
        INDArray nan = Nd4j.randn(DataType.FLOAT, 2, 6);
        nan.putScalar(1, 2, Float.NaN);
        IllegalArgumentException nanError = assertThrows(IllegalArgumentException.class, () -> ref.outputSingle(nan));
        assertTrue(nanError.getMessage().contains("NaN"), nanError.getMessage());
        INDArray inf = Nd4j.randn(DataType.FLOAT, 2, 6);
        inf.putScalar(0, 0, Float.POSITIVE_INFINITY);
        INDArray y = ref.outputSingle(inf);
        for (float v : y.data().asFloat()) {
            assertTrue(Float.isFinite(v), "infinity saturates to the quantized range: " + y);
        }
        assertArrayEquals(new long[] {0, 3}, ref.outputSingle(Nd4j.create(DataType.FLOAT, 0, 6)).shape());
    }

    @Test
    void configurationRejectsMissingParameters() {
        QParams wq = QParams.perTensor(0.1f, 0, QuantDType.QINT8);
        assertThrows(IllegalArgumentException.class,
                () -> new ReferenceQuantizedDense.Builder().nIn(2).nOut(2).weightQParams(wq).build());
        assertThrows(IllegalArgumentException.class, () -> new ReferenceQuantizedDense.Builder().nIn(2).nOut(2)
                .inputQParams(QParams.perTensor(0.1f, 0, QuantDType.QUINT8)).build());
    }

    static ComputationGraph single(ReferenceQuantizedDense conf) {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().graphBuilder().addInputs("in")
                .setInputTypes(InputType.feedForward(conf.getNIn())).addLayer("q", conf, "in").setOutputs("q").build());
        g.init();
        return g;
    }

    /** qdq in float per ATen, matmul in double, written independently of QuantMath. */
    static float[] independent(INDArray x, QParams in, INDArray w, QParams wq, INDArray b, Activation act,
                               QParams out) {
        int m = (int) x.size(0);
        int k = (int) x.size(1);
        int n = (int) w.size(1);
        float[] xs = x.dup('c').data().asFloat();
        float[] ws = w.dup('c').data().asFloat();
        float[] bs = b.dup('c').data().asFloat();
        float[] ys = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    int ch = wq.isPerChannel() ? j : 0;
                    s += (double) qdq(xs[i * k + t], in.scale(), in.zeroPoint(), 0, 255)
                            * qdq(ws[t * n + j], wq.scales()[ch], 0, -128, 127);
                }
                ys[i * n + j] = (float) (s + bs[j]);
            }
        }
        INDArray y = act.getActivationFunction().getActivation(Nd4j.createFromArray(ys), false);
        float[] r = y.data().asFloat();
        if (out != null) {
            for (int i = 0; i < r.length; i++) {
                r[i] = qdq(r[i], out.scale(), out.zeroPoint(), 0, 255);
            }
        }
        return r;
    }

    private static float qdq(float v, float scale, int zp, int qmin, int qmax) {
        float inv = 1.0f / scale;
        long q = Math.round(Math.rint(v * inv)) + zp;
        q = Math.max(qmin, Math.min(qmax, q));
        return (q - zp) * scale;
    }

    static void assertClose(float[] want, float[] got, QParams out, String what) {
        assertEquals(want.length, got.length);
        int same = 0;
        for (int i = 0; i < want.length; i++) {
            double tol = out != null ? out.scale() * 1.001 : 1e-4 * Math.max(1, Math.abs(want[i]));
            assertEquals(want[i], got[i], tol, what + " element " + i);
            same += want[i] == got[i] ? 1 : 0;
        }
        if (out != null) {
            assertTrue(same >= 0.99 * want.length, what + ": only " + same + "/" + want.length + " identical");
        }
    }
}
