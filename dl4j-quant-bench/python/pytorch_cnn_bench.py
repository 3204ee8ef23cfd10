#!/usr/bin/python3
"""PyTorch's own fp32 and int8 latency for the CNN bench models (BenchModels' "lenet" and "resnet"), same shapes.

Usage: /usr/bin/python3 pytorch_cnn_bench.py OUT.json

Debian's python3-torch (1.13) has no FBGEMM, so int8 runs on quantized engine 'onednn' with
get_default_qconfig_mapping('onednn') (8-bit activations, per-channel qint8 weights), lowered by prepare_fx /
convert_fx as a PyTorch user would: conv+bn+relu fused into QuantizedConvReLU2d, add_relu, quantized pooling.
Weights are PyTorch's default initialisation (the numbers do not affect the speed); the batch norms get non-trivial
running statistics from a few training-mode passes. Each cell: torch.utils.benchmark's blocked_autorange over
float-in, float-out calls, for torch.set_num_threads(1) and (2); the JSON keeps every cell in microseconds.
"""
import json
import sys

import torch
import torch.nn as nn
import torch.utils.benchmark as benchmark
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx


def conv_bn_relu(cin, cout, stride=1, relu=True):
    layers = [nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout)]
    return nn.Sequential(*(layers + [nn.ReLU()] if relu else layers))


class LeNet(nn.Module):
    """BenchModels.lenet: conv3x3(32)-BN-ReLU-maxpool2, conv3x3(64)-BN-ReLU-maxpool2, dense 128 ReLU, softmax 10."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_bn_relu(1, 32), nn.MaxPool2d(2), conv_bn_relu(32, 64), nn.MaxPool2d(2))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return torch.softmax(self.fc(self.features(x.reshape(-1, 1, 28, 28))), 1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = conv_bn_relu(cin, cout, stride)
        self.b = conv_bn_relu(cout, cout, relu=False)
        self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout))
                      if stride != 1 or cin != cout else nn.Identity())
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.b(self.a(x)) + self.short(x))


class ResNet(nn.Module):
    """BenchModels.resnet: stem conv3x3(32), blocks 32 / 64 stride 2 with a 1x1 projection / 64, global avg pool."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn_relu(3, 32)
        self.blocks = nn.Sequential(Block(32, 32, 1), Block(32, 64, 2), Block(64, 64, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return torch.softmax(self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1)), 1)


MODELS = {"lenet": (LeNet, (784,)), "resnet": (ResNet, (3, 32, 32))}


def variants(name):
    torch.manual_seed(7)
    cls, shape = MODELS[name]
    model = cls()
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(64, *shape))
    model.eval()
    example = (torch.rand(32, *shape),)
    prepared = prepare_fx(model, get_default_qconfig_mapping("onednn"), example)
    with torch.no_grad():
        for _ in range(2):
            prepared(torch.rand(32, *shape))
    return model, convert_fx(prepared), shape


def main(out):
    torch.backends.quantized.engine = "onednn"
    results = []
    for name in MODELS:
        fp32, int8, shape = variants(name)
        for batch in (1, 32, 256):
            x = torch.rand(batch, *shape)
            with torch.no_grad():
                rel = ((int8(x) - fp32(x)).norm() / fp32(x).norm()).item()
            for threads in (1, 2):
                torch.set_num_threads(threads)
                for variant, model in (("fp32", fp32), ("int8", int8)):
                    t = benchmark.Timer("with torch.no_grad(): m(x)", globals={"m": model, "x": x, "torch": torch},
                                        num_threads=threads).blocked_autorange(min_run_time=3)
                    cell = {"model": name, "batch": batch, "variant": variant, "threads": threads,
                            "us": t.median * 1e6, "iqr_us": t.iqr * 1e6, "int8_rel_l2_vs_fp32": rel}
                    print(json.dumps(cell), flush=True)
                    results.append(cell)
    with open(out, "w") as f:
        json.dump({"torch": torch.__version__, "engine": torch.backends.quantized.engine, "cells": results}, f,
                  indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
