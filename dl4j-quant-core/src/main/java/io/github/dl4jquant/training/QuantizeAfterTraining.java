package io.github.dl4jquant.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Predicate;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Quantizes a model when its training ends: a DL4J training listener that, once its trigger fires at the end of an
 * epoch, saves the fp32 model, calibrates a copy on held-out data, converts it to int8, evaluates both, and writes
 * {@code name-int8.zip} and {@code name-int8-report.json} next to the fp32 {@code name.zip}. It fires once.
 *
 * <pre>{@code
 * QuantizeAfterTraining hook = QuantizeAfterTraining.builder(Path.of("models/mlp.zip"))
 *     .calibrationData(heldOutIterator)        // a few hundred to a few thousand examples not used for training
 *     .evaluationData(testIterator)            // optional: accuracy of fp32 and int8 in the log and the report
 *     .afterEpochs(2)                          // or .when(p -> p.score() < 0.3)
 *     .build();
 * model.addListeners(hook);
 * model.fit(trainIterator, 2);
 * QuantizationOutcome outcome = hook.outcome().orElseThrow();
 *
 * // without listeners, after any training loop:
 * QuantizationOutcome now = hook.quantizeNow(model);
 * }</pre>
 *
 * <p>Defaults follow {@code Quantizer.quantizeStatic}: {@code QConfigs.getDefaultQConfigMapping("x86")} with
 * {@code BackendConfigs.getX86BackendConfig()}; {@link Builder#backend(String)} picks another predefined backend.
 * The model being trained is never modified: quantization works on a copy.
 */
public final class QuantizeAfterTraining extends BaseTrainingListener {
    private static final Logger log = LoggerFactory.getLogger(QuantizeAfterTraining.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path fp32ModelFile;
    private final DataSetIterator calibrationData;
    private final DataSetIterator evaluationData;
    private final QConfigMapping qconfigMapping;
    private final BackendConfig backendConfig;
    private final Predicate<TrainingProgress> trigger;
    private int epochsCompleted;
    private QuantizationOutcome outcome;

    private QuantizeAfterTraining(Builder b) {
        this.fp32ModelFile = b.fp32ModelFile;
        this.calibrationData = b.calibrationData;
        this.evaluationData = b.evaluationData;
        this.qconfigMapping = b.qconfigMapping;
        this.backendConfig = b.backendConfig;
        this.trigger = b.trigger;
    }

    /** A builder for a hook that saves the fp32 model to {@code fp32ModelFile} and the results next to it. */
    public static Builder builder(Path fp32ModelFile) {
        return new Builder(fp32ModelFile);
    }

    /**
     * The plain helper for code without listeners: quantizes {@code model} now with the x86 defaults and writes the
     * three files.
     *
     * @param evaluationData labelled data for the accuracies, or null to skip evaluation
     */
    public static QuantizationOutcome quantizeAndSave(Model model, Path fp32ModelFile, DataSetIterator calibrationData,
                                                      DataSetIterator evaluationData) {
        return builder(fp32ModelFile).calibrationData(calibrationData).evaluationData(evaluationData).build()
                .quantizeNow(model);
    }

    @Override
    public void onEpochEnd(Model model) {
        epochsCompleted++;
        if (outcome == null && trigger.test(new TrainingProgress(model, epochsCompleted, model.score()))) {
            log.info("Training reached the quantization trigger after epoch {}", epochsCompleted);
            outcome = quantize(model, epochsCompleted);
        }
    }

    /** The result, once the trigger has fired (or {@link #quantizeNow} was called). */
    public Optional<QuantizationOutcome> outcome() {
        return Optional.ofNullable(outcome);
    }

    /** Runs the quantization on {@code model} now, whatever the trigger says, and remembers the outcome. */
    public QuantizationOutcome quantizeNow(Model model) {
        outcome = quantize(model, epochsCompleted);
        return outcome;
    }

    private QuantizationOutcome quantize(Model model, int epoch) {
        long start = System.nanoTime();
        Path int8File = sibling("-int8.zip");
        Path reportFile = sibling("-int8-report.json");
        writeModel(model, fp32ModelFile);
        PreparedModel prepared = prepare(model).calibrate(calibrationData);
        ComputationGraph int8 = Quantizer.convert(prepared);
        writeModel(int8, int8File);
        double fp32Accuracy = accuracy(model);
        double int8Accuracy = accuracy(int8);
        QuantizationOutcome result = new QuantizationOutcome(fp32ModelFile, int8File, reportFile, fp32Accuracy,
                int8Accuracy, epoch, prepared.report());
        writeReport(result);
        log.info("Quantized after epoch {} in {} s: fp32 accuracy {}, int8 accuracy {}; wrote {} and {}", epoch,
                String.format(Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9), percent(fp32Accuracy),
                percent(int8Accuracy), int8File, reportFile);
        return result;
    }

    private PreparedModel prepare(Model model) {
        if (model instanceof ComputationGraph g) {
            return Quantizer.prepare(g, qconfigMapping, backendConfig);
        }
        if (model instanceof MultiLayerNetwork n) {
            return Quantizer.prepare(n, qconfigMapping, backendConfig);
        }
        throw new IllegalArgumentException("QuantizeAfterTraining quantizes a ComputationGraph or a "
                + "MultiLayerNetwork; got a " + model.getClass().getName());
    }

    private double accuracy(Model model) {
        if (evaluationData == null) {
            return Double.NaN;
        }
        evaluationData.reset();
        Evaluation eval = model instanceof ComputationGraph g ? g.evaluate(evaluationData)
                : ((MultiLayerNetwork) model).evaluate(evaluationData);
        return eval.accuracy();
    }

    private Path sibling(String suffix) {
        String name = fp32ModelFile.getFileName().toString();
        String stem = name.toLowerCase(Locale.ROOT).endsWith(".zip") ? name.substring(0, name.length() - 4) : name;
        return fp32ModelFile.resolveSibling(stem + suffix);
    }

    private static void writeModel(Model model, Path file) {
        writeAtomically(file, tmp -> ModelSerializer.writeModel(model, tmp.toFile(), false));
    }

    private static void writeReport(QuantizationOutcome result) {
        writeAtomically(result.reportFile(), tmp -> JSON.writeValue(tmp.toFile(), result.toMap()));
    }

    /** Writes to a temporary file in the target directory and moves it into place, so no half-written file stays. */
    private static void writeAtomically(Path file, FileWriter writer) {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
            if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                // temporary files are owner-only; the model file they become should not be
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            }
            writer.write(tmp);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write " + file + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    private static void deleteQuietly(Path tmp) {
        try {
            if (tmp != null) {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            log.warn("Could not delete the temporary file {}: {}", tmp, e.getMessage());
        }
    }

    private static String percent(double accuracy) {
        return Double.isNaN(accuracy) ? "n/a" : String.format(Locale.ROOT, "%.2f%%", 100 * accuracy);
    }

    @FunctionalInterface
    private interface FileWriter {
        void write(Path tmp) throws IOException;
    }

    /** Options of {@link QuantizeAfterTraining}; calibration data is required. */
    public static final class Builder {
        private final Path fp32ModelFile;
        private DataSetIterator calibrationData;
        private DataSetIterator evaluationData;
        private QConfigMapping qconfigMapping = QConfigs.getDefaultQConfigMapping("x86");
        private BackendConfig backendConfig = BackendConfigs.getX86BackendConfig();
        private Predicate<TrainingProgress> trigger = p -> true;

        private Builder(Path fp32ModelFile) {
            if (fp32ModelFile == null || fp32ModelFile.getFileName() == null) {
                throw new IllegalArgumentException("fp32ModelFile: got " + fp32ModelFile + "; give the path the fp32 "
                        + "model is saved to, e.g. Path.of(\"models/mlp.zip\")");
            }
            this.fp32ModelFile = fp32ModelFile;
        }

        /** Held-out examples the observers see; not the training data if you can avoid it. */
        public Builder calibrationData(DataSetIterator data) {
            this.calibrationData = data;
            return this;
        }

        /** Labelled examples for the fp32 and int8 accuracies (null: no evaluation). */
        public Builder evaluationData(DataSetIterator data) {
            this.evaluationData = data;
            return this;
        }

        /** The QConfigMapping to prepare with (default: {@code getDefaultQConfigMapping("x86")}). */
        public Builder qconfigMapping(QConfigMapping mapping) {
            this.qconfigMapping = mapping;
            return this;
        }

        /** The BackendConfig to prepare with (default: {@code getX86BackendConfig()}). */
        public Builder backendConfig(BackendConfig config) {
            this.backendConfig = config;
            return this;
        }

        /** A predefined backend ("x86", "fbgemm", "onednn", "qnnpack", "native") with its default QConfigMapping. */
        public Builder backend(String name) {
            this.backendConfig = BackendConfigs.get(name);
            this.qconfigMapping = QConfigs.getDefaultQConfigMapping(name);
            return this;
        }

        /** Fires at the end of epoch {@code epochs} (counted from when the listener was attached). */
        public Builder afterEpochs(int epochs) {
            if (epochs < 1) {
                throw new IllegalArgumentException("afterEpochs: got " + epochs + "; give the number of training "
                        + "epochs (>= 1) after which to quantize");
            }
            this.trigger = p -> p.epochsCompleted() == epochs;
            return this;
        }

        /** Fires at the end of the first epoch for which {@code condition} holds. Default: the first epoch end. */
        public Builder when(Predicate<TrainingProgress> condition) {
            this.trigger = condition;
            return this;
        }

        /** @throws IllegalArgumentException when calibration data, mapping, backend or trigger is missing */
        public QuantizeAfterTraining build() {
            if (calibrationData == null) {
                throw new IllegalArgumentException("calibrationData: not set; static quantization needs held-out "
                        + "examples to calibrate the activation observers, e.g. .calibrationData(heldOutIterator)");
            }
            if (qconfigMapping == null || backendConfig == null || trigger == null) {
                throw new IllegalArgumentException("QuantizeAfterTraining needs a QConfigMapping, a BackendConfig and "
                        + "a trigger; got qconfigMapping=" + qconfigMapping + ", backendConfig=" + backendConfig
                        + ", trigger=" + trigger);
            }
            return new QuantizeAfterTraining(this);
        }
    }
}
