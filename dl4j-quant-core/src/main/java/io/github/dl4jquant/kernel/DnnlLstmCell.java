package io.github.dl4jquant.kernel;

import static io.github.dl4jquant.kernel.Dnnl.args;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_0;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_1;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.binary;
import org.bytedeco.dnnl.eltwise_forward;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.global.dnnl.prop_kind;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The float part of one LSTM step, {@code c = f * c + i * act(a)}, {@code h = o * act(c)} with {@code f, o, i} through
 * the gate activation, as eight oneDNN jit primitives on dense memory instead of a dozen ND4J ops on strided views (ND4J's
 * sigmoid on a strided [64, 768] view costs 160 us, oneDNN's jit logistic on dense memory a few): the gate
 * pre-activations {@code [B, 4H]} (DL4J's blocks {@code [a | f | o | i]}) are transposed once to {@code [4H, B]}, where
 * each gate is a dense {@code [H, B]} block; the cell and hidden states stay in that layout ({@code cT}, {@code hT})
 * and the hidden state is transposed back to {@code [B, H]} for the next recurrent product. {@code hT} is also the
 * memory of a time step of DL4J's 'f'-order {@code [B, H, T]} output. (oneDNN 2.5's eltwise with a binary post-op runs
 * its reference kernel and left the destination unwritten here, so activations and products are separate primitives.)
 *
 * <pre>{@code
 * DnnlLstmCell cell = DnnlLstmCell.of(hidden, new ActivationSigmoid(), new ActivationTanH());   // null: use ND4J
 * cell.step(gates, cT, hT, h);   // gates FLOAT [B, 4H] 'c' (overwritten); cT, hT [B*H] (H-major); h [B, H] 'c'
 * }</pre>
 *
 * <p>Thread safety: primitives and memories are per thread and batch size ({@link ThreadPlans}, freed with the
 * model); the activations are immutable.
 */
public final class DnnlLstmCell {
    private static final int MAX_PLANS_PER_THREAD = 16;

    private final int hidden;
    private final DnnlEltwise gate;
    private final DnnlEltwise activation;
    private final ThreadPlans<Integer, Plan> plans = new ThreadPlans<>(MAX_PLANS_PER_THREAD);

    private DnnlLstmCell(int hidden, DnnlEltwise gate, DnnlEltwise activation) {
        this.hidden = hidden;
        this.gate = gate;
        this.activation = activation;
    }

    /**
     * The cell for these activations, or null when oneDNN is unavailable or has no exact eltwise kernel for one of
     * them (the caller then runs ND4J's ops).
     */
    public static DnnlLstmCell of(int hidden, IActivation gateActivation, IActivation activation) {
        DnnlEltwise g = DnnlEltwise.of(gateActivation);
        DnnlEltwise a = DnnlEltwise.of(activation);
        if (Dnnl.unavailableReason() != null || g == null || a == null) {
            return null;
        }
        return new DnnlLstmCell(hidden, g, a);
    }

    /**
     * One step. {@code gates} is overwritten; {@code cT} (the cell state, {@code [H, B]} dense) is updated in place;
     * {@code hT} and {@code h} receive the new hidden state in both layouts.
     *
     * @param gates FLOAT {@code [B, 4H]}, contiguous 'c', offset 0
     * @param cT    FLOAT, {@code B * H} values, hidden unit major
     * @param hT    FLOAT, {@code B * H} values, hidden unit major (may point into a larger output array)
     * @param h     FLOAT {@code [B, H]}, contiguous 'c', offset 0
     */
    public void step(INDArray gates, Pointer cT, Pointer hT, INDArray h) {
        int batch = (int) gates.size(0);
        if (gates.dataType() != DataType.FLOAT || gates.size(1) != 4L * hidden || gates.ordering() != 'c'
                || gates.offset() != 0 || h.size(0) != batch || h.size(1) != hidden || h.offset() != 0) {
            throw new IllegalArgumentException("DnnlLstmCell: gates must be a dense FLOAT [B, " + 4 * hidden + "] and "
                    + "h [B, " + hidden + "]; got " + gates.shapeInfoToString() + " and " + h.shapeInfoToString());
        }
        plan(batch).run(Dnnl.stream(), gates.data().addressPointer(), cT, hT, h.data().addressPointer());
    }

    private Plan plan(int batch) {
        Plan p = plans.get(batch);
        return p != null ? p : plans.put(batch, new Plan(batch, hidden, gate, activation));
    }

    @Override
    public String toString() {
        return "onednn-lstm-cell(gate=" + gate + ", activation=" + activation + ")";
    }

    /** The primitives and memories of one thread and batch size; static, so that it keeps no kernel reachable. */
    private static final class Plan {
        private final long block;
        private final memory gatesByUnit;
        private final memory a;
        private final memory fOi;
        private final memory f;
        private final memory o;
        private final memory i;
        private final memory c;
        private final memory hByUnit;
        private final memory hRows;
        private final memory rowsIn;
        private final primitive transposeGates;
        private final IntMemoryMap transposeGatesArgs;
        private final primitive gateActivation;
        private final IntMemoryMap gateActivationArgs;
        private final primitive candidate;
        private final IntMemoryMap candidateArgs;
        private final primitive timesInput;
        private final IntMemoryMap timesInputArgs;
        private final primitive cellUpdate;
        private final IntMemoryMap cellUpdateArgs;
        private final primitive hidden;
        private final IntMemoryMap hiddenArgs;
        private final primitive timesOutput;
        private final IntMemoryMap timesOutputArgs;
        private final primitive transposeHidden;
        private final IntMemoryMap transposeHiddenArgs;

        Plan(int batch, int h, DnnlEltwise gate, DnnlEltwise activation) {
            block = (long) h * batch;
            memory.desc rowMajor = new memory.desc(new long[] {batch, 4L * h}, memory.data_type.f32,
                    memory.format_tag.ab);
            memory.desc unitMajor = new memory.desc(new long[] {batch, 4L * h}, memory.data_type.f32,
                    memory.format_tag.ba);
            rowsIn = Dnnl.unbound(rowMajor);
            gatesByUnit = Dnnl.owned(unitMajor);
            memory.desc oneBlock = Dnnl.vector(block, memory.data_type.f32);
            a = view(gatesByUnit, 0, oneBlock);
            f = view(gatesByUnit, 1, oneBlock);
            o = view(gatesByUnit, 2, oneBlock);
            i = view(gatesByUnit, 3, oneBlock);
            fOi = view(gatesByUnit, 1, Dnnl.vector(3 * block, memory.data_type.f32));
            c = Dnnl.unbound(oneBlock);
            hByUnit = Dnnl.unbound(oneBlock);
            memory.desc hUnitMajor = new memory.desc(new long[] {batch, h}, memory.data_type.f32,
                    memory.format_tag.ba);
            memory.desc hRowMajor = new memory.desc(new long[] {batch, h}, memory.data_type.f32,
                    memory.format_tag.ab);
            hRows = Dnnl.unbound(hRowMajor);
            memory hUnitView = Dnnl.unbound(hUnitMajor);

            transposeGates = new reorder(rowsIn, gatesByUnit);
            transposeGatesArgs = args(DNNL_ARG_SRC, rowsIn, DNNL_ARG_DST, gatesByUnit);
            gateActivation = eltwise(gate, fOi.get_desc());
            gateActivationArgs = args(DNNL_ARG_SRC, fOi, DNNL_ARG_DST, fOi);
            candidate = eltwise(activation, oneBlock);                                 // a = act(a) * i
            candidateArgs = args(DNNL_ARG_SRC, a, DNNL_ARG_DST, a);
            timesInput = multiply(oneBlock, null);
            timesInputArgs = args(DNNL_ARG_SRC_0, a, DNNL_ARG_SRC_1, i);
            timesInputArgs.put(DNNL_ARG_DST, a);
            cellUpdate = multiply(oneBlock, oneBlock);                                 // c = c * f + a
            cellUpdateArgs = args(DNNL_ARG_SRC_0, c, DNNL_ARG_SRC_1, f);
            cellUpdateArgs.put(DNNL_ARG_DST, c);
            cellUpdateArgs.put(DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE | DNNL_ARG_SRC_1, a);
            hidden = eltwise(activation, oneBlock);                                    // hT = act(c) * o
            hiddenArgs = args(DNNL_ARG_SRC, c, DNNL_ARG_DST, hByUnit);
            timesOutput = multiply(oneBlock, null);
            timesOutputArgs = args(DNNL_ARG_SRC_0, hByUnit, DNNL_ARG_SRC_1, o);
            timesOutputArgs.put(DNNL_ARG_DST, hByUnit);
            transposeHidden = new reorder(hUnitView, hRows);
            transposeHiddenArgs = args(DNNL_ARG_SRC, hUnitView, DNNL_ARG_DST, hRows);
            this.hUnitView = hUnitView;
        }

        private final memory hUnitView;

        /** A 1-d window of {@code whole} starting at gate block {@code k}. */
        private memory view(memory whole, int k, memory.desc desc) {
            Pointer start = new BytePointer(whole.get_data_handle()).position(k * block * Float.BYTES);
            return new memory(desc, Dnnl.engine(), start);
        }

        /** The activation as an eltwise primitive (identity as linear 1 * x + 0). */
        private primitive eltwise(DnnlEltwise act, memory.desc data) {
            algorithm kind = act.kind() == null ? algorithm.eltwise_linear : act.kind();
            float alpha = act.kind() == null ? 1f : act.alpha();
            return new eltwise_forward(new eltwise_forward.primitive_desc(new eltwise_forward.desc(
                    prop_kind.forward_inference, kind, data, alpha, act.beta()), Dnnl.engine()));
        }

        /** {@code dst = src0 * src1}, plus {@code addend} (a binary post-op) when it is not null. */
        private primitive multiply(memory.desc data, memory.desc addend) {
            primitive_attr attr = new primitive_attr();
            if (addend != null) {
                post_ops ops = new post_ops();
                ops.append_binary(algorithm.binary_add, addend);
                attr.set_post_ops(ops);
            }
            return new binary(new binary.primitive_desc(new binary.desc(algorithm.binary_mul, data, data, data), attr,
                    Dnnl.engine()));
        }

        void run(stream s, Pointer gates, Pointer cT, Pointer hT, Pointer h) {
            rowsIn.set_data_handle(gates);
            c.set_data_handle(cT);
            hByUnit.set_data_handle(hT);
            hUnitView.set_data_handle(hT);
            hRows.set_data_handle(h);
            transposeGates.execute(s, transposeGatesArgs);
            gateActivation.execute(s, gateActivationArgs);
            candidate.execute(s, candidateArgs);
            timesInput.execute(s, timesInputArgs);
            cellUpdate.execute(s, cellUpdateArgs);
            hidden.execute(s, hiddenArgs);
            timesOutput.execute(s, timesOutputArgs);
            transposeHidden.execute(s, transposeHiddenArgs);
            s._wait();
        }
    }
}
