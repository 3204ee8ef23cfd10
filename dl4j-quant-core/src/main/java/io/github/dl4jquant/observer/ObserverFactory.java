package io.github.dl4jquant.observer;

import java.util.Map;

/**
 * Creates observers with fixed settings: what a {@code QConfig} holds (PyTorch: {@code Observer.with_args(...)}).
 *
 * <pre>{@code
 * ObserverFactory f = MinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_TENSOR_SYMMETRIC);
 * Observer a = f.create();             // a fresh observer
 * Map<String, Object> m = f.toMap();   // {"name": "MinMaxObserver", "dtype": "torch.qint8", ...}
 * ObserverFactory same = ObserverFactories.fromMap(m);
 * }</pre>
 */
public interface ObserverFactory {

    /** A new observer with no statistics. */
    Observer create();

    /**
     * The settings as a JSON-friendly map: {@code "name"} (the observer's class name as registered in {@link
     * ObserverFactories}) plus its options under PyTorch's argument names ({@code "dtype"}, {@code "qscheme"},
     * {@code "reduce_range"}, ...).
     */
    Map<String, Object> toMap();
}
