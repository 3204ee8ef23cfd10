package io.github.dl4jquant.ns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class TensorComparisonTest {

    @Test
    void knownVectorsGiveTheTextbookValues() {
        // x has norm 3 and the error [0, 0, -0.3] norm 0.3: SQNR = 20 log10(10) = 20 dB, normalised L2 = 0.1
        INDArray x = Nd4j.createFromArray(1f, 2f, 2f);
        INDArray y = Nd4j.createFromArray(1f, 2f, 2.3f);
        TensorComparison c = TensorComparison.of(x, y, 0.6);
        assertEquals(20.0, c.sqnr(), 1e-5);
        assertEquals(0.1, c.normalizedL2(), 1e-6);
        double yNorm = Math.sqrt(1 + 4 + 2.3 * 2.3);
        assertEquals((1 + 4 + 2 * 2.3) / (3 * yNorm), c.cosineSimilarity(), 1e-6);
        assertEquals(0.3, c.maxAbsError(), 1e-6);
        assertEquals(Math.sqrt(0.09 / 3), c.rmse(), 1e-6);
        assertEquals(Math.sqrt(0.09 / 3) / 0.6, c.rmseOverScale(), 1e-6);
        assertEquals(3, c.count());
        assertEquals(20.0, TensorComparison.sqnr(x, y), 1e-5);
        assertEquals(0.1, TensorComparison.normalizedL2(x, y), 1e-6);
    }

    @Test
    void identicalTensorsHaveInfiniteSqnrAndCosineOne() {
        INDArray x = Nd4j.createFromArray(new float[][] {{1, -2}, {3, 4}});
        TensorComparison c = TensorComparison.of(x, x.dup(), Double.NaN);
        assertEquals(Double.POSITIVE_INFINITY, c.sqnr());
        assertEquals(1.0, c.cosineSimilarity(), 1e-12);
        assertEquals(0.0, c.maxAbsError());
        assertTrue(Double.isNaN(c.rmseOverScale()), "no output scale, no ratio");
        assertTrue(!c.toMap().containsKey("rmse_over_scale"), c.toMap().toString());
    }

    @Test
    void oppositeAndOrthogonalVectorsHaveCosineMinusOneAndZero() {
        INDArray x = Nd4j.createFromArray(1f, 0f);
        assertEquals(-1.0, TensorComparison.cosineSimilarity(x, x.neg()), 1e-12);
        assertEquals(0.0, TensorComparison.cosineSimilarity(x, Nd4j.createFromArray(0f, 5f)), 1e-12);
        assertEquals(0.0, TensorComparison.cosineSimilarity(x, Nd4j.createFromArray(0f, 0f)), 0.0,
                "PyTorch clamps the norm product with eps, giving 0");
    }

    @Test
    void roundingToAGridGivesRmseOverScaleOfOneOverSqrtTwelve() {
        Random r = new Random(7);
        float step = 0.05f;
        float[] x = new float[200_000];
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextDouble() * 10 - 5);
            y[i] = (float) (Math.rint(x[i] / step) * step);
        }
        TensorComparison c = TensorComparison.of(Nd4j.createFromArray(x), Nd4j.createFromArray(y), step);
        assertEquals(1 / Math.sqrt(12), c.rmseOverScale(), 0.003);
        assertTrue(c.maxAbsError() <= step / 2 + 1e-6, "rounding error is at most half a step: " + c.maxAbsError());
    }

    @Test
    void memoryLayoutDoesNotChangeTheResult() {
        INDArray x = Nd4j.rand(DataType.FLOAT, 5, 7);
        INDArray y = x.add(Nd4j.rand(DataType.FLOAT, 5, 7).muli(0.01));
        TensorComparison c = TensorComparison.of(x, y, 0.1);
        TensorComparison mixed = TensorComparison.of(x.dup('f'), y.dup('c'), 0.1);
        TensorComparison view = TensorComparison.of(x.transpose().transpose(), y.dup('f'), 0.1);
        for (TensorComparison other : new TensorComparison[] {mixed, view}) {
            assertEquals(c.sqnr(), other.sqnr(), 1e-9);
            assertEquals(c.cosineSimilarity(), other.cosineSimilarity(), 1e-12);
            assertEquals(c.maxAbsError(), other.maxAbsError(), 0);
            assertEquals(c.rmse(), other.rmse(), 1e-12);
        }
    }

    @Test
    void differentShapesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorComparison.of(Nd4j.zeros(2, 3), Nd4j.zeros(3, 2), 1));
        assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[3, 2]"), e.getMessage());
    }
}
