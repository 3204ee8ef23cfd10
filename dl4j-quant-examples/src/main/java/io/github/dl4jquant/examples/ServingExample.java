package io.github.dl4jquant.examples;

import io.github.dl4jquant.Quantizer;
import java.util.Arrays;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Serving an int8 model without a fresh output array per call: DL4J's {@code output(train, outputWorkspace, input)}
 * writes the result into a workspace that is reused from call to call. Plain {@code output()} returns a new ND4J array,
 * which ND4J zero-fills in memory it frees only after a garbage collection; for large outputs that costs as much as
 * the int8 product itself (measured: a [256, 512] output, 0.6-0.9 ms on a 2-vCPU VM; see the README's speed
 * tables). Read what you need from the output before the workspace closes.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=ServingExample
 * }</pre>
 */
public final class ServingExample {
    private static final int BATCH = 256;

    private ServingExample() {
    }

    public static void main(String[] args) {
        ExampleData data = ExampleData.load();
        ComputationGraph int8 = Quantizer.quantizeStatic(FashionMlp.cached(data), data.trainIterator(256));
        INDArray batch = data.test().getFeatures().get(NDArrayIndex.interval(0, BATCH), NDArrayIndex.all()).dup('c');

        // --- serving: sized on the first call, then reused ---
        WorkspaceConfiguration outputs = WorkspaceConfiguration.builder().initialSize(0)
                .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.FIRST_LOOP).build();
        int[] predicted;
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(outputs, "SERVING")) {
            INDArray probabilities = int8.output(false, ws, batch)[0];
            predicted = probabilities.argMax(1).toIntVector();   // copied out before the workspace closes
        }
        // --- end of serving ---

        int[] plain = int8.outputSingle(batch).argMax(1).toIntVector();
        System.out.printf("output(workspace) predicts the same as output(): %b%n", Arrays.equals(predicted, plain));
    }
}
