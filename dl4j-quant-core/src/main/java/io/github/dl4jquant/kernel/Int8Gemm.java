package io.github.dl4jquant.kernel;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An int8 matrix product {@code x[M,K] · w[K,N]} with exact int32 accumulation, as used by quantized layers.
 *
 * <p>{@code x} holds UBYTE (quint8) or BYTE (qint8) values, the weight is BYTE (qint8) and is packed once into the
 * kernel's preferred form (PyTorch: {@code linear_prepack}). Outputs are caller-owned, contiguous 'c'-order arrays so
 * that hot paths can reuse them.
 * <pre>{@code
 * Int8Gemm gemm = Int8Gemms.best();
 * PackedInt8Weight w = gemm.pack(wInt8);                           // BYTE [K,N]
 * INDArray acc = Nd4j.create(DataType.INT, new long[] {m, n}, 'c');
 * gemm.gemmInt32(xUint8, w, acc);                                  // exact sum_k x[i,k] * w[k,j]
 * gemm.gemmFloat(xUint8, w, scale, 1.0, yPrefilledWithBias);       // y = scale * x·w + 1.0 * y
 * }</pre>
 */
public interface Int8Gemm {

    /** A short name for logs and reports, e.g. {@code "onednn-int8"}. */
    String name();

    /**
     * Packs a BYTE weight {@code [K,N]} for this kernel. The values are copied: later changes to {@code w} do not
     * affect the packed weight.
     *
     * @throws IllegalArgumentException if {@code w} is not a rank-2 BYTE array
     */
    PackedInt8Weight pack(INDArray w);

    /**
     * {@code z = x · w}, exact in int32 (callers keep {@code K * 255 * 128 < 2^31}).
     *
     * @param x UBYTE or BYTE {@code [M,K]}
     * @param w a weight packed by this kernel
     * @param z INT {@code [M,N]}, 'c'-order and contiguous; overwritten
     */
    void gemmInt32(INDArray x, PackedInt8Weight w, INDArray z);

    /**
     * {@code z = x · w} for activations quantized in Java: {@code x} holds {@code m * K} values in row-major order,
     * read as unsigned (quint8) when {@code unsigned}, else as signed (qint8). Saves callers an ND4J round trip.
     */
    void gemmInt32(byte[] x, boolean unsigned, int m, PackedInt8Weight w, INDArray z);

    /**
     * {@code z = alpha * (x · w) + beta * z} in float: the per-tensor dequantization scale folds into {@code alpha}
     * and a bias pre-filled into {@code z} folds into {@code beta}. The integer product is exact; the scaling rounds
     * as float arithmetic does, so results may differ between kernels in the last bit.
     *
     * @param z FLOAT {@code [M,N]}, 'c'-order and contiguous
     */
    void gemmFloat(INDArray x, PackedInt8Weight w, double alpha, double beta, INDArray z);
}
