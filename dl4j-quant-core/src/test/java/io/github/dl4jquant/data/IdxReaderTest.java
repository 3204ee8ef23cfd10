package io.github.dl4jquant.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

class IdxReaderTest {

    /** Three 2x3 images; pixel values chosen to cover 0, the sign bit (128..255) and the maximum. */
    private static final int[][] PIXELS = {
        {0, 1, 2, 127, 128, 255},
        {255, 254, 200, 100, 50, 0},
        {17, 34, 51, 68, 85, 102},
    };
    private static final int[] LABELS = {9, 0, 3};

    @TempDir
    Path dir;

    @Test
    void readsPlainImagesScaledLikeDl4j() throws IOException {
        INDArray x = IdxReader.readImages(write("img", imagesFile(), false));
        assertEquals(DataType.FLOAT, x.dataType());
        assertArrayEquals(new long[] {3, 6}, x.shape());
        for (int i = 0; i < PIXELS.length; i++) {
            for (int j = 0; j < PIXELS[i].length; j++) {
                assertEquals(PIXELS[i][j] / 255.0, x.getDouble(i, j), 1e-7, "pixel " + i + "," + j);
            }
        }
    }

    @Test
    void readsGzippedImagesIdenticallyToPlain() throws IOException {
        INDArray plain = IdxReader.readImages(write("plain", imagesFile(), false));
        INDArray gz = IdxReader.readImages(write("gz", imagesFile(), true));
        assertEquals(plain, gz);
    }

    @Test
    void readsLabelsAndOneHot() throws IOException {
        int[] labels = IdxReader.readLabels(write("lab", labelsFile(LABELS), true));
        assertArrayEquals(LABELS, labels);
        INDArray oneHot = IdxReader.oneHot(labels, 10);
        assertArrayEquals(new long[] {3, 10}, oneHot.shape());
        assertEquals(3.0, oneHot.sumNumber().doubleValue());
        assertEquals(1.0, oneHot.getDouble(0, 9));
        assertEquals(1.0, oneHot.getDouble(1, 0));
        assertEquals(1.0, oneHot.getDouble(2, 3));
    }

    @Test
    void labelsAbove127AreUnsigned() throws IOException {
        assertArrayEquals(new int[] {200, 255}, IdxReader.readLabels(write("lab", labelsFile(new int[] {200, 255}), false)));
    }

    @Test
    void labelFileReadAsImagesNamesBothMagicNumbers() throws IOException {
        Path labels = write("lab", labelsFile(LABELS), true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(labels));
        assertTrue(e.getMessage().contains(labels.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("magic number 2049"), e.getMessage());
        assertTrue(e.getMessage().contains("2051"), e.getMessage());
    }

    @Test
    void truncatedPlainPayloadIsReported() throws IOException {
        byte[] full = imagesFile();
        Path file = write("cut", Arrays.copyOf(full, full.length - 5), false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(file));
        assertTrue(e.getMessage().contains("[3, 2, 3] (18 bytes) but only 13 bytes follow"), e.getMessage());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void truncatedGzipIsReported() throws IOException {
        byte[] gz = gzip(imagesFile());
        Path file = write("cut.gz", Arrays.copyOf(gz, gz.length - 12), false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(file));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void truncatedHeaderIsReported() throws IOException {
        Path file = write("hdr", new byte[] {0, 0, 8, 3, 0, 0}, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(file));
        assertTrue(e.getMessage().contains("too short for an IDX header (16 bytes expected)"),
                e.getMessage());
    }

    @Test
    void trailingBytesAreReported() throws IOException {
        byte[] full = imagesFile();
        Path file = write("long", Arrays.copyOf(full, full.length + 1), true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IdxReader.readImages(file));
        assertTrue(e.getMessage().contains("data continues after the 18 bytes"), e.getMessage());
    }

    @Test
    void emptyImageFileGivesZeroRows() throws IOException {
        byte[] header = ByteBuffer.allocate(16).putInt(2051).putInt(0).putInt(28).putInt(28).array();
        INDArray x = IdxReader.readImages(write("empty", header, true));
        assertArrayEquals(new long[] {0, 784}, x.shape());
        assertArrayEquals(new long[] {0, 10}, IdxReader.oneHot(new int[0], 10).shape());
    }

    @Test
    void oneHotRejectsLabelOutsideClasses() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IdxReader.oneHot(new int[] {1, 10}, 10));
        assertTrue(e.getMessage().contains("label[1] = 10 is outside [0, 10)"), e.getMessage());
    }

    private static byte[] imagesFile() {
        ByteBuffer buf = ByteBuffer.allocate(16 + PIXELS.length * 6);
        buf.putInt(2051).putInt(PIXELS.length).putInt(2).putInt(3);
        for (int[] image : PIXELS) {
            for (int p : image) {
                buf.put((byte) p);
            }
        }
        return buf.array();
    }

    private static byte[] labelsFile(int[] labels) {
        ByteBuffer buf = ByteBuffer.allocate(8 + labels.length);
        buf.putInt(2049).putInt(labels.length);
        for (int label : labels) {
            buf.put((byte) label);
        }
        return buf.array();
    }

    private Path write(String name, byte[] content, boolean gzipped) throws IOException {
        return Files.write(dir.resolve(name), gzipped ? gzip(content) : content);
    }

    private static byte[] gzip(byte[] content) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(content);
        }
        return out.toByteArray();
    }
}
