package io.github.dl4jquant.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Reads the IDX files of MNIST-style data sets (big-endian header, then unsigned bytes), gzipped or plain.
 *
 * <p>Images become a float matrix {@code [n, rows*cols]} scaled to [0, 1], exactly as DL4J's
 * {@code MnistDataSetIterator} produces them; labels become an {@code int[]} or a one-hot {@code [n, classes]} matrix.
 * Compression is detected from the stream's first bytes, not from the file name.
 * <pre>{@code
 * INDArray x = IdxReader.readImages(Path.of("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")); // [10000, 784]
 * int[] y = IdxReader.readLabels(Path.of("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"));
 * INDArray yOneHot = IdxReader.oneHot(y, 10);                                                            // [10000, 10]
 * }</pre>
 * A file whose header is not an unsigned-byte IDX header of the expected rank, or whose payload is shorter or longer
 * than the header announces, gives an {@link IllegalArgumentException} naming the file and what was wrong.
 */
public final class IdxReader {

    /** Magic number of an IDX file of unsigned bytes with 3 dimensions (images, rows, cols). */
    public static final int IMAGES_MAGIC = 0x0803;
    /** Magic number of an IDX file of unsigned bytes with 1 dimension (labels). */
    public static final int LABELS_MAGIC = 0x0801;

    private static final int GZIP_MAGIC_0 = 0x1f;
    private static final int GZIP_MAGIC_1 = 0x8b;
    private static final int MAX_ARRAY_BYTES = Integer.MAX_VALUE - 8;

    private IdxReader() {
    }

    /** Reads an image file ({@code *-images-idx3-ubyte[.gz]}) into a FLOAT {@code [n, rows*cols]} array in [0, 1]. */
    public static INDArray readImages(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return readImages(in, file.toString());
        }
    }

    /**
     * Reads images from a stream, e.g. a classpath resource.
     *
     * @param source names the stream in error messages (a file name or resource path)
     */
    public static INDArray readImages(InputStream in, String source) throws IOException {
        Payload p = readPayload(in, source, IMAGES_MAGIC, 3);
        long pixelsPerImage = (long) p.dims()[1] * p.dims()[2];
        if (p.data().length == 0) {
            return Nd4j.create(DataType.FLOAT, 0, pixelsPerImage); // ND4J refuses arithmetic on empty arrays
        }
        // BYTE -> UBYTE reinterprets the sign bit (-1 becomes 255), so the division happens on 0..255 as DL4J does.
        INDArray images = Nd4j.createFromArray(p.data()).castTo(DataType.UBYTE).castTo(DataType.FLOAT).divi(255.0);
        return images.reshape('c', p.dims()[0], pixelsPerImage);
    }

    /** Reads a label file ({@code *-labels-idx1-ubyte[.gz]}) into one int per example, each in 0..255. */
    public static int[] readLabels(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return readLabels(in, file.toString());
        }
    }

    /**
     * Reads labels from a stream, e.g. a classpath resource.
     *
     * @param source names the stream in error messages (a file name or resource path)
     */
    public static int[] readLabels(InputStream in, String source) throws IOException {
        byte[] raw = readPayload(in, source, LABELS_MAGIC, 1).data();
        int[] labels = new int[raw.length];
        for (int i = 0; i < raw.length; i++) {
            labels[i] = raw[i] & 0xFF;
        }
        return labels;
    }

    /**
     * One-hot encodes class indices into a FLOAT {@code [labels.length, numClasses]} matrix.
     *
     * @throws IllegalArgumentException when a label lies outside {@code [0, numClasses)}
     */
    public static INDArray oneHot(int[] labels, int numClasses) {
        if (numClasses < 1) {
            throw new IllegalArgumentException("numClasses must be >= 1, got " + numClasses);
        }
        float[] flat = new float[labels.length * numClasses];
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException("label[" + i + "] = " + labels[i] + " is outside [0, " + numClasses
                        + "); pass the data set's number of classes");
            }
            flat[i * numClasses + labels[i]] = 1f;
        }
        return Nd4j.createFromArray(flat).reshape('c', labels.length, numClasses);
    }

    private static Payload readPayload(InputStream raw, String source, int expectedMagic, int rank) throws IOException {
        try {
            InputStream in = decompressIfGzipped(raw);
            int[] dims = readHeader(in, source, expectedMagic, rank);
            long size = payloadSize(dims, source);
            // read in chunks rather than into an array of the announced size: a corrupt header must not make a
            // tiny file allocate gigabytes before it is found to be truncated
            byte[] data = in.readNBytes((int) size);
            if (data.length < size) {
                throw truncated(source, dims, size, data.length);
            }
            if (in.read() != -1) {
                throw new IllegalArgumentException(source + ": data continues after the " + size
                        + " bytes the header announces (dimensions " + Arrays.toString(dims)
                        + "); the file is corrupt");
            }
            return new Payload(dims, data);
        } catch (EOFException e) {
            throw new IllegalArgumentException(source + ": compressed stream ends early (" + e.getMessage()
                    + "); the file is truncated, re-install or re-download it", e);
        } catch (ZipException e) {
            throw new IllegalArgumentException(source + ": corrupt gzip data (" + e.getMessage()
                    + "); re-install or re-download the file", e);
        }
    }

    private static long payloadSize(int[] dims, String source) {
        long size = 1;
        for (int d : dims) {
            size *= d;   // at most 3 factors below 2^31 each, checked one by one below, so no overflow goes unseen
            if (size > MAX_ARRAY_BYTES) {
                throw new IllegalArgumentException(source + ": header announces dimensions " + Arrays.toString(dims)
                        + ", more than the " + MAX_ARRAY_BYTES + " bytes one Java array holds; the header is corrupt "
                        + "or this is not an IDX file of unsigned bytes: re-download it, or split the data set");
            }
        }
        return size;
    }

    private static InputStream decompressIfGzipped(InputStream raw) throws IOException {
        BufferedInputStream in = new BufferedInputStream(raw, 1 << 16);
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        return b0 == GZIP_MAGIC_0 && b1 == GZIP_MAGIC_1 ? new GZIPInputStream(in, 1 << 16) : in;
    }

    private static int[] readHeader(InputStream in, String source, int expectedMagic, int rank) throws IOException {
        int magic = readHeaderInts(in, source, 1, 4 * (rank + 1))[0];
        if (magic != expectedMagic) {
            throw new IllegalArgumentException(source + ": magic number " + magic + " (0x"
                    + Integer.toHexString(magic) + ") is not " + expectedMagic + " (0x"
                    + Integer.toHexString(expectedMagic) + ", unsigned bytes in " + rank
                    + " dimension" + (rank == 1 ? "" : "s") + "); is this the right IDX file?");
        }
        int[] dims = readHeaderInts(in, source, rank, 4 * (rank + 1));
        for (int i = 0; i < rank; i++) {
            if (dims[i] < 0 || (i > 0 && dims[i] == 0)) {
                throw new IllegalArgumentException(source + ": dimension " + i + " of the header is " + dims[i]
                        + "; expected a positive size");
            }
        }
        return dims;
    }

    private static int[] readHeaderInts(InputStream in, String source, int count, int headerBytes)
            throws IOException {
        byte[] bytes = new byte[4 * count];
        int read = in.readNBytes(bytes, 0, bytes.length);
        if (read < bytes.length) {
            throw new IllegalArgumentException(source + ": too short for an IDX header (" + headerBytes
                    + " bytes expected); the file is truncated or empty");
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes); // big-endian, as IDX is
        int[] ints = new int[count];
        for (int i = 0; i < count; i++) {
            ints[i] = buf.getInt();
        }
        return ints;
    }

    private static IllegalArgumentException truncated(String source, int[] dims, long expected, int read) {
        return new IllegalArgumentException(source + ": header announces dimensions " + Arrays.toString(dims)
                + " (" + expected + " bytes) but only " + read + " bytes follow; the file is truncated");
    }

    /** A parsed IDX file: its dimensions and its unsigned bytes, still in Java's signed representation. */
    private record Payload(int[] dims, byte[] data) {
    }
}
