package io.github.dl4jquant.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.data.FashionMnist;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

class ExampleDataTest {

    @AfterEach
    void clearProperty() {
        System.clearProperty(ExampleData.SOURCE_PROPERTY);
    }

    @Test
    void embeddedSubsetIsClassBalancedAndInUnitRange() {
        ExampleData data = ExampleData.embedded();
        assertFalse(data.isFullSet());
        DataSet train = data.train();
        DataSet test = data.test();
        assertArrayEquals(new long[] {6000, 784}, train.getFeatures().shape());
        assertArrayEquals(new long[] {1000, 784}, test.getFeatures().shape());
        for (int c = 0; c < 10; c++) {
            assertEquals(600.0, train.getLabels().sum(0).getDouble(c), "train class " + c);
            assertEquals(100.0, test.getLabels().sum(0).getDouble(c), "test class " + c);
        }
        assertEquals(0.0, train.getFeatures().minNumber().doubleValue());
        assertEquals(1.0, train.getFeatures().maxNumber().doubleValue());
    }

    /** The subset must be the first 100 test images of each class of the real set, in file order. */
    @Test
    void embeddedTestSplitIsTheFirstHundredPerClassOfDebiansSet() {
        DataSet full = FashionMnist.debian().test();
        int[] fullLabels = full.getLabels().argMax(1).toIntVector();
        int[] taken = new int[10];
        int[] rows = new int[1000];
        int k = 0;
        for (int i = 0; i < fullLabels.length && k < rows.length; i++) {
            if (taken[fullLabels[i]]++ < 100) {
                rows[k++] = i;
            }
        }
        INDArray expected = full.getFeatures().get(NDArrayIndex.indices(toLong(rows)), NDArrayIndex.all());
        DataSet subset = ExampleData.embedded().test();
        assertEquals(0.0, expected.sub(subset.getFeatures()).amaxNumber().doubleValue());
        assertArrayEquals(Arrays.stream(rows).map(r -> fullLabels[r]).toArray(),
                subset.getLabels().argMax(1).toIntVector());
    }

    @Test
    void propertySelectsTheSource() {
        System.setProperty(ExampleData.SOURCE_PROPERTY, "embedded");
        assertFalse(ExampleData.load().isFullSet());
        System.setProperty(ExampleData.SOURCE_PROPERTY, "auto");
        assertEquals(FashionMnist.isAvailable(FashionMnist.DEBIAN_DIR), ExampleData.load().isFullSet());
        System.setProperty(ExampleData.SOURCE_PROPERTY, "debian");
        assertTrue(ExampleData.load().description().contains("60000 train"));
    }

    @Test
    void unknownSourceIsRejected() {
        System.setProperty(ExampleData.SOURCE_PROPERTY, "s3");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, ExampleData::load);
        assertTrue(e.getMessage().contains("-Ddl4jquant.data=s3 is not a data source; use auto, debian or embedded"),
                e.getMessage());
    }

    private static long[] toLong(int[] a) {
        return Arrays.stream(a).asLongStream().toArray();
    }
}
