package io.github.dl4jquant.bench;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Long-running serving, measured: {@code calls} {@code output()} calls of the int8 MLP 784-512-256-10 (batch 32,
 * x86 defaults, as {@link InferenceBenchmark} times it) and a tenth as many of the int8 4096x4096 layer (large
 * outputs, recycled by RecycledOutputMemory), then {@code cycles} cycles that restore that int8 model from
 * its file, serve batches of 1, 32 and 64 and drop it, as a server that reloads its model does, and as many with the
 * residual CNN (int8 convolutions, adds and pooling). At 50 points of each phase it records the process's resident
 * memory ({@code VmRSS}) and, after garbage collection, the native objects JavaCPP tracks
 * ({@code Pointer.totalCount()}; oneDNN has no count of its own): every oneDNN primitive, memory, descriptor and
 * attribute the int8 layers hold is one, and so are ND4J's JavaCPP pointers. Both must stay flat after the first 10%
 * of each phase (warm-up: JIT, the plans per batch size, ND4J's workspaces): RSS within 5% (not checked for the CNN's
 * cycles, see {@link #reload}), the object count within 1%; the native part of RSS (outside the JVM's heap, code
 * cache and metaspace), which the fixed heap no longer dilutes, is reported too. Exit code 1 when a check fails.
 *
 * <pre>{@code
 * java -Xms1g -Xmx1g -XX:+AlwaysPreTouch -Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2 \
 *     -cp "dl4j-quant-bench/target/classes:$(cat cp.txt)" io.github.dl4jquant.bench.ServingStability 100000 200
 * }</pre>
 * A third argument sets the calls of the 4096x4096 layer (default: a tenth of the MLP's).
 * A fixed, pre-touched heap keeps the Java heap's own growth out of RSS, so what moves is native memory.
 */
public final class ServingStability {
    static final double MAX_RSS_SPREAD = 0.05;
    static final double MAX_OBJECT_SPREAD = 0.01;
    private static final int SAMPLES = 50;
    private static final int BATCH = 32;
    private static final int[] CYCLE_BATCHES = {1, 32, 64};

    private ServingStability() {
    }

    /**
     * One observation after {@code step} calls (or cycles): RSS, what the JVM has committed for the Java heap (fixed
     * and resident with {@code -Xms = -Xmx} and {@code -XX:+AlwaysPreTouch}) and for its own code cache and
     * metaspace (which the JIT and class loading grow for a while), and JavaCPP's live native objects.
     */
    record Sample(long step, long rssBytes, long heapBytes, long jvmNonHeapBytes, long nativeObjects) {
        /** RSS outside the JVM's managed memory: ND4J's and oneDNN's native memory, thread stacks, malloc's own. */
        long nativeRssBytes() {
            return rssBytes - heapBytes - jvmNonHeapBytes;
        }
    }

    /** A phase's samples and its verdict; {@code rssChecked} false: RSS reported, only the object count checked. */
    record Phase(String name, List<Sample> samples, boolean rssChecked) {
        /** The first sample after warm-up (10% of the phase). */
        Sample warmedUp() {
            return samples.get(samples.size() / 10);
        }

        List<Sample> afterWarmUp() {
            return samples.subList(samples.size() / 10, samples.size());
        }

        /** (max - min) / warm-up value over the last 90%. */
        double rssSpread() {
            return spread(afterWarmUp().stream().mapToLong(Sample::rssBytes).toArray(), warmedUp().rssBytes());
        }

        /** The same for the native part of RSS: stricter, as the heap's fixed size no longer dilutes it. */
        double nativeRssSpread() {
            return spread(afterWarmUp().stream().mapToLong(Sample::nativeRssBytes).toArray(),
                    warmedUp().nativeRssBytes());
        }

        double objectSpread() {
            return spread(afterWarmUp().stream().mapToLong(Sample::nativeObjects).toArray(),
                    warmedUp().nativeObjects());
        }

        boolean flat() {
            return (!rssChecked || rssSpread() <= MAX_RSS_SPREAD) && objectSpread() <= MAX_OBJECT_SPREAD;
        }

        String summary() {
            Sample first = samples.get(0);
            Sample last = samples.get(samples.size() - 1);
            return String.format(Locale.ROOT, "%s:%n  RSS %s at the start, %s after warm-up, %s at the end, spread "
                            + "%.2f%% over the last 90%% (%s)%n  native RSS (outside the %s heap, code cache and "
                            + "metaspace) %s, %s, %s, spread %.2f%%%n  live JavaCPP native objects after GC %d, %d, "
                            + "%d, spread %.2f%% (limit %.0f%%)%n  -> %s",
                    name, mb(first.rssBytes()), mb(warmedUp().rssBytes()), mb(last.rssBytes()), 100 * rssSpread(),
                    rssChecked ? String.format(Locale.ROOT, "limit %.0f%%", 100 * MAX_RSS_SPREAD) : "not checked",
                    mb(first.heapBytes()), mb(first.nativeRssBytes()), mb(warmedUp().nativeRssBytes()),
                    mb(last.nativeRssBytes()), 100 * nativeRssSpread(), first.nativeObjects(),
                    warmedUp().nativeObjects(), last.nativeObjects(), 100 * objectSpread(), 100 * MAX_OBJECT_SPREAD,
                    flat() ? "flat" : "NOT FLAT");
        }
    }

    public static void main(String[] args) throws Exception {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int cycles = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        int largeOutputCalls = args.length > 2 ? Integer.parseInt(args[2]) : calls / 10;
        List<Phase> phases = List.of(serve("mlp", calls), reload("mlp", cycles), reload("resnet", cycles),
                serve("dense4096", largeOutputCalls));
        phases.forEach(p -> System.out.println(p.summary()));
        if (!phases.stream().allMatch(Phase::flat)) {
            System.exit(1);
        }
    }

    /**
     * {@code calls} calls of the int8 benchmark model's {@code outputSingle} on one batch of 32, sampled 50 times.
     * The 4096x4096 layer's 512 KB outputs come from RecycledOutputMemory, which must recycle them, not grow.
     */
    static Phase serve(String name, int calls) throws IOException {
        ComputationGraph model = BenchModels.graph(name, "int8");
        INDArray x = BenchModels.timedInput(name, BATCH);
        List<Sample> samples = new ArrayList<>();
        samples.add(sample(0));
        int every = Math.max(1, calls / SAMPLES);
        for (int call = 1; call <= calls; call++) {
            model.outputSingle(x);
            if (call % every == 0) {
                samples.add(sample(call));
            }
        }
        return new Phase(calls + " output() calls of the int8 " + name + " at batch " + BATCH, samples, true);
    }

    /**
     * {@code cycles} times: restore the int8 benchmark model from its file, serve batches of 1, 32 and 64, drop it.
     * RSS is checked for the MLP only: the CNN's cycles free and allocate megabytes of oneDNN buffers each, and its
     * RSS drifts with the allocator's fragmentation (less with a fixed {@code MALLOC_MMAP_THRESHOLD_}) while the
     * count of live native objects stays flat.
     */
    static Phase reload(String name, int cycles) throws IOException {
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        ModelSerializer.writeModel(BenchModels.graph(name, "int8"), file, false);
        byte[] bytes = file.toByteArray();
        List<Sample> samples = new ArrayList<>();
        samples.add(sample(0));
        int every = Math.max(1, cycles / SAMPLES);
        for (int cycle = 1; cycle <= cycles; cycle++) {
            ComputationGraph restored = ModelSerializer.restoreComputationGraph(new ByteArrayInputStream(bytes), false);
            for (int b : CYCLE_BATCHES) {
                restored.outputSingle(BenchModels.timedInput(name, b));
            }
            if (cycle % every == 0) {
                samples.add(sample(cycle));
            }
        }
        return new Phase(cycles + " restore-serve-drop cycles of the int8 " + name, samples, name.equals("mlp"));
    }

    /**
     * RSS as the process runs, then the native objects still reachable: collections until the count holds still,
     * as JavaCPP frees collected pointers on a thread of its own.
     */
    private static Sample sample(long step) throws IOException {
        long rss = residentBytes();
        long heap = Runtime.getRuntime().totalMemory();
        long jvmNonHeap = ManagementFactory.getMemoryMXBean().getNonHeapMemoryUsage().getCommitted();
        long count = -1;
        for (int i = 0; i < 10 && count != Pointer.totalCount(); i++) {
            count = Pointer.totalCount();
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return new Sample(step, rss, heap, jvmNonHeap, Pointer.totalCount());
    }

    /** {@code VmRSS} of this process, from {@code /proc/self/status} (Linux). */
    static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IOException("/proc/self/status has no VmRSS line (not Linux?)");
    }

    private static double spread(long[] values, long reference) {
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        for (long v : values) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        return reference == 0 ? 0 : (double) (max - min) / reference;
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}
