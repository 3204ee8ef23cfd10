package io.github.dl4jquant.graph;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Every vertex's output as it left the vertex, for one inference batch. DL4J's {@code feedForward} lets an
 * {@code ActivationLayer} apply its function in place, so its map can hold the ReLU's output under the producing
 * vertex's name as well; such entries are recomputed here by a forward pass that stops at the producer.
 *
 * <pre>{@code
 * Map<String, INDArray> acts = ForwardActivations.of(graph, new INDArray[] {features});
 * acts.get("d2");   // d2's own output, even when an ActivationLayer(RELU) follows it
 * }</pre>
 */
public final class ForwardActivations {

    private ForwardActivations() {
    }

    /** Activations by vertex name (and network input name), none overwritten by a later in-place op. */
    public static Map<String, INDArray> of(ComputationGraph graph, INDArray[] inputs) {
        Map<String, INDArray> acts = new HashMap<>(graph.feedForward(inputs, false));
        List<org.deeplearning4j.nn.api.Layer> layers = Arrays.asList(graph.getLayers());
        for (GraphVertex producer : graph.getVertices()) {
            if (!producer.hasLayer() || producer.getOutputVertices() == null) {
                continue;
            }
            String name = producer.getVertexName();
            INDArray out = acts.get(name);
            if (out != null && overwrittenByConsumer(graph, producer, out, acts)) {
                // feedForward's index is a position in getLayers(), not a vertex index
                int layerIndex = layers.indexOf(producer.getLayer());
                acts.put(name, graph.feedForward(inputs, layerIndex, false).get(name));
            }
        }
        return acts;
    }

    private static boolean overwrittenByConsumer(ComputationGraph graph, GraphVertex producer, INDArray out,
                                                 Map<String, INDArray> acts) {
        for (VertexIndices consumer : producer.getOutputVertices()) {
            INDArray c = acts.get(graph.getVertices()[consumer.getVertexIndex()].getVertexName());
            if (c != null && c.data() == out.data()) {
                return true;
            }
        }
        return false;
    }
}
