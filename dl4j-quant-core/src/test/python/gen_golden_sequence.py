#!/usr/bin/python3
"""Golden vectors from PyTorch 1.13 for sequence models: dynamic int8 LSTM / RNNCell / Linear and weight-only embeddings.

Usage:
    /usr/bin/python3 gen_golden_sequence.py OUT_DIR [SEED]        (SEED defaults to 20261208)

Writes into OUT_DIR: lstm_dynamic.json, rnn_cell_dynamic.json, linear_dynamic.json, embedding_weight_only.json,
seq_classifier_e2e.json. Each section reseeds torch with SEED+k (k = 0..4 in that order), so sections never move each
other's numbers. Module default initialisation runs inside the section's stream (the weights are recorded anyway).

Every dynamic result is produced on both quantized engines of Debian's torch build (onednn, qnnpack; there is no
fbgemm) and is re-computed by the numpy re-implementation below (`DynamicLinear`, `lstm_manual`), which this script
asserts to be bit-identical to the torch module; the semantics are written up in README-sequence-golden.md next to this
file. Tensors are nested lists in row-major order, every float is a float32 widened exactly to a JSON double.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.ao.nn.quantized as nnq
import torch.ao.nn.quantized.dynamic as nnqd
from torch.ao.quantization import (default_dynamic_qconfig, float_qparams_weight_only_qconfig,
                                   float_qparams_weight_only_qconfig_4bit, per_channel_dynamic_qconfig,
                                   quantize_dynamic)

GENERATOR = 'gen_golden_sequence.py, torch ' + torch.__version__
ENGINES = ('onednn', 'qnnpack')
ENGINE_NOTE = ("dynamic results on both engines of this torch build (supported: "
               + ", ".join(torch.backends.quantized.supported_engines) + "; no fbgemm). onednn honours "
               "reduce_range=True (activations 0..127), qnnpack ignores it (0..255); their dequantization float order "
               "differs too, so the two engines' outputs differ. onednn is the x86 target.")
ONEDNN_ISA = os.environ.get('ONEDNN_MAX_CPU_ISA', 'ALL (not capped)')
QCONFIGS = {'default_dynamic_qconfig': default_dynamic_qconfig, 'per_channel_dynamic_qconfig': per_channel_dynamic_qconfig}
F32 = np.float32


# ----------------------------------------------------------------------------------------------------------------------
# helpers

def tl(t):
    """Tensor or array as nested lists of Python numbers (float32 widened exactly; ints stay ints)."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().tolist()
    return np.asarray(t).tolist()


def dump(out_dir, name, obj):
    path = os.path.join(out_dir, name)
    with open(path, 'w') as f:
        json.dump(obj, f)
    print('wrote %s (%d bytes)' % (path, os.path.getsize(path)))


def header(seed, section_seed):
    return {'generator': GENERATOR, 'seed': seed, 'section_seed': section_seed, 'engine_note': ENGINE_NOTE,
            'onednn_max_cpu_isa': ONEDNN_ISA}


def max_abs(a, b):
    a, b = (t.detach() if isinstance(t, torch.Tensor) else t for t in (a, b))
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if np.size(a) else 0.0


def assert_bit_exact(what, manual, module):
    d = max_abs(manual, module)
    if d != 0.0:
        raise AssertionError('%s: numpy re-implementation differs from the torch module by %g' % (what, d))


class engine:
    """Context manager selecting torch.backends.quantized.engine."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.saved = torch.backends.quantized.engine
        torch.backends.quantized.engine = self.name

    def __exit__(self, *exc):
        torch.backends.quantized.engine = self.saved


# ----------------------------------------------------------------------------------------------------------------------
# numpy re-implementation of quantized::linear_dynamic (qlinear_dynamic.cpp + QuantUtils.h ChooseQuantizationParams)

def choose_qparams(x, reduce_range):
    """ChooseQuantizationParams(min, max, 0, 255, preserve_sparsity=False, force_pow2=False, reduce_range)."""
    qmin, qmax = (0, 127) if reduce_range else (0, 255)
    x_min = F32(np.min(x)) if np.size(x) else F32(0)
    x_max = F32(np.max(x)) if np.size(x) else F32(0)
    lo, hi = min(x_min, F32(0)), max(x_max, F32(0))
    scale = (float(hi) - float(lo)) / (qmax - qmin)
    if F32(scale) == 0 or np.isinf(F32(1) / F32(scale)):
        scale = 0.1
    if scale < float(F32(6.1e-5)):
        raise NotImplementedError('small-scale cut-off branch of ChooseQuantizationParams not modelled')
    zmin, zmax = qmin - float(lo) / scale, qmax - float(hi) / scale
    emin, emax = abs(qmin) - abs(float(lo) / scale), abs(qmax) - abs(float(hi) / scale)
    z0 = zmin if emin < emax else zmax
    zp = qmin if z0 < qmin else qmax if z0 > qmax else int(np.rint(z0))
    return {'min': float(x_min), 'max': float(x_max), 'scale_double': scale, 'scale': float(F32(scale)),
            'zero_point': zp, 'quant_min': qmin, 'quant_max': qmax}


class DynamicLinear:
    """One packed dynamic linear: int8 weight [out, in] with per-tensor or per-row scales, float bias."""

    def __init__(self, packed):
        qw, b = torch.ops.quantized.linear_unpack(packed)
        self.packed = packed
        self.qweight = qw
        self.wq = qw.int_repr().numpy().astype(np.int64)
        if qw.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            self.ws = np.full(self.wq.shape[0], qw.q_scale(), F32)
        else:
            self.ws = qw.q_per_channel_scales().numpy().astype(F32)
        self.b = b.detach().numpy().astype(F32)

    def __call__(self, x, reduce_range, eng, trace=None):
        x = np.asarray(x, F32)
        qp = choose_qparams(x, reduce_range and eng != 'qnnpack')
        s = F32(qp['scale'])
        xq = np.clip(np.rint(x * (F32(1) / s)) + qp['zero_point'], qp['quant_min'], qp['quant_max']).astype(np.int64)
        acc = ((xq - qp['zero_point']).reshape(-1, x.shape[-1]) @ self.wq.T).astype(F32)
        if eng == 'onednn':
            bs = F32(1.0 / qp['scale_double']) * (F32(1) / self.ws)
            y = (acc + self.b * bs) * (F32(1) / bs)
        else:
            y = acc * (s * self.ws) + self.b
        if trace is not None:
            trace.update({'input_qparams': qp, 'input_int_repr': tl(xq)})
        return y.reshape(x.shape[:-1] + (self.wq.shape[0],))

    def torch_kernel(self, x, reduce_range):
        return torch.ops.quantized.linear_dynamic(torch.from_numpy(np.asarray(x, F32)), self.packed, reduce_range).numpy()


def weight_record(qw):
    """qparams and int_repr of a quantized qint8 weight."""
    rec = {'dtype': str(qw.dtype).replace('torch.', ''), 'qscheme': str(qw.qscheme()).replace('torch.', ''),
           'int_repr': tl(qw.int_repr())}
    if qw.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        rec.update({'scale': float(qw.q_scale()), 'zero_point': int(qw.q_zero_point())})
    else:
        rec.update({'scale': tl(qw.q_per_channel_scales().float()), 'zero_point': tl(qw.q_per_channel_zero_points()),
                    'axis': int(qw.q_per_channel_axis())})
    return rec


def sigmoid(x):
    return torch.from_numpy(np.asarray(x, F32)).sigmoid().numpy()


def tanh(x):
    return torch.from_numpy(np.asarray(x, F32)).tanh().numpy()


# ----------------------------------------------------------------------------------------------------------------------
# lstm_dynamic.json

def lstm_cells(qlstm):
    """[(ih, hh)] DynamicLinear pairs in layer-major, direction-minor order (= h0/c0 index)."""
    cells = []
    for pv in qlstm._all_weight_values:
        packed_ih, packed_hh = pv.param.__getstate__()[0][4]
        cells.append((DynamicLinear(packed_ih), DynamicLinear(packed_hh)))
    return cells


def lstm_manual(qlstm, x, h0, c0, eng, with_trace):
    """quantized_lstm(use_dynamic=True) on CPU: ih product once per layer and direction over the whole sequence,
    hh product per step, gates in float32 (RNN.cpp FullLayer / FullBidirectionalLayer / LSTMCell)."""
    directions = 2 if qlstm.bidirectional else 1
    cells = lstm_cells(qlstm)
    layer_in = np.asarray(x, F32)
    h_n, c_n, traces = [], [], {}
    T = layer_in.shape[0]
    for layer in range(qlstm.num_layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            ih, hh = cells[k]
            tr = {} if with_trace else None
            ih_out = ih(layer_in, True, eng, tr)
            h, c = np.asarray(h0[k], F32), np.asarray(c0[k], F32)
            ys = [None] * T
            hh_qparams = []
            for n, t in enumerate(range(T) if d == 0 else range(T - 1, -1, -1)):
                step = {}
                hh_out = hh(h, True, eng, step)
                hh_qparams.append(step['input_qparams'])
                gates = hh_out + ih_out[t]
                gi, gf, gg, go = np.split(gates, 4, axis=1)
                i, f, g, o = sigmoid(gi), sigmoid(gf), tanh(gg), sigmoid(go)
                c = f * c + i * g
                h = o * tanh(c)
                ys[t] = h
                if with_trace and n == 0:
                    tr['first_step'] = {'t': t, 'hh_input_int_repr': step['input_int_repr'], 'hh_output': tl(hh_out),
                                        'gates_preactivation': tl(gates), 'i': tl(i), 'f': tl(f), 'g': tl(g),
                                        'o': tl(o), 'c': tl(c), 'h': tl(h)}
            outs.append(np.stack(ys))
            h_n.append(h)
            c_n.append(c)
            if with_trace:
                tr['ih_output'] = tl(ih_out)
                tr['hh_input_qparams_by_step'] = hh_qparams
                traces['l%d%s' % (layer, '_reverse' if d else '')] = tr
        layer_in = np.concatenate(outs, axis=2)
    return layer_in, np.stack(h_n), np.stack(c_n), traces


LSTM_CASES = [
    # name, what, qconfig, bidirectional, num_layers, nonzero initial state
    ('per_tensor', 'default_dynamic_qconfig (per-tensor symmetric qint8 weights), zero h0/c0',
     'default_dynamic_qconfig', False, 1, False),
    ('per_channel', 'per_channel_dynamic_qconfig (per-row symmetric qint8 weights), zero h0/c0',
     'per_channel_dynamic_qconfig', False, 1, False),
    ('bidirectional', 'bidirectional, default_dynamic_qconfig, zero h0/c0', 'default_dynamic_qconfig', True, 1, False),
    ('nonzero_state', 'h0/c0 ~ N(0,1)*0.5, default_dynamic_qconfig', 'default_dynamic_qconfig', False, 1, True),
    ('two_layers', 'num_layers=2 (layer 1 input = float output of layer 0, quantized dynamically again), '
                   'default_dynamic_qconfig, zero h0/c0', 'default_dynamic_qconfig', False, 2, False),
]
T, B, I, H = 6, 3, 8, 16


def lstm_section(seed, section_seed):
    torch.manual_seed(section_seed)
    cases = []
    for name, what, qc_name, bidir, layers, nonzero in LSTM_CASES:
        lstm = nn.LSTM(I, H, num_layers=layers, bidirectional=bidir)
        slots = layers * (2 if bidir else 1)
        x = torch.randn(T, B, I)
        h0 = torch.randn(slots, B, H) * 0.5 if nonzero else torch.zeros(slots, B, H)
        c0 = torch.randn(slots, B, H) * 0.5 if nonzero else torch.zeros(slots, B, H)
        with torch.no_grad():
            y_f, (h_f, c_f) = lstm(x, (h0, c0))
        case = {'name': name, 'what': what, 'qconfig': qc_name, 'input_size': I, 'hidden_size': H,
                'num_layers': layers, 'bidirectional': bidir, 'seq_len': T, 'batch': B,
                'weights': {k: tl(v) for k, v in lstm.state_dict().items()},
                'input': tl(x), 'h0': tl(h0), 'c0': tl(c0),
                'float': {'output': tl(y_f), 'h_n': tl(h_f), 'c_n': tl(c_f)}, 'quantized': {}}
        for eng in ENGINES:
            with engine(eng):
                q = quantize_dynamic(nn.Sequential(lstm), {nn.LSTM: QCONFIGS[qc_name]})[0]
                assert type(q) == nnqd.LSTM
                with torch.no_grad():
                    y, (h_n, c_n) = q(x, (h0, c0))
                ym, hm, cm, trace = lstm_manual(q, x.numpy(), h0.numpy(), c0.numpy(), eng, True)
                for what_, a, b in (('output', ym, y), ('h_n', hm, h_n), ('c_n', cm, c_n)):
                    assert_bit_exact('lstm %s %s %s' % (name, eng, what_), a, b.numpy())
                if 'weight_qparams' not in case:
                    wb = q._weight_bias()['weight']
                    case['weight_qparams'] = {k: weight_record(v) for k, v in wb.items()}
                else:
                    for k, v in q._weight_bias()['weight'].items():
                        assert case['weight_qparams'][k]['int_repr'] == tl(v.int_repr()), 'weights engine-dependent'
                case['quantized'][eng] = {
                    'output': tl(y), 'h_n': tl(h_n), 'c_n': tl(c_n),
                    'activation_quant_range': [0, 127] if eng == 'onednn' else [0, 255],
                    'max_abs_diff_vs_float': max_abs(y, y_f), 'numpy_reimplementation_max_abs_diff': 0.0,
                    'trace': trace}
        cases.append(case)
    out = header(seed, section_seed)
    out.update({'layout': 'PyTorch seq-first: input [T,B,I], h0/c0/h_n/c_n [num_layers*num_directions,B,H] (index '
                          'layer*D+direction), output [T,B,H*D] (fwd|rev on the last dim); weight_ih_l{k} [4H,in], '
                          'weight_hh_l{k} [4H,H], biases [4H], gate row blocks i,f,g,o',
                'trace_note': 'trace per layer/direction (l0, l0_reverse, l1): input_qparams/input_int_repr of the '
                              'ONE ih product over the whole layer input [T,B,in]; ih_output [T,B,4H] (b_ih included); '
                              'hh_input_qparams_by_step in processing order (reverse: t=T-1 first); first_step: hh '
                              'input int_repr, hh_output (b_hh included), gates_preactivation = hh_output + '
                              'ih_output[t], activated gates, c, h',
                'tolerance_note': 'PyTorch test_qlstmGRU (test/quantization/core/test_quantized_op.py) compares the '
                                  'dynamic LSTM with float LSTM on dequantized weights and pre-quantized inputs '
                                  '(seq_len 1) at assertEqual defaults rtol 1.3e-6, atol 1e-5',
                'cases': cases})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# rnn_cell_dynamic.json

def rnn_cell_section(seed, section_seed):
    torch.manual_seed(section_seed)
    cases = []
    for name, qc_name, nonzero in (('per_tensor_zero_h0', 'default_dynamic_qconfig', False),
                                   ('per_channel_nonzero_h0', 'per_channel_dynamic_qconfig', True)):
        cell = nn.RNNCell(I, H, nonlinearity='tanh')
        x = torch.randn(T, B, I)
        h0 = torch.randn(B, H) * 0.5 if nonzero else torch.zeros(B, H)
        with torch.no_grad():
            h, ys_f = h0, []
            for t in range(T):
                h = cell(x[t], h)
                ys_f.append(h)
        case = {'name': name, 'qconfig': qc_name, 'nonlinearity': 'tanh', 'input_size': I, 'hidden_size': H,
                'seq_len': T, 'batch': B, 'weights': {k: tl(v) for k, v in cell.state_dict().items()},
                'input': tl(x), 'h0': tl(h0), 'float': {'outputs': tl(torch.stack(ys_f))}, 'quantized': {}}
        for eng in ENGINES:
            with engine(eng):
                q = quantize_dynamic(nn.Sequential(cell), {nn.RNNCell: QCONFIGS[qc_name]})[0]
                assert type(q) == nnqd.RNNCell
                ih, hh = DynamicLinear(q._packed_weight_ih), DynamicLinear(q._packed_weight_hh)
                if 'weight_qparams' not in case:
                    case['weight_qparams'] = {'weight_ih': weight_record(ih.qweight), 'weight_hh': weight_record(hh.qweight)}
                h, hm, ys, ys_m, steps = h0, h0.numpy(), [], [], []
                with torch.no_grad():
                    for t in range(T):
                        h = q(x[t], h)
                        ys.append(h)
                        tr_ih, tr_hh = {}, {}
                        pre = hh(hm, True, eng, tr_hh) + ih(x[t].numpy(), True, eng, tr_ih)
                        hm = tanh(pre)
                        ys_m.append(hm)
                        steps.append({'ih_input_qparams': tr_ih['input_qparams'],
                                      'hh_input_qparams': tr_hh['input_qparams'], 'preactivation': tl(pre)})
                ys = torch.stack(ys)
                assert_bit_exact('rnn cell %s %s' % (name, eng), np.stack(ys_m), ys.numpy())
                # The same cell with the ih product computed once over the whole sequence (what RNN.cpp's FullLayer
                # does for nn.LSTM/GRU; PyTorch 1.13 has no dynamic nn.RNN, so this is NOT a PyTorch module output).
                ih_all = ih.torch_kernel(x.numpy(), True)
                assert_bit_exact('rnn whole-seq ih %s' % eng, ih(x.numpy(), True, eng), ih_all)
                hw, ys_w = h0.numpy(), []
                for t in range(T):
                    hw = tanh(hh.torch_kernel(hw, True) + ih_all[t])
                    ys_w.append(hw)
                case['quantized'][eng] = {
                    'outputs': tl(ys), 'activation_quant_range': [0, 127] if eng == 'onednn' else [0, 255],
                    'max_abs_diff_vs_float': max_abs(ys, torch.stack(ys_f)), 'steps': steps,
                    'whole_sequence_ih_variant': {'outputs': tl(np.stack(ys_w)),
                                                  'ih_input_qparams': choose_qparams(x.numpy(), eng != 'qnnpack'),
                                                  'max_abs_diff_vs_cell_unrolled': max_abs(np.stack(ys_w), ys)}}
        cases.append(case)
    out = header(seed, section_seed)
    out.update({'layout': 'input [T,B,I]; h0 [B,H]; outputs [T,B,H] = h_t of the cell unrolled over t = 0..T-1; '
                          'weight_ih [H,I], weight_hh [H,H], bias_ih/bias_hh [H]',
                'semantics': 'torch.ao.nn.quantized.dynamic.RNNCell (quantized_rnn_tanh_cell_dynamic, reduce_range '
                             'hard-coded True): per call h\' = tanh(linear_hh(h) + linear_ih(x_t)), each product '
                             'quantizes its own input with its own dynamic scale (steps[].ih_input_qparams / '
                             'hh_input_qparams)',
                'cases': cases})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# linear_dynamic.json

def linear_stress_check(calls=300):
    """More dynamic products than the cases hold (random ranges, one-signed, constant and all-zero inputs): the numpy
    re-implementation must equal the kernel bit for bit on each engine (reduce_range=True, as the modules call it)."""
    shapes = [(1, 8), (5, 8), (4, 3, 8), (64, 8)]
    for eng in ENGINES:
        with engine(eng):
            for n in range(calls):
                lin = nn.Linear(8, 16)
                qc = default_dynamic_qconfig if n % 2 else per_channel_dynamic_qconfig
                dl = DynamicLinear(quantize_dynamic(nn.Sequential(lin), {nn.Linear: qc})[0]._packed_params._packed_params)
                x = torch.randn(shapes[n % len(shapes)]) * 10 ** (torch.rand(1).item() * 4 - 2)
                kind = n % 6
                x = x.abs() if kind == 1 else -x.abs() if kind == 2 else x * 0 + 0.37 if kind == 3 else x * 0 if kind == 4 else x
                assert_bit_exact('linear stress %s #%d' % (eng, n), dl(x.numpy(), True, eng), dl.torch_kernel(x.numpy(), True))
    return {'engines': list(ENGINES), 'calls_per_engine': calls, 'all_bit_exact': True,
            'inputs': 'shapes [1,8] [5,8] [4,3,8] [64,8], scale 10^U(-2,2), mixed-sign / positive / negative / '
                      'constant 0.37 / all-zero, per-tensor and per-channel weights'}


def linear_section(seed, section_seed):
    torch.manual_seed(section_seed)
    cases = []
    for qc_name in QCONFIGS:
        lin = nn.Linear(I, H)
        x2 = torch.randn(12, I)
        x3 = torch.randn(T, B, I) * 1.5
        for eng in ENGINES:
            with engine(eng):
                q = quantize_dynamic(nn.Sequential(lin), {nn.Linear: QCONFIGS[qc_name]})[0]
                assert type(q) == nnqd.Linear
                dl = DynamicLinear(q._packed_params._packed_params)
                for x_name, x in (('2d', x2), ('3d', x3)):
                    for rr in (True, False):
                        with torch.no_grad():
                            y = q(x) if rr else torch.ops.quantized.linear_dynamic(x, dl.packed, False)
                        tr = {}
                        ym = dl(x.numpy(), rr, eng, tr)
                        exact = max_abs(ym, y.numpy())
                        if rr or eng == 'qnnpack':
                            assert_bit_exact('linear %s %s %s rr=%s' % (qc_name, eng, x_name, rr), ym, y.numpy())
                        case = {'name': '%s_%s_%s' % (qc_name.replace('_dynamic_qconfig', ''), x_name,
                                                      'reduce_range' if rr else 'full_range'),
                                'qconfig': qc_name, 'engine': eng, 'reduce_range_requested': rr,
                                'called_as': 'nnqd.Linear forward (reduce_range=True)' if rr else
                                             'torch.ops.quantized.linear_dynamic(x, packed, reduce_range=False)',
                                'weight': tl(lin.weight), 'bias': tl(lin.bias), 'weight_qparams': weight_record(dl.qweight),
                                'input': tl(x), 'input_qparams': tr['input_qparams'], 'input_int_repr': tr['input_int_repr'],
                                'output': tl(y), 'output_float': tl(lin(x)),
                                'exact_int32_reference_output': tl(ym),
                                'module_vs_exact_int32_reference_max_abs_diff': exact}
                        if x_name == '3d':
                            per_step = np.stack([dl.torch_kernel(x[t].numpy(), rr) for t in range(T)])
                            flat = dl.torch_kernel(x.reshape(-1, I).numpy(), rr).reshape(T, B, H)
                            case['equals_2d_call_on_flattened_input'] = max_abs(flat, y.numpy()) == 0.0
                            case['per_time_step_calls_output'] = tl(per_step)
                            case['per_time_step_calls_max_abs_diff'] = max_abs(per_step, y.numpy())
                        cases.append(case)
    out = header(seed, section_seed)
    out['stress_check'] = linear_stress_check()
    out.update({'layout': 'Linear(8,16): weight [out,in] = [16,8] (DL4J DenseLayer W is its transpose), bias [16]; '
                          'input 2-D [12,8] or 3-D [T,B,I] = [6,3,8]',
                'semantics': 'one dynamic (scale, zero_point) over ALL elements of the input, whatever its rank; '
                             'quant range 0..127 when reduce_range is honoured (onednn), 0..255 otherwise (qnnpack '
                             'ignores reduce_range)',
                'full_range_note': 'onednn with reduce_range=False is exact only on CPUs with VNNI; without VNNI '
                                   '(or ONEDNN_MAX_CPU_ISA=AVX2) u8*s8 pair sums saturate to int16 and '
                                   'module_vs_exact_int32_reference_max_abs_diff becomes large (up to 1.4 seen)',
                'cases': cases})
    return out


# ----------------------------------------------------------------------------------------------------------------------
# embedding_weight_only.json

def unpack_4bit(qw):
    """int_repr of a quint4x2 [rows, cols] tensor is [rows*cols/2] bytes: element 2j low nibble, 2j+1 high nibble."""
    packed = qw.int_repr().numpy().reshape(qw.shape[0], -1)
    return np.stack([packed & 15, packed >> 4], axis=2).reshape(qw.shape[0], -1)


def quantize_embedding(emb, qconfig):
    """nnq.Embedding.from_float's weight quantization (observer + _quantize_weight) and its packed params."""
    emb.qconfig = qconfig
    q = nnq.Embedding.from_float(emb)
    return q, q.weight()


def embedding_record(emb, qconfig, bits, indices):
    q, qw = quantize_embedding(emb, qconfig)
    w = emb.weight.detach().numpy()
    scale = qw.q_per_channel_scales().numpy().astype(F32)
    zp = qw.q_per_channel_zero_points().numpy().astype(F32)
    q_int = unpack_4bit(qw) if bits == 4 else qw.int_repr().numpy()
    qmax = (1 << bits) - 1
    # observer: scale = (max-min)/qmax (> eps else 1), zero_point = -min/scale (float, not rounded)
    s_m = ((w.max(1) - w.min(1)) / F32(qmax)).astype(F32)
    s_m = np.where(s_m > F32(np.finfo(F32).eps), s_m, F32(1))
    z_m = (-1 * w.min(1) / s_m).astype(F32)
    q_m = np.clip(np.rint(w * (F32(1) / s_m)[:, None] + z_m[:, None]), 0, qmax)
    assert np.array_equal(s_m, scale) and np.array_equal(z_m, zp) and np.array_equal(q_m, q_int), 'embedding qparams'
    packed = q._packed_params._packed_weight
    op = torch.ops.quantized.embedding_4bit if bits == 4 else torch.ops.quantized.embedding_byte
    lookup = op(packed, indices)
    bias = (-zp * scale).astype(F32)
    if bits == 4:
        s_used, b_used = scale.astype(np.float16).astype(F32), bias.astype(np.float16).astype(F32)
    else:
        s_used, b_used = scale, bias
    manual = (s_used.astype(np.float64)[:, None] * q_int + b_used.astype(np.float64)[:, None]).astype(F32)
    assert_bit_exact('embedding %d-bit lookup' % bits, manual[indices.numpy()], lookup.numpy())
    deq = qw.dequantize()
    rec = {'dtype': str(qw.dtype).replace('torch.', ''), 'qscheme': str(qw.qscheme()).replace('torch.', ''),
           'quant_range': [0, qmax], 'scale': tl(scale), 'zero_point': tl(zp), 'int_repr': tl(q_int),
           'lookup_output': tl(lookup), 'dequantized_rows_output': tl(deq[indices]),
           'lookup_vs_dequantized_max_abs_diff': max_abs(lookup, deq[indices]),
           'lookup_vs_float_max_abs_diff': max_abs(lookup, emb(indices))}
    if bits == 4:
        rec.update({'packed_bytes': tl(qw.int_repr()), 'lookup_scale_fp16': tl(s_used), 'lookup_bias_fp16': tl(b_used),
                    'module_forward_bug': 'nnq.Embedding.from_float drops the dtype, so the 4-bit module calls '
                                          'embedding_byte and returns shape %s instead of %s; lookup_output is '
                                          'torch.ops.quantized.embedding_4bit on the same packed weight'
                                          % (list(q(indices).shape), list(lookup.shape)),
                    'embedding_bag_module_equals_lookup_output': embedding_bag_4bit_equals(emb, indices, lookup)})
    else:
        rec['module_forward_equals_lookup_output'] = bool(torch.equal(q(indices), lookup))
    return rec


def embedding_bag_4bit_equals(emb, indices, lookup):
    """nnq.EmbeddingBag (whose from_float keeps the dtype) with one index per bag must give the 4-bit lookup rows."""
    bag = nn.EmbeddingBag(emb.num_embeddings, emb.embedding_dim, mode='sum')
    bag.weight = emb.weight
    bag.qconfig = float_qparams_weight_only_qconfig_4bit
    q = nnq.EmbeddingBag.from_float(bag)
    return bool(torch.equal(q(indices, torch.arange(indices.numel())), lookup))


def embedding_section(seed, section_seed):
    torch.manual_seed(section_seed)
    emb = nn.Embedding(50, 12)
    indices = torch.tensor([0, 3, 3, 49, 7, 0, 25, 3, 12, 49])
    indices_2d = torch.tensor([[1, 5, 5], [49, 0, 1], [7, 7, 7], [2, 30, 44]])
    out = header(seed, section_seed)
    out.update({'num_embeddings': 50, 'embedding_dim': 12, 'weight': tl(emb.weight), 'indices': tl(indices),
                'indices_2d': tl(indices_2d),
                'semantics': 'PerChannelMinMaxObserver(per_channel_affine_float_qparams, ch_axis 0): per row '
                             'scale = (max-min)/qmax (scale <= eps -> 1.0), zero_point = -min/scale (float); '
                             'q = clamp(rint(w*(1/scale) + zero_point), 0, qmax). Lookup: prepack stores '
                             'bias = -zero_point*scale; 8-bit out = fma(scale, q, bias) in float32; 4-bit: scale and '
                             'bias rounded to fp16, out = scale16*q + bias16. dequantize() = (q - zero_point)*scale.'})
    for key, qc, bits in (('int8', float_qparams_weight_only_qconfig, 8),
                          ('int4', float_qparams_weight_only_qconfig_4bit, 4)):
        rec = embedding_record(emb, qc, bits, indices)
        q, _ = quantize_embedding(emb, qc)
        op = torch.ops.quantized.embedding_4bit if bits == 4 else torch.ops.quantized.embedding_byte
        rec['lookup_output_2d'] = tl(op(q._packed_params._packed_weight, indices_2d))
        out[key] = rec
    return out


# ----------------------------------------------------------------------------------------------------------------------
# seq_classifier_e2e.json

class SeqClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(100, 16)
        self.lstm = nn.LSTM(16, 32)
        self.fc = nn.Linear(32, 4)

    def forward(self, tokens):  # tokens [T, B] int64
        y, _ = self.lstm(self.embedding(tokens))
        return self.fc(y[-1])


def e2e_section(seed, section_seed):
    torch.manual_seed(section_seed)
    model = SeqClassifier().eval()
    tokens = torch.randint(0, 100, (10, 8))
    spec = {nn.Embedding: float_qparams_weight_only_qconfig, nn.LSTM: default_dynamic_qconfig,
            nn.Linear: default_dynamic_qconfig}
    with torch.no_grad():
        y_f = model(tokens)
    out = header(seed, section_seed)
    out.update({'model': 'embedding Embedding(100,16) -> lstm LSTM(16,32) (seq-first) -> fc Linear(32,4) on the last '
                         'time step output y[-1]',
                'quantize_dynamic_qconfig_spec': {'nn.Embedding': 'float_qparams_weight_only_qconfig (quint8 per-row '
                                                                  'float qparams)',
                                                  'nn.LSTM': 'default_dynamic_qconfig', 'nn.Linear': 'default_dynamic_qconfig'},
                'weights': {k: tl(v) for k, v in model.state_dict().items()}, 'tokens': tl(tokens),
                'tokens_layout': '[T=10, B=8] int token ids', 'output_float': tl(y_f), 'quantized': {}})
    for eng in ENGINES:
        with engine(eng):
            q = quantize_dynamic(model, spec)
            assert type(q.embedding) == nnq.Embedding and type(q.lstm) == nnqd.LSTM and type(q.fc) == nnqd.Linear
            with torch.no_grad():
                y = q(tokens)
                emb_out = q.embedding(tokens)
                lstm_out, _ = q.lstm(emb_out)
            zeros = np.zeros((1, 8, 32), F32)
            ym, _, _, _ = lstm_manual(q.lstm, emb_out.numpy(), zeros, zeros, eng, False)
            assert_bit_exact('e2e lstm %s' % eng, ym, lstm_out.numpy())
            fc = DynamicLinear(q.fc._packed_params._packed_params)
            tr = {}
            assert_bit_exact('e2e fc %s' % eng, fc(ym[-1], True, eng, tr), y.numpy())
            out['quantized'][eng] = {
                'output': tl(y), 'embedding_output': tl(emb_out), 'lstm_last_step_output': tl(lstm_out[-1]),
                'fc_input_qparams': tr['input_qparams'],
                'max_abs_diff_vs_float': max_abs(y, y_f),
                'argmax_equal_float': bool(torch.equal(y.argmax(1), y_f.argmax(1)))}
            if 'weight_qparams' not in out:
                lstm_w = {k: weight_record(v) for k, v in q.lstm._weight_bias()['weight'].items()}
                qe = q.embedding.weight()
                out['weight_qparams'] = {'lstm': lstm_w, 'fc.weight': weight_record(fc.qweight),
                                         'embedding': {'scale': tl(qe.q_per_channel_scales().float()),
                                                       'zero_point': tl(qe.q_per_channel_zero_points()),
                                                       'int_repr': tl(qe.int_repr())}}
    return out


# ----------------------------------------------------------------------------------------------------------------------

def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    out_dir = argv[1]
    seed = int(argv[2]) if len(argv) == 3 else 20261208
    os.makedirs(out_dir, exist_ok=True)
    sections = (('lstm_dynamic.json', lstm_section), ('rnn_cell_dynamic.json', rnn_cell_section),
                ('linear_dynamic.json', linear_section), ('embedding_weight_only.json', embedding_section),
                ('seq_classifier_e2e.json', e2e_section))
    for k, (name, fn) in enumerate(sections):
        dump(out_dir, name, fn(seed, seed + k))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
