package io.github.dl4jquant.nn.quantized;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.api.layers.RecurrentLayer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.gradient.Gradient;
import io.github.dl4jquant.nn.Int8Layer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The runtime of the dynamic int8 recurrent layers, as PyTorch's dynamic {@code quantized_lstm} runs a layer: the
 * input product over the whole sequence at once ({@code [T * B, nIn]} rows, one dynamic scale), then per time step
 * the recurrent product of the previous hidden state (a dynamic scale per step), {@code gates = HH + IH[t]} in float,
 * and the cell's own float update ({@link #cellStep}). The backward direction of a bidirectional layer runs the same
 * from the last step to the first and is combined as DL4J's {@code BidirectionalLayer} does. A mask zeroes the states
 * of masked steps where the DL4J layer would apply it ({@link #keepsFeedForwardMask}); {@code rnnTimeStep} keeps the
 * last states between calls.
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(x);            // x [batch, nIn, T] (NCW) or [batch, T, nIn] (NWC)
 * INDArray step = graph.rnnTimeStep(xStep)[0];   // stateful, one direction only, as DL4J
 * }</pre>
 *
 * <p>Thread safety: as every DL4J layer, an instance holds its input and stored state, so one model serves one thread
 * at a time (DL4J's {@code output} is synchronised; {@link Int8Layer} checks the input's owner); the int8 products
 * behind it keep per-thread scratch.
 *
 * @param <C> the layer configuration
 */
public abstract class DynamicQuantizedRecurrentLayer<C extends DynamicQuantizedRecurrent> extends Int8Layer<C>
        implements RecurrentLayer {
    /** The keys DL4J's own LSTM and SimpleRnn store their states under. */
    public static final String STATE_KEY_PREV_ACTIVATION = "prevAct";
    public static final String STATE_KEY_PREV_MEMCELL = "prevMem";

    private final Map<String, INDArray> stateMap = new ConcurrentHashMap<>();
    private final Map<String, INDArray> tBpttStateMap = new ConcurrentHashMap<>();
    private volatile Direction[] directions;

    protected DynamicQuantizedRecurrentLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /** The hidden state (and cell state, for LSTMs) of one direction while it runs; arrays are updated in place. */
    protected static final class State {
        final INDArray h;
        final INDArray c;

        State(INDArray h, INDArray c) {
            this.h = h;
            this.c = c;
        }
    }

    /** One direction's products and peepholes, built once per layer. */
    protected static final class Direction {
        final Int8LinearProduct input;
        final Int8LinearProduct recurrent;
        /** GravesLSTM's [wFF, wOO, wGG] as [1, hidden] rows, or null. */
        final INDArray[] peepholes;

        Direction(RecurrentWeights w, int hidden) {
            this.input = new Int8LinearProduct(w.getInputWeights());
            this.recurrent = new Int8LinearProduct(w.getRecurrentWeights());
            this.peepholes = w.hasPeepholes() ? splitPeepholes(w.getPeepholes(), hidden) : null;
        }

        private static INDArray[] splitPeepholes(float[] p, int hidden) {
            INDArray[] rows = new INDArray[3];
            for (int k = 0; k < 3; k++) {
                rows[k] = Nd4j.createFromArray(Arrays.copyOfRange(p, k * hidden, (k + 1) * hidden))
                        .reshape(1, hidden);
            }
            return rows;
        }
    }

    /**
     * Whether a feature mask reaching the layer in the forward pass masks its steps, as in the DL4J layer it replaces:
     * DL4J's SimpleRnn keeps it (AbstractLayer's default), its LSTM and GravesLSTM only pass it on (their forward pass
     * masks only what {@code setMaskArray} set, e.g. inside DL4J's Bidirectional during training).
     */
    protected abstract boolean keepsFeedForwardMask();

    /** True when the cell has a cell state besides the hidden state (LSTMs). */
    protected abstract boolean hasCellState();

    /**
     * Turns the gate pre-activations of one step ({@code [batch, gates]}, contiguous, free to overwrite) into the new
     * states, in place in {@code s}.
     *
     * @param peepholes GravesLSTM's peephole rows, or null
     */
    protected abstract void cellStep(INDArray gates, State s, INDArray[] peepholes);

    @Override
    protected INDArray forward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        return run(null, null, workspaceMgr);
    }

    @Override
    public synchronized INDArray rnnTimeStep(INDArray input, LayerWorkspaceMgr workspaceMgr) {
        setInput(input, workspaceMgr);
        return run(stateMap, stateMap, workspaceMgr);
    }

    @Override
    public synchronized INDArray rnnActivateUsingStoredState(INDArray input, boolean training,
                                                             boolean storeLastForTBPTT, LayerWorkspaceMgr workspaceMgr) {
        setInput(input, workspaceMgr);
        return run(tBpttStateMap, storeLastForTBPTT ? tBpttStateMap : null, workspaceMgr);
    }

    private INDArray run(Map<String, INDArray> from, Map<String, INDArray> into, LayerWorkspaceMgr mgr) {
        assertInputSet(false);
        C c = layerConf();
        if ((from != null || into != null) && c.isBidirectional()) {
            throw new UnsupportedOperationException(describe() + ": rnnTimeStep and stored state are not possible "
                    + "with a bidirectional layer (its backward direction needs the whole sequence), as in DL4J's "
                    + "Bidirectional");
        }
        INDArray x = ncwInput(c);
        Direction[] d = directions();
        State forwardState = initialState(from, x.size(0));
        INDArray out = runDirection(d[0], x, true, forwardState, mgr);
        if (into != null) {
            into.put(STATE_KEY_PREV_ACTIVATION, forwardState.h.detach());
            if (forwardState.c != null) {
                into.put(STATE_KEY_PREV_MEMCELL, forwardState.c.detach());
            }
        }
        if (c.isBidirectional()) {
            INDArray backwardOut = runDirection(d[1], x, false, initialState(null, x.size(0)), mgr);
            out = combine(out, backwardOut, c.getBidirectionalMode(), mgr);
        }
        if (c.getRnnDataFormat() == RNNFormat.NWC) {
            out = out.permute(0, 2, 1);
        }
        return dataType == DataType.FLOAT ? out : out.castTo(dataType);
    }

    /** The input as FLOAT {@code [batch, nIn, T]}. */
    private INDArray ncwInput(C c) {
        if (input.rank() != 3) {
            throw new IllegalArgumentException(describe() + " expects 3-d input [batch, " + c.getNIn() + ", time] "
                    + "(NCW) or [batch, time, " + c.getNIn() + "] (NWC, as rnnDataFormat says: "
                    + c.getRnnDataFormat() + "); got shape " + Arrays.toString(input.shape()));
        }
        INDArray x = c.getRnnDataFormat() == RNNFormat.NWC ? input.permute(0, 2, 1) : input;
        if (x.size(1) != c.getNIn()) {
            throw new IllegalArgumentException(describe() + " expects " + c.getNIn() + " input features per time "
                    + "step (nIn, " + c.getRnnDataFormat() + "); got shape " + Arrays.toString(input.shape())
                    + ". Check the data's feature size and rnnDataFormat");
        }
        return x.dataType() == DataType.FLOAT ? x : x.castTo(DataType.FLOAT);
    }

    private State initialState(Map<String, INDArray> stored, long batch) {
        long hidden = layerConf().getNOut();
        INDArray h = stored == null ? null : stored.get(STATE_KEY_PREV_ACTIVATION);
        INDArray c = stored == null ? null : stored.get(STATE_KEY_PREV_MEMCELL);
        if (h != null && h.size(0) != batch) {
            throw new IllegalStateException(describe() + ": the stored state holds " + h.size(0) + " examples but the "
                    + "input has " + batch + ". Call rnnClearPreviousState() between sequences of different batch "
                    + "sizes");
        }
        return new State(stateArray(h, batch, hidden), hasCellState() ? stateArray(c, batch, hidden) : null);
    }

    private static INDArray stateArray(INDArray stored, long batch, long hidden) {
        INDArray s = Nd4j.create(DataType.FLOAT, new long[] {batch, hidden}, 'c');
        if (stored != null) {
            s.assign(stored);
        }
        return s;
    }

    private INDArray runDirection(Direction d, INDArray x, boolean forwards, State s, LayerWorkspaceMgr mgr) {
        int batch = (int) x.size(0);
        int steps = (int) x.size(2);
        long hidden = layerConf().getNOut();
        long gates = d.input.conf().getNOut();
        INDArray out = mgr.create(ArrayType.ACTIVATIONS, DataType.FLOAT, new long[] {batch, hidden, steps}, 'f');
        if (batch == 0 || steps == 0) {
            return out;
        }
        INDArray rows = x.permute(2, 0, 1).dup('c').reshape('c', (long) steps * batch, x.size(1));
        INDArray inputProducts = Nd4j.createUninitialized(DataType.FLOAT, new long[] {(long) steps * batch, gates}, 'c');
        d.input.apply(rows, inputProducts);
        runSteps(d, inputProducts, forwards, s, out);
        return out;
    }

    /**
     * The time loop: per step the recurrent product, {@code gates = HH + IH[t]}, {@link #cellStep}, the mask, and the
     * hidden state into {@code out[:, :, t]}. Subclasses may run the same with native kernels.
     *
     * @param inputProducts the input product of every step, {@code [T * batch, gates]}, time major
     * @param out           {@code [batch, hidden, T]}, 'f' order
     */
    protected void runSteps(Direction d, INDArray inputProducts, boolean forwards, State s, INDArray out) {
        int batch = (int) out.size(0);
        int steps = (int) out.size(2);
        INDArray stepGates = Nd4j.createUninitialized(DataType.FLOAT, new long[] {batch, inputProducts.size(1)}, 'c');
        for (int i = 0; i < steps; i++) {
            int t = forwards ? i : steps - 1 - i;
            gatesAt(d, inputProducts, t, s.h, stepGates);
            cellStep(stepGates, s, d.peepholes);
            applyMask(s, t);
            out.tensorAlongDimension(t, 1, 0).assign(s.h);
        }
    }

    /** {@code gates = h RW + IH[t]}, PyTorch's {@code HH + IH[t]}. */
    protected static void gatesAt(Direction d, INDArray inputProducts, int t, INDArray h, INDArray gates) {
        long batch = h.size(0);
        d.recurrent.apply(h, gates);
        gates.addi(inputProducts.get(NDArrayIndex.interval(t * batch, (t + 1) * batch), NDArrayIndex.all()));
    }

    private void applyMask(State s, int t) {
        if (maskArray == null) {
            return;
        }
        INDArray column = maskArray.getColumn(t, true).castTo(DataType.FLOAT);
        s.h.muliColumnVector(column);
        if (s.c != null) {
            s.c.muliColumnVector(column);
        }
    }

    /** DL4J's {@code BidirectionalLayer} combination of the two directions' [batch, hidden, T] outputs. */
    private static INDArray combine(INDArray fwd, INDArray bwd, Bidirectional.Mode mode, LayerWorkspaceMgr mgr) {
        switch (mode) {
            case ADD:
                return fwd.addi(bwd);
            case MUL:
                return fwd.muli(bwd);
            case AVERAGE:
                return fwd.addi(bwd).muli(0.5);
            case CONCAT:
                return mgr.leverageTo(ArrayType.ACTIVATIONS, Nd4j.concat(1, fwd, bwd));
            default:
                throw new IllegalStateException("Unknown Bidirectional mode " + mode);
        }
    }

    private Direction[] directions() {
        Direction[] d = directions;
        if (d == null) {
            C c = layerConf();
            c.validate();
            int hidden = (int) c.getNOut();
            d = c.isBidirectional()
                    ? new Direction[] {new Direction(c.getForward(), hidden), new Direction(c.getBackward(), hidden)}
                    : new Direction[] {new Direction(c.getForward(), hidden)};
            directions = d;
        }
        return d;
    }

    /** {@code activation(view)} written back into {@code view} (ND4J activations may or may not work in place). */
    protected static void activateInPlace(org.nd4j.linalg.activations.IActivation activation, INDArray view) {
        INDArray r = activation.getActivation(view, false);
        if (r != view) {
            view.assign(r);
        }
    }

    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArray(INDArray maskArray, MaskState currentMaskState,
                                                          int minibatchSize) {
        if (keepsFeedForwardMask()) {
            this.maskArray = maskArray;
            this.maskState = currentMaskState;
        }
        return new Pair<>(maskArray, MaskState.Passthrough);
    }

    @Override
    public Map<String, INDArray> rnnGetPreviousState() {
        return new ConcurrentHashMap<>(stateMap);
    }

    @Override
    public void rnnSetPreviousState(Map<String, INDArray> stateMap) {
        this.stateMap.clear();
        this.stateMap.putAll(stateMap);
    }

    @Override
    public void rnnClearPreviousState() {
        stateMap.clear();
    }

    @Override
    public Map<String, INDArray> rnnGetTBPTTState() {
        return new ConcurrentHashMap<>(tBpttStateMap);
    }

    @Override
    public void rnnSetTBPTTState(Map<String, INDArray> state) {
        tBpttStateMap.clear();
        tBpttStateMap.putAll(state);
    }

    @Override
    public Type type() {
        return Type.RECURRENT;
    }

    @Override
    public Pair<Gradient, INDArray> tbpttBackpropGradient(INDArray epsilon, int tbpttBackLength,
                                                          LayerWorkspaceMgr workspaceMgr) {
        throw Int8Layer.inferenceOnly(describe());
    }
}
