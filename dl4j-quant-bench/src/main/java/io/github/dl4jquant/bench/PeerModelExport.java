package io.github.dl4jquant.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Writes the {@link BenchModels} networks, weights included, in a form the peer engines read outside this JVM, so
 * that PyTorch 2.x and ONNX Runtime time the same networks with the same weights and inputs as our benchmarks
 * (PyTorch 2.x's JavaCPP cannot share a JVM with ND4J's).
 *
 * <p>Per model, a directory with {@code manifest.json} and raw little-endian float32 files (C order). The manifest
 * lists the nodes in topological order: {@code dense} (weight [out, in] as PyTorch's {@code nn.Linear}, bias,
 * activation relu/identity/softmax), {@code flatten} (NCHW to [n, c*h*w], C order, what DL4J's
 * CnnToFeedForwardPreProcessor does), {@code conv} (weight [out, in, kh, kw], bias, stride, pads [top, left, bottom,
 * right] as DL4J's ConvolutionMode.Same computes them, activation), {@code batchnorm} (gamma, beta, mean, var, eps),
 * {@code relu}, {@code maxpool} (kernel, stride), {@code add} and {@code globalavgpool} (to [n, c]). {@code input.f32}
 * holds 256 rows of the timed input (a batch b times the first b), {@code calibration.f32} the rows our int8 model
 * was calibrated on (BenchModels.calibrated), {@code expected-output.f32} DL4J's fp32 output on the first 8 input
 * rows, against which a peer checks that it runs the same network.
 *
 * <pre>{@code
 * java -cp ... io.github.dl4jquant.bench.PeerModelExport dl4j-quant-bench/target/peer-models mlp lenet
 * }</pre>
 */
public final class PeerModelExport {
    /** The models the peers time: every BenchModels model but the LSTM. */
    static final List<String> MODELS = List.of("dense784x512", "dense4096", "mlp", "lenet", "resnet");
    private static final int TIMED_ROWS = 256;
    /** DL4J's fp32 output on the first rows of the input, for the peers to check they run the same network. */
    private static final int CHECKED_ROWS = 8;

    private final Path dir;
    private final ComputationGraph graph;
    private final Map<String, INDArray> activations;

    private PeerModelExport(Path dir, ComputationGraph graph, long[] example) {
        this.dir = dir;
        this.graph = graph;
        this.activations = new HashMap<>(graph.feedForward(new INDArray[] {BenchModels.input(1, 1, example)}, false, false));
    }

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : "dl4j-quant-bench/target/peer-models");
        List<String> models = args.length > 1 ? List.of(args).subList(1, args.length) : MODELS;
        for (String model : models) {
            export(root.resolve(model), model);
        }
    }

    static void export(Path dir, String model) throws IOException {
        Files.createDirectories(dir);
        long[] example = BenchModels.inputShape(model);
        ComputationGraph g = BenchModels.fp32(model);
        PeerModelExport e = new PeerModelExport(dir, g, example);
        Map<String, Object> manifest = new LinkedHashMap<>();
        manifest.put("model", model);
        manifest.put("exampleShape", example);
        INDArray input = BenchModels.timedInput(model, TIMED_ROWS);
        manifest.put("input", e.tensor("input", input));
        manifest.put("expectedOutput", e.tensor("expected-output",
                g.outputSingle(input.get(NDArrayIndex.interval(0, CHECKED_ROWS)))));
        manifest.put("calibration", e.tensor("calibration", Nd4j.concat(0, BenchModels.calibrationInputs(g, example))));
        manifest.put("nodes", e.nodes());
        manifest.put("output", g.getConfiguration().getNetworkOutputs().get(0));
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("manifest.json").toFile(),
                manifest);
    }

    private List<Map<String, Object>> nodes() throws IOException {
        ComputationGraphConfiguration conf = graph.getConfiguration();
        List<Map<String, Object>> nodes = new ArrayList<>();
        for (String name : conf.getTopologicalOrderStr()) {
            GraphVertex v = conf.getVertices().get(name);
            if (v == null) {
                continue; // a network input
            }
            List<String> inputs = conf.getVertexInputs().get(name);
            if (v instanceof LayerVertex lv && lv.getPreProcessor() != null) {
                Map<String, Object> reshape = preProcessor(name, lv.getPreProcessor(), inputs);
                nodes.add(reshape);
                inputs = List.of((String) reshape.get("name"));
            }
            nodes.add(node(name, v, inputs));
        }
        return nodes;
    }

    /** DL4J's flatten before a dense layer, or its reshape of flat pixels before a convolution. */
    private Map<String, Object> preProcessor(String name, InputPreProcessor p, List<String> inputs) {
        if (p instanceof CnnToFeedForwardPreProcessor) {
            return node(name + "_flatten", "flatten", inputs);
        }
        if (p instanceof FeedForwardToCnnPreProcessor f) {
            Map<String, Object> n = node(name + "_reshape", "reshape", inputs);
            n.put("shape", new long[] {f.getNumChannels(), f.getInputHeight(), f.getInputWidth()});
            activations.put(name + "_reshape", activations.get(inputs.get(0))
                    .reshape('c', 1, f.getNumChannels(), f.getInputHeight(), f.getInputWidth()));
            return n;
        }
        throw new IllegalArgumentException("PeerModelExport: the preprocessor of '" + name + "' (" + p
                + ") has no peer equivalent");
    }

    private Map<String, Object> node(String name, GraphVertex v, List<String> inputs) throws IOException {
        if (v instanceof ElementWiseVertex ew && ew.getOp() == ElementWiseVertex.Op.Add) {
            return node(name, "add", inputs);
        }
        Layer l = v instanceof LayerVertex lv ? lv.getLayerConf().getLayer() : null;
        if (l instanceof DenseLayer || l instanceof OutputLayer) {
            return dense(name, (BaseLayer) l, inputs);
        }
        if (l instanceof ConvolutionLayer c) {
            return conv(name, c, inputs);
        }
        if (l instanceof BatchNormalization bn) {
            return batchNorm(name, bn, inputs);
        }
        if (l instanceof ActivationLayer a && activation(a.getActivationFn().toString()).equals("relu")) {
            return node(name, "relu", inputs);
        }
        if (l instanceof SubsamplingLayer s && s.getPoolingType() == PoolingType.MAX) {
            Map<String, Object> n = node(name, "maxpool", inputs);
            n.put("kernel", s.getKernelSize());
            n.put("stride", s.getStride());
            return n;
        }
        if (l instanceof GlobalPoolingLayer gp && gp.getPoolingType() == PoolingType.AVG) {
            return node(name, "globalavgpool", inputs);
        }
        throw new IllegalArgumentException("PeerModelExport: vertex '" + name + "' (" + v
                + ") has no peer equivalent; extend PeerModelExport or leave the model out");
    }

    private Map<String, Object> dense(String name, BaseLayer l, List<String> inputs) throws IOException {
        Map<String, Object> n = node(name, "dense", inputs);
        n.put("weight", tensor(name + ".weight", graph.getLayer(name).getParam("W").transpose()));
        n.put("bias", tensor(name + ".bias", graph.getLayer(name).getParam("b").reshape(-1)));
        n.put("activation", activation(l.getActivationFn().toString()));
        return n;
    }

    private Map<String, Object> conv(String name, ConvolutionLayer c, List<String> inputs) throws IOException {
        Map<String, Object> n = node(name, "conv", inputs);
        n.put("weight", tensor(name + ".weight", graph.getLayer(name).getParam("W")));
        n.put("bias", tensor(name + ".bias", graph.getLayer(name).getParam("b").reshape(-1)));
        n.put("stride", c.getStride());
        n.put("pads", samePads(c, activations.get(inputs.get(0)).shape(), activations.get(name).shape()));
        n.put("activation", activation(c.getActivationFn().toString()));
        return n;
    }

    /** [top, left, bottom, right]: DL4J's Same mode puts the smaller half of the padding first. */
    private static long[] samePads(ConvolutionLayer c, long[] in, long[] out) {
        long[] pads = new long[4];
        for (int d = 0; d < 2; d++) {
            long total = Math.max(0, (out[2 + d] - 1) * c.getStride()[d] + c.getKernelSize()[d] - in[2 + d]);
            pads[d] = total / 2;
            pads[2 + d] = total - total / 2;
        }
        return pads;
    }

    private Map<String, Object> batchNorm(String name, BatchNormalization bn, List<String> inputs) throws IOException {
        org.deeplearning4j.nn.api.Layer layer = graph.getLayer(name);
        INDArray var = layer.paramTable().containsKey("var") ? layer.getParam("var")
                : pow10(layer.getParam("log10stdev").mul(2)).sub(bn.getEps());
        Map<String, Object> n = node(name, "batchnorm", inputs);
        n.put("gamma", tensor(name + ".gamma", layer.getParam("gamma").reshape(-1)));
        n.put("beta", tensor(name + ".beta", layer.getParam("beta").reshape(-1)));
        n.put("mean", tensor(name + ".mean", layer.getParam("mean").reshape(-1)));
        n.put("var", tensor(name + ".var", var.reshape(-1)));
        n.put("eps", bn.getEps());
        return n;
    }

    private static INDArray pow10(INDArray x) {
        return org.nd4j.linalg.ops.transforms.Transforms.pow(Nd4j.valueArrayOf(x.shape(), 10.0f), x, false);
    }

    private static String activation(String dl4jName) {
        String a = dl4jName.toLowerCase();
        if (a.contains("relu")) {
            return "relu";
        }
        if (a.contains("softmax")) {
            return "softmax";
        }
        if (a.contains("identity")) {
            return "identity";
        }
        throw new IllegalArgumentException("PeerModelExport: activation " + dl4jName + " has no peer equivalent");
    }

    private static Map<String, Object> node(String name, String op, List<String> inputs) {
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("name", name);
        n.put("op", op);
        n.put("inputs", inputs);
        return n;
    }

    /** Writes {@code a} as {@code <name>.f32}; its manifest entry. */
    private Map<String, Object> tensor(String name, INDArray a) throws IOException {
        INDArray c = a.castTo(DataType.FLOAT).dup('c');
        ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(c.length() * 4)).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(c.data().asFloat());
        String file = name + ".f32";
        Files.write(dir.resolve(file), bytes.array());
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("file", file);
        t.put("shape", c.shape());
        return t;
    }
}
