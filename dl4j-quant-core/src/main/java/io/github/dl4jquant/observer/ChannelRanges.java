package io.github.dl4jquant.observer;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Per-channel min/max of one observed array, shared by the per-channel observers. */
record ChannelRanges(int axis, float[] min, float[] max) {

    /**
     * Min and max of every slice of {@code x} along {@code chAxis} (negative: from the end); NaN or infinite values
     * raise; {@code expectedChannels} (or -1) must match.
     */
    static ChannelRanges of(INDArray x, int chAxis, int expectedChannels, String who) {
        float[] v = ObservedValues.floats(x, who);
        long[] shape = x.shape();
        int a = chAxis < 0 ? shape.length + chAxis : chAxis;
        if (a < 0 || a >= shape.length) {
            throw new IllegalArgumentException(who + ": chAxis " + chAxis + " does not exist in an array of shape "
                    + Arrays.toString(shape) + " (rank " + shape.length + ")");
        }
        int channels = (int) shape[a];
        if (expectedChannels >= 0 && expectedChannels != channels) {
            throw new IllegalArgumentException(who + ": observed " + expectedChannels + " channels on axis " + a
                    + " before, but this array of shape " + Arrays.toString(shape) + " has " + channels);
        }
        long outer = 1;
        for (int d = 0; d < a; d++) {
            outer *= shape[d];
        }
        int inner = (int) (v.length / (outer * channels));
        float[] mn = new float[channels];
        float[] mx = new float[channels];
        Arrays.fill(mn, Float.POSITIVE_INFINITY);
        Arrays.fill(mx, Float.NEGATIVE_INFINITY);
        float poison = 0f;
        int i = 0;
        for (long o = 0; o < outer; o++) {
            for (int c = 0; c < channels; c++) {
                float cmn = mn[c];
                float cmx = mx[c];
                for (int k = 0; k < inner; k++, i++) {
                    float e = v[i];
                    cmn = e < cmn ? e : cmn;
                    cmx = e > cmx ? e : cmx;
                    poison += e * 0f;
                }
                mn[c] = cmn;
                mx[c] = cmx;
            }
        }
        if (poison != poison) {
            ObservedValues.range(v, 0, v.length, 1, false, who);
        }
        return new ChannelRanges(a, mn, mx);
    }
}
