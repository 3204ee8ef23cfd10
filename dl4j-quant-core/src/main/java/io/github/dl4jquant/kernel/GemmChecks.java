package io.github.dl4jquant.kernel;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Operand validation shared by the kernels: wrong operands must fail loudly, never produce wrong numbers. */
final class GemmChecks {
    private GemmChecks() {
    }

    static void checkWeight(INDArray w) {
        if (w == null || w.rank() != 2 || w.dataType() != DataType.BYTE) {
            throw new IllegalArgumentException("Int8Gemm weight must be a rank-2 BYTE (qint8) array [K,N]; got "
                    + describe(w));
        }
    }

    static <T extends PackedInt8Weight> T unpack(PackedInt8Weight w, Class<T> type, String kernel) {
        if (!type.isInstance(w)) {
            throw new IllegalArgumentException("Weight packed by kernel '" + (w == null ? null : w.kernelName())
                    + "' cannot be used by kernel '" + kernel + "': pack it with the same kernel");
        }
        return type.cast(w);
    }

    static void checkInput(INDArray x, long k) {
        if (x == null || x.rank() != 2 || (x.dataType() != DataType.UBYTE && x.dataType() != DataType.BYTE)
                || x.size(1) != k) {
            throw new IllegalArgumentException("Int8Gemm input must be a rank-2 UBYTE or BYTE array [M," + k
                    + "]; got " + describe(x));
        }
    }

    static void checkBytes(byte[] x, int m, long k) {
        if (x == null || m < 0 || x.length < (long) m * k) {
            throw new IllegalArgumentException("Int8Gemm input must hold m * K = " + m + " * " + k
                    + " values; got " + (x == null ? "null" : x.length + " values"));
        }
    }

    static void checkOutput(INDArray z, long m, long n, DataType zType) {
        if (z == null || z.dataType() != zType || z.rank() != 2 || z.size(0) != m || z.size(1) != n
                || z.ordering() != 'c' || z.elementWiseStride() != 1 || z.isView()) {
            throw new IllegalArgumentException("Int8Gemm output must be a contiguous 'c'-order " + zType + " array ["
                    + m + "," + n + "]; got " + describe(z));
        }
    }

    /** The values of a UBYTE/BYTE matrix in row-major order. */
    static byte[] bytesOf(INDArray x) {
        return (x.ordering() == 'c' && !x.isView() ? x : x.dup('c')).data().asBytes();
    }

    private static String describe(INDArray a) {
        return a == null ? "null" : a.dataType() + Arrays.toString(a.shape()) + " order '" + a.ordering() + "'"
                + (a.isView() ? " (view)" : "");
    }
}
