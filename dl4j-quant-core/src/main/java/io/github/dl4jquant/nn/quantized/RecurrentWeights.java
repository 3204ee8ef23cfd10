package io.github.dl4jquant.nn.quantized;

import java.util.Arrays;
import java.util.Objects;

/**
 * The int8 weights of one direction of a dynamic quantized recurrent layer: the input product {@code x W + b} and
 * the recurrent product {@code h RW}, each a {@link QuantizedDense} (int8 weight, per-channel or per-tensor scales,
 * float bias), and for {@code GravesLSTM} the float peephole weights, which multiply the cell state elementwise and
 * so stay float as biases do.
 *
 * <pre>{@code
 * RecurrentWeights w = new RecurrentWeights(inputProduct, recurrentProduct, null);   // LSTM, SimpleRnn
 * w.getInputWeights().getNOut();                                                    // 4 * hidden for an LSTM
 * }</pre>
 */
public final class RecurrentWeights {
    private QuantizedDense inputWeights;
    private QuantizedDense recurrentWeights;
    private float[] peepholes;

    /** For Jackson. */
    public RecurrentWeights() {
    }

    /**
     * @param peepholes GravesLSTM's peephole weights {@code [wFF | wOO | wGG]}, each of the hidden size, or null
     */
    public RecurrentWeights(QuantizedDense inputWeights, QuantizedDense recurrentWeights, float[] peepholes) {
        this.inputWeights = inputWeights;
        this.recurrentWeights = recurrentWeights;
        this.peepholes = peepholes == null ? null : peepholes.clone();
    }

    public QuantizedDense getInputWeights() {
        return inputWeights;
    }

    public void setInputWeights(QuantizedDense inputWeights) {
        this.inputWeights = inputWeights;
    }

    public QuantizedDense getRecurrentWeights() {
        return recurrentWeights;
    }

    public void setRecurrentWeights(QuantizedDense recurrentWeights) {
        this.recurrentWeights = recurrentWeights;
    }

    /** A copy, or null without peepholes. */
    public float[] getPeepholes() {
        return peepholes == null ? null : peepholes.clone();
    }

    public void setPeepholes(float[] peepholes) {
        this.peepholes = peepholes == null ? null : peepholes.clone();
    }

    public boolean hasPeepholes() {
        return peepholes != null;
    }

    /**
     * Checks that the products chain: input {@code nIn -> gates}, recurrent {@code hidden -> gates}, both dynamic.
     *
     * @param gatesPerUnit 4 for LSTMs, 1 for a SimpleRnn
     */
    void validate(String layer, long nIn, long hidden, int gatesPerUnit) {
        String fix = ". The model configuration was probably truncated or edited; convert the fp32 model again";
        if (inputWeights == null || recurrentWeights == null) {
            throw new IllegalArgumentException(layer + ": the input and recurrent weights must both be present" + fix);
        }
        long gates = gatesPerUnit * hidden;
        check(layer + " input weights", inputWeights, nIn, gates, fix);
        check(layer + " recurrent weights", recurrentWeights, hidden, gates, fix);
        if (peepholes != null && peepholes.length != 3 * hidden) {
            throw new IllegalArgumentException(layer + ": expected 3 * hidden = " + 3 * hidden + " peephole weights; got "
                    + peepholes.length + fix);
        }
    }

    private static void check(String what, QuantizedDense q, long in, long out, String fix) {
        if (q.getNIn() != in || q.getNOut() != out || !q.isDynamic()) {
            throw new IllegalArgumentException(what + " must be a dynamic [" + in + " -> " + out + "] product; got "
                    + q + fix);
        }
        q.validate();
    }

    RecurrentWeights copy() {
        return new RecurrentWeights(inputWeights.clone(), recurrentWeights.clone(), peepholes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecurrentWeights r && Objects.equals(inputWeights, r.inputWeights)
                && Objects.equals(recurrentWeights, r.recurrentWeights) && Arrays.equals(peepholes, r.peepholes);
    }

    @Override
    public int hashCode() {
        return Objects.hash(inputWeights, recurrentWeights, Arrays.hashCode(peepholes));
    }

    @Override
    public String toString() {
        return "RecurrentWeights(input=" + inputWeights + ", recurrent=" + recurrentWeights + ", peepholes="
                + (peepholes != null) + ")";
    }
}
