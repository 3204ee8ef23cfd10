package io.github.dl4jquant.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.deeplearning4j.datasets.iterator.impl.MnistDataSetIterator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/** Runs against Debian's dataset-fashion-mnist package, which .ci/run installs. */
class FashionMnistTest {

    private static DataSet test;

    @TempDir
    Path dir;

    @BeforeAll
    static void readTestSplit() {
        test = FashionMnist.debian().test();
    }

    @Test
    void testSplitHasTenThousandBalancedExamplesInUnitRange() {
        assertArrayEquals(new long[] {10000, 784}, test.getFeatures().shape());
        assertArrayEquals(new long[] {10000, 10}, test.getLabels().shape());
        assertEquals(0.0, test.getFeatures().minNumber().doubleValue());
        assertEquals(1.0, test.getFeatures().maxNumber().doubleValue());
        // Fashion-MNIST's test split has exactly 1000 images of each class.
        INDArray perClass = test.getLabels().sum(0);
        for (int c = 0; c < 10; c++) {
            assertEquals(1000.0, perClass.getDouble(c), "class " + c);
        }
        assertEquals(FashionMnist.CLASS_NAMES, test.getLabelNamesList());
    }

    @Test
    void trainSplitHasSixtyThousandExamplesAndFirstIsAnAnkleBoot() {
        DataSet train = FashionMnist.debian().train();
        assertArrayEquals(new long[] {60000, 784}, train.getFeatures().shape());
        assertEquals(9, train.getLabels().getRow(0).argMax().getInt(0));
        assertEquals("Ankle boot", FashionMnist.CLASS_NAMES.get(9));
        assertTrue(train.getFeatures().minNumber().doubleValue() >= 0.0);
        assertTrue(train.getFeatures().maxNumber().doubleValue() <= 1.0);
        assertEquals(6000.0, train.getLabels().sum(0).getDouble(0));
    }

    @Test
    void matchesDl4jMnistIteratorOnUncompressedCopy() throws IOException {
        for (String name : new String[] {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
            try (InputStream in = new GZIPInputStream(
                    Files.newInputStream(FashionMnist.DEBIAN_DIR.resolve(name + ".gz")))) {
                Files.copy(in, dir.resolve(name));
            }
        }
        DataSetIterator dl4j = new MnistDataSetIterator(64, 10000, false, false, false, 0, new File(dir.toString()));
        DataSet expected = dl4j.next();
        DataSet ours = FashionMnist.at(dir).testIterator(64).next();
        assertArrayEquals(expected.getFeatures().shape(), ours.getFeatures().shape());
        assertEquals(0.0, expected.getFeatures().sub(ours.getFeatures()).amaxNumber().doubleValue());
        assertEquals(expected.getLabels(), ours.getLabels());
    }

    @Test
    void iteratorCoversEveryExampleOnce() {
        DataSetIterator it = FashionMnist.iterator(test, 3000);
        long[] sizes = new long[4];
        int batches = 0;
        while (it.hasNext()) {
            sizes[batches++] = it.next().numExamples();
        }
        assertArrayEquals(new long[] {3000, 3000, 3000, 1000}, sizes);
        it.reset();
        assertEquals(test.getFeatures().getRow(0), it.next().getFeatures().getRow(0));
    }

    @Test
    void missingFilesAreNamedWithThePackage() throws IOException {
        Files.write(dir.resolve("train-images-idx3-ubyte.gz"), new byte[0]);
        Files.write(dir.resolve("train-labels-idx1-ubyte"), new byte[0]);
        assertFalse(FashionMnist.isAvailable(dir));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> FashionMnist.at(dir));
        String m = e.getMessage();
        assertTrue(m.contains(dir.toString()), m);
        assertTrue(m.contains("missing [t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]]"), m);
        assertTrue(m.contains("apt-get install dataset-fashion-mnist"), m);
    }

    @Test
    void mismatchedCountsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FashionMnist.toDataSet(test.getFeatures(), new int[] {1, 2}, "x"));
        assertTrue(e.getMessage().contains("10000 images but 2 labels"), e.getMessage());
    }

    @Test
    void rejectsNonPositiveBatchSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FashionMnist.iterator(test, 0));
        assertTrue(e.getMessage().contains("batchSize must be >= 1, got 0"), e.getMessage());
    }
}
