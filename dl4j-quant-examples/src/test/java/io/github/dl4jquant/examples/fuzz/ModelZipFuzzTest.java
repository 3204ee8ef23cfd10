package io.github.dl4jquant.examples.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.dl4jquant.examples.LoadedModel;
import io.github.dl4jquant.examples.ModelFiles;
import io.github.dl4jquant.examples.ZipEntries;
import io.github.dl4jquant.fuzz.FuzzChecks;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Restoring a quantized model zip, as the command-line tool does ({@code ModelFiles.load}), then running it: the
 * input replaces the configuration JSON, or the parameters, of a real int8 model (the 12-feature MLP of the core
 * tests, {@code resources/.../int8-mlp.zip}), or is taken as the whole file. A restored model must run, or the load or
 * the run must throw an {@link IllegalArgumentException}; anything else (a NullPointerException, an
 * IndexOutOfBoundsException, a crash of the native kernels) is a finding. Seeds: {@code ModelZipFuzzTestInputs/restore}.
 */
class ModelZipFuzzTest {

    private static final byte[] INT8_ZIP = resource("int8-mlp.zip");
    private static final Path FILE = tempFile();

    @FuzzTest
    void restore(FuzzedDataProvider data) throws IOException {
        int part = data.consumeInt(0, 2);
        byte[] content = data.consumeRemainingAsBytes();
        Files.write(FILE, part == 0 ? content
                : ZipEntries.replace(INT8_ZIP, part == 1 ? "configuration.json" : "coefficients.bin", content));
        try {
            LoadedModel model = ModelFiles.load(FILE);
            model.output(Nd4j.rand(DataType.FLOAT, 3, 12));
        } catch (IllegalArgumentException expected) {
            FuzzChecks.requireMessage(expected);
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = ModelZipFuzzTest.class.getResourceAsStream(name)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path tempFile() {
        try {
            return Files.createTempFile("model-zip-fuzz", ".zip");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
