#!/usr/bin/python3
"""Golden vectors for a residual CNN quantized end to end by PyTorch 1.13's FX (prepare_fx / convert_fx).

Usage: /usr/bin/python3 gen_golden_residual.py OUT_DIR [SEED]     (writes OUT_DIR/cnn_residual_block_e2e.json; SEED 20261207)

The model (NCHW, 1x12x12 input): conv1 3x3 p1 (1->8) + bn1 + relu1; a basic residual block: conv2 3x3 p1 + bn2 +
relu2, conv3 3x3 p1 + bn3, add with the block's input, relu (FX fuses the add and the ReLU into quantized add_relu);
AdaptiveAvgPool2d(1), flatten, fc Linear(8, 4). Batch norms get their running statistics from 4 train-mode passes.
Quantized with get_default_qconfig_mapping('fbgemm') (HistogramObserver quint8 reduce_range activations,
PerChannelMinMaxObserver qint8 symmetric weights); lowered on engine 'onednn' (Debian's torch has no fbgemm).
Every activation observer is recorded with the node whose output it observes. Inputs are on the grid k/256.
"""
import json
import os
import sys

import torch
import torch.nn as nn
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, convert_to_reference_fx, prepare_fx


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1, self.relu1 = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()
        self.conv2, self.bn2, self.relu2 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()
        self.conv3, self.bn3 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        s = self.relu1(self.bn1(self.conv1(x)))
        y = self.bn3(self.conv3(self.relu2(self.bn2(self.conv2(s)))))
        y = self.relu(y + s)
        return self.fc(torch.flatten(self.pool(y), 1))


def tl(t):
    return t.detach().tolist()


def on_grid(*shape):
    return torch.randint(0, 256, shape).float() / 256


def main(out_dir, seed):
    torch.manual_seed(seed)
    torch.backends.quantized.engine = "onednn"
    model = Residual()
    with torch.no_grad():
        for bn in (model.bn1, model.bn2, model.bn3):
            bn.weight.copy_(torch.rand(8) + 0.5)
            bn.bias.copy_(torch.randn(8) * 0.1)
        model.train()
        for _ in range(4):
            model(torch.rand(16, 1, 12, 12))
    model.eval()
    calibration, test = on_grid(64, 1, 12, 12), on_grid(16, 1, 12, 12)
    mapping = get_default_qconfig_mapping("fbgemm")
    prepared = prepare_fx(model, mapping, (calibration,))
    with torch.no_grad():
        prepared(calibration)
    observers = []
    for node in prepared.graph.nodes:
        if node.op == "call_module" and node.target.startswith("activation_post_process"):
            obs = getattr(prepared, node.target)  # named_modules() lists a shared observer once
            scale, zp = obs.calculate_qparams()
            src = node.args[0]
            observers.append({"node": node.target, "observes": src.name,
                              "scale": float(scale.item()), "zero_point": int(zp.item())})
    reference = convert_to_reference_fx(prepared)
    # convert_fx consumes its input's observers: convert a copy for the lowered model
    prepared_again = prepare_fx(model, mapping, (calibration,))
    with torch.no_grad():
        prepared_again(calibration)
    lowered = convert_fx(prepared_again)
    with torch.no_grad():
        result = {
            "generator": "torch " + torch.__version__ + ", gen_golden_residual.py",
            "seed": seed,
            "engine": "onednn",
            "qconfig": "get_default_qconfig_mapping('fbgemm'): HistogramObserver(quint8, reduce_range=True) "
                       "activations, PerChannelMinMaxObserver(qint8, per_channel_symmetric, ch_axis=0) weights",
            "weights": {k: tl(v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")},
            "bn_eps": 1e-5,
            "calibration_input": tl(calibration),
            "test_input": tl(test),
            "activation_observers": observers,
            "output_fp32": tl(model(test)),
            "output_reference_quantized": tl(reference(test)),
            "output_lowered": tl(lowered(test)),
            "lowered_graph": str(lowered.graph),
        }
    with open(os.path.join(out_dir, "cnn_residual_block_e2e.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20261207)
