package io.github.dl4jquant.nn.quantized;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.kernel.ExactFloatInt8Gemm;
import io.github.dl4jquant.kernel.OneDnnInt8Gemm;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.nn.NnTestSupport;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import java.io.File;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class QuantizedDenseTest {
    private static final int[] MLP = {64, 48, 32, 10};

    @Test
    void matchesReferenceInsideARealGraph() {
        ComputationGraph fp32 = NnTestSupport.mlp(1, MLP, Activation.RELU, Activation.SIGMOID, Activation.IDENTITY);
        INDArray calib = Nd4j.randn(DataType.FLOAT, 256, MLP[0]);
        ComputationGraph ref = NnTestSupport.toReference(fp32, calib, false, true);
        ComputationGraph q = NnTestSupport.toQuantized(ref);
        assertEquals(0, q.numParams(), "int8 weights are not DL4J params");
        long same = 0;
        long within = 0;
        long total = 0;
        for (int batch : new int[] {1, 7, 256, 1000}) {
            INDArray x = Nd4j.randn(DataType.FLOAT, batch, MLP[0]).muli(1.3);   // some values beyond calibration
            java.util.Map<String, INDArray> r = ref.feedForward(x, false);
            java.util.Map<String, INDArray> y = q.feedForward(x, false);
            for (String layer : new String[] {"d0", "d1", "d2"}) {
                double step = ((ReferenceQuantizedDense) ref.getLayer(layer).conf().getLayer()).getOutputQParams()
                        .scale();
                double[] a = NnTestSupport.agreement(r.get(layer), y.get(layer), step);
                same += Math.round(a[0] * r.get(layer).length());
                within += Math.round(a[1] * r.get(layer).length());
                total += r.get(layer).length();
            }
        }
        System.out.printf("QuantizedDense vs reference (static): identical %.5f, within one step %.5f of %d%n",
                same / (double) total, within / (double) total, total);
        assertTrue(within >= 0.999 * total, within + "/" + total + " within one output step");
        assertTrue(same >= 0.99 * total, same + "/" + total + " identical");
    }

    @Test
    void dynamicModeMatchesReferenceWithinFloatRounding() {
        ComputationGraph fp32 = NnTestSupport.mlp(2, MLP, Activation.RELU, Activation.TANH, Activation.IDENTITY);
        ComputationGraph ref = NnTestSupport.toReference(fp32, Nd4j.randn(DataType.FLOAT, 32, MLP[0]), true, false);
        ComputationGraph q = NnTestSupport.toQuantized(ref);
        for (int batch : new int[] {1, 33}) {
            INDArray x = Nd4j.randn(DataType.FLOAT, batch, MLP[0]);
            INDArray r = ref.outputSingle(x);
            INDArray y = q.outputSingle(x);
            double maxRel = r.sub(y).amaxNumber().doubleValue() / Math.max(1e-3, r.amaxNumber().doubleValue());
            assertTrue(maxRel < 1e-3, "dynamic outputs differ by " + maxRel + " relative");
        }
    }

    @Test
    void forcedFallbackKernelGivesTheSameOutputsAsOneDnn() {
        ComputationGraph fp32 = NnTestSupport.mlp(3, new int[] {1100, 40, 10}, Activation.RELU, Activation.IDENTITY);
        INDArray calib = Nd4j.randn(DataType.FLOAT, 64, 1100);
        ComputationGraph q = NnTestSupport.toQuantized(NnTestSupport.toReference(fp32, calib, false, true));
        ComputationGraph qFloatOut = NnTestSupport.toQuantized(NnTestSupport.toReference(fp32, calib, false, false));
        INDArray x = Nd4j.randn(DataType.FLOAT, 20, 1100).muli(2);
        INDArray best;
        INDArray bestFloat;
        Int8Gemms.override(new OneDnnInt8Gemm());   // the general path on ND4J's oneDNN matmul
        try {
            best = q.outputSingle(x).dup();
            bestFloat = qFloatOut.outputSingle(x).dup();
        } finally {
            Int8Gemms.clearOverride();
        }
        Int8Gemms.override(new ExactFloatInt8Gemm());
        try {
            assertArrayEquals(best.data().asFloat(), q.outputSingle(x).data().asFloat());
            assertArrayEquals(bestFloat.data().asFloat(), qFloatOut.outputSingle(x).data().asFloat());
        } finally {
            Int8Gemms.clearOverride();
        }
    }

    @Test
    void savesAndRestoresBitIdenticallyAndCompactly(@TempDir Path dir) throws Exception {
        int[] sizes = {784, 256, 128, 10};
        ComputationGraph fp32 = NnTestSupport.mlp(4, sizes, Activation.RELU, Activation.RELU, Activation.SOFTMAX);
        INDArray calib = Nd4j.rand(DataType.FLOAT, 128, 784);
        ComputationGraph ref = NnTestSupport.toReference(fp32, calib, false, true);
        ComputationGraph q = NnTestSupport.toQuantized(ref);
        File fp32File = dir.resolve("fp32.zip").toFile();
        File refFile = dir.resolve("ref.zip").toFile();
        File qFile = dir.resolve("q.zip").toFile();
        ModelSerializer.writeModel(fp32, fp32File, false);
        ModelSerializer.writeModel(ref, refFile, false);
        ModelSerializer.writeModel(q, qFile, false);
        INDArray x = Nd4j.rand(DataType.FLOAT, 50, 784);
        ComputationGraph back = ModelSerializer.restoreComputationGraph(qFile, false);
        assertArrayEquals(q.outputSingle(x).data().asFloat(), back.outputSingle(x).data().asFloat());
        assertEquals(q.getConfiguration().getVertices().get("d1"), back.getConfiguration().getVertices().get("d1"));
        double ratio = qFile.length() / (double) fp32File.length();
        System.out.printf("784-256-128-10 file sizes: fp32 %d B, reference %d B, int8 %d B, ratio %.3f%n",
                fp32File.length(), refFile.length(), qFile.length(), ratio);
        assertTrue(ratio <= 0.30, "int8 file is " + ratio + " of fp32");
    }

    @Test
    void concurrentCallsGetTheSingleThreadResults() throws Exception {
        ComputationGraph fp32 = NnTestSupport.mlp(5, MLP, Activation.RELU, Activation.RELU, Activation.IDENTITY);
        ComputationGraph q = NnTestSupport.toQuantized(
                NnTestSupport.toReference(fp32, Nd4j.randn(DataType.FLOAT, 64, MLP[0]), false, true));
        List<INDArray> inputs = new ArrayList<>();
        List<float[]> expected = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            INDArray x = Nd4j.randn(DataType.FLOAT, 1 + 9 * i, MLP[0]);
            inputs.add(x);
            expected.add(q.outputSingle(x).dup().data().asFloat());
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int offset = t;
                results.add(pool.submit(() -> {
                    int checked = 0;
                    for (int call = 0; call < 100; call++) {
                        int i = (call + offset) % inputs.size();
                        assertArrayEquals(expected.get(i), q.outputSingle(inputs.get(i)).data().asFloat());
                        checked++;
                    }
                    return checked;
                }));
            }
            for (Future<Integer> f : results) {
                assertEquals(100, f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * DL4J's allocation-free inference ({@code output(train, outputWorkspace, input)}, what the README recommends for
     * serving) gives the values of plain {@code output()}, call after call in the same reused workspace memory, and
     * the same when batch sizes alternate (the hand-over between fused layers must not pick up stale u8 values).
     */
    @Test
    void outputsInAReusedWorkspaceEqualPlainOutputs() {
        ComputationGraph fp32 = NnTestSupport.mlp(6, MLP, Activation.RELU, Activation.RELU, Activation.SOFTMAX);
        ComputationGraph q = NnTestSupport.toQuantized(
                NnTestSupport.toReference(fp32, Nd4j.randn(DataType.FLOAT, 64, MLP[0]), false, true));
        WorkspaceConfiguration conf = WorkspaceConfiguration.builder().initialSize(0)
                .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.FIRST_LOOP).build();
        List<INDArray> inputs = new ArrayList<>();
        List<float[]> expected = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            INDArray x = Nd4j.randn(DataType.FLOAT, i % 2 == 0 ? 32 : 3, MLP[0]).muli(1.3);
            inputs.add(x);
            expected.add(q.outputSingle(x).data().asFloat());
        }
        for (int call = 0; call < 12; call++) {
            int i = call % inputs.size();
            try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(conf, "TEST_OUTPUT")) {
                INDArray y = q.output(false, ws, inputs.get(i))[0];
                assertTrue(y.isAttached(), "the output lives in the caller's workspace");
                assertArrayEquals(expected.get(i), y.data().asFloat(), "call " + call);
            }
        }
    }

    /**
     * Layer outputs share a cached shape descriptor ({@code ActivationArrays}), never memory: the arrays a caller got
     * from {@code output()} and {@code feedForward()} keep their values through later calls of other batch sizes.
     */
    @Test
    void successiveCallsNeverOverwriteEarlierResults() {
        ComputationGraph fp32 = NnTestSupport.mlp(6, MLP, Activation.RELU, Activation.RELU, Activation.SOFTMAX);
        ComputationGraph q = NnTestSupport.toQuantized(
                NnTestSupport.toReference(fp32, Nd4j.randn(DataType.FLOAT, 64, MLP[0]), false, true));
        INDArray x = Nd4j.randn(DataType.FLOAT, 5, MLP[0]);
        INDArray y = q.outputSingle(x);
        Map<String, INDArray> acts = q.feedForward(x, false);
        float[] yValues = y.data().asFloat();
        Map<String, float[]> actValues = new HashMap<>();
        acts.forEach((k, v) -> actValues.put(k, v.data().asFloat()));
        for (int rows : new int[] {5, 1, 5, 32}) {
            q.outputSingle(Nd4j.randn(DataType.FLOAT, rows, MLP[0]).muli(3));
            q.feedForward(Nd4j.randn(DataType.FLOAT, rows, MLP[0]), false);
        }
        assertArrayEquals(yValues, y.data().asFloat());
        acts.forEach((k, v) -> assertArrayEquals(actValues.get(k), v.data().asFloat(), k));
        assertArrayEquals(yValues, q.outputSingle(x).data().asFloat(), "same input, same output");
    }

    @Test
    void badInputsFailClearlyOrSaturate() {
        ComputationGraph fp32 = NnTestSupport.mlp(6, new int[] {6, 3}, Activation.IDENTITY);
        ComputationGraph q = NnTestSupport.toQuantized(
                NnTestSupport.toReference(fp32, Nd4j.randn(DataType.FLOAT, 8, 6), false, true));
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> q.outputSingle(Nd4j.randn(DataType.FLOAT, 2, 5)));
        assertTrue(wrong.getMessage().contains("QuantizedDense 'd0'") && wrong.getMessage().contains("nIn = 6")
                && wrong.getMessage().contains("[2, 5]"), wrong.getMessage());
        assertArrayEquals(new long[] {0, 3}, q.outputSingle(Nd4j.create(DataType.FLOAT, 0, 6)).shape());
        INDArray nan = Nd4j.randn(DataType.FLOAT, 2, 6);
        nan.putScalar(0, 4, Float.NaN);
        IllegalArgumentException nanError = assertThrows(IllegalArgumentException.class, () -> q.outputSingle(nan));
        assertTrue(nanError.getMessage().contains("NaN"), nanError.getMessage());
        INDArray inf = Nd4j.randn(DataType.FLOAT, 2, 6);
        inf.putScalar(1, 1, Float.NEGATIVE_INFINITY);
        for (float v : q.outputSingle(inf).data().asFloat()) {
            assertTrue(Float.isFinite(v), "infinity saturates");
        }
    }

    @Test
    void editedOrTruncatedModelFilesFailWithAClearError(@TempDir Path dir) throws Exception {
        ComputationGraph fp32 = NnTestSupport.mlp(7, new int[] {12, 5}, Activation.RELU);
        ComputationGraph q = NnTestSupport.toQuantized(
                NnTestSupport.toReference(fp32, Nd4j.randn(DataType.FLOAT, 8, 12), false, true));
        File good = dir.resolve("q.zip").toFile();
        ModelSerializer.writeModel(q, good, false);

        File edited = dir.resolve("edited.zip").toFile();
        rewriteConfiguration(good, edited, json -> json.replaceFirst("\"weightInt8\" : \"[A-Za-z0-9+/]{8}",
                "\"weightInt8\" : \""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelSerializer.restoreComputationGraph(edited, false));
        assertTrue(e.getMessage().contains("'d0'") && e.getMessage().contains("truncated or edited"), e.getMessage());

        byte[] all = Files.readAllBytes(good.toPath());
        File truncated = dir.resolve("truncated.zip").toFile();
        Files.write(truncated.toPath(), java.util.Arrays.copyOf(all, all.length / 2));
        Exception t = assertThrows(Exception.class, () -> ModelSerializer.restoreComputationGraph(truncated, false));
        assertFalse(t instanceof NullPointerException, String.valueOf(t));
        System.out.println("truncated model file: " + t);
    }

    @Test
    void worksInAMultiLayerNetworkToo() {
        INDArray w = Nd4j.randn(DataType.FLOAT, 8, 5).muli(0.3);
        INDArray b = Nd4j.randn(DataType.FLOAT, 1, 5);
        ReferenceQuantizedDense conf = new ReferenceQuantizedDense.Builder().nIn(8).nOut(5)
                .activation(Activation.RELU).inputQParams(QParams.perTensor(0.02f, 128, QuantDType.QUINT8))
                .weightQParams(NnTestSupport.perChannelSymmetric(w))
                .outputQParams(QParams.perTensor(0.03f, 0, QuantDType.QUINT8)).build();
        MultiLayerNetwork ref = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().list().layer(conf)
                .build());
        ref.init();
        ref.getLayer(0).setParam("W", w);
        ref.getLayer(0).setParam("b", b);
        MultiLayerNetwork q = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().list()
                .layer(QuantizedDense.fromReference(conf, w, b)).build());
        q.init();
        INDArray x = Nd4j.randn(DataType.FLOAT, 16, 8);
        assertArrayEquals(ref.output(x).data().asFloat(), q.output(x).data().asFloat());
    }

    @Test
    void loweringRejectsWeightsItCannotRunExactly() {
        INDArray w = Nd4j.randn(DataType.FLOAT, 4, 3);
        QParams affine = QParams.perTensor(0.1f, 3, QuantDType.QINT8);
        ReferenceQuantizedDense conf = new ReferenceQuantizedDense.Builder().nIn(4).nOut(3).weightQParams(affine)
                .inputQParams(QParams.perTensor(0.1f, 0, QuantDType.QUINT8)).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> QuantizedDense.fromReference(conf, w, null));
        assertTrue(e.getMessage().contains("zero points 0"), e.getMessage());
        ReferenceQuantizedDense axis0 = new ReferenceQuantizedDense.Builder().nIn(4).nOut(3)
                .weightQParams(QParams.perChannel(new float[] {1, 1, 1, 1}, new int[4], 0, QuantDType.QINT8, -128,
                        127, QScheme.PER_CHANNEL_SYMMETRIC))
                .inputQParams(QParams.perTensor(0.1f, 0, QuantDType.QUINT8)).build();
        assertThrows(IllegalArgumentException.class, () -> QuantizedDense.fromReference(axis0, w, null));
        ReferenceQuantizedDense ok = new ReferenceQuantizedDense.Builder().nIn(4).nOut(3)
                .weightQParams(QParams.perTensor(0.1f, 0, QuantDType.QINT8))
                .inputQParams(QParams.perTensor(0.1f, 0, QuantDType.QUINT8)).build();
        assertThrows(IllegalArgumentException.class, () -> QuantizedDense.fromReference(ok, w.transpose(), null));
    }

    private interface Edit {
        String apply(String json);
    }

    private static void rewriteConfiguration(File in, File out, Edit edit) throws Exception {
        try (ZipFile zip = new ZipFile(in); ZipOutputStream zos = new ZipOutputStream(new FileOutputStream(out))) {
            for (ZipEntry e : java.util.Collections.list(zip.entries())) {
                byte[] data = zip.getInputStream(e).readAllBytes();
                if (e.getName().equals("configuration.json")) {
                    String json = new String(data, StandardCharsets.UTF_8);
                    String changed = edit.apply(json);
                    assertFalse(json.equals(changed), "the edit must change the configuration");
                    data = changed.getBytes(StandardCharsets.UTF_8);
                }
                zos.putNextEntry(new ZipEntry(e.getName()));
                zos.write(data);
                zos.closeEntry();
            }
        }
    }
}
