package io.github.dl4jquant.examples;

import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.training.QuantizationOutcome;
import io.github.dl4jquant.training.QuantizeAfterTraining;
import java.nio.file.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Quantize when training ends: a training listener calibrates on held-out examples after the last epoch, converts,
 * evaluates, and writes {@code fashion-mlp-int8.zip} and {@code fashion-mlp-int8-report.json} next to the fp32 model.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=QuantizeAfterTrainingExample
 * }</pre>
 */
public final class QuantizeAfterTrainingExample {

    private QuantizeAfterTrainingExample() {
    }

    public static void main(String[] args) {
        ExampleData data = ExampleData.load();
        DataSet all = data.train();
        int heldOut = 2000;
        DataSet train = (DataSet) all.getRange(0, all.numExamples() - heldOut);
        DataSet calibration = (DataSet) all.getRange(all.numExamples() - heldOut, all.numExamples());

        QuantizeAfterTraining hook = QuantizeAfterTraining.builder(Path.of("target", "after-training",
                        "fashion-mlp.zip"))
                .calibrationData(FashionMnist.iterator(calibration, 256))
                .evaluationData(data.testIterator(1000))
                .backend("onednn")
                .afterEpochs(2)
                .build();
        ComputationGraph model = FashionMlp.build();
        model.addListeners(hook);
        model.fit(FashionMnist.iterator(train, FashionMlp.BATCH_SIZE), 2);

        QuantizationOutcome outcome = hook.outcome().orElseThrow();
        System.out.printf("fp32 %.2f%%, int8 %.2f%%: %s, %s%n", 100 * outcome.fp32Accuracy(),
                100 * outcome.int8Accuracy(), outcome.quantizedModelFile(), outcome.reportFile());
    }
}
