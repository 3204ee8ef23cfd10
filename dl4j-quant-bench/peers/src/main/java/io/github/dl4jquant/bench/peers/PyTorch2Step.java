package io.github.dl4jquant.bench.peers;

import org.bytedeco.pytorch.Tensor;

/**
 * One op of a {@link PyTorch2Graph}: its input tensors (in the order of the manifest node's inputs) to its output.
 * A quantized op also has a float form, {@link #calibrate}, that computes what it approximates on fp32 tensors and
 * fixes its output's qparams from the values it sees.
 */
@FunctionalInterface
interface PyTorch2Step {
    Tensor run(Tensor[] in);

    /** The fp32 forward of what {@link #run} computes, observing its output's range; by default {@link #run}. */
    default Tensor calibrate(Tensor[] in) {
        return run(in);
    }
}
