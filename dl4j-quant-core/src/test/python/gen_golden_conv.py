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
  cnn_e2e     conv1/conv2/fc weights randn*sqrt(2/fan_in) and biases randn*0.05 (conv1, conv2, fc in that order),
              bn2.weight rand+0.5, bn2.bias randn*0.1, 4 train-mode passes on rand [16,1,28,28],
              calibration randint(0,256)/256 [64,1,28,28], test randint(0,256)/256 [16,1,28,28]
Modules are constructed inside torch.random.fork_rng so that their default initialisation draws nothing from the
stream. The newer content reseeds the generator with a derived seed per section (SEED+1 extra conv2d cases, SEED+2
conv1d, SEED+3 pooling, SEED+4 residual CNN), so adding sections never moves the original numbers.

Every lowered result (torch.ao.nn.quantized modules, convert_fx) runs on quantized engine 'onednn': this torch build
has no fbgemm.
"""
import copy
import json
import math
import os
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
