package io.github.dl4jquant.observer;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Collects running statistics of the tensors flowing through one point of a model and turns them into quantization
 * parameters, as PyTorch's {@code torch.ao.quantization} observers do.
 *
 * <pre>{@code
 * Observer obs = HistogramObserver.builder().reduceRange(true).build();
 * for (INDArray batch : activations) {
 *     obs.observe(batch);             // PyTorch: obs(batch)
 * }
 * QParams q = obs.calculateQParams(); // scale/zero point of quint8 [0, 127]
 * }</pre>
 *
 * <p>Observers keep statistics only (min/max, a histogram), never the observed arrays, so calibration runs in
 * constant memory. Two observers built from the same settings can be {@link #merge merged}, e.g. after calibrating
 * shards of the data in parallel. Unlike PyTorch, an observer that saw no data refuses to invent parameters: {@link
 * #calculateQParams()} throws {@link IllegalStateException} (PyTorch warns and returns scale 1.0, zero point 0).
 *
 * <p>Observers are not thread-safe: give each thread its own (same factory) and merge them at the end.
 */
public interface Observer {

    /** Updates the statistics with {@code x} (PyTorch's {@code forward}); {@code x} itself is not kept. */
    void observe(INDArray x);

    /**
     * Quantization parameters from the statistics so far.
     *
     * @throws IllegalStateException if nothing was observed yet, or the observer has no parameters (placeholders)
     */
    QParams calculateQParams();

    /** Forgets all statistics. */
    void reset();

    /**
     * Adds the statistics of {@code other} to this observer.
     *
     * @throws IllegalArgumentException if {@code other} is of another kind or was built with other settings
     */
    void merge(Observer other);

    /** True once statistics exist (for fixed-qparams observers: always). */
    boolean isCalibrated();

    /** Running minimum, one value per channel (length 1 per tensor); a copy. */
    float[] minVal();

    /** Running maximum, one value per channel (length 1 per tensor); a copy. */
    float[] maxVal();

    QuantDType dtype();

    QScheme qscheme();

    /** Smallest quantized value the parameters use, after {@code reduceRange}. */
    int quantMin();

    /** Largest quantized value the parameters use, after {@code reduceRange}. */
    int quantMax();

    float eps();

    /** True when the quantize step computes its parameters from each batch at run time (dynamic quantization). */
    boolean isDynamic();

    /** A factory that creates fresh observers with this observer's settings. */
    ObserverFactory factory();
}
