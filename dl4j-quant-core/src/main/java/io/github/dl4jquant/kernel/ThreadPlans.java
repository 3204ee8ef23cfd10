package io.github.dl4jquant.kernel;

import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * One kernel's plans (oneDNN primitives and memories bound to one shape) for each thread, at most {@code maxPerThread}
 * of them, and the plan of the thread's last call. All kernels share one {@code ThreadLocal} whose per-thread map
 * holds each kernel's plans weakly keyed by this object: with a {@code ThreadLocal} per kernel, a discarded model's
 * plans (and their native memory) stayed in every thread that had run it until Java happened to expunge the stale
 * entry, which a server that reloads its model measured as up to 1.6 GB of old CNN plans; here the thread's next call
 * of any int8 kernel drops them. A plan must not reference its kernel, or the kernel could not become unreachable.
 *
 * <pre>{@code
 * DnnlLinearPlan p = plans.get(key);
 * if (p == null) {
 *     p = plans.put(key, new DnnlLinearPlan(...));
 * }
 * }</pre>
 */
final class ThreadPlans<K, P> {
    private static final ThreadLocal<Map<ThreadPlans<?, ?>, Slot<?, ?>>> SLOTS =
            ThreadLocal.withInitial(WeakHashMap::new);

    private final int maxPerThread;

    ThreadPlans(int maxPerThread) {
        this.maxPerThread = maxPerThread;
    }

    /** This thread's plan for {@code key}, or null. */
    P get(K key) {
        return slot().plans.get(key);
    }

    /** Keeps {@code plan} for {@code key} on this thread (beyond the bound, after dropping the others); returns it. */
    P put(K key, P plan) {
        Map<K, P> plans = slot().plans;
        if (plans.size() >= maxPerThread) {
            plans.clear();
        }
        plans.put(key, plan);
        return plan;
    }

    /** Records the plan of this thread's last successful call (null: none to hand over). */
    void setLast(P plan) {
        slot().last = plan;
    }

    /** The plan {@link #setLast} recorded on this thread, or null. */
    P last() {
        return slot().last;
    }

    @SuppressWarnings("unchecked")
    private Slot<K, P> slot() {
        Map<ThreadPlans<?, ?>, Slot<?, ?>> all = SLOTS.get();
        Slot<K, P> s = (Slot<K, P>) all.get(this);
        if (s == null) {
            s = new Slot<>();
            all.put(this, s);
        }
        return s;
    }

    private static final class Slot<K, P> {
        final Map<K, P> plans = new HashMap<>();
        P last;
    }
}
