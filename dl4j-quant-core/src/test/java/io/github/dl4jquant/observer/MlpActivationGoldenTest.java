package io.github.dl4jquant.observer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.testing.Golden;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The activation qparams PyTorch 1.13 recorded in {@code mlp_e2e.json} (onednn defaults: HistogramObserver, quint8,
 * no reduce_range) come out of our HistogramObserver in 1.13 mode when it observes the same fp32 activations.
 */
class MlpActivationGoldenTest {

    @Test
    void histogramObserverReproducesTheCalibratedMlpActivationQParams() {
        JsonNode g = Golden.load("mlp_e2e.json");
        JsonNode w = g.get("weights");
        INDArray x = Golden.matrix(g.get("calibration_input"));
        INDArray h1 = Transforms.relu(linear(x, w, "0"));
        INDArray h2 = Transforms.relu(linear(h1, w, "2"));
        INDArray out = linear(h2, w, "4");
        INDArray[] activations = {x, h1, h2, out};
        for (int i = 0; i < activations.length; i++) {
            HistogramObserver obs = HistogramObserver.builder().truncateHistcRange(true).build();
            obs.observe(activations[i]);
            QParams q = obs.calculateQParams();
            JsonNode want = g.get("activation_qparams_in_graph_order").get("activation_post_process_" + i);
            double wantScale = want.get("scale").get(0).asDouble();
            double rel = Math.abs(q.scale() - wantScale) / wantScale;
            assertTrue(rel <= 1e-3, "activation " + i + ": scale " + q.scale() + " vs " + wantScale);
            assertEquals(want.get("zero_point").get(0).asInt(), q.zeroPoint(), 1, "activation " + i + " zero point");
        }
    }

    /** PyTorch's Linear: x . weight^T + bias, with weight [out, in] as stored in the state dict. */
    private static INDArray linear(INDArray x, JsonNode weights, String layer) {
        INDArray weight = Golden.matrix(weights.get(layer + ".weight"));
        INDArray bias = Nd4j.createFromArray(Golden.floats(weights.get(layer + ".bias")));
        return x.mmul(weight.transpose()).addRowVector(bias);
    }
}
