package io.github.dl4jquant.examples;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.backendconfig.Pattern;
import io.github.dl4jquant.graph.ConvertCustomConfig;
import io.github.dl4jquant.graph.PatternHandler;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.Replacement;
import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * A custom quantization strategy for one pattern: DenseLayer[ReLU] gets per-tensor symmetric weights (one scale for
 * the whole matrix, as some accelerators need) instead of the default per-channel ones. The handler receives the
 * matched layer, its float weights and the calibrated qparams, and returns the replacement layer.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=CustomPatternHandlerExample
 * }</pre>
 */
public final class CustomPatternHandlerExample {

    private CustomPatternHandlerExample() {
    }

    public static void main(String[] args) {
        PatternHandler perTensorWeights = ctx -> {
            DenseLayer dense = (DenseLayer) ctx.rootLayer();
            INDArray w = ctx.rootParams().get("W");
            Observer weightObserver = MinMaxObserver.builder().dtype(QuantDType.QINT8)
                    .qscheme(QScheme.PER_TENSOR_SYMMETRIC).build();
            weightObserver.observe(w);
            QParams weightQParams = weightObserver.calculateQParams();
            ReferenceQuantizedDense layer = new ReferenceQuantizedDense.Builder()
                    .nIn(dense.getNIn()).nOut(dense.getNOut())
                    .activation(dense.getActivationFn())
                    .hasBias(true)
                    .inputQParams(ctx.inputQParams())
                    .weightQParams(weightQParams)
                    .outputQParams(ctx.outputQParams())
                    .build();
            INDArray b = ctx.rootParams().get("b");
            return ctx.lowered() ? Replacement.of(QuantizedDense.fromReference(layer, w, b), Map.of())
                    : Replacement.of(layer, Map.of("W", w, "b", b));
        };
        ConvertCustomConfig custom = new ConvertCustomConfig()
                .registerPatternHandler(Pattern.of(DenseLayer.class, Activation.RELU), perTensorWeights);

        ExampleData data = ExampleData.load();
        ComputationGraph fp32 = FashionMlp.cached(data);
        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("onednn"),
                BackendConfigs.getOnednnBackendConfig());
        prepared.calibrate(FashionMlp.calibrationData(data, 2048));
        ComputationGraph int8 = Quantizer.convert(prepared, custom);
        System.out.println(prepared.report());

        ComputationGraph reference = Quantizer.convertToReference(prepared, custom);   // the same handler, in float
        System.out.println("d2 weights: " + ((ReferenceQuantizedDense) reference.getLayer("d2").conf().getLayer())
                .getWeightQParams());                                              // one scale, per tensor
        DataSet test = data.test();
        System.out.println(Agreement.of(fp32.outputSingle(test.getFeatures()), int8.outputSingle(test.getFeatures()),
                test.getLabels()));
    }
}
