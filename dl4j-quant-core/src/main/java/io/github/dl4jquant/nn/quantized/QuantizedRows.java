package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.nn.ActivationArrays;
import io.github.dl4jquant.nn.DenseLayerSupport;
import io.github.dl4jquant.nn.QParamsConfig;
import io.github.dl4jquant.nn.QuantMath;
import java.util.Arrays;
import java.util.Objects;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonIgnore;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * An embedding table quantized row by row, as PyTorch's packed embedding weight ({@code embedding_bag_prepack}):
 * 8-bit codes (quint8), or 4-bit codes two per byte with the even column in the low nibble (quint4x2), and one float
 * scale and float zero point per row ({@code per_channel_affine_float_qparams}). Immutable; stored in a layer
 * configuration, where Jackson writes the codes as one base64 string: that is what makes the model file about a
 * quarter (8-bit) or an eighth (4-bit) of its fp32 size.
 *
 * <pre>{@code
 * QuantizedRows rows = QuantizedRows.quantize(w, b, weightQParams, "emb");   // w [vocabulary, dim], b nullable
 * float[] out = new float[2 * dim];
 * rows.lookup(new int[] {7, 42}, out);    // rows 7 and 42, dequantized as PyTorch's quantized::embedding_byte
 * }</pre>
 *
 * <p>A lookup dequantizes only the rows it is asked for, as fbgemm's kernel does: {@code fma(scale, q, bias)} with
 * {@code bias = -(zeroPoint * scale)}, both float32 for 8-bit rows and rounded to float16 for 4-bit ones (PyTorch's
 * 4-bit prepack keeps them as {@code at::Half}). That differs from {@code (q - zeroPoint) * scale}, the reference
 * module's value, by at most an ulp for 8-bit rows and by the float16 rounding of the qparams for 4-bit rows.
 */
public final class QuantizedRows {
    private final int bits;
    private final int rowLength;
    private final byte[] codes;
    private final QParamsConfig qparams;
    private final float[] bias;
    @JsonIgnore
    private transient volatile float[][] scaleBias;

    @JsonCreator
    public QuantizedRows(@JsonProperty("bits") int bits, @JsonProperty("rowLength") int rowLength,
                         @JsonProperty("codes") byte[] codes, @JsonProperty("qparams") QParamsConfig qparams,
                         @JsonProperty("bias") float[] bias) {
        this.bits = bits;
        this.rowLength = rowLength;
        this.codes = codes;
        this.qparams = qparams;
        this.bias = bias == null ? null : bias.clone();
    }

    /**
     * Quantizes the float table {@code w [rows, rowLength]} with per-row float qparams (axis 0, quint8 or quint4x2),
     * as ATen's {@code quantize_per_channel} does for them; {@code b} (nullable) is the layer's float bias, added to
     * every looked-up row as DL4J's embedding layers do.
     *
     * @throws IllegalArgumentException naming {@code name} when the qparams do not describe rows of {@code w}
     */
    public static QuantizedRows quantize(INDArray w, INDArray b, QParams q, String name) {
        if (w == null || w.rank() != 2) {
            throw new IllegalArgumentException(name + ": the embedding weight must be [nIn, nOut]; got "
                    + (w == null ? "null" : Arrays.toString(w.shape())));
        }
        requireRowQParams(q, w.size(0), name);
        int rows = (int) w.size(0);
        int len = (int) w.size(1);
        byte[] unpacked = QuantOps.quantize(w.castTo(DataType.FLOAT), q).data().asBytes();
        int bits = q.dtype() == QuantDType.QUINT4X2 ? 4 : 8;
        if (b != null && b.length() != len) {
            throw new IllegalArgumentException(name + ": the bias must have nOut = " + len + " values; got "
                    + b.length());
        }
        float[] bias = b == null ? null : b.castTo(DataType.FLOAT).dup().data().asFloat();
        return new QuantizedRows(bits, len, bits == 8 ? unpacked : pack4(unpacked, rows, len), QParamsConfig.of(q),
                bias);
    }

    /** Why {@code q} cannot quantize the rows of a {@code [rows, ...]} table, or null when it can. */
    public static String unsupportedReason(QParams q, long rows) {
        if (q == null || !q.qscheme().isFloatQParams()
                || (q.dtype() != QuantDType.QUINT8 && q.dtype() != QuantDType.QUINT4X2)) {
            return "embeddings are quantized per row with float scales and zero points, quint8 or quint4x2 "
                    + "(PyTorch's float_qparams_weight_only_qconfig and its _4bit variant: nnq.Embedding asserts "
                    + "the same); got weight qparams " + q + ". Use QConfigs.getFloatQParamsWeightOnlyQConfig() or "
                    + "getFloatQParamsWeightOnlyQConfig4bit() for this layer";
        }
        if (q.axis() != 0 || q.numChannels() != rows) {
            return "per-row qparams must lie along axis 0 with one channel per row (" + rows + "); got axis "
                    + q.axis() + " with " + q.numChannels() + " channels: use a weight observer with chAxis(0)";
        }
        return null;
    }

    private static void requireRowQParams(QParams q, long rows, String name) {
        String reason = unsupportedReason(q, rows);
        if (reason != null) {
            throw new IllegalArgumentException(name + ": " + reason);
        }
    }

    private static byte[] pack4(byte[] unpacked, int rows, int len) {
        int perRow = (len + 1) / 2;
        byte[] packed = new byte[rows * perRow];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < len; j++) {
                packed[r * perRow + (j >> 1)] |= (byte) (unpacked[r * len + j] << ((j & 1) * 4));
            }
        }
        return packed;
    }

    /**
     * Writes rows {@code indices} one after another into {@code out} ({@code indices.length * rowLength} values), plus
     * the bias if any; the indices must already be checked ({@link io.github.dl4jquant.nn.EmbeddingIndices}).
     */
    public void lookup(int[] indices, float[] out) {
        float[][] sb = scaleBias();
        float[] scales = sb[0];
        float[] biases = sb[1];
        int perRow = bytesPerRow();
        for (int i = 0; i < indices.length; i++) {
            int r = indices[i];
            float s = scales[r];
            float b = biases[r];
            int from = r * perRow;
            int o = i * rowLength;
            if (bits == 8) {
                for (int j = 0; j < rowLength; j++) {
                    out[o + j] = Math.fma(s, (float) (codes[from + j] & 0xFF), b);
                }
            } else {
                for (int j = 0; j < rowLength; j++) {
                    int code = (codes[from + (j >> 1)] >> ((j & 1) * 4)) & 0xF;
                    out[o + j] = Math.fma(s, (float) code, b);
                }
            }
            for (int j = 0; bias != null && j < rowLength; j++) {
                out[o + j] += bias[j];
            }
        }
    }

    /**
     * The rows {@code indices} as a new FLOAT {@code [indices.length, rowLength]} 'c'-order activation array in
     * DL4J's activations workspace.
     */
    public INDArray lookup(int[] indices, LayerWorkspaceMgr workspaceMgr) {
        INDArray out = ActivationArrays.createUninitialized(workspaceMgr, indices.length, rowLength);
        float[] values = new float[indices.length * rowLength];
        lookup(indices, values);
        DenseLayerSupport.writeFloats(out, values);
        return out;
    }

    /** Per row, the scale and bias fbgemm computes with (see the class comment); built once. */
    private float[][] scaleBias() {
        float[][] sb = scaleBias;
        if (sb == null) {
            QParams q = qparams("rows");
            float[] scales = q.scales();
            float[] zeroPoints = q.floatZeroPoints();
            float[] biases = new float[scales.length];
            for (int r = 0; r < scales.length; r++) {
                biases[r] = -(zeroPoints[r] * scales[r]);
                if (bits == 4) {
                    scales[r] = QuantMath.roundToFloat16(scales[r]);
                    biases[r] = QuantMath.roundToFloat16(biases[r]);
                }
            }
            sb = new float[][] {scales, biases};
            scaleBias = sb;
        }
        return sb;
    }

    /**
     * Checks the stored state against the layer's {@code nIn x nOut} (a truncated or edited configuration fails here,
     * naming {@code name}).
     */
    public void validate(long nIn, long nOut, String name) {
        String fix = ". The model configuration was probably truncated or edited; convert the fp32 model again";
        if (bits != 8 && bits != 4) {
            throw new IllegalArgumentException(name + ": rows must have 8 or 4 bits; got " + bits + fix);
        }
        if (rowLength != nOut || nIn <= 0 || nOut <= 0) {
            throw new IllegalArgumentException(name + ": rows of " + rowLength + " values do not fit nOut = " + nOut
                    + " (nIn = " + nIn + ")" + fix);
        }
        long expected = nIn * ((bits == 8 ? nOut : (nOut + 1) / 2));
        if (codes == null || codes.length != expected) {
            throw new IllegalArgumentException(name + ": expected " + expected + " bytes of " + bits + "-bit codes for "
                    + nIn + " rows; got " + (codes == null ? "none" : codes.length) + fix);
        }
        if (bias != null && bias.length != nOut) {
            throw new IllegalArgumentException(name + ": expected nOut = " + nOut + " bias values; got " + bias.length
                    + fix);
        }
        QParams q = qparams(name);
        if (q.numChannels() != nIn || !q.qscheme().isFloatQParams() || (bits == 4) != (q.dtype() == QuantDType.QUINT4X2)) {
            throw new IllegalArgumentException(name + ": stored row qparams " + q + " do not describe " + nIn + " rows of "
                    + bits + "-bit codes" + fix);
        }
    }

    private int bytesPerRow() {
        return bits == 8 ? rowLength : (rowLength + 1) / 2;
    }

    /** The per-row qparams (float scales and zero points along axis 0). */
    public QParams qparams(String what) {
        if (qparams == null) {
            throw new IllegalArgumentException("Invalid stored embedding rows '" + what + "': no row qparams. The model "
                    + "configuration was probably edited or truncated; convert the fp32 model again");
        }
        return qparams.toQParams(what);
    }

    /** The codes of every row, unpacked, row-major (PyTorch's {@code int_repr()}). */
    public int[] intRepr() {
        int rows = codes.length / Math.max(1, bytesPerRow());
        int[] out = new int[rows * rowLength];
        int perRow = bytesPerRow();
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < rowLength; j++) {
                out[r * rowLength + j] = bits == 8 ? codes[r * perRow + j] & 0xFF
                        : (codes[r * perRow + (j >> 1)] >> ((j & 1) * 4)) & 0xF;
            }
        }
        return out;
    }

    @JsonProperty("bits")
    public int getBits() {
        return bits;
    }

    @JsonProperty("rowLength")
    public int getRowLength() {
        return rowLength;
    }

    /** The stored bytes (a copy): 8-bit codes, or 4-bit codes two per byte. */
    @JsonProperty("codes")
    public byte[] getCodes() {
        return codes == null ? null : codes.clone();
    }

    @JsonProperty("qparams")
    public QParamsConfig getQparams() {
        return qparams;
    }

    /** The layer's float bias (a copy), or null. */
    @JsonProperty("bias")
    public float[] getBias() {
        return bias == null ? null : bias.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedRows r && bits == r.bits && rowLength == r.rowLength
                && Arrays.equals(codes, r.codes) && Objects.equals(qparams, r.qparams) && Arrays.equals(bias, r.bias);
    }

    @Override
    public int hashCode() {
        return Objects.hash(bits, rowLength, Arrays.hashCode(codes), qparams, Arrays.hashCode(bias));
    }

    @Override
    public String toString() {
        return "QuantizedRows(" + bits + "-bit, " + (codes == null ? 0 : codes.length / Math.max(1, bytesPerRow()))
                + " rows of " + rowLength + ")";
    }
}
