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
 * <p>{@link #state()} detaches the statistics as a compact {@link ObserverState} (JSON or binary) and {@link
 * #loadState} puts them back, so shards can be observed in other processes and merged where the model is converted.
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

    /**
     * The statistics as a detached, serialisable value (settings included, no observed arrays): what a shard of a
     * distributed calibration sends back. The built-in observers implement it; an observer of your own does when
     * it should calibrate in parts.
     *
     * @throws UnsupportedOperationException for observers that do not export their statistics
     */
    default ObserverState state() {
        throw new UnsupportedOperationException(getClass().getName() + " does not export its statistics: implement "
                + "Observer.state() and loadState(...) to calibrate it in parts (for example on Spark)");
    }

    /**
     * Replaces the statistics with those of {@code state} (from {@link #state()} of an observer with the same
     * settings).
     *
     * @throws IllegalArgumentException if {@code state} was made by an observer with other settings or is malformed
     * @throws UnsupportedOperationException for observers that do not import statistics
     */
    default void loadState(ObserverState state) {
        throw new UnsupportedOperationException(getClass().getName() + " does not import statistics: implement "
                + "Observer.state() and loadState(...) to calibrate it in parts (for example on Spark)");
    }
}
