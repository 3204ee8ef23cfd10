package io.github.dl4jquant.graph;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.nn.RecurrentLayouts;
import io.github.dl4jquant.nn.quantized.DynamicQuantizedLSTM;
import io.github.dl4jquant.nn.quantized.DynamicQuantizedRecurrent;
import io.github.dl4jquant.nn.quantized.DynamicQuantizedSimpleRnn;
import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.nn.quantized.RecurrentWeights;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedRecurrent;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.qconfig.QConfig;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.AbstractLSTM;
import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.conf.layers.GravesLSTM;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The built-in conversion of recurrent patterns (PyTorch's {@code _get_rnn_op_configs}): DL4J's {@code LSTM},
 * {@code GravesLSTM} and {@code SimpleRnn}, on their own or inside {@code Bidirectional} and/or {@code LastTimeStep}.
 * Lowering gives {@link DynamicQuantizedLSTM} / {@link DynamicQuantizedSimpleRnn} (both directions in one layer, as
 * PyTorch's bidirectional LSTM; a {@code LastTimeStep} wrapper is kept around it); the reference model keeps the float
 * layers with quantize-dequantized weights ({@link ReferenceQuantizedRecurrent}). Weights are observed per matrix with
 * the QConfig's weight observer, in DL4J's layout (gate columns are output channels: axis 1).
 */
final class RecurrentConversion {
    /** The layer classes this conversion takes, which are also their own reference modules. */
    static final java.util.List<Class<?>> ROOTS = java.util.List.of(LSTM.class, GravesLSTM.class, SimpleRnn.class,
            Bidirectional.class, LastTimeStep.class);

    private RecurrentConversion() {
    }

    /** A recurrent root without its wrappers. */
    private record Unwrapped(Layer cell, Bidirectional.Mode mode, boolean lastTimeStep) {
        static Unwrapped of(Layer root) {
            Layer l = root;
            boolean last = l instanceof LastTimeStep;
            if (last) {
                l = ((LastTimeStep) l).getUnderlying();
            }
            Bidirectional.Mode mode = null;
            if (l instanceof Bidirectional b) {
                mode = b.getMode();
                l = b.getFwd();
            }
            return new Unwrapped(l, mode, last);
        }

        String[] prefixes() {
            return mode == null ? new String[] {""} : new String[] {"f", "b"};
        }
    }

    /** Why {@code root} cannot be converted, or null; known before calibration, so the report says it at once. */
    static String unsupportedReason(Layer root) {
        Unwrapped u = Unwrapped.of(root);
        Layer cell = u.cell();
        if (cell instanceof LastTimeStep || cell instanceof Bidirectional) {
            return "nested recurrent wrappers other than LastTimeStep(Bidirectional(...)) are not supported; wrap the "
                    + "Bidirectional layer in LastTimeStep instead";
        }
        if (!(cell instanceof LSTM || cell instanceof GravesLSTM || cell instanceof SimpleRnn)) {
            return cell.getClass().getSimpleName() + " is not an LSTM, GravesLSTM or SimpleRnn (PyTorch's dynamic "
                    + "RNNs: LSTM, RNNCell)";
        }
        if (cell instanceof SimpleRnn s && s.hasLayerNorm()) {
            return "SimpleRnn with layer normalisation (hasLayerNorm) has no dynamic int8 form (PyTorch's RNNs have "
                    + "no layer norm): it stays fp32";
        }
        return null;
    }

    static Replacement convert(PatternContext ctx) {
        Layer root = ctx.rootLayer();
        Unwrapped u = Unwrapped.of(root);
        BaseRecurrentLayer cell = (BaseRecurrentLayer) u.cell();
        String name = "'" + ctx.rootVertex() + "'";
        Map<String, INDArray> params = ctx.rootParams();
        if (!ctx.lowered()) {
            Map<String, INDArray> reference = params;
            for (String prefix : u.prefixes()) {
                reference = ReferenceQuantizedRecurrent.fakeQuantizedParams(cell, reference, prefix,
                        weightQParams(ctx.qconfig(), params.get(prefix + RecurrentLayouts.INPUT_WEIGHTS), name),
                        weightQParams(ctx.qconfig(), recurrentGates(cell, params, prefix), name));
            }
            return Replacement.of(root.clone(), reference);
        }
        DynamicQuantizedRecurrent.Builder<?> b = cell instanceof SimpleRnn ? new DynamicQuantizedSimpleRnn.Builder()
                : new DynamicQuantizedLSTM.Builder().gateActivationFunction(((AbstractLSTM) cell).getGateActivationFn());
        b.nIn(cell.getNIn()).nOut(cell.getNOut()).activation(cell.getActivationFn()).dataFormat(cell.getRnnDataFormat())
                .name(cell.getLayerName());
        b.forward(weights(ctx, cell, params, u.prefixes()[0]));
        if (u.mode() != null) {
            b.backward(weights(ctx, cell, params, "b"), u.mode());
        }
        DynamicQuantizedRecurrent q = (DynamicQuantizedRecurrent) b.build();
        if (u.lastTimeStep()) {
            return Replacement.of(new LastTimeStep(q), Map.of()).withNote(q.getClass().getSimpleName() + " inside");
        }
        return Replacement.of(q, Map.of());
    }

    private static RecurrentWeights weights(PatternContext ctx, BaseRecurrentLayer cell, Map<String, INDArray> params,
                                            String prefix) {
        String where = "'" + ctx.rootVertex() + "'" + (prefix.isEmpty() ? "" : " (" + prefix + ")");
        INDArray w = params.get(prefix + RecurrentLayouts.INPUT_WEIGHTS);
        INDArray rw = params.get(prefix + RecurrentLayouts.RECURRENT_WEIGHTS);
        INDArray gates = RecurrentLayouts.recurrentGateWeights(cell, rw);
        QuantizedDense input = product(where + " input weights", w, weightQParams(ctx.qconfig(), w, where),
                params.get(prefix + RecurrentLayouts.BIAS));
        QuantizedDense recurrent = product(where + " recurrent weights", gates,
                weightQParams(ctx.qconfig(), gates, where), null);
        return new RecurrentWeights(input, recurrent, RecurrentLayouts.peepholes(cell, rw));
    }

    private static INDArray recurrentGates(Layer cell, Map<String, INDArray> params, String prefix) {
        return RecurrentLayouts.recurrentGateWeights(cell, params.get(prefix + RecurrentLayouts.RECURRENT_WEIGHTS));
    }

    /**
     * A dynamic int8 product {@code [k, n]}: 7-bit activations, as PyTorch's dynamic LSTM and cells always pass
     * {@code reduce_range=True}.
     */
    private static QuantizedDense product(String name, INDArray w, QParams wq, INDArray b) {
        ReferenceQuantizedDense conf = new ReferenceQuantizedDense.Builder()
                .nIn(w.size(0)).nOut(w.size(1)).activation(new ActivationIdentity()).hasBias(b != null)
                .weightQParams(wq).dynamic(true).reduceRange(true).name(name).build();
        return QuantizedDense.fromReference(conf, w, b);
    }

    private static QParams weightQParams(QConfig qconfig, INDArray w, String where) {
        Observer o = qconfig.weight().create();
        o.observe(w);
        QParams q = o.calculateQParams();
        if (q.isPerChannel() && q.axis() != 1) {
            throw new IllegalArgumentException("Recurrent vertex " + where + ": the weight observer is per-channel along "
                    + "axis " + q.axis() + ", but DL4J's recurrent weights W [nIn, gates] and RW [nOut, gates] keep "
                    + "their output channels on axis 1: use chAxis(1), as for dense layers");
        }
        return q;
    }
}
