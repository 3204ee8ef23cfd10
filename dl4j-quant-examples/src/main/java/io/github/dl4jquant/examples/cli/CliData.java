package io.github.dl4jquant.examples.cli;

import io.github.dl4jquant.data.IdxReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Data for the command-line tool, from a directory of IDX files in the (Fashion-)MNIST layout, a single IDX images
 * file, or a CSV file. CSV rows are features; for evaluation the last column is the integer class label. A header row
 * that does not parse as numbers is skipped.
 *
 * <pre>{@code
 * CliData calib = CliData.features(Path.of("/usr/share/datasets/fashion-mnist"));     // train images
 * CliData test = CliData.labelled(Path.of("/usr/share/datasets/fashion-mnist"));      // t10k images + labels
 * }</pre>
 *
 * @param features FLOAT {@code [n, features]}
 * @param labels   class index per example, or null for unlabelled data
 * @param source   the file the features came from
 */
public record CliData(INDArray features, int[] labels, Path source) {

    private static final List<String> SPLITS = List.of("t10k", "train");
    private static final Pattern DECIMAL = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");
    /** Larger labels would lose their value in a float column and one-hot encode into gigabytes. */
    private static final int MAX_LABEL = 1 << 16;

    /** Unlabelled features for calibration: a directory prefers the training images. */
    public static CliData features(Path path) {
        Path file = Files.isDirectory(path) ? findImages(path, List.of("train", "t10k")) : requireFile(path);
        return isCsv(file) ? readCsv(file, false) : new CliData(readImages(file), null, file);
    }

    /** Features with labels for evaluation: a directory prefers the test split ({@code t10k}). */
    public static CliData labelled(Path path) {
        Path file = Files.isDirectory(path) ? findImages(path, SPLITS) : requireFile(path);
        if (isCsv(file)) {
            return readCsv(file, true);
        }
        Path labelsFile = labelsFor(file);
        try {
            return new CliData(readImages(file), IdxReader.readLabels(labelsFile), file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read labels " + labelsFile + ": " + e.getMessage(), e);
        }
    }

    public long numExamples() {
        return features.size(0);
    }

    public long numFeatures() {
        return features.size(1);
    }

    private static Path requireFile(Path path) {
        if (!Files.exists(path)) {
            throw new IllegalArgumentException("data path " + path + " does not exist");
        }
        if (!Files.isReadable(path)) {
            throw new IllegalArgumentException("data file " + path + " is not readable");
        }
        return path;
    }

    private static Path findImages(Path dir, List<String> preferredSplits) {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot list data folder " + dir + ": " + e.getMessage(), e);
        }
        for (String split : preferredSplits) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.equals(split + "-images-idx3-ubyte") || name.equals(split + "-images-idx3-ubyte.gz")) {
                    return f;
                }
            }
        }
        List<Path> candidates = new ArrayList<>();
        for (Path f : files) {
            String name = f.getFileName().toString();
            if (name.contains("-idx3-ubyte") || isCsv(f)) {
                candidates.add(f);
            }
        }
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("data folder " + dir + " holds no IDX images file "
                    + "(train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz]) and no .csv file");
        }
        return candidates.get(0);
    }

    private static Path labelsFor(Path images) {
        String name = images.getFileName().toString();
        if (!name.contains("images-idx3")) {
            throw new IllegalArgumentException("cannot find the labels of " + images + ": name it like "
                    + "t10k-images-idx3-ubyte[.gz] next to t10k-labels-idx1-ubyte[.gz]");
        }
        String labels = name.replace("images-idx3", "labels-idx1");
        for (String candidate : List.of(labels, labels.endsWith(".gz") ? labels.substring(0, labels.length() - 3)
                : labels + ".gz")) {
            Path p = images.resolveSibling(candidate);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IllegalArgumentException("labels file " + images.resolveSibling(labels) + " for " + images
                + " does not exist");
    }

    private static INDArray readImages(Path file) {
        try {
            return IdxReader.readImages(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read IDX images " + file + ": " + e.getMessage(), e);
        }
    }

    private static boolean isCsv(Path file) {
        return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".csv");
    }

    private static CliData readCsv(Path file, boolean labelled) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read CSV " + file + ": " + e.getMessage(), e);
        }
        List<float[]> rows = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (line.isEmpty()) {
                continue;
            }
            float[] row = parseRow(line, file, i + 1, rows.isEmpty());
            if (row == null) {
                continue;
            }
            if (!rows.isEmpty() && row.length != rows.get(0).length) {
                throw new IllegalArgumentException("CSV " + file + " line " + (i + 1) + " has " + row.length
                        + " columns, the first row has " + rows.get(0).length);
            }
            rows.add(row);
        }
        int columns = rows.isEmpty() ? 0 : rows.get(0).length;
        int width = labelled ? columns - 1 : columns;
        if (rows.isEmpty() || width < 1) {
            throw new IllegalArgumentException("CSV " + file + " holds no data rows" + (labelled
                    ? " with at least one feature column and a label column" : ""));
        }
        float[] flat = new float[rows.size() * width];
        int[] labels = labelled ? new int[rows.size()] : null;
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r), 0, flat, r * width, width);
            if (labelled) {
                labels[r] = label(rows.get(r)[width], file, r);
            }
        }
        return new CliData(Nd4j.createFromArray(flat).reshape('c', rows.size(), width), labels, file);
    }

    /**
     * The row's numbers, or null for a header line: a first line none of whose cells is a number. A line with some
     * numbers is data, so that a typo in the first row is reported instead of the row being dropped as a header.
     */
    private static float[] parseRow(String line, Path file, int lineNumber, boolean mayBeHeader) {
        String[] cells = line.split(",", -1);
        float[] row = new float[cells.length];
        int firstBad = -1;
        for (int c = 0; c < cells.length; c++) {
            Float v = number(cells[c].trim());
            if (v == null) {
                firstBad = firstBad < 0 ? c : firstBad;
            } else {
                row[c] = v;
            }
        }
        if (firstBad < 0) {
            return row;
        }
        if (mayBeHeader && Arrays.stream(cells).allMatch(c -> number(c.trim()) == null)) {
            return null;
        }
        throw new IllegalArgumentException("CSV " + file + " line " + lineNumber + " column " + (firstBad + 1)
                + ": '" + cells[firstBad].trim() + "' is not a finite decimal number; give numbers such as 0.5 in "
                + "every column");
    }

    /** A finite decimal number, or null: Float.parseFloat would also take NaN, Infinity, "1f" and hex floats. */
    private static Float number(String cell) {
        if (!DECIMAL.matcher(cell).matches()) {
            return null;
        }
        float v = Float.parseFloat(cell);
        return Float.isFinite(v) ? v : null;
    }

    private static int label(float value, Path file, int row) {
        if (value != Math.rint(value) || value < 0 || value >= MAX_LABEL) {
            throw new IllegalArgumentException("CSV " + file + " data row " + (row + 1) + ": the last column is the "
                    + "class label and must be an integer in [0, " + MAX_LABEL + "), got " + value);
        }
        return (int) value;
    }
}
