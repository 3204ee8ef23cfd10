package io.github.dl4jquant.examples;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UTFDataFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.shape.options.ArrayOptionsHelper;

/**
 * Checks the {@code coefficients.bin} entry of a model zip, the parameters as {@code Nd4j.write} wrote them, before
 * ND4J reads it. ND4J 1.0.0-M2.1 allocates whatever length the entry announces before it reads a single value: a
 * corrupt length makes malloc fail and ND4J write through the null pointer, which kills the JVM (SIGSEGV in
 * {@code CompressedDataBuffer.readUnknown}) instead of throwing. This class reads the same bytes in Java first.
 *
 * <p>The layout, as {@code Nd4j.read(DataInputStream)} reads it (big-endian, {@link DataInputStream}): two buffers,
 * each a header followed by its values. A header is the allocation mode ({@code writeUTF}, a name of
 * {@code DataBuffer.AllocationMode}), the number of values ({@code int} for the legacy modes DIRECT, HEAP and JAVACPP,
 * {@code long} for LONG_SHAPE and MIXED_DATA_TYPES) and the data type ({@code writeUTF}, a name of {@code DataType}).
 * The first buffer is the shape information, LONG values {@code [rank, shape..., strides..., extras,
 * element-wise stride, order]}; the second holds the parameters. Every count is checked against the bytes the entry
 * really holds, and the shape against the parameters, so an entry that passes can only make ND4J allocate what the
 * file contains.
 *
 * <pre>{@code
 * CoefficientsHeader.check(Path.of("model.zip"));   // IllegalArgumentException naming the file and what is wrong
 * ModelSerializer.restoreComputationGraph(file, false);
 * }</pre>
 */
final class CoefficientsHeader {

    static final String ENTRY = "coefficients.bin";

    /** ND4J's (libnd4j's) MAX_RANK. */
    private static final int MAX_RANK = 32;
    private static final List<String> ALLOCATION_MODES = names(DataBuffer.AllocationMode.values());
    /**
     * The first three allocation modes (DIRECT, HEAP, JAVACPP) are ND4J's legacy ones, whose header holds an
     * {@code int} length ({@code alloc.ordinal() < 3} in {@code BaseDataBuffer.readHeader}).
     */
    private static final int LEGACY_MODES = 3;
    private static final List<String> ND4J_TYPES = names(DataType.values());
    /** The types a DL4J network's parameters can have, with their size in bytes in the file. */
    private static final Map<String, Integer> PARAMETER_TYPES = Map.of("FLOAT", 4, "DOUBLE", 8, "HALF", 2,
            "BFLOAT16", 2);
    /** The data-type flag each of them sets in the extras of the shape information (compile-time constants). */
    private static final Map<String, Long> TYPE_FLAGS = Map.of("FLOAT", ArrayOptionsHelper.DTYPE_FLOAT_BIT,
            "DOUBLE", ArrayOptionsHelper.DTYPE_DOUBLE_BIT, "HALF", ArrayOptionsHelper.DTYPE_HALF_BIT,
            "BFLOAT16", ArrayOptionsHelper.DTYPE_BFLOAT16_BIT);
    private static final long EMPTY_FLAG = ArrayOptionsHelper.ATYPE_EMPTY_BIT;
    private static final long ORDER_C = 'c';
    private static final long ORDER_F = 'f';
    private static final String FIX = "; the file is corrupt or was not written by ModelSerializer: save the model "
            + "again";

    private final Path file;
    private final CountingStream counted;
    private final DataInputStream in;

    private CoefficientsHeader(Path file, InputStream entry) {
        this.file = file;
        this.counted = new CountingStream(entry);
        this.in = new DataInputStream(counted);
    }

    /** A buffer header past its allocation mode: the number of values and the data type. */
    private record Header(long length, String type) {
    }

    /**
     * Checks every {@code coefficients.bin} entry of the zip {@code file}, read as {@code ModelSerializer} reads it
     * (a {@link ZipInputStream}, where the last entry of a name wins). An empty entry is left alone: ModelSerializer
     * reads it as a model without parameters.
     *
     * @throws IllegalArgumentException naming the file, the entry, what is wrong and the fix
     */
    static void check(Path file) {
        try (ZipInputStream zip = new ZipInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
                if (e.getName().equals(ENTRY)) {
                    new CoefficientsHeader(file, zip).checkEntry();
                }
            }
        } catch (IOException e) {
            // Not a readable zip stream: ModelSerializer reads the file with the same ZipInputStream, fails at the
            // same place before ND4J sees any parameters, and ModelFiles reports its exception.
        }
    }

    private void checkEntry() throws IOException {
        if (counted.atEnd()) {
            return;
        }
        Header shapeHeader = header("the header of the shape information");
        long[] shapeInfo = shapeInformation(shapeHeader);
        Header data = header("the header of the parameters");
        int size = parameterSize(data);
        long held = in.transferTo(OutputStream.nullOutputStream());
        if (data.length() < 0 || data.length() > held / size) {
            throw corrupt("announces " + count(data.length()) + " " + data.type() + " parameters (" + size
                    + " bytes each) but holds " + count(held) + " bytes after its headers");
        }
        requireShapeFits(shapeInfo, data);
    }

    private Header header(String part) throws IOException {
        String mode = string(part);
        int modeIndex = ALLOCATION_MODES.indexOf(mode);
        if (modeIndex < 0) {
            throw corrupt(part + " names the allocation mode '" + printable(mode) + "', which is none of ND4J's "
                    + ALLOCATION_MODES);
        }
        long length = modeIndex < LEGACY_MODES ? readInt(part) : readLong(part);
        String type = string(part);
        if (!ND4J_TYPES.contains(type)) {
            throw corrupt(part + " names the data type '" + printable(type) + "', which is none of ND4J's");
        }
        return new Header(length, type);
    }

    /** Reads the shape information, its length bounded before a value is read, and checks its own consistency. */
    private long[] shapeInformation(Header header) throws IOException {
        if (!header.type().equals("LONG")) {
            throw corrupt("holds shape information of type " + header.type() + "; ND4J writes it as LONG");
        }
        if (header.length() < 4 || header.length() > 2L * MAX_RANK + 4) {
            throw corrupt("announces " + count(header.length()) + " values of shape information; ND4J writes "
                    + "2 x rank + 4 of them, rank 0 to " + MAX_RANK);
        }
        long[] info = new long[(int) header.length()];
        for (int i = 0; i < info.length; i++) {
            info[i] = readLong("the shape information");
        }
        long rank = info[0];
        if (rank != (info.length - 4) / 2 || info.length % 2 != 0) {
            throw corrupt("holds " + info.length + " values of shape information but starts with rank " + rank
                    + " (ND4J writes 2 x rank + 4 values)");
        }
        long order = info[info.length - 1];
        if (order != ORDER_C && order != ORDER_F) {
            throw corrupt("has the array order " + order + "; ND4J writes 'c' (99) or 'f' (102)");
        }
        long ews = info[info.length - 2];
        if (ews != 0 && ews != 1) {
            throw corrupt("has the element-wise stride " + ews + "; ND4J writes 0 or 1 for the arrays it saves");
        }
        return info;
    }

    private int parameterSize(Header data) {
        Integer size = PARAMETER_TYPES.get(data.type());
        if (size == null) {
            throw corrupt("holds parameters of type " + data.type() + "; a DL4J network's parameters are "
                    + String.join(", ", PARAMETER_TYPES.keySet().stream().sorted().toList()));
        }
        return size;
    }

    /** The shape, strides and flags of the shape information must describe exactly the parameters that follow. */
    private void requireShapeFits(long[] info, Header data) {
        int rank = (int) info[0];
        long[] shape = Arrays.copyOfRange(info, 1, 1 + rank);
        long[] strides = Arrays.copyOfRange(info, 1 + rank, 1 + 2 * rank);
        long extras = info[info.length - 3];
        boolean empty = (extras & EMPTY_FLAG) != 0;
        long flags = TYPE_FLAGS.get(data.type()) | (empty ? EMPTY_FLAG : 0);
        if (extras != flags) {
            throw corrupt("has the array flags (extras) " + extras + " in its shape information, which do not "
                    + "describe " + data.type() + " parameters: ND4J writes " + TYPE_FLAGS.get(data.type())
                    + ", or " + (TYPE_FLAGS.get(data.type()) | EMPTY_FLAG) + " for an empty array");
        }
        long values = values(shape);
        if (empty && (data.length() != 0 || (values != 0 && rank != 0))) {
            throw corrupt("marks its array of shape " + Arrays.toString(shape) + " empty but holds "
                    + count(data.length()) + " parameters");
        }
        if (!empty && values == 0) {
            throw corrupt("has the shape " + Arrays.toString(shape) + ", which holds no values, without marking "
                    + "the array empty");
        }
        if (!empty && data.length() != values) {
            throw corrupt("has the shape " + Arrays.toString(shape) + " of " + count(values) + " values but holds "
                    + count(data.length()) + " parameters");
        }
        if (!empty && maxOffset(shape, strides) >= values) {
            throw corrupt("has the strides " + Arrays.toString(strides) + ", which reach past the " + count(values)
                    + " parameters of the shape " + Arrays.toString(shape));
        }
    }

    /** The number of values of {@code shape}. */
    private long values(long[] shape) {
        long values = 1;
        for (long d : shape) {
            if (d < 0) {
                throw corrupt("has a negative dimension in the shape " + Arrays.toString(shape));
            }
            try {
                values = Math.multiplyExact(values, d);
            } catch (ArithmeticException overflow) {
                throw corrupt("has the shape " + Arrays.toString(shape) + ", of more than 2^63 values");
            }
        }
        return values;
    }

    /** The offset of the last value the strides address (Long.MAX_VALUE for a negative stride or an overflow). */
    private static long maxOffset(long[] shape, long[] strides) {
        long offset = 0;
        try {
            for (int i = 0; i < shape.length; i++) {
                if (strides[i] < 0) {
                    return Long.MAX_VALUE;
                }
                offset = Math.addExact(offset, Math.multiplyExact(shape[i] - 1, strides[i]));
            }
        } catch (ArithmeticException overflow) {
            return Long.MAX_VALUE;
        }
        return offset;
    }

    private String string(String part) throws IOException {
        try {
            return in.readUTF();
        } catch (EOFException e) {
            throw truncated(part);
        } catch (UTFDataFormatException e) {
            throw corrupt(part + " holds bytes that are not the modified UTF-8 of a name");
        }
    }

    private long readInt(String part) throws IOException {
        try {
            return in.readInt();
        } catch (EOFException e) {
            throw truncated(part);
        }
    }

    private long readLong(String part) throws IOException {
        try {
            return in.readLong();
        } catch (EOFException e) {
            throw truncated(part);
        }
    }

    private IllegalArgumentException truncated(String part) {
        return corrupt("ends after " + count(counted.count()) + " bytes, inside " + part);
    }

    private IllegalArgumentException corrupt(String what) {
        return new IllegalArgumentException("model file " + file + ": its " + ENTRY + " (the parameters) " + what
                + FIX);
    }

    private static List<String> names(Enum<?>[] values) {
        return Arrays.stream(values).map(Enum::name).toList();
    }

    private static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** At most 40 characters of a name read from the file, control characters escaped, for a one-line message. */
    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(40).forEach(c -> b.append(Character.isISOControl(c) ? String.format("\\u%04x", c)
                : Character.toString(c)));
        return s.length() > 40 ? b + "..." : b.toString();
    }

    /** Counts the bytes read, for the messages, and tells an empty entry without consuming a byte of it. */
    private static final class CountingStream extends FilterInputStream {
        private long count;

        CountingStream(InputStream in) {
            super(in.markSupported() ? in : new BufferedInputStream(in));
        }

        boolean atEnd() throws IOException {
            in.mark(1);
            boolean end = in.read() < 0;
            in.reset();
            return end;
        }

        long count() {
            return count;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            count += b < 0 ? 0 : 1;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            count += Math.max(n, 0);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = in.skip(n);
            count += skipped;
            return skipped;
        }
    }
}
