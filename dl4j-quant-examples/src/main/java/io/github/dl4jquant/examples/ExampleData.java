package io.github.dl4jquant.examples;

import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.data.IdxReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Locale;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fashion-MNIST for the examples: the full 60 000/10 000 set from Debian's {@code dataset-fashion-mnist} package when
 * it is installed, otherwise the real 6000/1000 class-balanced subset embedded in this jar.
 *
 * <p>The system property {@value #SOURCE_PROPERTY} ({@code auto}, {@code debian} or {@code embedded}) overrides the
 * choice, e.g. so CI can run the examples on the embedded default although the package is installed.
 * <pre>{@code
 * ExampleData data = ExampleData.load();           // logs which source it picked
 * DataSetIterator train = data.trainIterator(128);
 * DataSet test = data.test();
 * System.out.println(data.description());          // "embedded subset (6000 train / 1000 test)"
 * }</pre>
 */
public final class ExampleData {

    /** System property choosing the source: {@code auto} (default), {@code debian} or {@code embedded}. */
    public static final String SOURCE_PROPERTY = "dl4jquant.data";
    /** Classpath folder of the embedded subset (same file names as the full set). */
    public static final String EMBEDDED_RESOURCE = "/fashion-mnist-subset/";

    private static final Logger LOG = LoggerFactory.getLogger(ExampleData.class);

    private final FashionMnist full;

    private ExampleData(FashionMnist full) {
        this.full = full;
    }

    /** Picks the source as {@value #SOURCE_PROPERTY} says (default {@code auto}) and logs the choice. */
    public static ExampleData load() {
        String mode = System.getProperty(SOURCE_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        ExampleData data = switch (mode) {
            case "auto" -> FashionMnist.isAvailable(FashionMnist.DEBIAN_DIR) ? debian() : embedded();
            case "debian" -> debian();
            case "embedded" -> embedded();
            default -> throw new IllegalArgumentException("-D" + SOURCE_PROPERTY + "=" + mode
                    + " is not a data source; use auto, debian or embedded");
        };
        LOG.info("Fashion-MNIST source: {}", data.description());
        return data;
    }

    /**
     * The full set from {@link FashionMnist#DEBIAN_DIR}.
     *
     * @throws IllegalStateException when {@code dataset-fashion-mnist} is not installed
     */
    public static ExampleData debian() {
        return new ExampleData(FashionMnist.debian());
    }

    /** The subset embedded in this jar. */
    public static ExampleData embedded() {
        return new ExampleData(null);
    }

    /** True for the full Debian set, false for the embedded subset. */
    public boolean isFullSet() {
        return full != null;
    }

    /** Where the data comes from, with the split sizes. */
    public String description() {
        return isFullSet()
                ? "full set in " + full.directory() + " (60000 train / 10000 test)"
                : "embedded subset " + EMBEDDED_RESOURCE + " (6000 train / 1000 test; install dataset-fashion-mnist"
                        + " for the full set)";
    }

    /** The training split. */
    public DataSet train() {
        return isFullSet() ? full.train() : readEmbedded("train");
    }

    /** The test split. */
    public DataSet test() {
        return isFullSet() ? full.test() : readEmbedded("t10k");
    }

    /** The training split in batches of {@code batchSize}, in file order. */
    public DataSetIterator trainIterator(int batchSize) {
        return FashionMnist.iterator(train(), batchSize);
    }

    /** The test split in batches of {@code batchSize}, in file order. */
    public DataSetIterator testIterator(int batchSize) {
        return FashionMnist.iterator(test(), batchSize);
    }

    private static DataSet readEmbedded(String split) {
        String images = EMBEDDED_RESOURCE + split + "-images-idx3-ubyte.gz";
        String labels = EMBEDDED_RESOURCE + split + "-labels-idx1-ubyte.gz";
        try (InputStream x = open(images); InputStream y = open(labels)) {
            return FashionMnist.toDataSet(IdxReader.readImages(x, images), IdxReader.readLabels(y, labels), images);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the embedded Fashion-MNIST subset " + images, e);
        }
    }

    private static InputStream open(String resource) {
        InputStream in = ExampleData.class.getResourceAsStream(resource);
        if (in == null) {
            throw new IllegalStateException("classpath resource " + resource + " is missing; the examples jar is"
                    + " incomplete, rebuild it with mvn -B package");
        }
        return in;
    }
}
