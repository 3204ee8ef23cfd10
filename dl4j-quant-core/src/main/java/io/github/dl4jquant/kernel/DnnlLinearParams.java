package io.github.dl4jquant.kernel;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationTanH;

/**
 * What one fused linear layer keeps for all threads and batch sizes (PyTorch's {@code LinearPackedParams}): the int8
 * weight in oneDNN's preferred layouts, its column sums, the per-channel scales, the bias and the activation.
 * Immutable but for the weight layouts built on first use: the convolution's blocked layout and the stacked weight
 * of the split product.
 *
 * <pre>{@code
 * DnnlLinearParams p = new DnnlLinearParams(wInt8KN, k, n, scales, bias, new ActivationReLU());
 * p.eltwise();       // eltwise_relu: fused into the matmul as a post-op
 * p.weights();       // s8 [k, n], column-major
 * }</pre>
 */
final class DnnlLinearParams {
    private final int k;
    private final int n;
    /** ReLU, tanh or sigmoid as a matmul post-op; null for the others. */
    private final algorithm eltwise;
    private final boolean softmax;
    /** Any other activation, applied by ND4J; null when oneDNN applies it (or identity). */
    private final IActivation activation;
    private final float[] weightScales;
    private final float[] bias;
    private final byte[] weightKN;
    private final long[] colSums;
    private volatile memory weights;
    private volatile memory weightsTwice;
    /** The weight reordered into each blocked layout a convolution asked for (in practice one). */
    private final List<memory> convolutionWeights = new ArrayList<>();

    DnnlLinearParams(byte[] weightKN, int k, int n, float[] weightScales, float[] bias, IActivation activation) {
        if (weightKN.length != (long) k * n || weightScales.length != n || (bias != null && bias.length != n)) {
            throw new IllegalArgumentException("DnnlInt8Linear: weight must hold k * n = " + (long) k * n
                    + " values and scales/bias n = " + n + "; got " + weightKN.length + ", " + weightScales.length
                    + ", " + (bias == null ? "no bias" : bias.length));
        }
        this.k = k;
        this.n = n;
        this.eltwise = eltwiseOf(activation);
        this.softmax = activation instanceof ActivationSoftmax;
        this.activation = eltwise != null || softmax || activation instanceof ActivationIdentity ? null : activation;
        this.weightScales = weightScales.clone();
        this.bias = bias == null ? new float[n] : bias.clone();
        this.weightKN = weightKN;   // kept, not copied: see DnnlInt8Linear's constructor
        this.colSums = PackedInt8Weight.columnSums(weightKN, k, n);
    }

    int k() {
        return k;
    }

    int n() {
        return n;
    }

    /** The activation oneDNN applies as a matmul post-op (ReLU, tanh, sigmoid), or null. */
    algorithm eltwise() {
        return eltwise;
    }

    /** True when the layer ends in softmax, which a oneDNN softmax primitive applies after the matmul. */
    boolean softmax() {
        return softmax;
    }

    /** An activation oneDNN does not express, applied by ND4J after the matmul; null otherwise. */
    IActivation activation() {
        return activation;
    }

    /**
     * True when the product (matmul or convolution) can requantize its own output: ReLU commutes with the output
     * scale, so {@code relu(s * acc) / s_out == relu(s / s_out * acc)}; tanh, sigmoid and softmax do not.
     */
    boolean requantizesInProduct() {
        return (eltwise == null || eltwise == algorithm.eltwise_relu) && !softmax && activation == null;
    }

    /** The matmul's post-ops: optionally a sum (adds what the output buffer holds), then the activation. */
    post_ops postOps(boolean sumFirst) {
        post_ops ops = new post_ops();
        if (sumFirst) {
            ops.append_sum();
        }
        if (eltwise != null) {
            ops.append_eltwise(1f, eltwise, 0f, 0f);
        }
        return ops;
    }

    float weightScale(int column) {
        return weightScales[column];
    }

    float bias(int column) {
        return bias[column];
    }

    long columnSum(int column) {
        return colSums[column];
    }

    /** {@code acc[j] += times * w[r, j]} for every column j: one input's exact contribution to a row of products. */
    void addWeightRow(int r, int times, int[] acc) {
        int base = r * n;
        for (int j = 0; j < n; j++) {
            acc[j] += times * weightKN[base + j];
        }
    }

    /** The weight {@code [k, n]} as oneDNN's matmul reads it; built on first use (static layers may never need it). */
    memory weights() {
        memory w = weights;
        if (w == null) {
            synchronized (this) {
                if (weights == null) {
                    weights = Dnnl.bytes(weightDesc(k), columnMajor(1));
                }
                w = weights;
            }
        }
        return w;
    }

    /** The weight stacked on itself, {@code [2k, n]}, for the split product; built on first use. */
    memory weightsTwice() {
        memory w = weightsTwice;
        if (w == null) {
            synchronized (this) {
                if (weightsTwice == null) {
                    weightsTwice = Dnnl.bytes(weightDesc(2L * k), columnMajor(2));
                }
                w = weightsTwice;
            }
        }
        return w;
    }

    /**
     * The weight (stacked twice when {@code twice}) as a 1x1 convolution's {@code [n, k, 1, 1]} in the blocked
     * layout {@code packed} that the convolution chose; reordered once per layout and shared by all threads and
     * batch sizes.
     */
    synchronized memory convolutionWeights(memory.desc packed, boolean twice) {
        for (memory m : convolutionWeights) {
            if (m.get_desc().equals(packed)) {
                return m;
            }
        }
        memory m = Dnnl.owned(packed);
        stream s = Dnnl.stream();
        if (twice) {
            // the column-major [2k, n] bytes are n rows of 2k: exactly oihw
            memory.desc oihw = new memory.desc(new long[] {n, 2L * k, 1, 1}, memory.data_type.s8,
                    memory.format_tag.oihw);
            memory plain = new memory(oihw, Dnnl.engine(), weightsTwice().get_data_handle());
            new reorder(plain, m).execute(s, plain, m);
            s._wait();
        } else {
            // the row-major [k, n] weight is iohw; the temporary native copy is freed right away
            memory.desc iohw = new memory.desc(new long[] {n, k, 1, 1}, memory.data_type.s8, memory.format_tag.iohw);
            try (memory plain = Dnnl.bytes(iohw, weightKN)) {
                new reorder(plain, m).execute(s, plain, m);
                s._wait();
            }
        }
        convolutionWeights.add(m);
        return m;
    }

    /**
     * The weight {@code [rows, n]} stored column by column ({@code ba}): oneDNN 2.5's int8 GEMM runs about twice as
     * fast on it as on row-major weights for one input row, and no slower for 256 (measured on 784x512 and 4096^2).
     */
    memory.desc weightDesc(long rows) {
        return new memory.desc(new long[] {rows, n}, memory.data_type.s8, memory.format_tag.ba);
    }

    @Override
    public String toString() {
        String act = eltwise != null ? eltwise.toString() : softmax ? "softmax" : String.valueOf(activation);
        return DnnlInt8Linear.NAME + "[k=" + k + ", n=" + n + ", " + act + "]";
    }

    private static algorithm eltwiseOf(IActivation activation) {
        if (new ActivationReLU().equals(activation)) {
            return algorithm.eltwise_relu;
        }
        if (activation instanceof ActivationTanH) {
            return algorithm.eltwise_tanh;
        }
        return activation instanceof ActivationSigmoid ? algorithm.eltwise_logistic : null;
    }

    /** The weight column by column, each column repeated {@code times} along the reduction. */
    private byte[] columnMajor(int times) {
        byte[] out = new byte[weightKN.length * times];
        for (int j = 0; j < n; j++) {
            int column = j * k * times;
            for (int r = 0; r < k; r++) {
                byte v = weightKN[r * n + j];
                for (int c = 0; c < times; c++) {
                    out[column + c * k + r] = v;
                }
            }
        }
        return out;
    }
}
