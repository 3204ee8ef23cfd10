package io.github.dl4jquant.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.testing.ServingModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.parallelism.ParallelInference;
import org.deeplearning4j.parallelism.inference.InferenceMode;
import org.deeplearning4j.parallelism.inference.LoadBalanceMode;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The README's "Serving from many threads", checked: 8 threads make 500 calls each, with batch sizes 1, 7, 32 and 64
 * mixed, on one int8 model (the Fashion-MNIST MLP, and a CNN with a residual add), through every supported way of
 * sharing it, and every output must equal, bit for bit, what one thread computed for the same input beforehand.
 */
class ConcurrentServingTest {
    private static final int THREADS = 8;
    private static final int CALLS = 500;
    private static final int[] BATCHES = {1, 7, 32, 64};
    private static final int INPUTS_PER_BATCH = 4;

    /** One quantized model per kind, with its inputs and single-threaded outputs, shared by the ways. */
    private static final Map<ServingModel, Served> SERVED = new EnumMap<>(ServingModel.class);

    /** The ways a DL4J user shares one model between threads. */
    enum Way {
        /** Every thread calls {@code output()} on the one model (DL4J serialises the calls). */
        SHARED_MODEL,
        /** Every thread serves from its own {@code model.clone()}. */
        CLONE_PER_THREAD,
        /** {@code ParallelInference} running in the calling threads on 4 replicas, handed out first come first served. */
        PARALLEL_INFERENCE_INPLACE_FIFO,
        /** The same with the replicas handed out in turn, so two threads can call one replica at once. */
        PARALLEL_INFERENCE_INPLACE_ROUND_ROBIN,
        /** {@code ParallelInference} queueing each request to 2 worker threads with their own replicas. */
        PARALLEL_INFERENCE_SEQUENTIAL,
        /**
         * {@code ParallelInference}'s default: requests from different callers concatenated into one batch of up to
         * 128 rows on 2 workers, the output split back; bit-identical only because int8 layers compute each row
         * independently of its batch.
         */
        PARALLEL_INFERENCE_BATCHED
    }

    static Stream<Arguments> modelsAndWays() {
        return Stream.of(ServingModel.values())
                .flatMap(m -> Stream.of(Way.values()).map(w -> Arguments.of(m, w)));
    }

    @AfterAll
    static void release() {
        SERVED.clear();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("modelsAndWays")
    void everyOutputIsBitIdenticalToTheSingleThreadedOne(ServingModel kind, Way way) throws Exception {
        Served served = SERVED.computeIfAbsent(kind, Served::new);
        Server server = Server.of(way, served.model);
        try {
            List<String> problems = runConcurrently(server, served);
            assertTrue(problems.isEmpty(), problems.size() + " of " + THREADS * CALLS + " calls went wrong, e.g. "
                    + problems.subList(0, Math.min(5, problems.size())));
        } finally {
            server.close();
        }
        assertEquals(served.expected.size(), served.inputs.size());
    }

    /** {@code Layer.activate(input, ...)} sets the input and runs on it under the layer's lock: safe from 8 threads. */
    @Test
    void oneInt8LayerRunDirectlyFromManyThreadsComputesEachThreadsInput() throws Exception {
        Served served = SERVED.computeIfAbsent(ServingModel.FASHION_MLP, Served::new);
        org.deeplearning4j.nn.api.Layer first = served.model.getLayer("d1");
        Served direct = new Served(served, x -> first.activate(x, false, LayerWorkspaceMgr.noWorkspaces()));
        List<String> problems = runConcurrently(() -> x -> first.activate(x, false,
                LayerWorkspaceMgr.noWorkspaces()), direct);
        assertTrue(problems.isEmpty(), problems.size() + " of " + THREADS * CALLS + " calls went wrong, e.g. "
                + problems.subList(0, Math.min(5, problems.size())));
    }

    private static List<String> runConcurrently(Server server, Served served) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<List<String>>> results = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            results.add(pool.submit(() -> {
                UnaryOperator<INDArray> output = server.forThisThread();
                start.await();
                return serve(output, served, thread);
            }));
        }
        start.countDown();
        List<String> problems = new ArrayList<>();
        for (Future<List<String>> r : results) {
            problems.addAll(r.get(10, TimeUnit.MINUTES));
        }
        pool.shutdown();
        return problems;
    }

    /** 500 calls cycling through the inputs, starting at a different one on each thread. */
    private static List<String> serve(UnaryOperator<INDArray> output, Served served, int thread) {
        List<String> problems = new ArrayList<>();
        int n = served.inputs.size();
        for (int call = 0; call < CALLS; call++) {
            int i = (thread * 5 + call * 3) % n;
            try {
                float[] got = output.apply(served.inputs.get(i)).dup('c').data().asFloat();
                if (!Arrays.equals(served.expected.get(i), got)) {
                    problems.add("thread " + thread + " call " + call + " (batch " + served.inputs.get(i).size(0)
                            + "): " + firstDifference(served.expected.get(i), got));
                }
            } catch (RuntimeException e) {
                problems.add("thread " + thread + " call " + call + ": " + rootCause(e));
            }
        }
        return problems;
    }

    private static Throwable rootCause(Throwable e) {
        return e.getCause() == null || e.getCause() == e ? e : rootCause(e.getCause());
    }

    private static String firstDifference(float[] expected, float[] got) {
        if (expected.length != got.length) {
            return got.length + " values instead of " + expected.length;
        }
        int diffs = 0;
        int first = -1;
        for (int j = 0; j < expected.length; j++) {
            if (Float.floatToIntBits(expected[j]) != Float.floatToIntBits(got[j])) {
                diffs++;
                first = first < 0 ? j : first;
            }
        }
        return diffs + " values differ, first at " + first + ": " + got[first] + " instead of " + expected[first];
    }

    /** The int8 model, its inputs (4 of each batch size) and what one thread computed for them, as floats. */
    private static final class Served {
        final ComputationGraph model;
        final List<INDArray> inputs = new ArrayList<>();
        final List<float[]> expected = new ArrayList<>();

        Served(ServingModel kind) {
            model = kind.int8();
            for (int b : BATCHES) {
                for (int s = 0; s < INPUTS_PER_BATCH; s++) {
                    INDArray x = kind.input(1000L * b + s, b);
                    inputs.add(x);
                    expected.add(model.outputSingle(x).dup('c').data().asFloat());
                }
            }
        }

        /** {@code other}'s model and inputs with what {@code output} computes for them on one thread. */
        Served(Served other, UnaryOperator<INDArray> output) {
            model = other.model;
            inputs.addAll(other.inputs);
            for (INDArray x : inputs) {
                expected.add(output.apply(x).dup('c').data().asFloat());
            }
        }
    }

    /** One way of serving: how a thread gets its output function, and what is shut down afterwards. */
    private interface Server extends AutoCloseable {
        UnaryOperator<INDArray> forThisThread();

        @Override
        default void close() {
        }

        static Server of(Way way, ComputationGraph model) {
            switch (way) {
                case SHARED_MODEL:
                    return () -> model::outputSingle;
                case CLONE_PER_THREAD:
                    return () -> model.clone()::outputSingle;
                case PARALLEL_INFERENCE_INPLACE_FIFO:
                    return parallel(new ParallelInference.Builder(model).inferenceMode(InferenceMode.INPLACE)
                            .loadBalanceMode(LoadBalanceMode.FIFO).workers(4).build());
                case PARALLEL_INFERENCE_INPLACE_ROUND_ROBIN:
                    return parallel(new ParallelInference.Builder(model).inferenceMode(InferenceMode.INPLACE)
                            .loadBalanceMode(LoadBalanceMode.ROUND_ROBIN).workers(4).build());
                case PARALLEL_INFERENCE_SEQUENTIAL:
                    return parallel(new ParallelInference.Builder(model).inferenceMode(InferenceMode.SEQUENTIAL)
                            .workers(2).build());
                case PARALLEL_INFERENCE_BATCHED:
                    return parallel(new ParallelInference.Builder(model).inferenceMode(InferenceMode.BATCHED)
                            .batchLimit(128).queueLimit(64).workers(2).build());
                default:
                    throw new IllegalArgumentException(String.valueOf(way));
            }
        }

        private static Server parallel(ParallelInference inference) {
            return new Server() {
                @Override
                public UnaryOperator<INDArray> forThisThread() {
                    return inference::output;
                }

                @Override
                public void close() {
                    inference.shutdown();
                }
            };
        }
    }
}
