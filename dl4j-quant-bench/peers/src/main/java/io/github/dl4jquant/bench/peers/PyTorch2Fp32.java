package io.github.dl4jquant.bench.peers;

import static io.github.dl4jquant.bench.peers.PyTorch2Ops.tensor;
import static org.bytedeco.pytorch.global.torch.batch_norm;
import static org.bytedeco.pytorch.global.torch.conv2d;
import static org.bytedeco.pytorch.global.torch.linear;
import static org.bytedeco.pytorch.global.torch.softmax;

import com.fasterxml.jackson.databind.JsonNode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;

/**
 * A PeerModel as eager {@code torch.nn} runs it in {@code eval()}, one op per manifest node: {@code linear} (+
 * {@code relu} or {@code softmax}), {@code conv2d} (after {@code constant_pad_nd} when DL4J's padding is
 * asymmetric), {@code batch_norm} with the running statistics, {@code relu}, {@code max_pool2d}, {@code add},
 * {@code adaptive_avg_pool2d}, flatten and reshape.
 */
final class PyTorch2Fp32 {
    private static final long[] NO_DILATION = {1, 1};

    private PyTorch2Fp32() {
    }

    static PyTorch2Graph build(PeerModel model) {
        PyTorch2Graph.Builder b = new PyTorch2Graph.Builder(PyTorch2Graph.networkInput(model.nodes()));
        for (JsonNode node : model.nodes()) {
            b.add(step(model, node), PyTorch2Graph.inputs(node), node.get("name").asText());
        }
        return b.build(model.output());
    }

    private static PyTorch2Step step(PeerModel model, JsonNode node) {
        PyTorch2Step common = PyTorch2CommonSteps.of(node);
        if (common != null) {
            return common;
        }
        switch (node.get("op").asText()) {
            case "dense":
                return dense(model, node);
            case "conv":
                return conv(model, node);
            case "batchnorm":
                return batchNorm(model, node);
            case "add":
                return in -> in[0].add(in[1]);
            default:
                throw new IllegalArgumentException("Node '" + node.get("name").asText() + "' of " + model.dir()
                        + " has op '" + node.get("op").asText() + "', which the PyTorch 2 harness does not run");
        }
    }

    private static PyTorch2Step dense(PeerModel model, JsonNode node) {
        Tensor weight = tensor(model, node, "weight");
        TensorOptional bias = new TensorOptional(tensor(model, node, "bias"));
        String activation = activation(node);
        return in -> activate(linear(in[0], weight, bias), activation);
    }

    private static PyTorch2Step conv(PeerModel model, JsonNode node) {
        Tensor weight = tensor(model, node, "weight");
        TensorOptional bias = new TensorOptional(tensor(model, node, "bias"));
        long[] stride = PeerModel.longs(node.get("stride"));
        PyTorch2CommonSteps.Pads pads = PyTorch2CommonSteps.Pads.of(node);
        long[] padding = pads.convPadding();
        String activation = activation(node);
        return in -> activate(conv2d(pads.prePad(in[0]), weight, bias, stride, padding, NO_DILATION, 1), activation);
    }

    private static PyTorch2Step batchNorm(PeerModel model, JsonNode node) {
        TensorOptional gamma = new TensorOptional(tensor(model, node, "gamma"));
        TensorOptional beta = new TensorOptional(tensor(model, node, "beta"));
        TensorOptional mean = new TensorOptional(tensor(model, node, "mean"));
        TensorOptional var = new TensorOptional(tensor(model, node, "var"));
        double eps = node.get("eps").asDouble();
        // training=false: the running statistics, as nn.BatchNorm2d in eval(); cudnn_enabled as torch.nn passes it
        return in -> batch_norm(in[0], gamma, beta, mean, var, false, 0.1, eps, true);
    }

    /** The node's activation: relu, identity or softmax (over dimension 1). */
    static String activation(JsonNode node) {
        String a = node.get("activation").asText();
        if (!a.equals("relu") && !a.equals("identity") && !a.equals("softmax")) {
            throw new IllegalArgumentException("Node '" + node.get("name").asText() + "' has activation '" + a
                    + "'; the PyTorch 2 harness knows relu, identity and softmax");
        }
        return a;
    }

    private static Tensor activate(Tensor x, String activation) {
        switch (activation) {
            case "relu":
                return x.relu();
            case "softmax":
                return softmax(x, 1);
            default:
                return x;
        }
    }
}
