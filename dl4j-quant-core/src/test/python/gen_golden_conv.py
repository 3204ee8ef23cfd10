#!/usr/bin/python3
"""Golden vectors from PyTorch 1.13's torch.ao.quantization for convolutional networks.

NOTE TO WHOEVER CONTINUES THIS: the 790-line draft of this script was lost by accident; only this header (docstring,
imports, constants) survived. The docstring's recovered draw order is correct and is the valuable part: rebuild the
rest from it and the structure of /work/shared/golden/{conv_ref,conv_bn_fold,cnn_e2e}.json.

Usage:
    /usr/bin/python3 gen_golden_conv.py OUT_DIR SEED [--compare REF_DIR]

Writes into OUT_DIR: conv_ref.json, conv_bn_fold.json, cnn_e2e.json (the structure of the files the first, lost
generator wrote; with SEED 20261126 they reproduce its numbers), and the newer conv1d_ref.json, pool_ref.json and
cnn_residual_e2e.json. `--compare REF_DIR` then compares the three original files numerically with the ones in REF_DIR
(e.g. /work/shared/golden) and prints every difference; the exit status is 1 if any number differs.

Random draws. One torch generator stream, seeded once with SEED, feeds the three original files in this order (this
order was recovered from the original files, it is what makes them reproducible):
  conv_ref    per case: x = randn(x_shape) * 1.5, w = randn(w_shape) / sqrt(fan_in), b = randn(out) * 0.1
  conv_bn     conv.weight randn*0.3, conv.bias randn*0.2, linear.weight randn*0.4, linear.bias randn*0.2,
              BatchNorm2d(6) then BatchNorm1d(5): weight rand*1.5+0.25, bias randn*0.5, running_mean randn*0.8,
              running_var rand*2+0.05; then the conv input randn [2,4,6,6] and the linear input randn [7,8]
  cnn_e2e     per layer conv1, conv2, fc in that order: weight randn*sqrt(2/fan_in), then bias randn*0.05,
              bn2.weight rand+0.5, bn2.bias randn*0.1, 4 train-mode passes on randint(0,256)/256 [16,1,28,28]
              (the grid inputs, like calibration: not rand as first recovered; same number of draws, but only the
              grid reproduces the running stats),
              calibration randint(0,256)/256 [64,1,28,28], test randint(0,256)/256 [16,1,28,28]
Modules are constructed inside torch.random.fork_rng so that their default initialisation draws nothing from the
stream. The newer content reseeds the generator with a derived seed per section (SEED+1 extra conv2d cases, SEED+2
conv1d, SEED+3 pooling, SEED+4 residual CNN), so adding sections never moves the original numbers.

Every lowered result (torch.ao.nn.quantized modules, convert_fx) runs on quantized engine 'onednn': this torch build
has no fbgemm.
"""
import os

# The shared files were made on a machine whose CPU had AVX2 but no VNNI: oneDNN's float convolution kernels sum in
# an ISA-dependent order, and its u8*s8 int8 kernels without VNNI (vpmaddubsw) saturate pair products to int16 (the
# 16-step differences of conv_ref.json's `lowered`). Capping oneDNN at AVX2 reproduces those numbers bit for bit on
# newer CPUs (AVX-512 / VNNI). Must be set before oneDNN's first use; override by setting the variable yourself.
os.environ.setdefault('ONEDNN_MAX_CPU_ISA', 'AVX2')
os.environ.setdefault('DNNL_MAX_CPU_ISA', os.environ['ONEDNN_MAX_CPU_ISA'])

import copy
import json
import math
import random
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.ao.nn.quantized as nnq
import torch.ao.nn.quantized.reference as nnqr
import torch.nn.intrinsic.quantized as nniq
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver, get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, convert_to_reference_fx, prepare_fx

ENGINE = 'onednn'
GENERATOR = 'torch ' + torch.__version__
ENGINE_NOTE = ("lowered kernels run on quantized engine 'onednn' because this torch build does not support 'fbgemm' "
               "(supported: " + ", ".join(torch.backends.quantized.supported_engines) + "); the qconfig is still "
               "fbgemm's")
QCONFIG_NOTE = ("get_default_qconfig_mapping('fbgemm') (PyTorch 1.13 x86 default): HistogramObserver(quint8, "
                "per_tensor_affine, reduce_range=True, i.e. quant range 0..127) activations; "
                "PerChannelMinMaxObserver(qint8, per_channel_symmetric, ch_axis=0) weights")
INPUTS_NOTE = ("calibration_input and test_input are uniform on the grid k/256, k in 0..255 (values in [0,1), exact "
               "in float32)")
BN_TRAIN_PASSES = 4


# ----------------------------------------------------------------------------------------------------------------------
# helpers

def tl(t):
    """A tensor as nested lists of Python numbers (float32 widened exactly to double; ints stay ints)."""
    return t.detach().cpu().tolist()


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def fork():
    """A fork of the global RNG: code run inside it (module default inits) draws nothing from the main stream."""
    return torch.random.fork_rng(devices=[])


def act_qparams(x, reduce_range=False):
    obs = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=reduce_range)
    obs(x)
    s, z = obs.calculate_qparams()
    return float(s.item()), int(z.item()), obs


def weight_qparams(w):
    obs = PerChannelMinMaxObserver(dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
    obs(w)
    s, z = obs.calculate_qparams()
    return s.float(), z.long()


def qdq(x, scale, zp, dtype=torch.quint8):
    return torch.quantize_per_tensor(x, scale, zp, dtype).dequantize()


def qdq_w(w, scales, zps):
    return torch.quantize_per_channel(w, scales.double(), zps, 0, torch.qint8).dequantize()


def dump(out_dir, name, obj):
    path = os.path.join(out_dir, name)
    with open(path, 'w') as f:
        json.dump(obj, f)
    print('wrote %s (%d bytes)' % (path, os.path.getsize(path)))


def header(seed):
    return {'generator': GENERATOR, 'seed': seed}


# ----------------------------------------------------------------------------------------------------------------------
# conv_ref.json

CONV_CASES = [
    # name, x shape, out, kernel, stride, padding, dilation, groups, relu
    ('k3_s1_p1', [2, 3, 8, 8], 4, 3, 1, 1, 1, 1, False),
    ('k3_s2_p0', [2, 3, 9, 9], 5, 3, 2, 0, 1, 1, False),
    ('k5_s1_p2_relu', [2, 3, 8, 8], 4, 5, 1, 2, 1, 1, True),
    ('depthwise_k3_s1_p1', [2, 4, 7, 7], 4, 3, 1, 1, 1, 4, False),
]


def draw_conv_case(x_shape, out, k, groups, kdims=2, x_mult=1.5):
    cin = x_shape[1]
    w_shape = [out, cin // groups] + [k] * kdims
    fan_in = (cin // groups) * k ** kdims
    x = torch.randn(x_shape) * x_mult
    w = torch.randn(w_shape) / math.sqrt(fan_in)
    b = torch.randn(out) * 0.1
    return x, w, b


def ref_conv_case(name, x, w, b, stride, padding, dilation, groups, relu, dims=2):
    """The reference quantized conv (torch.ao.nn.quantized.reference.Conv{1,2}d semantics), computed by hand and
    checked against the reference module."""
    conv = F.conv2d if dims == 2 else F.conv1d
    s_in, z_in, _ = act_qparams(x)
    ws, wz = weight_qparams(w)
    xq = qdq(x, s_in, z_in)
    wq = qdq_w(w, ws, wz)
    y = conv(xq, wq, b, stride, padding, dilation, groups)
    if relu:
        y = F.relu(y)
    # the reference module must agree bit for bit
    ref_cls = nnqr.Conv2d if dims == 2 else nnqr.Conv1d
    with fork():
        ref = ref_cls(x.shape[1], w.shape[0], w.shape[2:], stride=stride, padding=padding, dilation=dilation,
                      groups=groups, bias=True,
                      weight_qparams={'qscheme': torch.per_channel_affine, 'dtype': torch.qint8,
                                      'scale': ws, 'zero_point': wz, 'axis': 0})
    with torch.no_grad():
        ref.weight.copy_(w)
        ref.bias.copy_(b)
    y_mod = ref(xq)
    if relu:
        y_mod = F.relu(y_mod)
    assert torch.equal(y_mod, y), 'reference module disagrees with the manual computation in ' + name
    s_out, z_out, _ = act_qparams(y)
    yq = torch.quantize_per_tensor(y, s_out, z_out, torch.quint8)
    stride_, padding_, dilation_ = (v if isinstance(v, str) else [v] if dims == 1 else pair(v)
                                    for v in (stride, padding, dilation))
    case = {'name': name, 'input': tl(x), 'weight': tl(w), 'bias': tl(b),
            'stride': stride_, 'padding': padding_, 'dilation': dilation_, 'groups': groups, 'relu': relu,
            'input_scale': s_in, 'input_zero_point': z_in,
            'weight_scales': tl(ws), 'weight_zero_points': tl(wz),
            'y_float_before_output_quant': tl(y), 'output_scale': s_out, 'output_zero_point': z_out,
            'y_int_repr': tl(yq.int_repr().long()), 'y_dequant': tl(yq.dequantize())}
    return case, (s_in, z_in, ws, wz, s_out, z_out)


def lowered_conv(x, w, b, stride, padding, dilation, groups, relu, s_in, z_in, ws, wz, s_out, z_out, dims=2):
    if dims == 2:
        cls = nniq.ConvReLU2d if relu else nnq.Conv2d
    else:
        cls = nniq.ConvReLU1d if relu else nnq.Conv1d
    with fork():
        m = cls(x.shape[1], w.shape[0], tuple(w.shape[2:]), stride=stride, padding=padding, dilation=dilation,
                groups=groups, bias=True)
    wq = torch.quantize_per_channel(w, ws.double(), wz, 0, torch.qint8)
    m.set_weight_bias(wq, b)
    m.scale = s_out
    m.zero_point = z_out
    xq = torch.quantize_per_tensor(x, s_in, z_in, torch.quint8)
    return m(xq)


def gen_conv_ref(seed):
    cases = []
    kept = {}
    for (name, x_shape, out, k, stride, padding, dilation, groups, relu) in CONV_CASES:
        x, w, b = draw_conv_case(x_shape, out, k, groups)
        case, qp = ref_conv_case(name, x, w, b, stride, padding, dilation, groups, relu)
        cases.append(case)
        kept[name] = (x, w, b, stride, padding, dilation, groups, relu, qp)
    x, w, b, stride, padding, dilation, groups, relu, (s_in, z_in, ws, wz, s_out, z_out) = kept['k3_s1_p1']
    ref_int = torch.tensor(cases[0]['y_int_repr'])
    yl = lowered_conv(x, w, b, stride, padding, dilation, groups, relu, s_in, z_in, ws, wz, s_out, z_out)
    li = yl.int_repr().long()
    diff = (li - ref_int).abs()
    lowered = {'of_case': 'k3_s1_p1', 'module': 'torch.ao.nn.quantized.Conv2d', 'engine': ENGINE,
               'engine_note': ENGINE_NOTE, 'y_int_repr': tl(li), 'y_dequant': tl(yl.dequantize()),
               'max_abs_diff_to_reference_int_repr': int(diff.max().item()),
               'num_elements_differing_from_reference': int((diff != 0).sum().item()),
               'num_elements': int(diff.numel())}
    # the same lowered conv, with the input quantized to 7 bits (reduce_range, as x86 qconfigs do)
    s7, z7, _ = act_qparams(x, reduce_range=True)
    y7 = F.conv2d(qdq(x, s7, z7), qdq_w(w, ws, wz), b, stride, padding, dilation, groups)
    ref7 = torch.quantize_per_tensor(y7, s_out, z_out, torch.quint8).int_repr().long()
    l7 = lowered_conv(x, w, b, stride, padding, dilation, groups, relu, s7, z7, ws, wz, s_out, z_out).int_repr().long()
    d7 = (l7 - ref7).abs()
    lowered7 = {'of_case': 'k3_s1_p1', 'module': 'torch.ao.nn.quantized.Conv2d', 'engine': ENGINE,
                'input_scale': s7, 'input_zero_point': z7, 'input_quant_range': [0, 127],
                'output_scale': s_out, 'output_zero_point': z_out,
                'reference_y_int_repr': tl(ref7), 'y_int_repr': tl(l7),
                'max_abs_diff_to_reference_int_repr': int(d7.max().item()),
                'num_elements_differing_from_reference': int((d7 != 0).sum().item()),
                'num_elements': int(d7.numel())}
    out = header(seed)
    out.update({'cases': cases, 'lowered': lowered, 'lowered_7bit_input': lowered7})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# conv_bn_fold.json

BN_FORMULA = ("s = bn.weight / sqrt(running_var + eps); W' = W * s (broadcast over out channel, axis 0); "
              "b' = (b - running_mean) * s + bn.bias")


def draw_bn(bn):
    n = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(torch.rand(n) * 1.5 + 0.25)
        bn.bias.copy_(torch.randn(n) * 0.5)
        bn.running_mean.copy_(torch.randn(n) * 0.8)
        bn.running_var.copy_(torch.rand(n) * 2 + 0.05)


def bn_dict(bn):
    return {'weight': tl(bn.weight), 'bias': tl(bn.bias), 'running_mean': tl(bn.running_mean),
            'running_var': tl(bn.running_var), 'eps': bn.eps}


def gen_conv_bn_fold(seed):
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
    with fork():
        conv = nn.Conv2d(4, 6, 3, padding=1)
        lin = nn.Linear(8, 5)
        bn2 = nn.BatchNorm2d(6)
        bn1 = nn.BatchNorm1d(5)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape) * 0.3)
        conv.bias.copy_(torch.randn(6) * 0.2)
        lin.weight.copy_(torch.randn(lin.weight.shape) * 0.4)
        lin.bias.copy_(torch.randn(5) * 0.2)
    draw_bn(bn2)
    draw_bn(bn1)
    x_conv = torch.randn(2, 4, 6, 6)
    x_lin = torch.randn(7, 8)
    for m in (conv, lin, bn2, bn1):
        m.eval()
    with torch.no_grad():
        fc = fuse_conv_bn_eval(conv, bn2)
        fl = fuse_linear_bn_eval(lin, bn1)
        conv_bn = {'conv': {'in_channels': 4, 'out_channels': 6, 'kernel_size': list(conv.kernel_size),
                            'stride': list(conv.stride), 'padding': list(conv.padding),
                            'weight': tl(conv.weight), 'bias': tl(conv.bias)},
                   'bn': bn_dict(bn2), 'folded_weight': tl(fc.weight), 'folded_bias': tl(fc.bias),
                   'input': tl(x_conv), 'output_unfused': tl(bn2(conv(x_conv))), 'output_fused': tl(fc(x_conv))}
        linear_bn = {'linear': {'in_features': 8, 'out_features': 5, 'weight': tl(lin.weight), 'bias': tl(lin.bias)},
                     'bn': bn_dict(bn1), 'folded_weight': tl(fl.weight), 'folded_bias': tl(fl.bias),
                     'input': tl(x_lin), 'output_unfused': tl(bn1(lin(x_lin))), 'output_fused': tl(fl(x_lin))}
    out = header(seed)
    out.update({'formula': BN_FORMULA, 'conv_bn': conv_bn, 'linear_bn': linear_bn})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# FX recording: observers by node, weights, qparams

def module_type_name(m):
    return type(m).__module__ + '.' + type(m).__qualname__


def fx_record(prepared):
    """Every activation observer of a prepared (and calibrated) GraphModule, by FX node, in graph order. Observers
    are looked up by the node's target with getattr: a shared observer instance (MaxPool2d reusing its input's
    observer, ...) is one module under several names, so named_modules() (which drops duplicates) misses names."""
    first_name_of = {}
    rec = {}
    for node in prepared.graph.nodes:
        if node.op != 'call_module' or not node.target.startswith('activation_post_process_'):
            continue
        obs = prepared.get_submodule(node.target)
        first_name_of.setdefault(id(obs), node.target)
        src = node.args[0]
        if src.op == 'placeholder':
            follows = '%s (model input)' % src.name
        elif src.op == 'call_module':
            follows = '%s (%s)' % (src.name, type(prepared.get_submodule(src.target)).__name__)
        else:
            tgt = src.target if isinstance(src.target, str) else getattr(src.target, '__name__', str(src.target))
            follows = '%s (%s %s)' % (src.name, src.op, tgt)
        s, z = obs.calculate_qparams()
        rec[node.target] = {
            'follows_node': src.name, 'follows': follows,
            'same_observer_instance_as': first_name_of[id(obs)],
            'observer': type(obs).__name__, 'dtype': str(obs.dtype).replace('torch.', ''),
            'quant_min': int(obs.quant_min), 'quant_max': int(obs.quant_max), 'reduce_range': bool(obs.reduce_range),
            'min_val': float(obs.min_val.item()), 'max_val': float(obs.max_val.item()),
            'scale': float(s.item()), 'zero_point': int(z.item())}
    return rec


def fused_modules(prepared):
    return {name: module_type_name(m) for name, m in prepared.named_children()
            if not name.startswith('activation_post_process_')}


def called_modules(prepared):
    """The modules the prepared graph calls (observers left out), by target, in graph order."""
    return {n.target: module_type_name(prepared.get_submodule(n.target)) for n in prepared.graph.nodes
            if n.op == 'call_module' and not n.target.startswith('activation_post_process_')}


def fused_weights(prepared):
    return {k: tl(v) for k, v in prepared.state_dict().items()
            if 'activation_post_process' not in k and not k.endswith('num_batches_tracked')}


def reference_weight_qparams(reference):
    out = {}
    for name, m in reference.named_modules():
        if isinstance(m, (nnqr.Conv1d, nnqr.Conv2d, nnqr.Linear)):
            out[name] = {'module': type(m).__name__, 'qscheme': str(m.weight_qscheme).replace('torch.', ''),
                         'dtype': str(m.weight_dtype).replace('torch.', ''), 'axis': int(m.weight_axis),
                         'scale': tl(m.weight_scale), 'zero_point': tl(m.weight_zero_point)}
    return out


def float_weights(model):
    return {k: tl(v) for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}


def grid_input(shape):
    return torch.randint(0, 256, shape).float() / 256


def quantize_fx_all(model, calib, test):
    """prepare_fx with get_default_qconfig_mapping('fbgemm'), calibrate on `calib` in one batch, and convert to the
    reference model and to the lowered model; returns the prepared model, the two converted ones and the outputs."""
    model.eval()
    qmap = get_default_qconfig_mapping('fbgemm')
    with fork():
        prepared = prepare_fx(copy.deepcopy(model), qmap, example_inputs=(calib[:1],))
    with torch.no_grad():
        prepared(calib)
    reference = convert_to_reference_fx(copy.deepcopy(prepared))
    lowered = convert_fx(copy.deepcopy(prepared))
    with torch.no_grad():
        out = {'fp32': model(test), 'reference': reference(test), 'lowered': lowered(test)}
    return prepared, reference, lowered, out


# ----------------------------------------------------------------------------------------------------------------------
# cnn_e2e.json

class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        return self.fc(self.flatten(x))


def he_init(layers):
    """Per layer of `layers`, in order: weight randn*sqrt(2/fan_in), then bias randn*0.05."""
    with torch.no_grad():
        for m in layers:
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape) * math.sqrt(2.0 / fan_in))
            m.bias.copy_(torch.randn(m.bias.shape) * 0.05)


def bn_train_passes(model, shape, passes=BN_TRAIN_PASSES):
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(grid_input(shape))
    model.eval()


def layer_list(model):
    out = []
    for name, m in model.named_children():
        d = {'name': name, 'type': type(m).__name__}
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            d.update({'in': m.in_channels, 'out': m.out_channels, 'kernel': list(m.kernel_size),
                      'stride': list(m.stride), 'padding': list(m.padding)})
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            d.update({'num_features': m.num_features, 'eps': m.eps})
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            d.update({'kernel': pair(m.kernel_size), 'stride': pair(m.stride)})
        elif isinstance(m, nn.Flatten):
            d.update({'order': 'c,h,w (PyTorch NCHW row-major)'})
        elif isinstance(m, nn.Linear):
            d.update({'in': m.in_features, 'out': m.out_features})
        out.append(d)
    return out


def gen_cnn_e2e(seed):
    with fork():
        model = Cnn()
    he_init([model.conv1, model.conv2, model.fc])
    with torch.no_grad():
        model.bn2.weight.copy_(torch.rand(16) + 0.5)
        model.bn2.bias.copy_(torch.randn(16) * 0.1)
    bn_train_passes(model, (16, 1, 28, 28))
    calib = grid_input((64, 1, 28, 28))
    test = grid_input((16, 1, 28, 28))
    prepared, reference, lowered, outs = quantize_fx_all(model, calib, test)
    out = header(seed)
    out.update({'engine': ENGINE, 'engine_note': ENGINE_NOTE, 'qconfig': QCONFIG_NOTE,
                'layers': layer_list(model), 'bn_stats_from_train_passes': BN_TRAIN_PASSES,
                'inputs_note': INPUTS_NOTE, 'weights': float_weights(model),
                'fused_modules': fused_modules(prepared), 'fused_weights': fused_weights(prepared),
                'weight_qparams': reference_weight_qparams(reference),
                'calibration_input': tl(calib), 'test_input': tl(test),
                'activation_qparams_by_node': fx_record(prepared),
                'output_fp32': tl(outs['fp32']), 'output_reference_quantized': tl(outs['reference']),
                'output_lowered': tl(outs['lowered'])})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# conv_ref_extra.json (SEED+1): more reference Conv2d cases, same fields as conv_ref.json's cases

CONV_EXTRA_CASES = [
    # name, x shape, out, kernel, stride, padding, dilation, groups, relu
    ('k3_s1_p2_d2', [2, 3, 9, 9], 4, 3, 1, 2, 2, 1, False),
    ('k1_s1_p0_pointwise', [2, 6, 5, 5], 3, 1, 1, 0, 1, 1, False),
    ('k3_s1_same_relu', [2, 3, 7, 7], 5, 3, 1, 'same', 1, 1, True),
    ('k3_s2_p1_relu', [2, 4, 10, 10], 6, 3, 2, 1, 1, 1, True),
    ('k3_s1_p1_single_channel', [3, 1, 6, 6], 4, 3, 1, 1, 1, 1, False),
]


def gen_conv_ref_extra(seed, section_seed):
    cases = []
    for (name, x_shape, out, k, stride, padding, dilation, groups, relu) in CONV_EXTRA_CASES:
        x, w, b = draw_conv_case(x_shape, out, k, groups)
        case, _ = ref_conv_case(name, x, w, b, stride, padding, dilation, groups, relu)
        cases.append(case)
    out = header(seed)
    out.update({'section_seed': section_seed, 'cases': cases})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# conv1d_ref.json (SEED+2): reference quantized Conv1d (torch.ao.nn.quantized.reference.Conv1d semantics)

CONV1D_CASES = [
    # name, x shape [N, C, L], out, kernel, stride, padding, dilation, groups, relu
    ('k3_s1_p1', [2, 3, 16], 4, 3, 1, 1, 1, 1, False),
    ('k5_s2_p2_relu', [2, 4, 15], 6, 5, 2, 2, 1, 1, True),
    ('k3_s1_p2_d2', [2, 3, 12], 4, 3, 1, 2, 2, 1, False),
    ('k1_s1_p0_pointwise', [3, 5, 7], 2, 1, 1, 0, 1, 1, False),
]


def gen_conv1d_ref(seed, section_seed):
    cases = []
    lowered = []
    for (name, x_shape, out, k, stride, padding, dilation, groups, relu) in CONV1D_CASES:
        x, w, b = draw_conv_case(x_shape, out, k, groups, kdims=1)
        case, (s_in, z_in, ws, wz, s_out, z_out) = ref_conv_case(name, x, w, b, stride, padding, dilation, groups,
                                                                 relu, dims=1)
        cases.append(case)
        # the lowered module, with the 8-bit input (as conv_ref.json's `lowered`: informative, not a target)
        yl = lowered_conv(x, w, b, stride, padding, dilation, groups, relu, s_in, z_in, ws, wz, s_out, z_out, dims=1)
        li = yl.int_repr().long()
        d = (li - torch.tensor(case['y_int_repr'])).abs()
        lowered.append({'of_case': name, 'module': 'torch.ao.nn.quantized.' + ('ConvReLU1d' if relu else 'Conv1d'),
                        'y_int_repr': tl(li), 'max_abs_diff_to_reference_int_repr': int(d.max().item()),
                        'num_elements_differing_from_reference': int((d != 0).sum().item()),
                        'num_elements': int(d.numel())})
    out = header(seed)
    out.update({'section_seed': section_seed, 'engine': ENGINE, 'engine_note': ENGINE_NOTE,
                'cases': cases, 'lowered': lowered})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# pool_ref.json (SEED+3): pooling on quint8 tensors

POOL_CASES = [
    # name, op, x shape, relu'd input, kernel, stride, padding, count_include_pad
    ('max_k2_s2', 'max_pool2d', [2, 3, 8, 8], False, 2, 2, 0, None),
    ('max_k3_s2_p1', 'max_pool2d', [2, 3, 9, 9], False, 3, 2, 1, None),
    ('max_k2_s2_relu_input', 'max_pool2d', [2, 3, 8, 8], True, 2, 2, 0, None),
    ('avg_k2_s2', 'avg_pool2d', [2, 3, 8, 8], False, 2, 2, 0, True),
    ('avg_k3_s1_relu_input', 'avg_pool2d', [2, 3, 7, 7], True, 3, 1, 0, True),
    ('avg_k3_s2_p1_count_pad_relu_input', 'avg_pool2d', [2, 3, 9, 9], True, 3, 2, 1, True),
    ('avg_k3_s2_p1_no_count_pad_relu_input', 'avg_pool2d', [2, 3, 9, 9], True, 3, 2, 1, False),
    ('avg_k3_s2_p1_count_pad', 'avg_pool2d', [2, 3, 9, 9], False, 3, 2, 1, True),
    ('global_avg', 'adaptive_avg_pool2d', [2, 4, 6, 6], False, None, None, None, None),
    ('global_avg_relu_input', 'adaptive_avg_pool2d', [2, 4, 5, 5], True, None, None, None, None),
    ('max1d_k2_s2', 'max_pool1d', [2, 3, 10], False, 2, 2, 0, None),
    ('avg1d_k3_s2_relu_input', 'avg_pool1d', [2, 3, 11], True, 3, 2, 0, True),
]


def pool_fn(op, kernel, stride, padding, count_include_pad):
    if op in ('max_pool2d', 'max_pool1d'):
        f = getattr(F, op)
        return lambda t: f(t, kernel, stride, padding)
    if op in ('avg_pool2d', 'avg_pool1d'):
        f = getattr(F, op)
        return lambda t: f(t, kernel, stride, padding, count_include_pad=count_include_pad)
    if op == 'adaptive_avg_pool2d':
        return lambda t: F.adaptive_avg_pool2d(t, 1)
    raise ValueError(op)


def gen_pool_ref(seed, section_seed):
    cases = []
    for (name, op, x_shape, relu, kernel, stride, padding, cip) in POOL_CASES:
        x = torch.randn(x_shape) * 1.5
        if relu:
            x = F.relu(x)
        s_in, z_in, _ = act_qparams(x)
        xq = torch.quantize_per_tensor(x, s_in, z_in, torch.quint8)
        f = pool_fn(op, kernel, stride, padding, cip)
        y_ref = f(xq.dequantize())
        ref_int = torch.quantize_per_tensor(y_ref, s_in, z_in, torch.quint8).int_repr().long()
        yq = f(xq)
        assert yq.q_scale() == s_in and yq.q_zero_point() == z_in, name + ': quantized pooling changed the qparams'
        q_int = yq.int_repr().long()
        d = (q_int - ref_int).abs()
        case = {'name': name, 'op': op, 'relu_input': relu}
        if op == 'adaptive_avg_pool2d':
            case['output_size'] = [1, 1]
        else:
            dims = 1 if op.endswith('1d') else 2
            case.update({'kernel': [kernel] * dims, 'stride': [stride] * dims, 'padding': [padding] * dims})
            if cip is not None:
                case['count_include_pad'] = cip
        case.update({'input': tl(x), 'input_scale': s_in, 'input_zero_point': z_in,
                     'input_int_repr': tl(xq.int_repr().long()),
                     'reference_y_float': tl(y_ref), 'reference_y_int_repr': tl(ref_int),
                     'quantized_y_int_repr': tl(q_int),
                     'max_abs_diff_quantized_to_reference': int(d.max().item()),
                     'num_elements_differing': int((d != 0).sum().item()), 'num_elements': int(d.numel())})
        cases.append(case)
    out = header(seed)
    out.update({'section_seed': section_seed, 'engine': ENGINE,
                'note': ("input qparams from MinMaxObserver(quint8, per_tensor_affine) on `input`; pooling keeps "
                         "them (output scale/zero point = input's). reference = float pooling of the dequantized "
                         "input, quantized with those qparams; quantized = the torch op on the quint8 tensor "
                         "(PyTorch's native quantized kernels)"),
                'cases': cases})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# cnn_residual_e2e.json (SEED+4): a small ResNet-style CNN through FX

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.down_conv = nn.Conv2d(cin, cout, 1, stride=stride)
            self.down_bn = nn.BatchNorm2d(cout)
        else:
            self.down_conv = None
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.down_conv is None else self.down_bn(self.down_conv(x))
        return self.relu2(out + shortcut)


class ResidualCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.block1 = BasicBlock(8, 8, 1)
        self.block2 = BasicBlock(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.block2(self.block1(x))
        # torch.flatten as torchvision's ResNet does it: FX 1.13 shares the pooling's observer for it (an nn.Flatten
        # module, as in cnn_e2e.json, would get an observer of its own)
        return self.fc(torch.flatten(self.pool(x), 1))


RESIDUAL_LAYERS = [
    {'name': 'conv1', 'type': 'Conv2d', 'in': 3, 'out': 8, 'kernel': [3, 3], 'stride': [1, 1], 'padding': [1, 1]},
    {'name': 'bn1', 'type': 'BatchNorm2d', 'num_features': 8, 'eps': 1e-05},
    {'name': 'relu1', 'type': 'ReLU'},
    {'name': 'block1', 'type': 'BasicBlock', 'in': 8, 'out': 8, 'stride': 1,
     'forward': 'relu2(bn2(conv2(relu1(bn1(conv1(x))))) + x); conv1, conv2 3x3 padding 1'},
    {'name': 'block2', 'type': 'BasicBlock', 'in': 8, 'out': 16, 'stride': 2,
     'forward': 'relu2(bn2(conv2(relu1(bn1(conv1(x))))) + down_bn(down_conv(x))); conv1 3x3 stride 2 padding 1, '
                'conv2 3x3 padding 1, down_conv 1x1 stride 2 padding 0'},
    {'name': 'pool', 'type': 'AdaptiveAvgPool2d', 'output_size': [1, 1]},
    {'name': 'flatten', 'type': 'torch.flatten(x, 1)', 'order': 'c,h,w (PyTorch NCHW row-major); here [N,16,1,1] -> [N,16]'},
    {'name': 'fc', 'type': 'Linear', 'in': 16, 'out': 10},
]

RESIDUAL_INPUT = (3, 16, 16)


def gen_cnn_residual_e2e(seed, section_seed):
    with fork():
        model = ResidualCnn()
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    he_init(convs)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features) + 0.5)
                m.bias.copy_(torch.randn(m.num_features) * 0.1)
    bn_train_passes(model, (16,) + RESIDUAL_INPUT)
    calib = grid_input((64,) + RESIDUAL_INPUT)
    test = grid_input((16,) + RESIDUAL_INPUT)
    prepared, reference, lowered, outs = quantize_fx_all(model, calib, test)
    acts = fx_record(prepared)
    last = acts[list(acts)[-1]]
    def int_repr(y):
        return tl(torch.quantize_per_tensor(y, last['scale'], last['zero_point'], torch.quint8).int_repr().long())
    d = (outs['lowered'] - outs['reference']).abs()
    variant = without_flatten_observer_call(model, calib, test)
    out = header(seed)
    out.update({'section_seed': section_seed, 'engine': ENGINE, 'engine_note': ENGINE_NOTE, 'qconfig': QCONFIG_NOTE,
                'layers': RESIDUAL_LAYERS, 'bn_stats_from_train_passes': BN_TRAIN_PASSES,
                'inputs_note': INPUTS_NOTE, 'weights': float_weights(model),
                'fused_modules': called_modules(prepared),
                'fused_weights': fused_weights(prepared),
                'weight_qparams': reference_weight_qparams(reference),
                'prepared_graph': str(prepared.graph), 'reference_graph': str(reference.graph),
                'lowered_graph': str(lowered.graph),
                'calibration_input': tl(calib), 'test_input': tl(test),
                'activation_qparams_by_node': acts,
                'output_qparams_node': list(acts)[-1],
                'output_fp32': tl(outs['fp32']),
                'output_reference_quantized': tl(outs['reference']),
                'output_reference_quantized_int_repr': int_repr(outs['reference']),
                'output_lowered': tl(outs['lowered']),
                'output_lowered_int_repr': int_repr(outs['lowered']),
                'lowered_vs_reference_max_abs_diff': float(d.max().item()),
                'lowered_vs_reference_num_elements_differing': int((d != 0).sum().item()),
                'without_flatten_observer_call': variant})
    return out


def without_flatten_observer_call(model, calib, test):
    """FX 1.13 calls the observer instance that relu2, the pooling and torch.flatten share three times per batch
    (after relu2, after the pooling, after the flatten), so the pooled values enter its histogram twice. A DL4J
    graph has no flatten vertex (GlobalPoolingLayer collapses): it observes relu2 and the pooling only. This is the
    same PyTorch flow with the flatten's call to the shared observer taken out of the prepared graph before
    calibration: PyTorch's numbers for that observation."""
    qmap = get_default_qconfig_mapping('fbgemm')
    with fork():
        prepared = prepare_fx(copy.deepcopy(model), qmap, example_inputs=(calib[:1],))
    flatten_obs = [n for n in prepared.graph.nodes if n.op == 'call_module'
                   and n.target.startswith('activation_post_process_') and n.args[0].name == 'flatten']
    assert len(flatten_obs) == 1
    node = flatten_obs[0]
    removed = node.target
    node.replace_all_uses_with(node.args[0])
    prepared.graph.erase_node(node)
    prepared.recompile()
    with torch.no_grad():
        prepared(calib)
    reference = convert_to_reference_fx(copy.deepcopy(prepared))
    lowered = convert_fx(copy.deepcopy(prepared))
    with torch.no_grad():
        ref_out, low_out = reference(test), lowered(test)
    return {'removed_observer_call': removed, 'activation_qparams_by_node': fx_record(prepared),
            'output_reference_quantized': tl(ref_out), 'output_lowered': tl(low_out)}


# ----------------------------------------------------------------------------------------------------------------------
# comparison with an earlier run

ORIGINAL_FILES = ['conv_ref.json', 'conv_bn_fold.json', 'cnn_e2e.json']


def compare_values(a, b, path, diffs):
    if isinstance(b, dict):
        if not isinstance(a, dict):
            diffs.append('%s: %s here, %s there' % (path, type(a).__name__, type(b).__name__))
            return
        for k in list(b) + [k for k in a if k not in b]:
            if k not in a or k not in b:
                diffs.append('%s/%s: only %s' % (path, k, 'there' if k in b else 'here'))
            else:
                compare_values(a[k], b[k], path + '/' + k, diffs)
    elif isinstance(b, list):
        if not isinstance(a, list) or len(a) != len(b):
            diffs.append('%s: length %s here, %d there' % (path, len(a) if isinstance(a, list) else '-', len(b)))
            return
        for i, (x, y) in enumerate(zip(a, b)):
            compare_values(x, y, '%s[%d]' % (path, i), diffs)
    elif a != b or isinstance(a, bool) != isinstance(b, bool):
        diffs.append('%s: %r here, %r there' % (path, a, b))


def compare(out_dir, ref_dir):
    total = 0
    for name in ORIGINAL_FILES:
        with open(os.path.join(out_dir, name)) as f:
            mine = json.load(f)
        with open(os.path.join(ref_dir, name)) as f:
            theirs = json.load(f)
        diffs = []
        compare_values(mine, theirs, '', diffs)
        print('compare %s with %s: %d difference(s)' % (name, os.path.join(ref_dir, name), len(diffs)))
        for d in diffs:
            print('  ' + d)
        total += len(diffs)
    return total


# ----------------------------------------------------------------------------------------------------------------------

def main(argv):
    args = list(argv[1:])
    ref_dir = None
    if '--compare' in args:
        i = args.index('--compare')
        ref_dir = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__.split('Usage:')[1].split('\n\n')[0].strip(), file=sys.stderr)
        return 2
    out_dir, seed = args[0], int(args[1])
    os.makedirs(out_dir, exist_ok=True)
    torch.backends.quantized.engine = ENGINE
    torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)

    # the three original files: one stream, seeded once, in this order
    torch.manual_seed(seed)
    dump(out_dir, 'conv_ref.json', gen_conv_ref(seed))
    dump(out_dir, 'conv_bn_fold.json', gen_conv_bn_fold(seed))
    dump(out_dir, 'cnn_e2e.json', gen_cnn_e2e(seed))

    # newer content: one derived seed per section
    for offset, name, fn in NEW_SECTIONS:
        torch.manual_seed(seed + offset)
        dump(out_dir, name, fn(seed, seed + offset))

    if ref_dir is not None:
        n = compare(out_dir, ref_dir)
        print('no difference' if n == 0 else '%d difference(s)' % n)
        return 1 if n else 0
    return 0


NEW_SECTIONS = [
    (1, 'conv_ref_extra.json', gen_conv_ref_extra),
    (2, 'conv1d_ref.json', gen_conv1d_ref),
    (3, 'pool_ref.json', gen_pool_ref),
    (4, 'cnn_residual_e2e.json', gen_cnn_residual_e2e),
]

if __name__ == '__main__':
    sys.exit(main(sys.argv))
