package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.nn.RecurrentLayouts;
import java.util.LinkedHashMap;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The reference quantized recurrent module, as PyTorch's {@code torch.ao.nn.quantized.reference.LSTM}: the float
 * layer itself (DL4J's {@code LSTM}, {@code GravesLSTM}, {@code SimpleRnn}, also inside {@code Bidirectional} /
 * {@code LastTimeStep}) computing with quantize-dequantized input and recurrent weights; biases and GravesLSTM's
 * peepholes stay float. It names the reference module of the recurrent patterns in every predefined BackendConfig
 * and builds the reference's parameters.
 *
 * <pre>{@code
 * Map<String, INDArray> p = ReferenceQuantizedRecurrent.fakeQuantizedParams(lstmConf, params, "f", wq, rwq);
 * }</pre>
 */
public final class ReferenceQuantizedRecurrent {
    private ReferenceQuantizedRecurrent() {
    }

    /**
     * The parameters {@code prefix + "W"}, {@code prefix + "RW"} of {@code params} with their weights
     * quantize-dequantized ({@code inputQParams} on W, {@code recurrentQParams} on RW's gate columns); the other
     * parameters unchanged. All arrays are new.
     */
    public static Map<String, INDArray> fakeQuantizedParams(Layer recurrent, Map<String, INDArray> params,
                                                            String prefix, QParams inputQParams,
                                                            QParams recurrentQParams) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            out.put(e.getKey(), e.getValue().dup());
        }
        String w = prefix + RecurrentLayouts.INPUT_WEIGHTS;
        String rw = prefix + RecurrentLayouts.RECURRENT_WEIGHTS;
        out.put(w, QuantOps.fakeQuantize(params.get(w), inputQParams));
        INDArray gates = RecurrentLayouts.recurrentGateWeights(recurrent, params.get(rw));
        out.put(rw, RecurrentLayouts.withRecurrentGateWeights(recurrent, params.get(rw),
                QuantOps.fakeQuantize(gates.dup(), recurrentQParams)));
        return out;
    }
}
