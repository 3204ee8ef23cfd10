package io.github.dl4jquant.examples.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.dl4jquant.examples.cli.CliData;
import io.github.dl4jquant.fuzz.FuzzChecks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The command-line tool's data readers on arbitrary file content: a CSV (features, or features and a label) or an
 * IDX images file with its labels file next to it (the input split in two). Either finite features of a consistent shape, or an
 * {@link IllegalArgumentException}; anything else is a finding. Seeds: {@code CliDataFuzzTestInputs/readData}.
 */
class CliDataFuzzTest {

    private static final Path DIR = createDir();

    private static Path createDir() {
        try {
            return Files.createTempDirectory("cli-data-fuzz");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @FuzzTest
    void readData(FuzzedDataProvider data) throws IOException {
        int kind = data.consumeInt(0, 2);
        int cut = data.consumeInt(0, 1 << 16);
        byte[] content = data.consumeRemainingAsBytes();
        try {
            CliData read;
            if (kind == 2) {
                int at = Math.min(cut, content.length);
                Files.write(DIR.resolve("t10k-images-idx3-ubyte"), Arrays.copyOfRange(content, 0, at));
                Files.write(DIR.resolve("t10k-labels-idx1-ubyte"), Arrays.copyOfRange(content, at, content.length));
                read = CliData.labelled(DIR.resolve("t10k-images-idx3-ubyte"));
            } else {
                Path csv = Files.write(DIR.resolve("data.csv"), content);
                read = kind == 0 ? CliData.features(csv) : CliData.labelled(csv);
            }
            assertEquals(2, read.features().rank());
            for (float v : read.numExamples() == 0 ? new float[0] : read.features().data().asFloat()) {
                assertTrue(Float.isFinite(v), "finite features, got " + v);
            }
            assertTrue(read.labels() == null || read.labels().length == read.numExamples() || kind == 2,
                    "one label per example");
            assertTrue(kind == 0 || read.labels() != null, "labels were read");
        } catch (IllegalArgumentException expected) {
            FuzzChecks.requireMessage(expected);
        }
    }
}
