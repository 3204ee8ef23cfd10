package io.github.dl4jquant.nn;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.cpu.nativecpu.NDArray;
import org.nd4j.linalg.cpu.nativecpu.buffer.LongBuffer;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Creates a layer's FLOAT {@code [rows, cols]} output exactly where
 * {@code workspaceMgr.createUninitialized(ACTIVATIONS, ...)} would (the activations workspace, or detached when DL4J
 * scopes the output layer out), but with a shape descriptor built once per shape instead of once per array.
 *
 * <pre>{@code
 * INDArray out = ActivationArrays.createUninitialized(workspaceMgr, m, n);
 * }</pre>
 *
 * <p>Why: ND4J M2.1 builds every new array's shape descriptor through two temporary JavaCPP {@code LongPointer}s, and
 * JavaCPP reads {@code /proc/self/statm} for each to police its memory limit. On the int8 MLP at batch 1 that was 6
 * file reads per forward pass, and with the pointers' allocation and release about half of its 54 µs (28 µs with
 * the descriptors cached), more than the three int8 products. The descriptor
 * itself is an immutable constant that ND4J already shares natively between arrays of one shape; only its Java
 * wrapper is rebuilt, and that is what this caches. On another ND4J backend than the CPU one it creates arrays the
 * standard way. A large output that leaves every workspace (the one plain {@code output()} returns) lives in
 * {@link RecycledOutputMemory}.
 */
public final class ActivationArrays {
    /** Plenty for the batch sizes one model sees; cleared rather than evicted when exceeded. */
    private static final int MAX_SHAPES = 256;
    private static final ConcurrentMap<Long, Pair<DataBuffer, long[]>> SHAPES = new ConcurrentHashMap<>();

    private ActivationArrays() {
    }

    /** An uninitialized FLOAT {@code [rows, cols]} 'c'-order activation array in DL4J's activations workspace. */
    public static INDArray createUninitialized(LayerWorkspaceMgr workspaceMgr, int rows, int cols) {
        Pair<DataBuffer, long[]> shape = shapeInfo(rows, cols);
        if (!(shape.getFirst() instanceof LongBuffer)) {
            // not ND4J's CPU backend: its own arrays, the standard way
            return workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, new long[] {rows, cols},
                    'c');
        }
        try (MemoryWorkspace ignored = workspaceMgr.notifyScopeBorrowed(ArrayType.ACTIVATIONS)) {
            DataBuffer data = buffer((long) rows * cols, Nd4j.getMemoryManager().getCurrentWorkspace());
            // the Java copy of the descriptor is per array, as ND4J makes it: nothing done to one array reaches another
            return new NDArray(data, (LongBuffer) shape.getFirst(), shape.getSecond().clone());
        }
    }

    /** In the workspace if there is one; a detached output large enough to cost page faults is recycled memory. */
    private static DataBuffer buffer(long length, MemoryWorkspace workspace) {
        if (workspace == null && length * Float.BYTES >= RecycledOutputMemory.MIN_BYTES) {
            return RecycledOutputMemory.floatBuffer(length);
        }
        return Nd4j.createBuffer(DataType.FLOAT, length, false, workspace);
    }

    private static Pair<DataBuffer, long[]> shapeInfo(int rows, int cols) {
        long key = (long) rows << 32 | cols;
        Pair<DataBuffer, long[]> shape = SHAPES.get(key);
        if (shape == null) {
            if (SHAPES.size() >= MAX_SHAPES) {
                SHAPES.clear();
            }
            long[] dims = {rows, cols};
            shape = Nd4j.getShapeInfoProvider().createShapeInformation(dims, new long[] {cols, 1}, 1, 'c',
                    DataType.FLOAT, false);
            SHAPES.put(key, shape);
        }
        return shape;
    }
}
