package io.github.dl4jquant.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.bytedeco.dnnl.stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The fused oneDNN linear against the same function computed exactly in Java (long accumulators, double epilogue):
 * 7-bit inputs (one product) and full 8-bit inputs (on CPUs without VNNI, the split product), with and without
 * zero points, ReLU and output requantization.
 */
class DnnlInt8LinearTest {
    private static final int K = 300;
    private static final int N = 40;

    @ParameterizedTest(name = "maxQ={0} zp={1} activation={2} requantize={3} m={4} k={5} n={6} outlierEvery={7}")
    @CsvSource({
        "127, 0, relu, true, 1, 300, 40, 0", "127, 0, relu, true, 64, 300, 40, 0",
        "255, 0, relu, true, 64, 300, 40, 0", "255, 7, identity, true, 33, 300, 40, 0",
        "127, 3, identity, false, 17, 300, 40, 0", "255, 0, relu, false, 64, 300, 40, 0",
        "255, 200, relu, true, 5, 300, 40, 0", "255, 9, tanh, true, 21, 300, 40, 0",
        "127, 0, tanh, false, 8, 300, 40, 0", "255, 128, relu, true, 10, 12, 16, 0",
        "127, 60, relu, true, 10, 12, 16, 0", "255, 30, identity, false, 3, 7, 5, 0",
        "127, 0, relu, true, 64, 300, 40, 200", "127, 5, tanh, true, 16, 300, 40, 150",
        "127, 0, identity, false, 64, 512, 256, 500", "127, 3, relu, true, 10, 12, 16, 7",
        "127, 0, sigmoid, true, 16, 300, 40, 0", "255, 4, sigmoid, true, 8, 300, 40, 0",
        "127, 0, softmax, true, 16, 300, 40, 0", "127, 0, softmax, false, 4, 300, 40, 100",
        "127, 2, tanh, true, 16, 300, 40, 90"
    })
    void matchesExactJavaComputation(int maxQ, int zp, String activation, boolean requantize, int m, int k, int n,
                                     int outlierEvery) {
        assertTrue(DnnlInt8Linear.isAvailable(), "oneDNN primitives should load in this build: "
                + DnnlInt8Linear.unavailableReason());
        Random r = new Random(maxQ * 31L + zp + m);
        byte[] w = new byte[k * n];
        float[] ws = new float[n];
        float[] b = new float[n];
        for (int i = 0; i < w.length; i++) {
            w[i] = (byte) (r.nextInt(256) - 128);
        }
        for (int j = 0; j < n; j++) {
            ws[j] = 0.001f + 0.01f * r.nextFloat();
            b[j] = r.nextFloat() - 0.5f;
        }
        float inScale = 0.05f;
        float[] xs = new float[m * k];
        for (int i = 0; i < xs.length; i++) {
            // outliers: a few inputs beyond a 7-bit calibrated range, as new data brings
            int q = outlierEvery > 0 && i % outlierEvery == 3 ? 129 + r.nextInt(127) : r.nextInt(maxQ + 1);
            xs[i] = (q - zp + (r.nextFloat() - 0.5f) * 0.9f) * inScale;
        }
        float outScale = requantize ? 0.3f : 0f;
        int outZp = requantize ? 2 : 0;
        INDArray x = Nd4j.createFromArray(xs).reshape('c', m, k);
        INDArray y = Nd4j.create(DataType.FLOAT, new long[] {m, n}, 'c');
        DnnlInt8Linear linear =
                new DnnlInt8Linear(w, k, n, ws, b, Activation.fromString(activation).getActivationFunction(),
                        false);
        double[] expected = exact(xs, m, k, n, w, ws, b, inScale, zp, activation, outScale, outZp);

        assertTrue(linear.forward(x, inScale, zp, outScale, outZp, y));
        assertMatches(expected, y, requantize ? outScale : 0f, "static (convolution)");

        INDArray yDynamic = Nd4j.create(DataType.FLOAT, new long[] {m, n}, 'c');
        assertTrue(linear.forwardDynamic(x, inScale, zp, outScale, outZp, yDynamic));
        assertMatches(expected, yDynamic, requantize ? outScale : 0f, "dynamic (convolution scaled at run time)");

        // the matmul, which CPUs without oneDNN's jit int8 convolution run
        DnnlLinearParams params = new DnnlLinearParams(w, k, n, ws, b,
                Activation.fromString(activation).getActivationFunction());
        INDArray yMatmul = Nd4j.create(DataType.FLOAT, new long[] {m, n}, 'c');
        assertTrue(run(new DnnlLinearPlan(params, m, requantize, false, false), x, yMatmul, inScale, zp, outScale,
                outZp));
        assertMatches(expected, yMatmul, requantize ? outScale : 0f, "matmul");
    }

    /** One call through a plan, as {@link DnnlInt8Linear} makes it; false when the input holds NaN. */
    private static boolean run(DnnlLinearPlan plan, INDArray x, INDArray y, float inScale, int inZp, float outScale,
                               int outZp) {
        plan.bind(x, y);
        plan.setQParams(inScale, inZp, outScale, outZp);
        return plan.forward(Dnnl.stream(), null, y);
    }

    /**
     * Within one output step of the exact result (float ulps without requantization), and bit-identical for 99%
     * when requantized.
     */
    private static void assertMatches(double[] expected, INDArray y, float outScale, String path) {
        float[] got = y.data().asFloat();
        int identical = 0;
        for (int i = 0; i < got.length; i++) {
            double tolerance = outScale != 0f ? outScale * 1.0001 : 1e-5 * Math.max(1.0, Math.abs(expected[i]));
            // tanh, sigmoid, softmax: oneDNN's float versions vs Math's move values by float ulps, and across a
            // rounding boundary (one step) when requantized
            assertEquals(expected[i], got[i], tolerance, path + ": element " + i);
            identical += (float) expected[i] == got[i] ? 1 : 0;
        }
        if (outScale != 0f) {
            assertTrue(identical >= got.length * 0.99, path + ": " + identical + " of " + got.length + " identical");
        }
    }

    /**
     * The next layer reuses the u8 values behind the previous layer's output instead of quantizing it again: same
     * result as quantizing a copy. Changing the array in place in between (which no int8 consumer does, and the
     * converter lets only layers whose consumers are all int8 offer) shows that the values really are reused; a
     * layer that does not offer, another array or other qparams quantize the floats.
     */
    @Test
    void theNextLayerTakesThePreviousLayersQuantizedOutput() {
        int m = 5;
        Random r = new Random(21);
        byte[] w1 = randomBytes(r, K * N);
        byte[] w2 = randomBytes(r, N * 7);
        INDArray x = Nd4j.createFromArray(uniform(r, m * K, 1f)).reshape('c', m, K);
        DnnlInt8Linear first = new DnnlInt8Linear(w1, K, N, filled(N, 0.002f), null,
                Activation.RELU.getActivationFunction(), true);
        DnnlInt8Linear silent = new DnnlInt8Linear(w1, K, N, filled(N, 0.002f), null,
                Activation.RELU.getActivationFunction(), false);
        DnnlInt8Linear second = new DnnlInt8Linear(w2, N, 7, filled(7, 0.01f), null,
                Activation.IDENTITY.getActivationFunction(), false);
        float hiddenScale = 0.05f;
        int hiddenZp = 3;

        INDArray hidden = Nd4j.create(DataType.FLOAT, new long[] {m, N}, 'c');
        assertTrue(first.forward(x, 0.01f, 0, hiddenScale, hiddenZp, hidden));
        INDArray copy = hidden.dup();
        INDArray zeros = Nd4j.zeros(DataType.FLOAT, m, N);
        INDArray expected = output(second, copy, hiddenScale, hiddenZp);
        INDArray ofZeros = output(second, zeros, hiddenScale, hiddenZp);
        assertNotEquals(expected, ofZeros);

        assertTrue(first.forward(x, 0.01f, 0, hiddenScale, hiddenZp, hidden));
        assertEquals(expected, output(second, hidden, hiddenScale, hiddenZp), "handed over: same as a copy");

        assertTrue(first.forward(x, 0.01f, 0, hiddenScale, hiddenZp, hidden));
        hidden.assign(0f);
        assertEquals(expected, output(second, hidden, hiddenScale, hiddenZp), "the u8 values were reused");
        assertEquals(expected, output(second, hidden, hiddenScale, hiddenZp),
                "the offer stands until its producer runs again (a residual input is taken twice)");

        INDArray other = Nd4j.create(DataType.FLOAT, new long[] {m, N}, 'c');
        assertTrue(silent.forward(x, 0.01f, 0, hiddenScale, hiddenZp, other));
        other.assign(0f);
        assertEquals(ofZeros, output(second, other, hiddenScale, hiddenZp), "a layer that does not offer: quantized");

        assertTrue(first.forward(x, 0.01f, 0, hiddenScale, hiddenZp, hidden));
        hidden.assign(0f);
        assertEquals(output(second, zeros, hiddenScale * 2, hiddenZp),
                output(second, hidden, hiddenScale * 2, hiddenZp), "other qparams: quantized again");
    }

    private static INDArray output(DnnlInt8Linear linear, INDArray x, float inScale, int inZp) {
        INDArray y = Nd4j.create(DataType.FLOAT, new long[] {x.size(0), 7}, 'c');
        assertTrue(linear.forward(x, inScale, inZp, 0f, 0, y));
        return y;
    }

    @Test
    void staticQParamsRunTheConvolutionAndAChangeOfQParamsRebuildsIt() {
        int m = 6;
        Random r = new Random(11);
        byte[] w = randomBytes(r, K * N);
        float[] ws = filled(N, 0.003f);
        float[] b = new float[N];
        float[] xs = uniform(r, m * K, 2f);
        INDArray x = Nd4j.createFromArray(xs).reshape('c', m, K);
        DnnlLinearParams params = new DnnlLinearParams(w, K, N, ws, b, Activation.RELU.getActivationFunction());
        DnnlLinearPlan plan = new DnnlLinearPlan(params, m, true, true);
        DnnlLinearPlan dynamicPlan = new DnnlLinearPlan(params, m, true, false);
        plan.setQParams(0.02f, 3, 0.4f, 1);
        dynamicPlan.setQParams(0.02f, 3, 0.4f, 1);
        assertTrue(plan.usesConvolution(), "AVX2 and newer have oneDNN's jit 1x1 int8 convolution");
        assertTrue(dynamicPlan.usesConvolution(), "qparams that change per call are read at run time");
        assertFalse(new DnnlLinearPlan(params, m, true, false, false).usesConvolution(), "matmuls only");

        DnnlInt8Linear linear = new DnnlInt8Linear(w, K, N, ws, b, Activation.RELU.getActivationFunction(), false);
        for (float[] q : new float[][] {{0.02f, 3, 0.4f, 1}, {0.016f, 40, 0.25f, 7}, {0.02f, 3, 0.4f, 1}}) {
            INDArray y = Nd4j.create(DataType.FLOAT, new long[] {m, N}, 'c');
            assertTrue(linear.forward(x, q[0], (int) q[1], q[2], (int) q[3], y));
            double[] expected = exact(xs, m, K, N, w, ws, b, q[0], (int) q[1], "relu", q[2], (int) q[3]);
            assertMatches(expected, y, q[2], "qparams " + Arrays.toString(q));
        }
    }

    @Test
    void infinitiesSaturateToTheQuantizedRangeAsInPyTorch() {
        int m = 4;
        Random r = new Random(5);
        byte[] w = randomBytes(r, K * N);
        float[] ws = filled(N, 0.004f);
        float[] xs = uniform(r, m * K, 1f);
        xs[3] = Float.POSITIVE_INFINITY;
        xs[K + 8] = -1e30f;   // with -inf too, the sum-based NaN check reports NaN: see reportsNan...
        INDArray y = Nd4j.create(DataType.FLOAT, new long[] {m, N}, 'c');
        DnnlInt8Linear linear = new DnnlInt8Linear(w, K, N, ws, null, new ActivationIdentity(), false);

        assertTrue(linear.forward(Nd4j.createFromArray(xs).reshape('c', m, K), 0.01f, 2, 0f, 0, y));

        double[] expected = exact(xs, m, K, N, w, ws, new float[N], 0.01f, 2, "identity", 0f, 0);
        float[] got = y.data().asFloat();
        for (int i = 0; i < got.length; i++) {
            assertEquals(expected[i], got[i], 1e-5 * Math.max(1.0, Math.abs(expected[i])), "element " + i);
        }
    }

    /**
     * Which product runs, seen through {@code multiply}'s result (float left in y means the outlier correction or
     * the run-time scaled convolution ran, since a ReLU layer with output qparams otherwise requantizes inside its
     * product): few inputs above 128 take the correction, many take the split product, none the single product.
     * Without VNNI only; with VNNI, always one. Each path's result must match exact Java arithmetic, with fixed
     * qparams (convolutions), with qparams given per call (the run-time scaled convolution, whose saturating batches
     * run the matmul on per-column arrays refreshed only then), and with matmuls only.
     */
    @ParameterizedTest(name = "outlierEvery={0}: correction={1}, fixed qparams={2}, convolutions={3}")
    @CsvSource({"0, false, true, true", "150, true, true, true", "2, false, true, true", "0, false, false, true",
        "150, true, false, true", "2, false, false, true", "0, false, false, false", "150, true, false, false",
        "2, false, false, false"})
    void fewOutliersTakeTheCorrectionAndManyTheSplitProduct(int outlierEvery, boolean correctionWithoutVnni,
                                                            boolean fixedQParams, boolean convolutions) {
        int m = 32;
        byte[] w = randomBytes(new Random(3), K * N);
        DnnlLinearParams params = new DnnlLinearParams(w, K, N, filled(N, 0.01f), null,
                Activation.RELU.getActivationFunction());
        DnnlLinearPlan plan = new DnnlLinearPlan(params, m, true, fixedQParams, convolutions);
        float[] xs = new float[m * K];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = outlierEvery > 0 && i % outlierEvery == 1 ? 200 : i % 120;   // quantized with scale 1, zp 0
        }
        INDArray y = Nd4j.create(DataType.FLOAT, new long[] {m, N}, 'c');
        plan.bind(Nd4j.createFromArray(xs).reshape('c', m, K), y);
        plan.setQParams(1f, 0, 0.5f, 0);
        stream s = Dnnl.stream();

        assertTrue(plan.quantizeInput(s, null));
        boolean floatInY = plan.multiply(s);
        boolean saturating = outlierEvery > 0 && DnnlInt8Linear.saturatesPairs();
        boolean runTimeScaled = !fixedQParams && convolutions && !saturating;
        assertEquals(runTimeScaled || correctionWithoutVnni && saturating, floatInY);

        plan.activate(s, y);
        plan.finish(s, floatInY);
        double[] expected = exact(xs, m, K, N, w, filled(N, 0.01f), new float[N], 1f, 0, "relu", 0.5f, 0);
        assertMatches(expected, y, 0.5f, "outlierEvery=" + outlierEvery + ", fixed qparams=" + fixedQParams
                + ", convolutions=" + convolutions);
    }

    @Test
    void reportsNanWithoutWritingTheOutput() {
        DnnlInt8Linear linear = identityLayer();
        INDArray x = Nd4j.rand(DataType.FLOAT, 3, K);
        x.putScalar(1, 7, Float.NaN);
        INDArray y = Nd4j.valueArrayOf(new long[] {3, N}, 42f, DataType.FLOAT);
        assertFalse(linear.forward(x, 0.01f, 0, 0.1f, 0, y));
        assertArrayEquals(filled(3 * N, 42f), y.data().asFloat());
        x.putScalar(1, 7, Float.POSITIVE_INFINITY);
        x.putScalar(2, 9, Float.NEGATIVE_INFINITY);
        assertFalse(linear.forward(x, 0.01f, 0, 0.1f, 0, y), "+inf and -inf sum to NaN: refused, not guessed");
    }

    @Test
    void rangeIsComputedNatively() {
        DnnlInt8Linear linear = identityLayer();
        INDArray x = Nd4j.rand(DataType.FLOAT, 5, K).subi(0.25f);
        x.putScalar(2, 3, -7f);
        x.putScalar(4, 9, 11f);
        assertArrayEquals(new float[] {-7f, 11f}, linear.range(x));
        x.putScalar(0, 0, Float.NaN);
        assertEquals(null, linear.range(x));
    }

    @Test
    void rejectsArraysItCannotRead() {
        DnnlInt8Linear linear = identityLayer();
        INDArray y = Nd4j.create(DataType.FLOAT, 2, N);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> linear.forward(Nd4j.rand(DataType.FLOAT, 2, K + 1), 0.1f, 0, 0f, 0, y));
        assertTrue(e.getMessage().contains("x must be a contiguous 'c'-order FLOAT [2, 300]"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> linear.forward(Nd4j.rand(DataType.FLOAT, 2, K).dup('f'), 0.1f, 0, 0f, 0, y));
        assertThrows(IllegalArgumentException.class,
                () -> new DnnlInt8Linear(new byte[K * N - 1], K, N, filled(N, 0.01f), null, new ActivationIdentity(),
                        false));
    }

    private static double[] exact(float[] xs, int m, int k, int n, byte[] w, float[] ws, float[] b, float inScale,
                                  int zp, String activation, float outScale, int outZp) {
        float inv = 1.0f / inScale;
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            int[] q = new int[k];
            for (int t = 0; t < k; t++) {
                q[t] = (int) Math.max(0, Math.min(255, Math.rint(xs[i * k + t] * inv) + zp));
            }
            double[] v = new double[n];
            for (int j = 0; j < n; j++) {
                long acc = 0;
                for (int t = 0; t < k; t++) {
                    acc += (long) (q[t] - zp) * w[t * n + j];
                }
                v[j] = acc * ((double) inScale * ws[j]) + b[j];
            }
            activate(v, activation);
            for (int j = 0; j < n; j++) {
                double y = v[j];
                if (outScale != 0f) {
                    double qo = Math.max(0, Math.min(255, Math.rint(y / outScale) + outZp));
                    y = (float) ((qo - outZp) * outScale);
                }
                out[i * n + j] = y;
            }
        }
        return out;
    }

    private static void activate(double[] v, String activation) {
        switch (activation) {
            case "relu":
                Arrays.setAll(v, j -> Math.max(0, v[j]));
                break;
            case "tanh":
                Arrays.setAll(v, j -> Math.tanh(v[j]));
                break;
            case "sigmoid":
                Arrays.setAll(v, j -> 1 / (1 + Math.exp(-v[j])));
                break;
            case "softmax":
                double max = Arrays.stream(v).max().orElseThrow();
                double sum = Arrays.stream(v).map(x -> Math.exp(x - max)).sum();
                Arrays.setAll(v, j -> Math.exp(v[j] - max) / sum);
                break;
            default:
                break;
        }
    }

    private static DnnlInt8Linear identityLayer() {
        return new DnnlInt8Linear(new byte[K * N], K, N, filled(N, 0.01f), null, new ActivationIdentity(), false);
    }

    private static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** n values uniform in [0, max). */
    private static float[] uniform(Random r, int n, float max) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * max;
        }
        return a;
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }
}
