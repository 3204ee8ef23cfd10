package io.github.dl4jquant.examples;

import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.backendconfig.FuserMethods;
import io.github.dl4jquant.backendconfig.Pattern;
import io.github.dl4jquant.backendconfig.PatternElement;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.qconfig.QConfigs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Static int8 quantization with a BackendConfig built in code: (DenseLayer, ReLU) fused, DenseLayer[ReLU] and the
 * output layer; saved to JSON, loaded back, and used to quantize the Fashion-MNIST MLP.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=CustomBackendConfigExample
 * }</pre>
 */
public final class CustomBackendConfigExample {

    private CustomBackendConfigExample() {
    }

    public static void main(String[] args) throws Exception {
        DTypeConfig weightedInt8 = new DTypeConfig(QuantDType.QUINT8, QuantDType.QUINT8, QuantDType.QINT8,
                QuantDType.FLOAT32);
        BackendConfig custom = new BackendConfig("my_backend")
                .setBackendPatternConfig(new BackendPatternConfig(Pattern.sequence(
                        PatternElement.of(DenseLayer.class, Activation.IDENTITY),
                        PatternElement.of(ActivationLayer.class, Activation.RELU)))
                        .addDtypeConfig(weightedInt8)
                        .setFuserMethod(FuserMethods.FUSE_DENSE_ACTIVATION)
                        .setFusedModule(DenseLayer.class)
                        .setRootModule(DenseLayer.class)
                        .setReferenceQuantizedModule(ReferenceQuantizedDense.class))
                .setBackendPatternConfig(new BackendPatternConfig(Pattern.of(DenseLayer.class, Activation.RELU))
                        .addDtypeConfig(weightedInt8)
                        .setRootModule(DenseLayer.class)
                        .setReferenceQuantizedModule(ReferenceQuantizedDense.class))
                .setBackendPatternConfig(new BackendPatternConfig(OutputLayer.class)
                        .addDtypeConfig(weightedInt8)
                        .setRootModule(OutputLayer.class)
                        .setReferenceQuantizedModule(ReferenceQuantizedDense.class));

        Path json = Path.of("target", "my-backend.json");
        Files.createDirectories(json.getParent());
        Files.writeString(json, custom.toJson());
        BackendConfig loaded = BackendConfig.fromJson(Files.readString(json));
        System.out.println("Round trip through " + json + " preserved the config: " + loaded.equals(custom));

        ExampleData data = ExampleData.load();
        ComputationGraph fp32 = FashionMlp.cached(data);
        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"), loaded);
        prepared.calibrate(FashionMlp.calibrationData(data, 2048));
        ComputationGraph int8 = Quantizer.convert(prepared);

        System.out.println(prepared.report());
        DataSet test = data.test();
        System.out.println(Agreement.of(fp32.outputSingle(test.getFeatures()), int8.outputSingle(test.getFeatures()),
                test.getLabels()));
    }
}
