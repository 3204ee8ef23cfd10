package io.github.dl4jquant.kernel;

import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch keeps activations quint8 between quantized modules; DL4J hands each layer's output to the next as a float
 * array, which {@code feedForward}, listeners and the numeric suite read. This keeps both: a fused layer that
 * fake-quantizes its output (u8, then dequantized into the float array it returns) offers the u8 values here, and
 * when the very next fused layer on the same thread receives that same array object with the same qparams as its
 * input, it takes the u8 values instead of checking the floats for NaN (a dequantized output holds none) and
 * quantizing them again, which would give back exactly the same values. Anything else (another array, another
 * thread, other qparams, any fused layer in between) quantizes the floats as usual.
 *
 * <p>The one assumption: the array is not changed between the two layers. DL4J's ComputationGraph and
 * MultiLayerNetwork never change a layer's output in place, and {@link DnnlInt8Linear#forward} documents it for
 * direct callers.
 *
 * <pre>{@code
 * DnnlHandover h = DnnlHandover.current();
 * Pointer q = h.take(x, inScale, inZp);    // the u8 values behind x, or null
 * ...
 * h.offer(y, yU8, outScale, outZp);        // after writing y = dequantize(yU8)
 * }</pre>
 */
final class DnnlHandover {
    private static final ThreadLocal<DnnlHandover> CURRENT = ThreadLocal.withInitial(DnnlHandover::new);

    private INDArray output;
    private Pointer quantized;
    private float scale;
    private int zeroPoint;

    private DnnlHandover() {
    }

    /** This thread's handover. */
    static DnnlHandover current() {
        return CURRENT.get();
    }

    /** Records that {@code output} holds {@code quantized} (u8, same shape) dequantized with these qparams. */
    void offer(INDArray output, Pointer quantized, float scale, int zeroPoint) {
        this.output = output;
        this.quantized = quantized;
        this.scale = scale;
        this.zeroPoint = zeroPoint;
    }

    /**
     * The u8 values {@code x} was dequantized from, when {@code x} is the array last offered and quantizing it with
     * these qparams would give them back; null otherwise. Clears the offer either way: only the next layer can take it.
     */
    Pointer take(INDArray x, float scale, int zeroPoint) {
        boolean same = x == output && scale == this.scale && zeroPoint == this.zeroPoint;
        Pointer q = same ? quantized : null;
        output = null;
        quantized = null;
        return q;
    }
}
