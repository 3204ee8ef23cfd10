package io.github.dl4jquant.observer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.testing.Golden;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Every case of PyTorch 1.13's golden {@code observers.json}, within the tolerances of the golden README. */
class ObserverGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(ObserverGoldenTest.class);
    private static final JsonNode GOLDEN = Golden.load("observers.json");

    @TestFactory
    Stream<DynamicTest> everyGoldenCase() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : GOLDEN.get("cases")) {
            String name = c.get("observer").asText() + " on " + c.get("input").asText();
            tests.add(DynamicTest.dynamicTest(name, () -> check(c)));
        }
        return tests.stream();
    }

    @Test
    void coversAllNinetyThreeCasesAndReportsWorstError() {
        double worstMinMax = 0;
        double worstHistogram = 0;
        int cases = 0;
        for (JsonNode c : GOLDEN.get("cases")) {
            Observer obs = run(c);
            double err = maxRelativeError(obs.calculateQParams().scales(), Golden.floats(c.get("scale")));
            if (c.get("observer").asText().startsWith("histogram")) {
                worstHistogram = Math.max(worstHistogram, err);
            } else {
                worstMinMax = Math.max(worstMinMax, err);
            }
            cases++;
        }
        LOG.info("observers.json: {} cases, worst relative scale error min/max family {}, histogram {}", cases,
                worstMinMax, worstHistogram);
        assertEquals(93, cases);
        assertTrue(worstMinMax <= 1e-6, "min/max family worst relative error " + worstMinMax);
        assertTrue(worstHistogram <= 1e-3, "histogram worst relative error " + worstHistogram);
    }

    private static void check(JsonNode c) {
        String observer = c.get("observer").asText();
        Observer obs = run(c);
        QParams q = obs.calculateQParams();
        float[] scale = Golden.floats(c.get("scale"));
        int[] zp = Golden.ints(c.get("zero_point"));
        assertArrayEquals(Golden.floats(c.get("min_val")), obs.minVal(), 0f, "min_val");
        assertArrayEquals(Golden.floats(c.get("max_val")), obs.maxVal(), 0f, "max_val");
        double err = maxRelativeError(q.scales(), scale);
        if (observer.startsWith("histogram")) {
            assertTrue(err <= 1e-3, "scale relative error " + err + " > 1e-3: got " + q + " want " + scale[0]);
            assertTrue(Math.abs(q.zeroPoint() - zp[0]) <= 1, "zero point " + q.zeroPoint() + " want " + zp[0]);
        } else {
            assertTrue(err <= 1e-6, "scale relative error " + err + " > 1e-6: got "
                    + java.util.Arrays.toString(q.scales()) + " want " + java.util.Arrays.toString(scale));
            assertArrayEquals(zp, q.zeroPoints(), "zero points");
        }
    }

    private static Observer run(JsonNode c) {
        Observer obs = factoryFor(c.get("observer").asText()).create();
        String input = c.get("input").asText();
        if (input.equals("sequence")) {
            for (JsonNode batch : GOLDEN.get("sequence")) {
                obs.observe(Golden.matrix(batch));
            }
        } else {
            obs.observe(Golden.matrix(GOLDEN.get("inputs").get(input)));
        }
        return obs;
    }

    /** The observer configuration named by the golden file's naming scheme (see golden/README.md). */
    static ObserverFactory factoryFor(String name) {
        QuantDType dtype = name.contains("qint8") ? QuantDType.QINT8 : QuantDType.QUINT8;
        boolean symmetric = name.contains("symmetric");
        boolean reduceRange = name.contains("reduce_range");
        if (name.startsWith("moving_average_perchannel")) {
            return MovingAveragePerChannelMinMaxObserver.builder().dtype(dtype)
                    .qscheme(symmetric ? QScheme.PER_CHANNEL_SYMMETRIC : QScheme.PER_CHANNEL_AFFINE)
                    .averagingConstant(averagingConstant(name));
        }
        if (name.startsWith("moving_average_minmax")) {
            return MovingAverageMinMaxObserver.builder().dtype(dtype)
                    .qscheme(symmetric ? QScheme.PER_TENSOR_SYMMETRIC : QScheme.PER_TENSOR_AFFINE)
                    .averagingConstant(averagingConstant(name));
        }
        if (name.startsWith("perchannel")) {
            return PerChannelMinMaxObserver.builder().dtype(dtype)
                    .qscheme(symmetric ? QScheme.PER_CHANNEL_SYMMETRIC : QScheme.PER_CHANNEL_AFFINE)
                    .chAxis(Integer.parseInt(name.substring(name.indexOf("_axis") + 5)));
        }
        QScheme scheme = symmetric ? QScheme.PER_TENSOR_SYMMETRIC : QScheme.PER_TENSOR_AFFINE;
        if (name.startsWith("histogram")) {
            return HistogramObserver.builder().dtype(dtype).qscheme(scheme).reduceRange(reduceRange)
                    .bins(2048).upsampleRate(128).truncateHistcRange(true);
        }
        if (name.startsWith("minmax")) {
            MinMaxObserver.Builder b = MinMaxObserver.builder().dtype(dtype).qscheme(scheme).reduceRange(reduceRange);
            return name.contains("restricted") ? b.quantMin(-127).quantMax(127) : b;
        }
        throw new IllegalArgumentException("unknown golden observer " + name);
    }

    private static double averagingConstant(String name) {
        String tail = name.substring(name.lastIndexOf("_c") + 2);
        return Double.parseDouble(tail);
    }

    private static double maxRelativeError(float[] got, float[] want) {
        assertEquals(want.length, got.length, "number of scales");
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs((double) got[i] - want[i]) / Math.abs((double) want[i]));
        }
        return worst;
    }
}
