package io.github.dl4jquant.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fashion-MNIST (Zalando, 60 000 train and 10 000 test 28x28 grey images of 10 clothing classes) read from a local
 * directory of IDX files, by default the one Debian's {@value #APT_PACKAGE} package installs at {@link #DEBIAN_DIR}.
 *
 * <p>Features are FLOAT {@code [n, 784]} in [0, 1], labels one-hot FLOAT {@code [n, 10]}, the same arrays DL4J's
 * {@code MnistDataSetIterator} gives for these files. Each call reads the files again (about a second for the training
 * set); keep the {@link DataSet} if you need it twice.
 * <pre>{@code
 * FashionMnist data = FashionMnist.debian();           // or FashionMnist.at(Path.of("my/dir"))
 * DataSet test = data.test();                          // features [10000, 784], labels [10000, 10]
 * DataSetIterator train = data.trainIterator(128);     // batches of 128, in file order
 * }</pre>
 * Both {@code name-idx3-ubyte.gz} and the uncompressed {@code name-idx3-ubyte} are accepted; when a file is missing
 * the {@link IllegalStateException} lists the missing names and says how to install the package.
 */
public final class FashionMnist {

    /** Where Debian's {@value #APT_PACKAGE} package puts the files. */
    public static final Path DEBIAN_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** The Debian package that provides the full data set. */
    public static final String APT_PACKAGE = "dataset-fashion-mnist";
    /** Number of classes. */
    public static final int NUM_CLASSES = 10;
    /** Image height and width in pixels. */
    public static final int IMAGE_SIZE = 28;
    /** Class names in label order (label 0 is "T-shirt/top", 9 is "Ankle boot"). */
    public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    private static final Logger LOG = LoggerFactory.getLogger(FashionMnist.class);
    private static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    private static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    private static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    private static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
    private static final List<String> FILE_NAMES = List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS);

    private final Path directory;

    private FashionMnist(Path directory) {
        this.directory = directory;
    }

    /**
     * The data set installed by {@code apt-get install dataset-fashion-mnist}.
     *
     * @throws IllegalStateException when the package is not installed (the message names the missing files)
     */
    public static FashionMnist debian() {
        return at(DEBIAN_DIR);
    }

    /**
     * The data set in {@code directory}, which must hold the four IDX files (gzipped or not).
     *
     * @throws IllegalStateException naming the directory and the missing files
     */
    public static FashionMnist at(Path directory) {
        List<String> missing = new ArrayList<>();
        for (String name : FILE_NAMES) {
            if (locate(directory, name) == null) {
                missing.add(name + "[.gz]");
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("Fashion-MNIST is not in " + directory + ": missing " + missing
                    + ". Install Debian's package with 'apt-get install " + APT_PACKAGE + "' (files in " + DEBIAN_DIR
                    + ") or pass a directory holding the four IDX files");
        }
        return new FashionMnist(directory);
    }

    /** True when all four files are in {@code directory}. */
    public static boolean isAvailable(Path directory) {
        return FILE_NAMES.stream().allMatch(name -> locate(directory, name) != null);
    }

    /** The directory the files are read from. */
    public Path directory() {
        return directory;
    }

    /** The 60 000 training examples. */
    public DataSet train() {
        return read(TRAIN_IMAGES, TRAIN_LABELS);
    }

    /** The 10 000 test examples. */
    public DataSet test() {
        return read(TEST_IMAGES, TEST_LABELS);
    }

    /** The training examples in file order, in batches of {@code batchSize} (the last one may be smaller). */
    public DataSetIterator trainIterator(int batchSize) {
        return iterator(train(), batchSize);
    }

    /** The test examples in file order, in batches of {@code batchSize} (the last one may be smaller). */
    public DataSetIterator testIterator(int batchSize) {
        return iterator(test(), batchSize);
    }

    /**
     * Pairs image and label arrays into a DL4J {@link DataSet} with one-hot labels and the class names attached.
     *
     * @throws IllegalArgumentException when the counts differ
     */
    public static DataSet toDataSet(INDArray images, int[] labels, String source) {
        if (images.size(0) != labels.length) {
            throw new IllegalArgumentException(source + ": " + images.size(0) + " images but " + labels.length
                    + " labels; image and label files must come from the same split");
        }
        DataSet ds = new DataSet(images, IdxReader.oneHot(labels, NUM_CLASSES));
        ds.setLabelNames(CLASS_NAMES);
        return ds;
    }

    /** Wraps an in-memory data set into an iterator of {@code batchSize} examples. */
    public static DataSetIterator iterator(DataSet data, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        return new ViewIterator(data, batchSize);
    }

    private DataSet read(String imagesName, String labelsName) {
        Path images = locate(directory, imagesName);
        Path labels = locate(directory, labelsName);
        if (images == null || labels == null) {
            throw new IllegalStateException("Fashion-MNIST files disappeared from " + directory + " ("
                    + imagesName + ", " + labelsName + "); re-install " + APT_PACKAGE);
        }
        long start = System.nanoTime();
        try {
            DataSet ds = toDataSet(IdxReader.readImages(images), IdxReader.readLabels(labels), images.toString());
            LOG.debug("Read {} examples from {} in {} ms", ds.numExamples(), images,
                    (System.nanoTime() - start) / 1_000_000);
            return ds;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read Fashion-MNIST from " + directory, e);
        }
    }

    private static Path locate(Path directory, String name) {
        Path gz = directory.resolve(name + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        Path plain = directory.resolve(name);
        return Files.isRegularFile(plain) ? plain : null;
    }
}
