package io.github.dl4jquant.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.dl4jquant.data.IdxReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The IDX reader behind the CLI's data folders and files, on arbitrary bytes (plain or gzipped): images of the shape
 * the header announces with values in [0, 1], or an {@link IllegalArgumentException}. An {@link IOException} from an
 * in-memory stream, any other exception, or an {@link OutOfMemoryError} (a header announcing gigabytes) is a finding.
 * Seeds: {@code IdxReaderFuzzTestInputs/readImagesAndLabels}.
 */
class IdxReaderFuzzTest {

    @FuzzTest
    void readImagesAndLabels(byte[] bytes) throws IOException {
        try {
            INDArray images = IdxReader.readImages(new ByteArrayInputStream(bytes), "fuzz.idx");
            assertEquals(2, images.rank());
            if (images.length() > 0) {
                assertEquals(true, images.minNumber().doubleValue() >= 0 && images.maxNumber().doubleValue() <= 1,
                        "pixels in [0, 1]");
            }
        } catch (IllegalArgumentException expected) {
            FuzzChecks.requireMessage(expected);
        }
        try {
            for (int label : IdxReader.readLabels(new ByteArrayInputStream(bytes), "fuzz.idx")) {
                assertEquals(true, label >= 0 && label <= 255, "label " + label);
            }
        } catch (IllegalArgumentException expected) {
            FuzzChecks.requireMessage(expected);
        }
    }
}
