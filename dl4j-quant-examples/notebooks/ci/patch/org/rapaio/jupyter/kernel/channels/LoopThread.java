package org.rapaio.jupyter.kernel.channels;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Takes the place of rapaio-jupyter-kernel 3.0.1's {@code LoopThread} (same constructor and methods, compiled ahead of
 * the kernel jar on the classpath) so that the kernel's channel threads cannot end while it runs.
 *
 * <p>3.0.1's {@code start()} calls {@code super.start()} and only then sets {@code running = true}, and its
 * {@code run()} is {@code while (running) ...}: a new thread that reaches its loop condition before the starting thread
 * sets the flag ends at once, silently. When that is the shell thread, {@code kernel_info_request} is never answered
 * and Jupyter gives up ("Kernel didn't respond"); the heartbeat and control threads die the same way. On the loaded
 * 2-core CI machine this failed 6 of 40 starts. Here the flag is set before the thread starts (as the kernel's
 * upstream repository did after 3.0.1), and an exception from one pass of the loop body is logged instead of ending
 * the thread: 3.0.1's shell thread starts polling before the kernel has filled its message handler map, so a
 * request that arrives in between threw a NullPointerException out of the loop; Jupyter re-sends
 * {@code kernel_info_request} every second, and the next one is answered.
 */
public final class LoopThread extends Thread {
    private static final Logger LOGGER = Logger.getLogger(LoopThread.class.getSimpleName());

    private volatile boolean running;
    private final long sleep;
    private final Runnable loopBody;

    public LoopThread(String name, long sleep, Runnable loopBody) {
        super(name);
        this.sleep = sleep;
        this.loopBody = loopBody;
    }

    @Override
    public void run() {
        while (running) {
            try {
                loopBody.run();
            } catch (RuntimeException e) {
                if (running) {   // after shutdown the closed sockets throw; that is the end, not a failure
                    LOGGER.log(Level.SEVERE, getName() + ": one pass of the channel loop failed; the loop goes on", e);
                }
            }
            try {
                Thread.sleep(sleep);
            } catch (InterruptedException e) {
                running = false;
                return;
            }
        }
    }

    @Override
    public synchronized void start() {
        running = true;
        super.start();
    }

    public void shutdown() {
        running = false;
    }
}
