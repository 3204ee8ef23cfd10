package io.github.dl4jquant.examples;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.ns.NumericSuite;
import io.github.dl4jquant.ns.NumericSuiteReport;
import io.github.dl4jquant.ns.VertexComparison;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Static int8 for a CNN: the LeNet-style {@link FashionCnn} (conv-BN-ReLU-pool twice, dense, softmax), trained once and
 * cached, quantized with the x86 defaults. The convolutions run as int8 oneDNN convolutions with their batch norms
 * folded in and their ReLUs fused; the max pools share their input's qparams. Prints the report, accuracy, top-1
 * agreement, file sizes, per-layer SQNR and a simple latency comparison.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=CnnQuantizationExample
 * }</pre>
 */
public final class CnnQuantizationExample {

    private CnnQuantizationExample() {
    }

    public static void main(String[] args) throws IOException {
        LaunchDefaults.apply(true);
        ExampleData data = ExampleData.load();
        ComputationGraph fp32 = FashionCnn.cached(data);

        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        prepared.calibrate(FashionMlp.calibrationData(data, 2048));
        ComputationGraph int8 = Quantizer.convert(prepared);
        System.out.println("\n== Fashion-MNIST CNN, fp32 -> static int8 (x86); data: " + data.description());
        System.out.println(prepared.report());

        DataSet test = data.test();
        INDArray x = test.getFeatures();
        System.out.println("accuracy     " + Agreement.of(outputs(fp32, x), outputs(int8, x), test.getLabels()));
        Path int8File = FashionCnn.DEFAULT_CACHE.resolveSibling("fashion-cnn-int8.zip");
        ModelFiles.save(int8, int8File);
        long fp32Bytes = Files.size(FashionCnn.DEFAULT_CACHE);
        long int8Bytes = Files.size(int8File);
        System.out.printf("model files  fp32 %,d bytes, int8 %,d bytes (%.2fx)%n", fp32Bytes, int8Bytes,
                (double) int8Bytes / fp32Bytes);
        System.out.println("latency      " + Latency.measure(fp32, int8, x, 1, 200));
        System.out.println("latency      " + Latency.measure(fp32, int8, x, 256, 20));

        NumericSuiteReport errors = NumericSuite.compare(prepared, int8,
                x.get(NDArrayIndex.interval(0, 512), NDArrayIndex.all()));
        System.out.println("\nPer-layer SQNR of the int8 model (NumericSuite, the first 512 test images):");
        for (String layer : List.of("conv1", "conv2", "fc", "out")) {
            VertexComparison row = errors.row(layer);
            System.out.printf("  %-6s weight %5.1f dB, alone %5.1f dB, end to end %5.1f dB  (%s)%n", layer,
                    row.weightSqnr(), row.alone().sqnr(), row.propagated().sqnr(), String.join(" + ",
                            row.fp32Vertices()));
        }
    }

    /** The model's outputs in batches of 1000: a CNN's activations for 10,000 images at once would take gigabytes. */
    private static INDArray outputs(ComputationGraph model, INDArray x) {
        List<INDArray> parts = new ArrayList<>();
        for (long i = 0; i < x.size(0); i += 1000) {
            parts.add(model.outputSingle(x.get(NDArrayIndex.interval(i, Math.min(x.size(0), i + 1000)),
                    NDArrayIndex.all())));
        }
        return Nd4j.vstack(parts.toArray(INDArray[]::new));
    }
}
