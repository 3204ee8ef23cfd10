package io.github.dl4jquant.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.testing.TestModels;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link CoefficientsHeader} through {@link ModelFiles#load}: the fuzz finding that crashed the JVM inside ND4J,
 * hand-made corruptions of the 12-feature MLP's {@code coefficients.bin} (each must be an IllegalArgumentException
 * naming the file, the entry and what is wrong, never a crash), and valid files, which must load unchanged.
 */
class CoefficientsHeaderTest {

    private static final String FUZZ = "fuzz/";
    /** The fuzz input that crashed the JVM; its last byte selects the entry it replaces (2: coefficients.bin). */
    private static final String FINDING = FUZZ + "ModelZipFuzzTestInputs/restore/finding-coefficients-huge-length";

    /** The layout of the MLP's 565 FLOAT parameters as ND4J writes them (checked in {@link #theLayoutIsAsExpected}). */
    private static final int SHAPE_LENGTH = 18;
    private static final int SHAPE_INFO = 32;
    private static final int DATA_MODE = 82;
    private static final int DATA_LENGTH = 98;
    private static final int DATA_TYPE = 108;
    private static final int DATA = 113;
    private static final int PARAMS = 12 * 16 + 16 + 16 * 16 + 16 + 16 * 5 + 5;

    @TempDir
    static Path shared;
    static ComputationGraph fp32;
    static byte[] fp32Zip;
    static byte[] coefficients;

    @TempDir
    Path dir;

    @BeforeAll
    static void saveTheMlp() throws IOException {
        fp32 = TestModels.mlp();
        Path file = shared.resolve("mlp.zip");
        ModelSerializer.writeModel(fp32, file.toFile(), false);
        fp32Zip = Files.readAllBytes(file);
        coefficients = entry(fp32Zip, CoefficientsHeader.ENTRY);
    }

    @Test
    void theLayoutIsAsExpected() throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(coefficients));
        assertEquals("MIXED_DATA_TYPES", in.readUTF());
        assertEquals(6, in.readLong());
        assertEquals("LONG", in.readUTF());
        long[] info = new long[6];
        for (int i = 0; i < info.length; i++) {
            info[i] = in.readLong();
        }
        assertArrayEquals(new long[] {1, PARAMS, 1, 8192, 1, 'c'}, info);
        assertEquals("MIXED_DATA_TYPES", in.readUTF());
        assertEquals(PARAMS, in.readLong());
        assertEquals("FLOAT", in.readUTF());
        assertEquals(DATA + 4 * PARAMS, coefficients.length);
    }

    @Test
    void theFuzzFindingThatCrashedNd4jIsRejected() throws IOException {
        byte[] input = resource(FINDING);
        assertEquals(2, input[input.length - 1], "the finding replaces coefficients.bin");
        Path file = write("finding.zip", ZipEntries.replace(resource(FUZZ + "int8-mlp.zip"), CoefficientsHeader.ENTRY,
                Arrays.copyOf(input, input.length - 1)));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelFiles.load(file));

        assertEquals("model file " + file + ": its coefficients.bin (the parameters) announces "
                + "2,810,246,167,479,189,504 FLOAT parameters (4 bytes each) but holds 0 bytes after its headers; "
                + "the file is corrupt or was not written by ModelSerializer: save the model again", e.getMessage());
    }

    static Stream<Arguments> corruptions() {
        return Stream.of(
                corruption("truncated in the first header", b -> Arrays.copyOf(b, 20),
                        "ends after 20 bytes, inside the header of the shape information"),
                corruption("truncated in the shape", b -> Arrays.copyOf(b, 60),
                        "ends after 60 bytes, inside the shape information"),
                corruption("truncated in the second header", b -> Arrays.copyOf(b, 100),
                        "ends after 100 bytes, inside the header of the parameters"),
                corruption("truncated parameters", b -> Arrays.copyOf(b, 2000),
                        "announces 565 FLOAT parameters (4 bytes each) but holds 1,887 bytes after its headers"),
                corruption("2^40 parameters", b -> putLong(b, DATA_LENGTH, 1L << 40),
                        "announces 1,099,511,627,776 FLOAT parameters (4 bytes each) but holds 2,260 bytes"),
                corruption("a negative number of parameters", b -> putLong(b, DATA_LENGTH, -3),
                        "announces -3 FLOAT parameters"),
                corruption("2^40 values of shape information", b -> putLong(b, SHAPE_LENGTH, 1L << 40),
                        "announces 1,099,511,627,776 values of shape information; ND4J writes 2 x rank + 4"),
                corruption("an unknown data type", b -> put(b, DATA_TYPE, "FLOAX"),
                        "the header of the parameters names the data type 'FLOAX', which is none of ND4J's"),
                corruption("integer parameters", b -> put(b, DATA_TYPE, "SHORT"),
                        "holds parameters of type SHORT; a DL4J network's parameters are BFLOAT16, DOUBLE, FLOAT, "
                                + "HALF"),
                corruption("an unknown allocation mode", b -> put(b, DATA_MODE, "MIXED_DATA_TYPEZ"),
                        "names the allocation mode 'MIXED_DATA_TYPEZ', which is none of ND4J's [DIRECT, HEAP"),
                corruption("shape information that is not LONG", b -> put(b, SHAPE_INFO - 4, "BOOL"),
                        "holds shape information of type BOOL; ND4J writes it as LONG"),
                corruption("a rank that does not fit", b -> putLong(b, SHAPE_INFO, 3),
                        "holds 6 values of shape information but starts with rank 3"),
                corruption("a shape of other length", b -> putLong(b, SHAPE_INFO + 8, 566),
                        "has the shape [566] of 566 values but holds 565 parameters"),
                corruption("a negative dimension", b -> putLong(b, SHAPE_INFO + 8, -565),
                        "has a negative dimension in the shape [-565]"),
                corruption("strides past the end", b -> putLong(b, SHAPE_INFO + 16, 2),
                        "has the strides [2], which reach past the 565 parameters of the shape [565]"),
                corruption("DOUBLE flags on FLOAT parameters", b -> putLong(b, SHAPE_INFO + 24, 16384),
                        "has the array flags (extras) 16384 in its shape information, which do not describe FLOAT"),
                corruption("marked empty", b -> putLong(b, SHAPE_INFO + 24, 8192 | 8),
                        "marks its array of shape [565] empty but holds 565 parameters"),
                corruption("an element-wise stride of 7", b -> putLong(b, SHAPE_INFO + 32, 7),
                        "has the element-wise stride 7; ND4J writes 0 or 1"),
                corruption("an unknown order", b -> putLong(b, SHAPE_INFO + 40, 'x'),
                        "has the array order 120; ND4J writes 'c' (99) or 'f' (102)"),
                corruption("a legacy header with a negative length", b -> legacyHeader(-1),
                        "announces -1 values of shape information"));
    }

    private static Arguments corruption(String name, UnaryOperator<byte[]> edit, String expected) {
        return Arguments.of(name, edit, expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptions")
    void aCorruptParameterHeaderIsAClearIllegalArgumentException(String name, UnaryOperator<byte[]> edit,
            String expected) throws IOException {
        byte[] corrupt = edit.apply(coefficients.clone());
        Path file = write("corrupt.zip", ZipEntries.replace(fp32Zip, CoefficientsHeader.ENTRY, corrupt));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelFiles.load(file));

        String message = e.getMessage();
        assertTrue(message.startsWith("model file " + file + ": its coefficients.bin (the parameters) "), message);
        assertTrue(message.contains(expected), message);
        assertTrue(message.endsWith("the file is corrupt or was not written by ModelSerializer: save the model again"),
                message);
    }

    @Test
    void aValidModelLoadsAndGivesTheSameOutputs() throws IOException {
        Path file = write("mlp.zip", fp32Zip);
        INDArray x = TestModels.randomBatch(5, 7, 12);

        LoadedModel loaded = ModelFiles.load(file);

        assertArrayEquals(fp32.outputSingle(x).data().asFloat(), loaded.output(x).data().asFloat());
        assertArrayEquals(fp32.params().data().asFloat(), ((ComputationGraph) loaded.model()).params().data().asFloat());
    }

    @Test
    void theInt8ModelWithoutDl4jParametersLoadsAndRuns() throws IOException {
        Path file = write("int8.zip", resource(FUZZ + "int8-mlp.zip"));
        INDArray x = TestModels.randomBatch(6, 4, 12);

        LoadedModel loaded = ModelFiles.load(file);

        ComputationGraph direct = ModelSerializer.restoreComputationGraph(file.toFile(), false);
        assertArrayEquals(direct.outputSingle(x).data().asFloat(), loaded.output(x).data().asFloat());
        assertEquals(0, direct.params().length());
    }

    /** What ND4J writes must pass: every parameter type, orders, ranks 0 to 5, views, empty arrays. */
    static Stream<Arguments> arraysNd4jWrites() {
        return Stream.of(
                Arguments.of("FLOAT row", Nd4j.rand(DataType.FLOAT, 1, 5)),
                Arguments.of("DOUBLE row", Nd4j.rand(DataType.DOUBLE, 1, 5)),
                Arguments.of("HALF row", Nd4j.rand(DataType.FLOAT, 1, 5).castTo(DataType.HALF)),
                Arguments.of("BFLOAT16 row", Nd4j.rand(DataType.FLOAT, 1, 5).castTo(DataType.BFLOAT16)),
                Arguments.of("scalar", Nd4j.scalar(3f)),
                Arguments.of("vector", Nd4j.rand(DataType.FLOAT, 5)),
                Arguments.of("f order", Nd4j.rand(DataType.FLOAT, 'f', 3, 4)),
                Arguments.of("rank 5, f order", Nd4j.rand(DataType.FLOAT, 'f', 2, 1, 3, 1, 2)),
                Arguments.of("permuted", Nd4j.rand(DataType.FLOAT, 3, 4).permute(1, 0)),
                Arguments.of("view", Nd4j.rand(DataType.FLOAT, 4, 6).get(NDArrayIndex.interval(1, 3),
                        NDArrayIndex.interval(2, 5))),
                Arguments.of("empty [0]", Nd4j.create(DataType.FLOAT, 0)),
                Arguments.of("empty [1, 0]", Nd4j.create(DataType.FLOAT, 1, 0)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("arraysNd4jWrites")
    void everyArrayNd4jWritesPasses(String name, INDArray array) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Nd4j.write(array, new DataOutputStream(bytes));
        Path file = write("array.zip", ZipEntries.replace(fp32Zip, CoefficientsHeader.ENTRY, bytes.toByteArray()));

        assertDoesNotThrow(() -> CoefficientsHeader.check(file));
    }

    @Test
    void anEmptyEntryIsLeftToModelSerializer() throws IOException {
        Path file = write("empty.zip", ZipEntries.replace(fp32Zip, CoefficientsHeader.ENTRY, new byte[0]));

        assertDoesNotThrow(() -> CoefficientsHeader.check(file));
    }

    private Path write(String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content);
    }

    private static byte[] putLong(byte[] b, int offset, long value) {
        ByteBuffer.wrap(b).putLong(offset, value);
        return b;
    }

    /** Overwrites the string at {@code offset} (after its two length bytes) with one of the same length. */
    private static byte[] put(byte[] b, int offset, String same) {
        byte[] s = same.getBytes(StandardCharsets.US_ASCII);
        assertEquals(s.length, ByteBuffer.wrap(b).getShort(offset - 2), "length of the string replaced");
        System.arraycopy(s, 0, b, offset, s.length);
        return b;
    }

    /** A shape-information header in a legacy allocation mode, whose length is an int. */
    private static byte[] legacyHeader(int length) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeUTF("HEAP");
            out.writeInt(length);
            out.writeUTF("LONG");
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = CoefficientsHeaderTest.class.getResourceAsStream(name)) {
            return in.readAllBytes();
        }
    }

    private static byte[] entry(byte[] zip, String name) throws IOException {
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                if (e.getName().equals(name)) {
                    return in.readAllBytes();
                }
            }
        }
        throw new IllegalStateException("no " + name);
    }
}
