#!/usr/bin/python3
"""ONNX models of the benchmark networks PeerModelExport wrote, for ONNX Runtime's timings (OnnxRuntimeBenchmark).

Usage: /usr/bin/python3 build_onnx_models.py [PEER_MODELS_DIR [MODEL ...]]
       (default dl4j-quant-bench/target/peer-models and every model directory in it)

Needs Debian's python3-onnx (1.12) and numpy only; ONNX Runtime's python package is not used (nor available), so the
int8 model is what onnxruntime.quantization.quantize_static (ORT 1.20) would write, rebuilt here step by step:

  fp32.onnx  opset 13, dynamic batch dimension: Gemm (transB=1, weight [out, in] as exported) + Relu/Softmax, Conv,
             BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool + Flatten, Reshape (flat 784 to [1, 28, 28]),
             Flatten (NCHW to [n, c*h*w]). Checked in numpy against DL4J's expected-output.f32 (1e-4).
  int8.onnx  the QDQ model, built the way quantize_static(quant_format=QDQ, activation_type=QUInt8,
             weight_type=QInt8, per_channel=True, calibrate_method=MinMax) builds it after quant_pre_process:
             1. pre-processing: BatchNormalization folded into the Conv before it (ORT's ConvBNFusion, float32).
             2. calibration: MinMax over the manifest's calibration rows, computed in numpy through the folded fp32
                net, for every float input/output of a node whose op type quantize_static quantizes by default
                (Conv, Gemm, Relu, MaxPool, Add, GlobalAveragePool, Softmax, Reshape, ...; not Flatten).
             3. QDQ insertion, op by op as ORT's QDQ op quantizers do it:
                Conv/Gemm  input and output activations, weight int8 symmetric per output channel (Conv axis 0,
                           Gemm with transB axis 0; [-127, 127], zero point 0) stored quantized with only a
                           DequantizeLinear, bias int32 with scale = input_scale * weight_scale (per channel).
                Relu       removed (QDQRemovableActivation): its producer writes the Relu's output, whose calibrated
                           range [0, max] then gives the producer's output Q/DQ, so uint8 saturation is the ReLU.
                MaxPool,   (QDQDirect8BitOp) only when the input is already quantized; output shares the input's
                Reshape    scale/zero point, so ORT drops the DQ/Q around it.
                Add, GlobalAveragePool  every input and output (QDQOperatorBase).
                Softmax    input calibrated, output fixed to scale 1/256, zero point 0 (QDQSoftmax).
                Flatten    not quantized: DQ -> Flatten -> Q, as quantize_static leaves it.
             Activations: uint8 asymmetric, scale = (max(rmax,0) - min(rmin,0)) / 255, zero point
             round(-rmin / scale), computed in float64 then scale cast to float32 (quant_utils.compute_scale_zp).
             One shared Q/DQ pair per tensor (DedicatedQDQPair=False); graph outputs keep their names.
             Not mirrored: ORT 1.20's weight-scale adjustment for int32 bias overflow, which fires only if
             |bias| > ~2^31 * input_scale * weight_scale; this script fails instead if a bias would need it.

Both are written next to manifest.json and pass onnx.checker (full check, with shape inference). ORT's graph
optimizer (level ALL) is what fuses the QDQ groups into QLinearConv / QGemm / QLinearAdd /
QLinearGlobalAveragePool / QLinearSoftmax; OrtKernelCheck shows which ops it actually runs.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
BATCH = "batch"
# quantize_static's default op_types_to_quantize (QLinearOpsRegistry + QDQRegistry keys, ORT 1.20) that occur here,
# and the ones that decide which tensors the MinMax calibrator observes. Flatten is in neither registry.
QUANTIZED_OPS = {"Conv", "Gemm", "MatMul", "Relu", "MaxPool", "Add", "GlobalAveragePool", "Softmax", "Reshape"}


# ---------------------------------------------------------------- the fp32 graph, from the manifest

class Graph:
    """Nodes (op, inputs, outputs, attrs) in topological order, float32 initializers, one input, one output."""

    def __init__(self, input_name, example_shape):
        self.nodes = []
        self.inits = {}
        self.input = input_name
        self.example_shape = list(example_shape)
        self.output = None

    def add(self, op, inputs, outputs, **attrs):
        self.nodes.append({"op": op, "inputs": list(inputs), "outputs": list(outputs), "attrs": attrs,
                           "name": outputs[0] + "_" + op})

    def init(self, name, array):
        self.inits[name] = array
        return name


def load_tensor(model_dir, entry):
    data = np.fromfile(os.path.join(model_dir, entry["file"]), dtype="<f4")
    shape = entry["shape"]
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{entry} in {model_dir} holds {data.size} floats, not {shape}: export the model again")
    return data.reshape(shape).astype(np.float32)


def fp32_graph(model_dir, manifest):
    """The network as the manifest lists it; each manifest node's output tensor keeps the node's name."""
    g = Graph("in", manifest["exampleShape"])
    for n in manifest["nodes"]:
        name, op, inputs = n["name"], n["op"], n["inputs"]
        if op == "dense":
            w = g.init(name + ".weight", load_tensor(model_dir, n["weight"]))
            b = g.init(name + ".bias", load_tensor(model_dir, n["bias"]))
            act = n["activation"]
            if act == "identity":
                g.add("Gemm", [inputs[0], w, b], [name], transB=1)
            elif act in ("relu", "softmax"):
                g.add("Gemm", [inputs[0], w, b], [name + "_gemm"], transB=1)
                g.add("Relu" if act == "relu" else "Softmax", [name + "_gemm"], [name])
            else:
                raise ValueError(f"dense node '{name}': activation '{act}' has no ONNX mapping here")
        elif op == "conv":
            w = g.init(name + ".weight", load_tensor(model_dir, n["weight"]))
            b = g.init(name + ".bias", load_tensor(model_dir, n["bias"]))
            if n["activation"] != "identity":
                raise ValueError(f"conv node '{name}': activation '{n['activation']}' not supported (export uses "
                                 "separate relu nodes)")
            kh, kw = n["weight"]["shape"][2:]
            # both the manifest and ONNX order pads [top, left, bottom, right] (x1_begin, x2_begin, x1_end, x2_end)
            g.add("Conv", [inputs[0], w, b], [name], kernel_shape=[kh, kw], strides=n["stride"], pads=n["pads"])
        elif op == "batchnorm":
            ins = [inputs[0]] + [g.init(f"{name}.{k}", load_tensor(model_dir, n[k]))
                                 for k in ("gamma", "beta", "mean", "var")]
            g.add("BatchNormalization", ins, [name], epsilon=float(n["eps"]))
        elif op == "relu":
            g.add("Relu", inputs, [name])
        elif op == "maxpool":
            g.add("MaxPool", inputs, [name], kernel_shape=n["kernel"], strides=n["stride"])
        elif op == "add":
            g.add("Add", inputs, [name])
        elif op == "globalavgpool":
            g.add("GlobalAveragePool", inputs, [name + "_pool"])
            g.add("Flatten", [name + "_pool"], [name], axis=1)
        elif op == "flatten":
            g.add("Flatten", inputs, [name], axis=1)
        elif op == "reshape":
            shape = g.init(name + ".shape", np.array([-1] + n["shape"], dtype=np.int64))
            g.add("Reshape", [inputs[0], shape], [name])
        else:
            raise ValueError(f"node '{name}': op '{op}' has no ONNX mapping in build_onnx_models.py")
    g.output = manifest["output"]
    return g


def fold_batchnorm(g):
    """ORT's ConvBNFusion (quant_pre_process runs ORT's basic optimizations): Conv -> BN becomes one Conv."""
    out = Graph(g.input, g.example_shape)
    out.inits = dict(g.inits)
    out.output = g.output
    consumers = consumer_map(g)
    producer = {}
    for n in g.nodes:
        if n["op"] == "BatchNormalization" and n["inputs"][0] in producer:
            conv = producer[n["inputs"][0]]
            if conv["op"] == "Conv" and len(consumers[conv["outputs"][0]]) == 1:
                gamma, beta, mean, var = (g.inits[i] for i in n["inputs"][1:])
                scale = (gamma / np.sqrt(var + np.float32(n["attrs"]["epsilon"]))).astype(np.float32)
                w, b = conv["inputs"][1], conv["inputs"][2]
                out.inits[w] = (g.inits[w] * scale[:, None, None, None]).astype(np.float32)
                out.inits[b] = ((g.inits[b] - mean) * scale + beta).astype(np.float32)
                for k in n["inputs"][1:]:
                    del out.inits[k]
                conv["outputs"] = list(n["outputs"])  # the Conv now writes the BN's output
                continue
        n = dict(n)  # a copy: the folding and the QDQ pass rename outputs, g stays as fp32.onnx has it
        out.nodes.append(n)
        for t in n["outputs"]:
            producer[t] = n
    return out


def consumer_map(g):
    consumers = {}
    for n in g.nodes:
        for t in n["inputs"]:
            consumers.setdefault(t, []).append(n)
    return consumers


# ---------------------------------------------------------------- a numpy interpreter for these ops (float32)

def conv2d(x, w, b, strides, pads):
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = w.shape[2:]
    sh, sw = strides
    out = []
    for i in range(0, x.shape[0], 16):  # chunks keep the im2col view's copy small
        win = np.lib.stride_tricks.sliding_window_view(xp[i:i + 16], (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # [n, ho, wo, o]
        out.append(np.ascontiguousarray(y.transpose(0, 3, 1, 2)))
    return (np.concatenate(out) + b[None, :, None, None]).astype(np.float32)


def run_node(n, env, inits):
    a = n["attrs"]
    x = [env[i] if i in env else inits[i] for i in n["inputs"]]
    op = n["op"]
    if op == "Gemm":
        return x[0] @ x[1].T + x[2]
    if op == "Relu":
        return np.maximum(x[0], np.float32(0))
    if op == "Softmax":
        e = np.exp(x[0] - x[0].max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if op == "Conv":
        return conv2d(x[0], x[1], x[2], a["strides"], a["pads"])
    if op == "BatchNormalization":
        gamma, beta, mean, var = (v[None, :, None, None] for v in x[1:])
        return (x[0] - mean) / np.sqrt(var + np.float32(a["epsilon"])) * gamma + beta
    if op == "MaxPool":
        (kh, kw), (sh, sw) = a["kernel_shape"], a["strides"]
        win = np.lib.stride_tricks.sliding_window_view(x[0], (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        return win.max(axis=(4, 5))
    if op == "Add":
        return x[0] + x[1]
    if op == "GlobalAveragePool":
        return x[0].mean(axis=(2, 3), keepdims=True)
    if op == "Flatten":
        return x[0].reshape(x[0].shape[0], -1)
    if op == "Reshape":
        return x[0].reshape(x[1])
    raise ValueError(f"numpy interpreter: no op {op}")


def run(g, batch):
    """Every tensor of g on the input batch, float32."""
    env = {g.input: batch.astype(np.float32)}
    for n in g.nodes:
        env[n["outputs"][0]] = np.asarray(run_node(n, env, g.inits), dtype=np.float32)
    return env


# ---------------------------------------------------------------- ORT's quantization arithmetic (quant_utils)

def compute_scale_zp(rmin, rmax, qmin, qmax, symmetric):
    """quant_utils.compute_scale_zp: the range widened to hold 0, float64 arithmetic, scale as float32."""
    rmin = min(np.float32(rmin), np.float32(0))
    rmax = max(np.float32(rmax), np.float32(0))
    if symmetric:
        absmax = max(abs(rmin), abs(rmax))
        rmin, rmax = -absmax, absmax
    scale = np.float64(rmax - rmin) / (np.float64(qmax) - np.float64(qmin))
    if scale < np.finfo(np.float32).tiny:
        return np.float32(1.0), 0
    if symmetric:
        zp = int(np.round((qmin + qmax) / 2.0))
    else:
        zp = int(np.round(qmin - np.float64(rmin) / scale))
    return np.float32(scale), zp


def quantize_weight_per_channel(w, axis):
    """quantize_weight_per_channel_impl with QInt8, WeightSymmetric (default for signed types): [-127, 127], zp 0."""
    scales = np.zeros(w.shape[axis], dtype=np.float32)
    q = np.zeros(w.shape, dtype=np.int8)
    for i in range(w.shape[axis]):
        c = w.take(i, axis)
        s, zp = compute_scale_zp(c.min(), c.max(), -127, 127, symmetric=True)
        assert zp == 0
        qc = np.clip((c.astype(np.float32) / s).round() + zp, -128, 127).astype(np.int8)  # quantize_nparray
        idx = [slice(None)] * w.ndim
        idx[axis] = i
        q[tuple(idx)] = qc
        scales[i] = s
    return q, scales


def quantize_bias(b, x_scale, w_scales, name):
    """quantize_bias_static_impl: int32, scale input_scale * weight_scale (float32), zero point 0."""
    b_scale = (np.float32(x_scale) * w_scales).astype(np.float32)
    # ORT 1.20 would enlarge the weight scale instead (_adjust_weight_scale_for_int32_bias); not mirrored
    qrange = np.float64(np.iinfo(np.int32).max) - np.float64(np.iinfo(np.int32).min + 1)
    smallest = 1.0001 * 2.0 * np.abs(b.astype(np.float64)) / qrange
    if np.any(b_scale.astype(np.float64) < smallest):
        raise ValueError(f"bias '{name}': input_scale * weight_scale too small for int32 (ORT 1.20 would enlarge the "
                         "weight scale here; build_onnx_models.py does not mirror that)")
    q = np.clip((b / b_scale).round(), np.iinfo(np.int32).min, np.iinfo(np.int32).max).astype(np.int32)
    return q, b_scale


# ---------------------------------------------------------------- quantize_static's QDQ pass

class QdqQuantizer:
    """The tensor bookkeeping of ORT's QDQQuantizer for the op types these networks use (see the module docstring)."""

    ACTIVATION, SHARED = "activation", "shared"

    def __init__(self, g, ranges):
        self.g = g
        self.ranges = ranges  # calibrated tensor -> (min, max)
        self.overrides = {}  # tensor -> (scale, zp), e.g. Softmax's output
        self.activations = {}  # tensor -> (kind, provider), insertion ordered
        self.weights = {}  # initializer -> per-channel axis
        self.biases = []  # (bias, input, weight)
        self.removed = []

    def run(self):
        for n in self.g.nodes:
            if n["op"] in QUANTIZED_OPS:
                getattr(self, "_" + n["op"].lower())(n)
        self.g.nodes = [n for n in self.g.nodes if n not in self.removed]
        return self

    # the op quantizers
    def _conv(self, n):
        self._weighted(n, axis=0)

    def _gemm(self, n):
        if n["attrs"].get("transB", 0) != 1:
            raise ValueError(f"Gemm '{n['name']}': expected transB=1 (weight [out, in])")
        self._weighted(n, axis=0)

    def _weighted(self, n, axis):  # QDQConv / QDQGemm with per_channel=True
        self.quantize_activation(n["inputs"][0])
        self.quantize_activation(n["outputs"][0])
        self.weights[n["inputs"][1]] = axis
        if len(n["inputs"]) == 3:
            self.biases.append((n["inputs"][2], n["inputs"][0], n["inputs"][1]))

    def _relu(self, n):  # QDQRemovableActivation, asymmetric activations, QDQKeepRemovableActivations=False
        upstream, out = n["inputs"][0], n["outputs"][0]
        if self.try_replacing_upstream_output(upstream, out):
            self.removed.append(n)
        else:
            self.quantize_activation(upstream)
        self.quantize_activation(out)

    def _maxpool(self, n):  # QDQMaxPool -> QDQDirect8BitOp, ForceQuantizeNoInputCheck=False
        if n["inputs"][0] in self.activations:
            self.quantize_output_same_as_input(n["outputs"][0], n["inputs"][0])

    _reshape = _maxpool

    def _add(self, n):  # QDQOperatorBase
        for t in n["inputs"] + n["outputs"]:
            self.quantize_activation(t)

    _globalaveragepool = _add

    def _softmax(self, n):  # QDQSoftmax: QDQOperatorBase, then the output's parameters fixed for uint8
        self._add(n)
        self.overrides[n["outputs"][0]] = (np.float32(1 / 256.0), 0)

    # the quantizer's helpers
    def quantize_activation(self, t):
        if t not in self.g.inits and t not in self.activations:
            self.activations[t] = (self.ACTIVATION, None)

    def quantize_output_same_as_input(self, out, inp):
        if out not in self.activations:
            self.activations[out] = (self.SHARED, inp)

    def try_replacing_upstream_output(self, upstream, out):
        consumers = [n for n in self.g.nodes if upstream in n["inputs"] and n not in self.removed]
        if out in self.ranges and len(consumers) == 1 and upstream not in (self.g.output, self.g.input):
            for n in self.g.nodes:
                n["outputs"] = [out if t == upstream else t for t in n["outputs"]]
            self.activations.pop(upstream, None)
            return True
        return False

    def params(self, t):
        kind, provider = self.activations[t]
        if kind == self.SHARED:
            return self.params(provider)
        if t in self.overrides:
            return self.overrides[t]
        if t not in self.ranges:
            raise ValueError(f"tensor '{t}' is to be quantized but was not calibrated")
        return compute_scale_zp(*self.ranges[t], 0, 255, symmetric=False)

    # writing the QDQ graph
    def onnx_graph(self):
        nodes, inits = [], []
        rename = {}  # activation -> its DequantizeLinear output, for the consumers
        for t in self.activations:
            scale, zp = self.params(t)
            inits += [numpy_helper.from_array(np.array(scale, dtype=np.float32), t + "_scale"),
                      numpy_helper.from_array(np.array(zp, dtype=np.uint8), t + "_zero_point")]
            q_in, dq_out = t, t + "_DequantizeLinear_Output"
            if t == self.g.output:  # graph outputs keep their name: the producer writes "_QuantizeLinear_Input"
                q_in, dq_out = t + "_QuantizeLinear_Input", t
                rename_output(self.g, t, q_in)
            else:
                rename[t] = dq_out
            nodes.append(helper.make_node("QuantizeLinear", [q_in, t + "_scale", t + "_zero_point"],
                                          [t + "_QuantizeLinear_Output"], t + "_QuantizeLinear"))
            nodes.append(helper.make_node("DequantizeLinear",
                                          [t + "_QuantizeLinear_Output", t + "_scale", t + "_zero_point"],
                                          [dq_out], t + "_DequantizeLinear"))
        for w, axis in self.weights.items():
            q, scales = quantize_weight_per_channel(self.g.inits[w], axis)
            inits += [numpy_helper.from_array(q, w + "_quantized"),
                      numpy_helper.from_array(scales, w + "_scale"),
                      numpy_helper.from_array(np.zeros(scales.shape, dtype=np.int8), w + "_zero_point")]
            nodes.append(helper.make_node("DequantizeLinear", [w + "_quantized", w + "_scale", w + "_zero_point"],
                                          [w + "_DequantizeLinear_Output"], w + "_DequantizeLinear", axis=axis))
            rename[w] = w + "_DequantizeLinear_Output"
        for b, x, w in self.biases:
            _, w_scales = quantize_weight_per_channel(self.g.inits[w], self.weights[w])
            q, b_scale = quantize_bias(self.g.inits[b], self.params(x)[0], w_scales, b)
            inits += [numpy_helper.from_array(q, b + "_quantized"),
                      numpy_helper.from_array(b_scale, b + "_quantized_scale"),
                      numpy_helper.from_array(np.zeros(q.shape, dtype=np.int32), b + "_quantized_zero_point")]
            nodes.append(helper.make_node("DequantizeLinear",
                                          [b + "_quantized", b + "_quantized_scale", b + "_quantized_zero_point"],
                                          [b + "_DequantizeLinear_Output"], b + "_DequantizeLinear", axis=0))
            rename[b] = b + "_DequantizeLinear_Output"
        quantized_inits = set(self.weights) | {b for b, _, _ in self.biases}
        for n in self.g.nodes:
            nodes.append(make_node(n, [rename.get(t, t) for t in n["inputs"]]))
        inits += [numpy_helper.from_array(v, k) for k, v in self.g.inits.items() if k not in quantized_inits]
        return onnx_model(self.g, topological(nodes), inits, "int8 QDQ (quantize_static-equivalent)")


def rename_output(g, old, new):
    for n in g.nodes:
        n["outputs"] = [new if t == old else t for t in n["outputs"]]


def calibrate(g, rows):
    """MinMaxCalibrater: min and max over all calibration rows of every float input/output of a quantized op."""
    env = run(g, rows)
    tensors = {t for n in g.nodes if n["op"] in QUANTIZED_OPS for t in n["inputs"] + n["outputs"]
               if t not in g.inits}
    return {t: (env[t].min(), env[t].max()) for t in tensors}


# ---------------------------------------------------------------- writing ONNX

def make_node(n, inputs):
    return helper.make_node(n["op"], inputs, n["outputs"], n["name"], **n["attrs"])


def topological(nodes):
    produced = {}
    for i, n in enumerate(nodes):
        for t in n.output:
            produced[t] = i
    order, done, visiting = [], set(), set()

    def visit(i):
        if i in done:
            return
        if i in visiting:
            raise ValueError("cycle in the graph at " + nodes[i].name)
        visiting.add(i)
        for t in nodes[i].input:
            if t in produced:
                visit(produced[t])
        done.add(i)
        order.append(nodes[i])

    for i in range(len(nodes)):
        visit(i)
    return order


def onnx_model(g, nodes, inits, doc):
    x = helper.make_tensor_value_info(g.input, TensorProto.FLOAT, [BATCH] + g.example_shape)
    y = helper.make_tensor_value_info(g.output, TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "dl4j_quant_bench", [x], [y], inits, doc_string=doc)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="dl4j-quant build_onnx_models.py")
    model.ir_version = 7  # opset 13's IR version
    # the output's shape, [batch, ...] by inference
    inferred = onnx.shape_inference.infer_shapes(model)
    out = next(v for v in list(inferred.graph.value_info) + list(inferred.graph.output) if v.name == g.output)
    if out.type.tensor_type.HasField("shape"):
        model.graph.output[0].CopyFrom(out)
        model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = BATCH  # inference names it unk__0
    onnx.checker.check_model(model, full_check=True)
    return model


def fp32_model(g):
    nodes = [make_node(n, n["inputs"]) for n in g.nodes]
    inits = [numpy_helper.from_array(v, k) for k, v in g.inits.items()]
    return onnx_model(g, nodes, inits, "fp32")


def build(model_dir):
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    name = manifest["model"]
    g = fp32_graph(model_dir, manifest)
    inputs = load_tensor(model_dir, manifest["input"])
    expected = load_tensor(model_dir, manifest["expectedOutput"])
    got = run(g, inputs[:expected.shape[0]])[g.output]
    err = float(np.abs(got - expected).max())
    if err > 1e-4:
        raise ValueError(f"{name}: the numpy fp32 net differs from DL4J's expected output by {err} (> 1e-4): the "
                         "manifest is read wrongly")
    onnx.save(fp32_model(g), os.path.join(model_dir, "fp32.onnx"))

    folded = fold_batchnorm(g)
    err_folded = float(np.abs(run(folded, inputs[:expected.shape[0]])[folded.output] - expected).max())
    ranges = calibrate(folded, load_tensor(model_dir, manifest["calibration"]))
    q = QdqQuantizer(folded, ranges).run()
    onnx.save(q.onnx_graph(), os.path.join(model_dir, "int8.onnx"))
    ops = {}
    for n in onnx.load(os.path.join(model_dir, "int8.onnx")).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    print(f"{name}: fp32 max |numpy - DL4J| {err:.2e} (BN folded {err_folded:.2e}); int8.onnx ops {ops}")


def main(argv):
    root = argv[1] if len(argv) > 1 else "dl4j-quant-bench/target/peer-models"
    models = argv[2:] or sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "manifest.json")))
    for m in models:
        build(os.path.join(root, m))


if __name__ == "__main__":
    main(sys.argv)
