package io.github.dl4jquant.kernel;

import org.bytedeco.dnnl.memory;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch keeps activations quint8 between quantized modules; DL4J hands each layer's output to the next as a float
 * array, which {@code feedForward}, listeners and the numeric suite read. This keeps both: an int8 layer whose output
 * goes only to other int8 layers offers the u8 values (channels last) behind the float array it returns, and a
 * consumer that receives that very array object with the same qparams takes the u8 values instead of checking the
 * floats for NaN and quantizing them again, which would give back exactly the same values. Anything else (another
 * array, another thread, other qparams) quantizes the floats as usual.
 *
 * <p>Each u8 buffer (one per producer, thread and batch size) has at most one offer, replaced when the buffer is
 * written again, so several offers can wait at once: a residual block's input is taken by its first convolution and
 * later by its add. An offer holds the oneDNN memory that owns its buffer, so the buffer outlives the producer's
 * plan (evicted, or freed with a discarded model) for as long as it is offered, and it holds nothing else of the
 * producer: a discarded model is not kept alive by the offers it made. The one assumption is that no one changes an
 * offered array in place; the graph converter lets a layer offer only when all its consumers are int8 layers, which
 * never do, and the array is no network output.
 *
 * <pre>{@code
 * DnnlHandover h = DnnlHandover.current();
 * Pointer q = h.take(x, inScale, inZp);        // the u8 values behind x, or null
 * ...
 * h.offer(yU8, y, yU8Data, outScale, outZp);  // after writing y = dequantize(yU8); yU8Data = yU8.get_data_handle()
 * }</pre>
 */
final class DnnlHandover {
    /** Enough for the widest fan-out of a residual network; the oldest offer goes first beyond it. */
    private static final int SLOTS = 8;
    private static final ThreadLocal<DnnlHandover> CURRENT = ThreadLocal.withInitial(DnnlHandover::new);

    private final memory[] buffers = new memory[SLOTS];
    private final INDArray[] outputs = new INDArray[SLOTS];
    private final Pointer[] quantized = new Pointer[SLOTS];
    private final float[] scales = new float[SLOTS];
    private final int[] zeroPoints = new int[SLOTS];
    private int next;

    private DnnlHandover() {
    }

    /** This thread's handover. */
    static DnnlHandover current() {
        return CURRENT.get();
    }

    /**
     * Records that {@code output} holds the u8 values (channels last, same shape) of {@code buffer}, whose data
     * {@code values} points at, dequantized with these qparams, replacing the buffer's previous offer.
     */
    void offer(memory buffer, INDArray output, Pointer values, float scale, int zeroPoint) {
        int slot = slotOf(buffer);
        if (slot < 0) {
            slot = next;
            next = (next + 1) % SLOTS;
        }
        buffers[slot] = buffer;
        outputs[slot] = output;
        quantized[slot] = values;
        scales[slot] = scale;
        zeroPoints[slot] = zeroPoint;
    }

    /**
     * The u8 values {@code x} was dequantized from, when {@code x} is an offered array and quantizing it with these
     * qparams would give them back; null otherwise.
     */
    Pointer take(INDArray x, float scale, int zeroPoint) {
        for (int i = 0; i < SLOTS; i++) {
            if (outputs[i] == x && x != null && scales[i] == scale && zeroPoints[i] == zeroPoint) {
                return quantized[i];
            }
        }
        return null;
    }

    private int slotOf(memory buffer) {
        for (int i = 0; i < SLOTS; i++) {
            if (buffers[i] == buffer) {
                return i;
            }
        }
        return -1;
    }
}
