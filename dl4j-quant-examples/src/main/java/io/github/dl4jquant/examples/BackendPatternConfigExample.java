package io.github.dl4jquant.examples;

import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.backendconfig.ObservationType;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.qconfig.QConfigs;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;

/**
 * The {@code BackendPatternConfig} of PyTorch's {@code Linear}, for DL4J's {@code DenseLayer}: which dtypes the backend
 * supports, where observers go, and which reference quantized layer replaces the matched layer.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=BackendPatternConfigExample
 * }</pre>
 */
public final class BackendPatternConfigExample {

    private BackendPatternConfigExample() {
    }

    public static void main(String[] args) {
        DTypeConfig weightedInt8 = new DTypeConfig(QuantDType.QUINT8, QuantDType.QUINT8, QuantDType.QINT8,
                QuantDType.FLOAT32);
        BackendPatternConfig dense = new BackendPatternConfig(DenseLayer.class)
                .setObservationType(ObservationType.OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT)
                .addDtypeConfig(weightedInt8)
                .setRootModule(DenseLayer.class)
                .setReferenceQuantizedModule(ReferenceQuantizedDense.class);
        BackendConfig backend = new BackendConfig("dense_only").setBackendPatternConfig(dense);
        System.out.println(dense.toJson());

        ExampleData data = ExampleData.load();
        ComputationGraph fp32 = FashionMlp.cached(data);
        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"), backend);
        prepared.calibrate(FashionMlp.calibrationData(data, 2048));
        ComputationGraph reference = Quantizer.convertToReference(prepared);

        // d1 and d2 are DenseLayers: quantized. relu1 (ActivationLayer) and out (OutputLayer): no pattern, kept fp32.
        System.out.println(prepared.report());
        DataSet test = data.test();
        System.out.println(Agreement.of(fp32.outputSingle(test.getFeatures()),
                reference.outputSingle(test.getFeatures()), test.getLabels()));
    }
}
