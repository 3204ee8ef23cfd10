package io.github.dl4jquant.nn;

/**
 * The thread that set an int8 layer's input. DL4J keeps a layer's input in a field from {@code setInput} to
 * {@code activate}: {@code ComputationGraph.output()} holds the graph's lock across both, but one model run on two
 * threads outside that lock ({@code ComputationGraph.output(List, ...)}, which DL4J does not synchronise, or a layer
 * fed by one thread and run by another) would let one thread's input replace another's before that one runs. The int8
 * layers set and check the owner under their own lock, so such a call fails with this error instead of computing
 * another thread's numbers.
 *
 * <pre>{@code
 * public synchronized void setInput(INDArray input, LayerWorkspaceMgr mgr) { super.setInput(input, mgr); owner.set(); }
 * public synchronized INDArray activate(boolean training, LayerWorkspaceMgr mgr) { owner.check(describe()); ... }
 * }</pre>
 *
 * <p>Not thread-safe by itself: callers hold the layer's lock.
 */
public final class InputOwner {
    private Thread owner;

    /** Records that the current thread set the input. */
    public void set() {
        owner = Thread.currentThread();
    }

    /**
     * @throws IllegalStateException when another thread set the input that the current thread is about to run on
     */
    public void check(String layer) {
        Thread current = Thread.currentThread();
        if (owner != null && owner != current) {
            throw new IllegalStateException(layer + ": thread '" + current.getName() + "' is running on an input "
                    + "that thread '" + owner.getName() + "' set. DL4J keeps each layer's input in a field, so one "
                    + "model must not run on several threads at once outside ComputationGraph.output(), "
                    + "outputSingle() and feedForward(), which DL4J synchronises; give each thread its own "
                    + "model.clone(), or serve through ParallelInference (README: \"Serving from many threads\")");
        }
    }
}
