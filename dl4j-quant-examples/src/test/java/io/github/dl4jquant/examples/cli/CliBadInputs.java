package io.github.dl4jquant.examples.cli;

import static io.github.dl4jquant.badinput.BadInputCase.of;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.badinput.BadInputCase;
import io.github.dl4jquant.examples.ZipEntries;
import io.github.dl4jquant.testing.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;

/**
 * The command-line tool's bad-input catalogue: each row runs the tool, which must end with exit code 2 and one line
 * on stderr naming the file, line, field or value and the fix; the model files it was given must be byte for byte
 * unchanged and no output file may be left behind. Rendered into {@code docs/bad-input-catalogue.md}.
 */
final class CliBadInputs {

    private final Path dir;
    private final Path model;
    private final Path int8;
    private final Path out;

    /** Writes the 12-feature MLP of the core tests and its int8 version into {@code dir}. */
    CliBadInputs(Path dir) throws IOException {
        this.dir = dir;
        ComputationGraph fp32 = TestModels.mlp();
        model = dir.resolve("mlp.zip");
        ModelSerializer.writeModel(fp32, model.toFile(), false);
        int8 = dir.resolve("mlp-int8.zip");
        ModelSerializer.writeModel(Quantizer.quantizeStatic(fp32, new org.nd4j.linalg.dataset.adapter
                .SingletonDataSetIterator(new org.nd4j.linalg.dataset.DataSet(TestModels.randomBatch(1, 64, 12),
                null))), int8.toFile(), false);
        out = Files.createDirectories(dir.resolve("out")).resolve("int8.zip");
    }

    List<BadInputCase> cases() throws IOException {
        String m = model.toString();
        String good = csv("good.csv", rows(4, 12, false));
        return List.of(
                of("CLI model", "missing model file", quantize(dir.resolve("nope.zip").toString(), good))
                        .throwsA(ExitCode2.class).naming("nope.zip").fix("does not exist"),
                of("CLI model", "a text file given as the model", quantize(text("notes.zip", "hello"), good))
                        .throwsA(ExitCode2.class).naming("notes.zip", "not a readable zip").fix("save it again"),
                of("CLI model", "a truncated model zip", quantize(bytes("cut.zip", Arrays.copyOf(read(model),
                        (int) (Files.size(model) * 0.6))), good)).throwsA(ExitCode2.class).naming("cut.zip")
                        .fix("truncated or corrupted"),
                of("CLI model", "a model zip whose parameters header announces 2^40 values", quantize(bytes(
                        "huge-params.zip", ZipEntries.edit(read(model), "coefficients.bin",
                                CliBadInputs::announceHugeParameterCount)), good)).throwsA(ExitCode2.class)
                        .naming("huge-params.zip", "coefficients.bin", "1,099,511,627,776 FLOAT parameters")
                        .fix("save the model again"),
                of("CLI model", "a zip without configuration.json", quantize(bytes("other.zip", zipOf("a.txt", "x")),
                        good)).throwsA(ExitCode2.class).naming("other.zip", "configuration.json").fix("ModelSerializer"),
                of("CLI model", "an int8 model saved by a newer dl4j-quant", evaluate(bytes("newer.zip",
                        editConfiguration(read(int8), "io.github.dl4jquant.nn.quantized.QuantizedDense\"",
                                "io.github.dl4jquant.nn.quantized.QuantizedDense2\"")), labelled("eval.csv")))
                        .throwsA(ExitCode2.class).naming("newer.zip", "QuantizedDense2").fix("Upgrade dl4j-quant"),
                of("CLI model", "an int8 model whose stored scale was edited to NaN", evaluate(bytes("nan-scale.zip",
                        editConfiguration(read(int8), "\"scales\" : [ ", "\"scales\" : [ \"NaN\", ")),
                        labelled("eval2.csv"))).throwsA(ExitCode2.class).naming("scale", "NaN")
                        .fix("convert the fp32 model again"),
                of("CLI model", "quantizing an already quantized model", quantize(int8.toString(), good))
                        .throwsA(ExitCode2.class).naming("already quantized").fix("fp32 model"),
                of("CLI data", "NaN in a calibration CSV", quantize(m, csv("nan.csv", "0.5,NaN,1\n")))
                        .throwsA(ExitCode2.class).naming("nan.csv", "line 1 column 2", "'NaN'").fix("finite decimal"),
                of("CLI data", "Infinity in a calibration CSV", quantize(m, csv("inf.csv", rows(2, 12, false)
                        + "1,2,3,4,5,6,7,8,9,10,11,Infinity\n"))).throwsA(ExitCode2.class)
                        .naming("inf.csv", "line 3 column 12", "'Infinity'").fix("finite decimal"),
                of("CLI data", "a typo in the first CSV row (was dropped as a header)", quantize(m, csv("typo.csv",
                        "0.1,0.2,O.3\n" + rows(2, 3, false)))).throwsA(ExitCode2.class)
                        .naming("typo.csv", "line 1 column 3", "'O.3'").fix("finite decimal"),
                of("CLI data", "CSV rows of different widths", quantize(m, csv("ragged.csv", "1,2,3\n1,2\n")))
                        .throwsA(ExitCode2.class).naming("ragged.csv", "line 2", "2 columns").fix("first row has 3"),
                of("CLI data", "calibration CSV with the wrong number of features", quantize(m,
                        csv("wide.csv", rows(3, 13, false)))).throwsA(ExitCode2.class)
                        .naming("wide.csv", "13 features").fix("expects 12"),
                of("CLI data", "an empty calibration CSV", quantize(m, csv("empty.csv", "")))
                        .throwsA(ExitCode2.class).naming("empty.csv").fix("no data rows"),
                of("CLI data", "a label that is not an integer", evaluate(m, csv("half.csv",
                        rows(1, 12, false).strip() + ",2.5\n"))).throwsA(ExitCode2.class)
                        .naming("half.csv", "data row 1", "2.5").fix("integer in [0, 65536)"),
                of("CLI data", "a label beyond the model's outputs", evaluate(m, csv("seven.csv",
                        rows(1, 12, false).strip() + ",7\n"))).throwsA(ExitCode2.class)
                        .naming("seven.csv", "5 outputs", "7").fix("number of classes"),
                of("CLI data", "a truncated IDX images file", quantize(m, bytes("cut-images-idx3-ubyte",
                        new byte[] {0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 6, 1, 2, 3})))
                        .throwsA(ExitCode2.class).naming("cut-images-idx3-ubyte", "[9, 2, 6]", "only 3 bytes")
                        .fix("truncated"),
                of("CLI data", "an IDX header announcing gigabytes", quantize(m, bytes("huge-images-idx3-ubyte",
                        new byte[] {0, 0, 8, 3, 0x7f, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28})))
                        .throwsA(ExitCode2.class).naming("huge-images-idx3-ubyte").fix("header is corrupt"),
                of("CLI data", "a data folder without images", quantize(m, Files.createDirectories(
                        dir.resolve("no-data")).toString())).throwsA(ExitCode2.class).naming("no-data")
                        .fix("train-images-idx3-ubyte"),
                of("CLI options", "an unknown backend", cli("quantize", "--model", m, "--calibration", good,
                        "--backend", "tpu", "--out", out.toString())).throwsA(ExitCode2.class).naming("'tpu'")
                        .fix("x86"),
                of("CLI options", "an unknown mode", cli("quantize", "--model", m, "--calibration", good,
                        "--mode", "fast", "--out", out.toString())).throwsA(ExitCode2.class).naming("'fast'")
                        .fix("static"),
                of("CLI options", "static mode without calibration data", cli("quantize", "--model", m, "--out",
                        out.toString())).throwsA(ExitCode2.class).naming("--calibration").fix("is required"),
                of("CLI options", "an output folder that does not exist", cli("quantize", "--model", m,
                        "--calibration", good, "--out", dir.resolve("missing/dir/int8.zip").toString()))
                        .throwsA(ExitCode2.class).naming("missing/dir").fix("does not exist")
        );
    }

    private BadInputCase.Action quantize(String modelFile, String calibration) {
        return cli("quantize", "--model", modelFile, "--calibration", calibration, "--out", out.toString());
    }

    private BadInputCase.Action evaluate(String modelFile, String data) {
        return cli("evaluate", "--model", modelFile, "--data", data);
    }

    /**
     * Runs the tool; bad input (exit code 2 and exactly one stderr line) throws {@link ExitCode2}, after checking
     * that the model files are unchanged and that no output was written. Any other ending fails the row.
     */
    private BadInputCase.Action cli(String... args) {
        return () -> {
            Map<Path, byte[]> inputs = new HashMap<>();
            for (Path p : List.of(model, int8)) {
                inputs.put(p, read(p));
            }
            StringWriter err = new StringWriter();
            int code = QuantCli.run(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), args);
            inputs.forEach((p, bytes) -> assertArrayEquals(bytes, uncheckedRead(p), p + " changed"));
            assertFalse(Files.exists(out), "an output file was written");
            if (code == 0) {
                return;
            }
            List<String> lines = err.toString().strip().lines().toList();
            assertEquals(QuantCli.BAD_INPUT, code, "exit code; stderr: " + err);
            assertEquals(1, lines.size(), "one line on stderr: " + err);
            assertTrue(lines.get(0).startsWith("dl4j-quant: "), lines.get(0));
            throw new ExitCode2(lines.get(0));
        };
    }

    private static String rows(int n, int columns, boolean labelled) {
        StringBuilder s = new StringBuilder();
        for (int r = 0; r < n; r++) {
            List<String> cells = new ArrayList<>();
            for (int c = 0; c < columns; c++) {
                cells.add(String.valueOf(((r * 7 + c * 3) % 10) / 10.0));
            }
            if (labelled) {
                cells.add(String.valueOf(r % 5));
            }
            s.append(String.join(",", cells)).append('\n');
        }
        return s.toString();
    }

    private String labelled(String name) throws IOException {
        return csv(name, rows(4, 12, true));
    }

    private String csv(String name, String content) throws IOException {
        return text(name, content);
    }

    private String text(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content).toString();
    }

    private String bytes(String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content).toString();
    }

    private static byte[] read(Path p) throws IOException {
        return Files.readAllBytes(p);
    }

    private static byte[] uncheckedRead(Path p) {
        try {
            return read(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] zipOf(String entry, String content) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            z.putNextEntry(new ZipEntry(entry));
            z.write(content.getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
        }
        return bytes.toByteArray();
    }

    /** The zip with the first {@code from} in its configuration.json replaced by {@code to}. */
    static byte[] editConfiguration(byte[] zip, String from, String to) throws IOException {
        return ZipEntries.edit(zip, "configuration.json", content -> {
            String json = new String(content, StandardCharsets.UTF_8);
            int at = json.indexOf(from);
            if (at < 0) {
                throw new IllegalStateException("configuration.json lacks " + from);
            }
            return (json.substring(0, at) + to + json.substring(at + from.length())).getBytes(StandardCharsets.UTF_8);
        });
    }

    /**
     * coefficients.bin (Nd4j.write: a header, the shape information, a header, the values) with the number of values
     * in its second header set to 2^40, as a corrupt file may announce it.
     */
    private static byte[] announceHugeParameterCount(byte[] coefficients) {
        ByteBuffer b = ByteBuffer.wrap(coefficients);
        skipString(b);
        long shapeValues = b.getLong();
        skipString(b);
        b.position(b.position() + (int) shapeValues * Long.BYTES);
        skipString(b);
        b.putLong(b.position(), 1L << 40);
        return coefficients;
    }

    private static void skipString(ByteBuffer b) {
        b.position(b.position() + 2 + b.getShort(b.position()));
    }
}
