package io.github.dl4jquant.examples;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.util.ModelSerializer;

/**
 * Reads and writes DL4J model zips. Reading tells a ComputationGraph from a MultiLayerNetwork by the configuration JSON
 * inside the zip, checks the header of the parameters ({@link CoefficientsHeader}) before ND4J reads them, and turns
 * every failure into an {@link IllegalArgumentException} with a one-line message; writing
 * goes through a temporary file in the target directory and an atomic move, so a failed write leaves nothing behind.
 *
 * <pre>{@code
 * LoadedModel m = ModelFiles.load(Path.of("model.zip"));     // ComputationGraph or MultiLayerNetwork
 * ModelFiles.save(m.model(), Path.of("copy.zip"));
 * ModelFiles.writeAtomically(Path.of("report.json"), tmp -> Files.writeString(tmp, json));
 * }</pre>
 */
public final class ModelFiles {

    private static final String CONFIGURATION_ENTRY = "configuration.json";
    private static final Pattern LIBRARY_CLASS = Pattern.compile("\"(io\\.github\\.dl4jquant\\.[A-Za-z0-9_.$]+)\"");

    private ModelFiles() {
    }

    /** Writes the content of a file to the temporary path it is given. */
    @FunctionalInterface
    public interface ContentWriter {
        void write(Path tmp) throws IOException;
    }

    /**
     * Loads a DL4J model zip written by {@code ModelSerializer}.
     *
     * @throws IllegalArgumentException when the file is missing, unreadable, not a zip, not a DL4J model, or its
     *                                  parameters (coefficients.bin) are corrupt
     */
    public static LoadedModel load(Path file) {
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("model file " + file + " does not exist");
        }
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new IllegalArgumentException("model file " + file + " is not a readable file");
        }
        String configuration = readConfiguration(file);
        requireKnownLibraryClasses(file, configuration);
        // before ND4J reads the parameters: a corrupt length in their header crashes the JVM inside ND4J
        CoefficientsHeader.check(file);
        try {
            if (configuration.contains("\"vertices\"")) {
                return new LoadedModel(file, ModelSerializer.restoreComputationGraph(file.toFile(), false));
            }
            if (configuration.contains("\"confs\"")) {
                return new LoadedModel(file, ModelSerializer.restoreMultiLayerNetwork(file.toFile(), false));
            }
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("model file " + file + " could not be restored by DL4J's "
                    + "ModelSerializer: " + oneLine(e) + "; the file is truncated or corrupted: save it again", e);
        }
        throw new IllegalArgumentException("model file " + file + " holds a configuration.json that is neither a "
                + "ComputationGraph nor a MultiLayerNetwork configuration");
    }

    /**
     * A model saved by a later dl4j-quant may use layers this version lacks; DL4J would only say that the JSON is
     * not a valid configuration.
     */
    private static void requireKnownLibraryClasses(Path file, String configuration) {
        Matcher m = LIBRARY_CLASS.matcher(configuration);
        while (m.find()) {
            try {
                Class.forName(m.group(1), false, ModelFiles.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) {
                throw new IllegalArgumentException("model file " + file + " uses " + m.group(1) + ", which this "
                        + "dl4j-quant does not have: the model was probably saved by a newer dl4j-quant. Upgrade "
                        + "dl4j-quant, or quantize the fp32 model again with this version", e);
            }
        }
    }

    /** Saves {@code model} (without updater state) to {@code file} atomically. */
    public static void save(Model model, Path file) throws IOException {
        writeAtomically(file, tmp -> ModelSerializer.writeModel(model, tmp.toFile(), false));
    }

    /**
     * Runs {@code writer} on a temporary file next to {@code file}, then moves it over {@code file} atomically; the
     * temporary file is deleted whatever happens.
     */
    public static void writeAtomically(Path file, ContentWriter writer) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
        try {
            readableByAll(tmp);
            writer.write(tmp);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Temporary files are created owner-only; the file they become should get the usual rw-r--r--. */
    private static void readableByAll(Path tmp) throws IOException {
        if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
        }
    }

    /** The message of {@code e} and its causes on one line. */
    public static String oneLine(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && sb.length() < 400; t = t.getCause()) {
            String msg = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
            if (sb.indexOf(msg) < 0) {
                sb.append(sb.length() == 0 ? "" : ": ").append(msg);
            }
        }
        return sb.toString().replaceAll("\\s+", " ").trim();
    }

    private static String readConfiguration(Path file) {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry entry = zip.getEntry(CONFIGURATION_ENTRY);
            if (entry == null) {
                throw new IllegalArgumentException("model file " + file + " is a zip without " + CONFIGURATION_ENTRY
                        + ", so not a DL4J model saved by ModelSerializer");
            }
            try (InputStream in = zip.getInputStream(entry)) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("model file " + file + " is not a DL4J model (not a readable zip: "
                    + oneLine(e) + "); if it is one, it is truncated or corrupted: copy or save it again", e);
        }
    }
}
