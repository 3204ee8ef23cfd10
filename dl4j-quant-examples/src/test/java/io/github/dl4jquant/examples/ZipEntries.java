package io.github.dl4jquant.examples;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.function.UnaryOperator;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * Edits one entry of a model zip in memory, for the tests that corrupt model files.
 *
 * <pre>{@code
 * byte[] corrupt = ZipEntries.replace(zip, "coefficients.bin", new byte[] {1, 2, 3});
 * }</pre>
 */
public final class ZipEntries {
    private ZipEntries() {
    }

    /** The zip with the content of its entry {@code name} edited; the other entries unchanged. */
    public static byte[] edit(byte[] zip, String name, UnaryOperator<byte[]> edit) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip));
             ZipOutputStream z = new ZipOutputStream(bytes)) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                byte[] content = in.readAllBytes();
                z.putNextEntry(new ZipEntry(e.getName()));
                z.write(e.getName().equals(name) ? edit.apply(content) : content);
                z.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** The zip with the content of its entry {@code name} replaced by {@code content}. */
    public static byte[] replace(byte[] zip, String name, byte[] content) throws IOException {
        return edit(zip, name, original -> content);
    }
}
