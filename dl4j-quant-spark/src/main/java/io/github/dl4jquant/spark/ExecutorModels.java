package io.github.dl4jquant.spark;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The models an executor JVM keeps, per broadcast model: built on first use, then lent to one task at a time and
 * given back, so every partition after the first reuses one. DL4J models are not thread-safe, so an executor running
 * several tasks at once (spark.executor.cores, or local[n]) holds at most one per concurrently running task; with
 * one core per executor that is one model per JVM. Only the models of the most recent {@value #MAX_MODELS} broadcasts
 * are kept.
 */
final class ExecutorModels {
    private static final int MAX_MODELS = 4;
    private static final Map<String, Deque<Object>> IDLE = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Deque<Object>> eldest) {
            return size() > MAX_MODELS;
        }
    };
    private static final AtomicLong CREATED = new AtomicLong();

    private ExecutorModels() {
    }

    /** An idle model of broadcast {@code id}, or a new one from {@code create}; give it back with {@link #giveBack}. */
    @SuppressWarnings("unchecked")
    static <T> T borrow(String id, Supplier<T> create) {
        synchronized (IDLE) {
            Deque<Object> idle = IDLE.get(id);
            if (idle != null && !idle.isEmpty()) {
                return (T) idle.pop();
            }
        }
        CREATED.incrementAndGet();
        return create.get();
    }

    static void giveBack(String id, Object model) {
        synchronized (IDLE) {
            IDLE.computeIfAbsent(id, k -> new ArrayDeque<>()).push(model);
        }
    }

    /** How many models this JVM has built so far (all broadcasts). */
    static long created() {
        return CREATED.get();
    }
}
