package io.github.dl4jquant.bench.peers;

import static io.github.dl4jquant.bench.peers.PyTorch2Ops.call;
import static io.github.dl4jquant.bench.peers.PyTorch2Ops.intList;
import static io.github.dl4jquant.bench.peers.PyTorch2Ops.op;
import static io.github.dl4jquant.bench.peers.PyTorch2Ops.perChannelQInt8;
import static io.github.dl4jquant.bench.peers.PyTorch2Ops.tensor;
import static org.bytedeco.pytorch.global.torch.conv2d;
import static org.bytedeco.pytorch.global.torch.linear;
import static org.bytedeco.pytorch.global.torch.quantize_per_tensor;
import static org.bytedeco.pytorch.global.torch.softmax;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.OperatorHandle;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A PeerModel as PyTorch's static quantization ({@code prepare_fx}, min/max calibration, {@code convert_fx})
 * lowers it: {@code quantize_per_tensor} of the input (quint8); conv [+ batch norm] [+ relu] fused into one
 * {@code quantized::conv2d.new} / {@code quantized::conv2d_relu.new} with the batch norm folded into the weights
 * ({@code fuse_conv_bn_eval}'s math); dense layers as {@code quantized::linear} / {@code quantized::linear_relu};
 * add + relu as {@code quantized::add_relu}; relu, pooling, flatten and reshape on the quint8 tensors (sharing their
 * input's qparams); {@code dequantize} of the output, then the float softmax where the network ends in one.
 * Weights are per-channel symmetric qint8 ({@link PyTorch2Ops#perChannelQInt8}), packed once by
 * {@code quantized::linear_prepack} / {@code quantized::conv2d_prepack} for the quantized engine selected when
 * {@link #build} runs (the packing is what picks the engine's kernels). Every op's output qparams come from
 * {@link PyTorch2Graph#calibrate}.
 */
final class PyTorch2Int8 {
    private static final long[] NO_DILATION = {1, 1};

    private final PeerModel model;
    private final int quantMax;
    private final Map<String, List<JsonNode>> consumers = new HashMap<>();
    private final Set<String> fused = new HashSet<>();
    private final PyTorch2Graph.Builder graph;
    /** Manifest names whose value lives in another slot (the quantized input). */
    private final Map<String, String> renamed = new HashMap<>();
    private boolean outputDequantized;

    private PyTorch2Int8(PeerModel model, int quantMax) {
        this.model = model;
        this.quantMax = quantMax;
        String input = PyTorch2Graph.networkInput(model.nodes());
        for (JsonNode n : model.nodes()) {
            for (String in : PyTorch2Graph.inputs(n)) {
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
            }
        }
        graph = new PyTorch2Graph.Builder(input);
        graph.add(new Quantize(new PyTorch2Observer(quantMax)), List.of(input), input + "#quint8");
        renamed.put(input, input + "#quint8");
    }

    /**
     * The int8 graph of {@code model}, activations quint8 in [0, quantMax]; packs the weights for the current
     * quantized engine. Calibrate it before running it.
     */
    static PyTorch2Graph build(PeerModel model, int quantMax) {
        PyTorch2Int8 b = new PyTorch2Int8(model, quantMax);
        for (JsonNode node : model.nodes()) {
            if (!b.fused.contains(node.get("name").asText())) {
                b.lower(node);
            }
        }
        return b.finish();
    }

    private void lower(JsonNode node) {
        String name = node.get("name").asText();
        List<String> in = inputs(node);
        PyTorch2Step common = PyTorch2CommonSteps.of(node);
        if (common != null) {
            graph.add(common, in, name);
            return;
        }
        switch (node.get("op").asText()) {
            case "conv":
                lowerConv(node, in);
                break;
            case "dense":
                lowerDense(node, in, name);
                break;
            case "add":
                JsonNode relu = fuse(node, "relu");
                graph.add(new QAdd(relu != null, new PyTorch2Observer(quantMax)), in,
                        relu != null ? relu.get("name").asText() : name);
                break;
            case "batchnorm":
                throw new IllegalArgumentException("Batch norm '" + name + "' of " + model.name() + " does not "
                        + "follow a conv it folds into; convert_fx would lower it to quantized::batch_norm2d, which "
                        + "the PyTorch 2 int8 harness does not (none of the benchmark networks has one)");
            default:
                throw new IllegalArgumentException("Node '" + name + "' of " + model.dir() + " has op '"
                        + node.get("op").asText() + "', which the PyTorch 2 int8 harness does not lower");
        }
    }

    /** conv [+ batchnorm] [+ relu] as one quantized conv; the fusion's output takes its last node's name. */
    private void lowerConv(JsonNode conv, List<String> in) {
        String activation = PyTorch2Fp32.activation(conv);
        if (activation.equals("softmax")) {
            throw new IllegalArgumentException("Conv '" + conv.get("name").asText() + "' ends in a softmax, "
                    + "which the PyTorch 2 int8 harness does not lower");
        }
        // a batch norm folds only into a conv without activation (DL4J applies it before the batch norm)
        boolean identity = activation.equals("identity");
        JsonNode bn = identity ? fuse(conv, "batchnorm") : null;
        JsonNode relu = identity ? fuse(bn != null ? bn : conv, "relu") : null;
        JsonNode last = relu != null ? relu : bn != null ? bn : conv;
        graph.add(new QConv(conv, bn, !identity || relu != null), in, last.get("name").asText());
    }

    private void lowerDense(JsonNode node, List<String> in, String name) {
        String activation = PyTorch2Fp32.activation(node);
        if (!activation.equals("softmax")) {
            graph.add(new QLinear(node, activation.equals("relu")), in, name);
            return;
        }
        if (!name.equals(model.output())) {
            throw new IllegalArgumentException("Dense '" + name + "' has a softmax but is not the network's "
                    + "output; the PyTorch 2 int8 harness dequantizes only the output for a float softmax");
        }
        graph.add(new QLinear(node, false), in, name + "#quint8");
        graph.add(new Dequantize(), List.of(name + "#quint8"), name + "#fp32");
        graph.add(x -> softmax(x[0], 1), List.of(name + "#fp32"), name);
        outputDequantized = true;
    }

    private PyTorch2Graph finish() {
        if (outputDequantized) {
            return graph.build(model.output());
        }
        graph.add(new Dequantize(), List.of(model.output()), model.output() + "#fp32");
        return graph.build(model.output() + "#fp32");
    }

    /** The node with op {@code op} that alone reads {@code node}'s output, marked fused; else null. */
    private JsonNode fuse(JsonNode node, String op) {
        String name = node.get("name").asText();
        List<JsonNode> readers = consumers.getOrDefault(name, List.of());
        if (name.equals(model.output()) || readers.size() != 1 || !readers.get(0).get("op").asText().equals(op)) {
            return null;
        }
        fused.add(readers.get(0).get("name").asText());
        return readers.get(0);
    }

    private List<String> inputs(JsonNode node) {
        List<String> in = new ArrayList<>();
        for (String i : PyTorch2Graph.inputs(node)) {
            in.add(renamed.getOrDefault(i, i));
        }
        return in;
    }

    /** {@code quantize_per_tensor} of the float input, quint8. */
    private static final class Quantize implements PyTorch2Step {
        private final PyTorch2Observer out;

        Quantize(PyTorch2Observer out) {
            this.out = out;
        }

        @Override
        public Tensor run(Tensor[] in) {
            return quantize_per_tensor(in[0], out.scale(), out.zeroPoint(), ScalarType.QUInt8);
        }

        @Override
        public Tensor calibrate(Tensor[] in) {
            return out.observe(in[0]);
        }
    }

    private static final class Dequantize implements PyTorch2Step {
        @Override
        public Tensor run(Tensor[] in) {
            return in[0].dequantize();
        }

        @Override
        public Tensor calibrate(Tensor[] in) {
            return in[0];
        }
    }

    /** {@code quantized::linear[_relu]} on weights packed by {@code quantized::linear_prepack}. */
    private final class QLinear implements PyTorch2Step {
        private final Tensor weight;
        private final TensorOptional bias;
        private final boolean relu;
        private final OperatorHandle op;
        private final IValue packed;
        private final PyTorch2Observer out = new PyTorch2Observer(quantMax);

        QLinear(JsonNode node, boolean relu) {
            weight = tensor(model, node, "weight");
            Tensor b = tensor(model, node, "bias");
            bias = new TensorOptional(b);
            this.relu = relu;
            op = op(relu ? "quantized::linear_relu" : "quantized::linear", "");
            packed = call(op("quantized::linear_prepack", ""), new IValue(perChannelQInt8(weight)), new IValue(b));
        }

        @Override
        public Tensor run(Tensor[] in) {
            return call(op, new IValue(in[0]), packed, out.scaleValue(), out.zeroPointValue()).toTensor();
        }

        @Override
        public Tensor calibrate(Tensor[] in) {
            Tensor y = linear(in[0], weight, bias);
            return out.observe(relu ? y.relu() : y);
        }
    }

    /**
     * {@code quantized::conv2d[_relu].new} on the batch-norm-folded weights packed by
     * {@code quantized::conv2d_prepack}; an asymmetric padding is a quint8 {@code constant_pad_nd} before it.
     */
    private final class QConv implements PyTorch2Step {
        private final Tensor weight;
        private final TensorOptional bias;
        private final long[] stride;
        private final PyTorch2CommonSteps.Pads pads;
        private final boolean relu;
        private final OperatorHandle op;
        private final IValue packed;
        private final PyTorch2Observer out = new PyTorch2Observer(quantMax);

        QConv(JsonNode conv, JsonNode bn, boolean relu) {
            Tensor w = tensor(model, conv, "weight");
            Tensor b = tensor(model, conv, "bias");
            if (bn != null) {
                // fuse_conv_bn_weights: w * gamma / sqrt(var + eps) per output channel, (b - mean) * that + beta
                Tensor s = tensor(model, bn, "gamma")
                        .div(tensor(model, bn, "var").add(new Scalar(bn.get("eps").asDouble())).sqrt());
                w = w.mul(s.reshape(-1, 1, 1, 1));
                b = b.sub(tensor(model, bn, "mean")).mul(s).add(tensor(model, bn, "beta"));
            }
            weight = w;
            bias = new TensorOptional(b);
            stride = PeerModel.longs(conv.get("stride"));
            pads = PyTorch2CommonSteps.Pads.of(conv);
            this.relu = relu;
            op = op(relu ? "quantized::conv2d_relu" : "quantized::conv2d", "new");
            long[] p = pads.convPadding();
            packed = call(op("quantized::conv2d_prepack", ""), new IValue(perChannelQInt8(w)), new IValue(b),
                    intList(stride[0], stride[1]), intList(p[0], p[1]), intList(1, 1), new IValue(1L));
        }

        @Override
        public Tensor run(Tensor[] in) {
            return call(op, new IValue(pads.prePad(in[0])), packed, out.scaleValue(), out.zeroPointValue())
                    .toTensor();
        }

        @Override
        public Tensor calibrate(Tensor[] in) {
            Tensor y = conv2d(pads.prePad(in[0]), weight, bias, stride, pads.convPadding(), NO_DILATION, 1);
            return out.observe(relu ? y.relu() : y);
        }
    }

    /** {@code quantized::add_relu} (or {@code quantized::add}) of two quint8 tensors with their own qparams. */
    private static final class QAdd implements PyTorch2Step {
        private final boolean relu;
        private final OperatorHandle op;
        private final PyTorch2Observer out;

        QAdd(boolean relu, PyTorch2Observer out) {
            this.relu = relu;
            this.op = op(relu ? "quantized::add_relu" : "quantized::add", "");
            this.out = out;
        }

        @Override
        public Tensor run(Tensor[] in) {
            return call(op, new IValue(in[0]), new IValue(in[1]), out.scaleValue(), out.zeroPointValue()).toTensor();
        }

        @Override
        public Tensor calibrate(Tensor[] in) {
            Tensor y = in[0].add(in[1]);
            return out.observe(relu ? y.relu() : y);
        }
    }
}
