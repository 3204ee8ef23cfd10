package io.github.dl4jquant.graph;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.backendconfig.BackendPatternConfig;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.qconfig.QConfig;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Everything a {@link PatternHandler} needs to build the replacement of one matched pattern: the matched vertices and
 * their layer configurations, the root's float parameters, the observers' qparams and the chosen DTypeConfig.
 *
 * <pre>{@code
 * PatternHandler handler = ctx -> {
 *     DenseLayer dense = (DenseLayer) ctx.rootLayer();
 *     INDArray w = ctx.rootParams().get("W");          // [nIn, nOut], float
 *     QParams in = ctx.inputQParams();                   // per tensor, from calibration
 *     ...
 *     return Replacement.of(myLayer, Map.of("W", w, "b", ctx.rootParams().get("b")));
 * };
 * }</pre>
 *
 * @param rootVertex    the vertex the replacement takes the place of
 * @param vertices      all matched vertices in forward order
 * @param layers        copies of the matched layer configurations (null entries for non-layer vertices)
 * @param fusedLayer    the layer produced by the pattern's fuser method, or null
 * @param rootParams    copies of the root layer's float parameters by key ("W", "b")
 * @param config        the BackendPatternConfig that governs the match
 * @param dtypeConfig   the chosen DTypeConfig
 * @param qconfig       the vertex's QConfig
 * @param inputQParams  qparams of the input (null when dynamic or not observed)
 * @param weightQParams qparams of the root's weight (null for layers without weights)
 * @param outputQParams qparams the replacement must quantize its output to, or null when the output stays float or
 *                      is quantized after the pattern's last vertex by the converter
 * @param dynamic       true for dynamic quantization (input qparams from each batch)
 * @param lowered       true when converting to int8 kernels ({@code convert}), false for the reference model
 */
public record PatternContext(String rootVertex, List<String> vertices, List<Layer> layers, Layer fusedLayer,
                             Map<String, INDArray> rootParams, BackendPatternConfig config, DTypeConfig dtypeConfig,
                             QConfig qconfig, QParams inputQParams, QParams weightQParams, QParams outputQParams,
                             boolean dynamic, boolean lowered) {

    /**
     * This context with other output qparams, for handlers that requantize differently from the observer (e.g. to
     * qparams computed elsewhere).
     */
    public PatternContext withOutputQParams(QParams output) {
        return new PatternContext(rootVertex, vertices, layers, fusedLayer, rootParams, config, dtypeConfig, qconfig,
                inputQParams, weightQParams, output, dynamic, lowered);
    }

    /** The layer to replace: the fused layer if the pattern was fused, else the root vertex's layer. */
    public Layer rootLayer() {
        return fusedLayer != null ? fusedLayer : layers.get(0);
    }
}
