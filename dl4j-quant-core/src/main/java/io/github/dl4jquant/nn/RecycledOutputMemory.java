package io.github.dl4jquant.nn;

import java.lang.ref.PhantomReference;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Native memory for the large outputs a quantized layer returns to the caller of plain {@code output()} (outside any
 * workspace), recycled instead of freed: a buffer whose array the caller has dropped goes back to a free list with
 * its pages still mapped, and the next call of that size takes it.
 *
 * <pre>{@code
 * DataBuffer data = RecycledOutputMemory.floatBuffer(rows * cols);  // then wrapped in the output INDArray
 * }</pre>
 *
 * <p>Why: ND4J frees an array's native memory only after a garbage collection finds the array, and a quantized
 * model's forward pass makes almost no Java garbage, so collections are rare: every call's output came from fresh
 * pages (a 4 MB output is 1,024 page faults, about 12 µs each on the 2-vCPU VM measured: 12 ms per call on top of a
 * 12 ms product), and native memory grew without bound between collections (a 4096x4096 layer at batch 256: 7.5 GB
 * after 70 s). PyTorch and ONNX Runtime free an output as soon as the caller drops it and reuse its memory at once.
 *
 * <p>How: each buffer is tracked by a phantom reference to the DataBuffer that wraps it (views and INDArrays keep
 * that DataBuffer reachable, so memory is never recycled while any array can still read it). When the buffers
 * handed out and not yet found unreachable exceed {@link #budgetBytes()} (a quarter of the heap limit by default,
 * {@code -Ddl4jquant.outputMemoryBytes} to change it), one {@code System.gc()} finds the dropped ones; if the caller
 * really holds that much, the budget doubles rather than collecting on every call. Free buffers beyond the budget are
 * released to the system.
 */
public final class RecycledOutputMemory {
    private static final Logger log = LoggerFactory.getLogger(RecycledOutputMemory.class);
    /**
     * One page: smaller outputs share pages, so their page faults are few per call. Larger ones fault too below
     * glibc's 128 KB mmap threshold, since ND4J frees nothing until a GC (measured: a [32, 512] output, 16 pages,
     * 242 µs per call of a 784x512 int8 layer against 71 µs with the output in a workspace).
     */
    public static final long MIN_BYTES = 4096;
    private static final long GC_WAIT_MS = 100;
    private static final long ENQUEUE_PAUSE_MS = 5;

    private static final ReferenceQueue<DataBuffer> DROPPED = new ReferenceQueue<>();
    /** Keeps the references themselves reachable until they are enqueued. */
    private static final Set<Tracked> HANDED_OUT = ConcurrentHashMap.newKeySet();
    private static final Map<Long, Queue<FloatPointer>> FREE = new ConcurrentHashMap<>();
    private static final AtomicLong HANDED_OUT_BYTES = new AtomicLong();
    private static final AtomicLong FREE_BYTES = new AtomicLong();
    private static final AtomicLong BUDGET = new AtomicLong(initialBudget());
    private static final AtomicLong COLLECTIONS = new AtomicLong();

    private RecycledOutputMemory() {
    }

    private static final class Tracked extends PhantomReference<DataBuffer> {
        final FloatPointer memory;
        final long length;

        Tracked(DataBuffer buffer, FloatPointer memory, long length) {
            super(buffer, DROPPED);
            this.memory = memory;
            this.length = length;
        }
    }

    /** An uninitialized FLOAT buffer of {@code length} elements, recycled once nothing can reach it. */
    public static DataBuffer floatBuffer(long length) {
        FloatPointer memory = take(length);
        DataBuffer buffer = Nd4j.createBuffer(memory, DataType.FLOAT, length, FloatIndexer.create(memory));
        HANDED_OUT.add(new Tracked(buffer, memory, length));
        HANDED_OUT_BYTES.addAndGet(length * Float.BYTES);
        return buffer;
    }

    /** The bytes of handed-out buffers above which the next allocation first looks for dropped ones with a GC. */
    public static long budgetBytes() {
        return BUDGET.get();
    }

    /** How many collections this class has asked for (for tests and the serving benchmark). */
    public static long collections() {
        return COLLECTIONS.get();
    }

    private static FloatPointer take(long length) {
        recycleDropped();
        FloatPointer free = pollFree(length);
        if (free != null) {
            return free;
        }
        if (HANDED_OUT_BYTES.get() + length * Float.BYTES > BUDGET.get()) {
            collectDropped();
            free = pollFree(length);
            if (free != null) {
                return free;
            }
        }
        return new FloatPointer(length);
    }

    private static FloatPointer pollFree(long length) {
        Queue<FloatPointer> q = FREE.get(length);
        FloatPointer p = q == null ? null : q.poll();
        if (p != null) {
            FREE_BYTES.addAndGet(-length * Float.BYTES);
        }
        return p;
    }

    /** One GC, then whatever it found; the budget grows when the caller still holds most of it. */
    private static void collectDropped() {
        COLLECTIONS.incrementAndGet();
        System.gc();
        try {
            // the reference handler thread enqueues what the GC found after the pause: drain until it pauses
            for (Reference<? extends DataBuffer> r = DROPPED.remove(GC_WAIT_MS); r != null;
                 r = DROPPED.remove(ENQUEUE_PAUSE_MS)) {
                recycle((Tracked) r);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long held = HANDED_OUT_BYTES.get();
        if (held * 2 > BUDGET.get()) {
            long budget = BUDGET.updateAndGet(b -> Math.max(b, held * 2));
            log.info("Quantized layer outputs still referenced: {} MB; recycling budget raised to {} MB",
                    held >> 20, budget >> 20);
        }
    }

    private static void recycleDropped() {
        for (Reference<? extends DataBuffer> r; (r = DROPPED.poll()) != null; ) {
            recycle((Tracked) r);
        }
    }

    private static void recycle(Tracked t) {
        HANDED_OUT.remove(t);
        long bytes = t.length * Float.BYTES;
        HANDED_OUT_BYTES.addAndGet(-bytes);
        if (FREE_BYTES.get() + bytes > BUDGET.get()) {
            t.memory.close(); // more free memory than the budget: back to the system
            return;
        }
        FREE_BYTES.addAndGet(bytes);
        FREE.computeIfAbsent(t.length, k -> new ConcurrentLinkedQueue<>()).add(t.memory);
    }

    private static long initialBudget() {
        String configured = System.getProperty("dl4jquant.outputMemoryBytes");
        if (configured != null) {
            try {
                return Long.parseLong(configured.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("-Ddl4jquant.outputMemoryBytes=" + configured
                        + " is not a number of bytes; give e.g. 1073741824 for 1 GB", e);
            }
        }
        return Math.max(64L << 20, Runtime.getRuntime().maxMemory() / 4);
    }
}
