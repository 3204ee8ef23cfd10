package io.github.dl4jquant.spark;

import java.util.Locale;

/**
 * What one distributed calibration did: how the work was spread and what crossed the network.
 *
 * @param partitions              partitions of the data (tasks per pass)
 * @param passes                  passes over the data: 1, or 2 when histogram observers took the exact second pass
 * @param examples                examples observed (in the last pass)
 * @param batches                 calibration batches observed (in the last pass), summed over the partitions
 * @param stateBytesPerPartition  bytes of the observer state each partition sends back, per pass (the largest)
 * @param broadcastBytes          bytes of the broadcast model and configs, shipped once per executor
 * @param seconds                 wall time, all passes and the merge included
 */
public record CalibrationRun(int partitions, int passes, long examples, long batches, long stateBytesPerPartition,
                             long broadcastBytes, double seconds) {

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "calibrated on %,d examples (%,d batches) in %d partition(s), %d pass(es), "
                        + "%.2f s; observer state %,d bytes per partition and pass, model broadcast %,d bytes",
                examples, batches, partitions, passes, seconds, stateBytesPerPartition, broadcastBytes);
    }
}
