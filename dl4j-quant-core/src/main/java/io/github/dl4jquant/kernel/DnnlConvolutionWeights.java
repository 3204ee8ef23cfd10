package io.github.dl4jquant.kernel;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;

/**
 * What one int8 convolution layer keeps for all threads and input sizes (PyTorch's {@code ConvPackedParams}): the
 * int8 weight, per-channel scales, float bias and per-channel weight sums, and the weight reordered into each blocked
 * layout a convolution primitive asked for (in practice one or two), made once and shared.
 *
 * <pre>{@code
 * DnnlConvolutionWeights w = new DnnlConvolutionWeights(spec, weightOihw, scales, bias);
 * memory blocked = w.blocked(primitiveDesc.weights_desc());
 * }</pre>
 */
final class DnnlConvolutionWeights {
    final ConvolutionSpec spec;
    private final byte[] weight;
    private final float[] scales;
    private final float[] bias;
    private final long[] sums;
    private final List<memory> blocked = new ArrayList<>();

    /**
     * @param weight OIHW row-major ({@code [out, in / groups, kH, kW]}), qint8 with zero point 0
     * @param scales one per output channel
     * @param bias   one per output channel, or null
     */
    DnnlConvolutionWeights(ConvolutionSpec spec, byte[] weight, float[] scales, float[] bias) {
        int oc = spec.outChannels();
        if (weight.length != spec.weightLength() || scales.length != oc || (bias != null && bias.length != oc)) {
            throw new IllegalArgumentException("int8 convolution " + spec + ": the weight must hold "
                    + spec.weightLength() + " values and scales/bias " + oc + "; got " + weight.length + ", "
                    + scales.length + ", " + (bias == null ? "no bias" : bias.length));
        }
        this.spec = spec;
        this.weight = weight.clone();
        this.scales = scales.clone();
        this.bias = bias == null ? new float[oc] : bias.clone();
        this.sums = new long[oc];
        int per = (int) spec.reductionLength();
        for (int o = 0; o < oc; o++) {
            long s = 0;
            for (int i = o * per; i < (o + 1) * per; i++) {
                s += weight[i];
            }
            sums[o] = s;
        }
    }

    float scale(int channel) {
        return scales[channel];
    }

    float bias(int channel) {
        return bias[channel];
    }

    /** The sum of channel {@code channel}'s weights: the input zero point's contribution is {@code zp * sum}. */
    long sum(int channel) {
        return sums[channel];
    }

    /** The weight's dims as a convolution primitive takes them: OIHW, or GOIHW when grouped. */
    long[] dims() {
        ConvolutionSpec s = spec;
        long icg = s.inChannels() / s.groups();
        return s.groups() == 1 ? new long[] {s.outChannels(), icg, s.kernelH(), s.kernelW()}
                : new long[] {s.groups(), s.outChannels() / s.groups(), icg, s.kernelH(), s.kernelW()};
    }

    /** The weight in the layout {@code packed} a primitive chose; reordered on first request, then shared. */
    synchronized memory blocked(memory.desc packed) {
        for (memory m : blocked) {
            if (m.get_desc().equals(packed)) {
                return m;
            }
        }
        memory m = Dnnl.owned(packed);
        memory.format_tag plainTag = spec.groups() == 1 ? memory.format_tag.oihw : memory.format_tag.goihw;
        try (memory plain = Dnnl.bytes(new memory.desc(dims(), memory.data_type.s8, plainTag), weight)) {
            stream s = Dnnl.stream();
            new reorder(plain, m).execute(s, plain, m);
            s._wait();
        }
        blocked.add(m);
        return m;
    }
}
