package io.github.dl4jquant.examples;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigs;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Dynamic int8 quantization: weights become int8 once, activations are quantized per batch from their own range, so
 * no calibration data is needed.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=DynamicQuantizationExample
 * }</pre>
 */
public final class DynamicQuantizationExample {

    private DynamicQuantizationExample() {
    }

    public static void main(String[] args) {
        ExampleData data = ExampleData.load();
        ComputationGraph fp32 = FashionMlp.cached(data);

        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultDynamicQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        ComputationGraph dynamic = Quantizer.convert(prepared);   // or simply Quantizer.quantizeDynamic(fp32)

        System.out.println(prepared.report());
        DataSet test = data.test();
        System.out.println(Agreement.of(fp32.outputSingle(test.getFeatures()),
                dynamic.outputSingle(test.getFeatures()), test.getLabels()));
    }
}
