package io.github.dl4jquant.graph;

/**
 * Told after every calibration batch; for progress bars in notebooks and UIs. Progress is also logged (INFO) at most
 * every few seconds without a listener.
 *
 * <pre>{@code
 * prepared.setCalibrationListener(p -> progressBar.setValue(p.examples()));
 * }</pre>
 */
@FunctionalInterface
public interface CalibrationListener {

    /**
     * Calibration progress so far.
     *
     * @param batches  batches observed
     * @param examples examples observed
     * @param seconds  wall time since calibration started
     */
    record Progress(long batches, long examples, double seconds) {
    }

    void onBatch(Progress progress);
}
