package io.github.dl4jquant.bench.peers;

import static org.bytedeco.pytorch.global.torch.adaptive_avg_pool2d;
import static org.bytedeco.pytorch.global.torch.constant_pad_nd;
import static org.bytedeco.pytorch.global.torch.max_pool2d;

import com.fasterxml.jackson.databind.JsonNode;
import org.bytedeco.pytorch.Tensor;

/**
 * The ops that run the same on fp32 and quint8 tensors (a quantized output keeps its input's qparams, as convert_fx
 * leaves them): relu, max pooling, global average pooling, flatten, reshape, and the explicit padding before a conv
 * whose DL4J Same-mode padding is asymmetric.
 */
final class PyTorch2CommonSteps {
    private PyTorch2CommonSteps() {
    }

    /** The step for {@code node} if its op is one of these, else null. */
    static PyTorch2Step of(JsonNode node) {
        switch (node.get("op").asText()) {
            case "relu":
                return in -> in[0].relu();
            case "maxpool":
                return maxPool(PeerModel.longs(node.get("kernel")), PeerModel.longs(node.get("stride")));
            case "globalavgpool":
                // nn.AdaptiveAvgPool2d(1) + flatten: [n, c, h, w] to [n, c]
                return in -> adaptive_avg_pool2d(in[0], 1, 1).flatten(1, -1);
            case "flatten":
                // C order over (c, h, w), as DL4J's CnnToFeedForwardPreProcessor
                return in -> in[0].flatten(1, -1);
            case "reshape":
                return reshape(PeerModel.longs(node.get("shape")));
            default:
                return null;
        }
    }

    private static PyTorch2Step maxPool(long[] kernel, long[] stride) {
        long[] noPadding = {0, 0};
        long[] dilation = {1, 1};
        return in -> max_pool2d(in[0], kernel, stride, noPadding, dilation, false);
    }

    private static PyTorch2Step reshape(long[] example) {
        return in -> {
            long[] shape = new long[example.length + 1];
            shape[0] = in[0].size(0);
            System.arraycopy(example, 0, shape, 1, example.length);
            return in[0].reshape(shape);
        };
    }

    /**
     * A conv's padding [top, left, bottom, right]: symmetric ones go to the conv itself, asymmetric ones (DL4J Same
     * mode's stride-2 3x3 conv: [0, 0, 1, 1]) to a zero {@code constant_pad_nd} ({@code F.pad}) before a conv
     * without padding.
     */
    record Pads(long top, long left, long bottom, long right) {
        static Pads of(JsonNode conv) {
            long[] p = PeerModel.longs(conv.get("pads"));
            if (p.length != 4) {
                throw new IllegalArgumentException("Conv '" + conv.get("name").asText() + "' has pads "
                        + conv.get("pads") + ", expected [top, left, bottom, right]: export the model again");
            }
            return new Pads(p[0], p[1], p[2], p[3]);
        }

        boolean symmetric() {
            return top == bottom && left == right;
        }

        /** The conv's own padding [h, w]. */
        long[] convPadding() {
            return symmetric() ? new long[] {top, left} : new long[] {0, 0};
        }

        /**
         * {@code x} padded with zeros where the conv's own padding cannot (F.pad's order: left, right, top,
         * bottom); a quint8 tensor is padded with its zero point, i.e. real 0, and keeps its qparams.
         */
        Tensor prePad(Tensor x) {
            return symmetric() ? x : constant_pad_nd(x, left, right, top, bottom);
        }
    }
}
