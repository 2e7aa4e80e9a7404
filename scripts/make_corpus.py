#!/usr/bin/python3
"""Generate the real-world model corpus in tests/fixtures/corpus/.

How to run (from the repository root; Debian packages python3-torch 1.13, python3-torchvision
0.14, python3-onnx 1.12, python3-numpy, dataset-fashion-mnist; no network access is needed or
used, no pretrained weights are loaded):

    /usr/bin/python3 scripts/make_corpus.py                    # every model
    /usr/bin/python3 scripts/make_corpus.py --only resnet18,gru  # some (the manifest keeps the rest)
    /usr/bin/python3 scripts/make_corpus.py --no-ort           # skip the ONNX Runtime check

Every model is a torchvision (or plain torch.nn) architecture built with seeded weights (random
initialisation and a short training run, below), trimmed in depth/width so that each ONNX file stays at most ~3 MB, and exported with
torch.onnx.export (dynamic batch axis, do_constant_folding=True). What each model keeps of its
architecture (depthwise convs, squeeze-excite, channel shuffle, dense concat, LayerNorm, GELU,
attention, LSTM/GRU, Resize, ConvTranspose) and what was trimmed is in manifest.json.

Inputs have the statistics of real images: Fashion-MNIST (/usr/share/datasets/fashion-mnist)
pixels/255, bilinearly resized to the model's size, replicated to 3 channels and normalised
with the ImageNet mean/std; sequence models read the 28 image rows as 28 time steps of 28
features, normalised with Fashion-MNIST's own mean/std.

Weights: torchvision's initialisation, BatchNorm and LayerNorm affine parameters randomised
(γ ~ U(0.5, 1.5), β ~ 0.2·N(0,1)), then a short training run (train_briefly: 300 Adam steps of
32 Fashion-MNIST training images; classifiers learn the classes, dense heads the foreground
mask), then the BatchNorm running statistics estimated on 256 other training images (train
mode, cumulative averaging, no gradient). Freshly initialised deep nets are chaotic — a 60 dB
input perturbation came out at 16 dB on mobilenet_v2, and int8 weights alone at 7 dB — while
deployed networks are trained; after the short run the same perturbation keeps 47 dB. The
models are not accurate classifiers (a few hundred steps), but their sensitivity is that of
trained ones. BN stays a BatchNormalization node in the ONNX (TrainingMode.PRESERVE on an
eval-mode model), for the consumer to fold; folding is not the identity.

What it writes, per model <name>:
  <name>.onnx          the model (opset 13, or 17 where LayerNormalization is used)
  <name>.input.npy     a small batch (3 samples, test images 0..2), float32
  <name>.output.npy    PyTorch's output (eval mode) for <name>.input.npy, computed in float64
                       and stored as float32
and, shared by the models with the same input shape (32 samples each, float32):
  <data>.calib.npy     calibration inputs (training images 0..31)
  <data>.eval.npy      evaluation inputs (test images 100..131)
  eval.labels.npy      their Fashion-MNIST classes, int64 (`hone optimize --eval` needs labels)
  manifest.json        per model: file, opset, input/output names and shapes, op types and
                       counts, parameter count, bytes, sha256, the recipe, the trims, export
                       warnings, and ONNX Runtime's max error against PyTorch

Each export is checked with onnx.checker (full_check) and run in ONNX Runtime (npm package
onnxruntime-node in tests/ort, through tests/ort/ort_run.js; `cd tests/ort && npm ci
--ignore-scripts` installs it); ORT's output must match PyTorch's within 1e-4 × max |output|.

Determinism: fixed seeds, torch.set_num_threads(1), torch.use_deterministic_algorithms(True).
The hone library never needs Python: this script only produces committed test data.
"""

import argparse
import gzip
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import OrderedDict

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import helper
from torchvision.models import (convnext, densenet, efficientnet, mobilenetv2, mobilenetv3,
                                regnet, resnet, shufflenetv2, squeezenet, vision_transformer)
from torchvision.models.segmentation import lraspp

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "corpus")
ORT_RUN = os.path.join(ROOT, "tests", "ort", "ort_run.js")
ORT_MODULE = os.path.join(ROOT, "tests", "ort", "node_modules", "onnxruntime-node")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_INDICES = (0, 3)  # test images [0, 3): the .input.npy batch
EVAL_INDICES = (100, 132)  # test images: the shared .eval.npy
CALIB_INDICES = (0, 32)  # training images: the shared .calib.npy
BN_STAT_INDICES = (1000, 1256)  # training images that estimate BatchNorm running statistics
TRAIN_INDICES = (2000, 12000)  # training images of the short training run
TRAIN_STEPS, TRAIN_BATCH, TRAIN_LR = 300, 32, 2e-3
TOLERANCE = 1e-4  # max |ORT − torch| ≤ TOLERANCE × max |torch|


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------- data
def read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims}")
    return data.reshape(dims)


class Images:
    """Fashion-MNIST pixels/255 as float32 [N,28,28], both splits."""

    def __init__(self, data_dir):
        self.train = read_idx_gz(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
        self.test = read_idx_gz(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))
        self.test_labels = read_idx_gz(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))
        self.train_labels = read_idx_gz(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
        px = self.train.astype(np.float64) / 255.0
        self.mean, self.std = float(px.mean()), float(px.std())

    def raw(self, split, lo, hi):
        src = self.train if split == "train" else self.test
        return torch.from_numpy(src[lo:hi].astype(np.float32) / np.float32(255.0))


# Input kinds: how a [N,28,28] batch of pixels becomes a model input.
def as_image(px, size):
    """Bilinear resize to size×size, 3 channels, ImageNet normalisation: [N,3,size,size]."""
    x = px.unsqueeze(1)
    if size != 28:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = x.expand(-1, 3, -1, -1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


INPUT_KINDS = {
    "image64": dict(
        shape=[3, 64, 64],
        make=lambda px, imgs: as_image(px, 64),
        what="Fashion-MNIST pixels/255, bilinear resize 28→64 (align_corners=False), replicated "
        "to 3 channels, (x − ImageNet mean) / ImageNet std per channel",
    ),
    "image32": dict(
        shape=[3, 32, 32],
        make=lambda px, imgs: as_image(px, 32),
        what="Fashion-MNIST pixels/255, bilinear resize 28→32 (align_corners=False), replicated "
        "to 3 channels, (x − ImageNet mean) / ImageNet std per channel",
    ),
    "rows28": dict(
        shape=[28, 28],
        make=lambda px, imgs: ((px - imgs.mean) / imgs.std).contiguous(),
        what="Fashion-MNIST pixels/255 as 28 time steps (image rows) of 28 features, "
        "(x − mean) / std with Fashion-MNIST's training-set mean and std",
    ),
}


# ------------------------------------------------------------------------ weight randomisation
@torch.no_grad()
def estimate_bn_stats(model, x):
    """Running statistics of every BatchNorm from `x` (cumulative average, 4 batches)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    model.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    for chunk in x.split(64):
        model(chunk)
    for bn in bns:
        bn.momentum = 0.1
    model.eval()
    return len(bns)


def train_briefly(model, kind, imgs, gen, lr=TRAIN_LR):
    """A short Adam run on Fashion-MNIST training images (TRAIN_STEPS batches): classifiers
    learn the 10 classes; dense outputs ([N,C,H,W]) learn the foreground mask (pixel > 0.2,
    resized to the output's size) — class 1 of C through cross-entropy, or the single
    probability map through binary cross-entropy. Randomly initialised deep nets are chaotic
    (a 60 dB input perturbation came out at 16 dB on mobilenet_v2); a few hundred steps make
    them behave like the trained networks that get deployed. Returns the last 20 steps' mean
    loss."""
    lo, hi = TRAIN_INDICES
    labels = torch.from_numpy(imgs.train_labels[lo:hi].astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(TRAIN_STEPS):
        idx = torch.randint(lo, hi, (TRAIN_BATCH,), generator=gen)
        px = torch.from_numpy(imgs.train[idx.numpy()].astype(np.float32) / np.float32(255.0))
        x = kind["make"](px, imgs)
        y = model(x)
        if y.dim() == 2:
            loss = F.cross_entropy(y, labels[idx - lo])
        else:
            mask = F.interpolate(px.unsqueeze(1), size=y.shape[-2:], mode="bilinear",
                                 align_corners=False) > 0.2
            if y.shape[1] == 1:
                loss = F.binary_cross_entropy(y.clamp(1e-6, 1 - 1e-6), mask.float())
            else:
                loss = F.cross_entropy(y, mask[:, 0].long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    model.eval()
    return float(np.mean(losses[-20:]))


@torch.no_grad()
def randomise_norms(model, gen):
    """Randomise BN and LayerNorm affine parameters (before the BN statistics are estimated)."""
    n_bn = n_ln = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n_bn += 1
        elif isinstance(m, nn.LayerNorm):
            n_ln += 1
        else:
            continue
        if m.weight is not None:
            m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
    return n_bn, n_ln


# ----------------------------------------------------------------------------- architectures
class SlimResNet(resnet.ResNet):
    """torchvision's ResNet with the stage widths as a parameter (ResNet fixes 64..512)."""

    def __init__(self, block, layers, widths, num_classes):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, 1, 64
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class SegmentationOut(nn.Module):
    """torchvision segmentation models return {"out": tensor}; export that tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


class SequenceClassifier(nn.Module):
    """nn.LSTM / nn.GRU over the image rows, Linear on the last time step."""

    def __init__(self, cell, features, hidden, layers, bidirectional, classes=10):
        super().__init__()
        self.rnn = cell(features, hidden, num_layers=layers, batch_first=True,
                        bidirectional=bidirectional)
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x):  # [N,T,F]
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


def conv_bn_relu(cin, cout, stride=1, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TextDetector(nn.Module):
    """DB-net style text detector: conv backbone (1/2..1/32), FPN top-down with nearest
    Upsample, pyramid levels brought to 1/4 by F.interpolate (bilinear and nearest) and
    concatenated, then a probability head: Conv-BN-ReLU, ConvTranspose ×2 -BN-ReLU,
    ConvTranspose ×2, Sigmoid → [N,1,H,W]."""

    def __init__(self, widths=(16, 24, 48, 64, 96), inner=32):
        super().__init__()
        w = widths
        self.stem = conv_bn_relu(3, w[0], 2)  # 1/2
        self.c2 = nn.Sequential(conv_bn_relu(w[0], w[1], 2), conv_bn_relu(w[1], w[1]))  # 1/4
        self.c3 = nn.Sequential(conv_bn_relu(w[1], w[2], 2), conv_bn_relu(w[2], w[2]))  # 1/8
        self.c4 = nn.Sequential(conv_bn_relu(w[2], w[3], 2), conv_bn_relu(w[3], w[3]))  # 1/16
        self.c5 = nn.Sequential(conv_bn_relu(w[3], w[4], 2), conv_bn_relu(w[4], w[4]))  # 1/32
        self.lat = nn.ModuleList(nn.Conv2d(c, inner, 1, bias=False) for c in w[1:])
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.smooth = nn.ModuleList(nn.Conv2d(inner, inner // 4, 3, padding=1, bias=False)
                                    for _ in range(4))
        q = inner // 4
        self.head = nn.Sequential(
            nn.Conv2d(inner, q, 3, padding=1, bias=False), nn.BatchNorm2d(q), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(q, q, 2, 2), nn.BatchNorm2d(q), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(q, 1, 2, 2), nn.Sigmoid())

    def forward(self, x):
        c2 = self.c2(self.stem(x))
        c3 = self.c3(c2)
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        in2, in3, in4, in5 = (lat(c) for lat, c in zip(self.lat, (c2, c3, c4, c5)))
        out4 = in4 + self.up(in5)
        out3 = in3 + self.up(out4)
        out2 = in2 + self.up(out3)
        p5 = F.interpolate(self.smooth[3](in5), scale_factor=8.0, mode="bilinear",
                           align_corners=False)
        p4 = F.interpolate(self.smooth[2](out4), scale_factor=4.0, mode="nearest")
        p3 = F.interpolate(self.smooth[1](out3), scale_factor=2.0, mode="bilinear",
                           align_corners=False)
        p2 = self.smooth[0](out2)
        return self.head(torch.cat([p5, p4, p3, p2], 1))


def build_efficientnet_b0():
    setting, last_channel = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.5,
                                                            depth_mult=0.5)
    return efficientnet.EfficientNet(setting, dropout=0.2, num_classes=10,
                                     last_channel=last_channel)


def build_regnet_y_400mf():
    params = regnet.BlockParams.from_init_params(depth=6, w_0=24, w_a=16.0, w_m=2.09,
                                                 group_width=8, se_ratio=0.25)
    return regnet.RegNet(params, num_classes=10, stem_width=16)


def build_convnext_tiny():
    cfg = convnext.CNBlockConfig
    setting = [cfg(24, 48, 1), cfg(48, 96, 1), cfg(96, 192, 2), cfg(192, None, 1)]
    return convnext.ConvNeXt(setting, stochastic_depth_prob=0.0, num_classes=10)


def build_vit():
    return vision_transformer.VisionTransformer(image_size=32, patch_size=8, num_layers=2,
                                                num_heads=4, hidden_dim=64, mlp_dim=128,
                                                num_classes=10)


def build_lraspp():
    backbone = mobilenetv3.mobilenet_v3_large(width_mult=0.5, reduced_tail=True, dilated=True)
    return SegmentationOut(lraspp._lraspp_mobilenetv3(backbone, num_classes=4))


@torch.no_grad()
def post_init_convnext(model, gen):
    # layer_scale starts at 1e-6, which would hide every block: random scales in [0.2, 1)
    for m in model.modules():
        if isinstance(m, convnext.CNBlock):
            m.layer_scale.copy_(torch.rand(m.layer_scale.shape, generator=gen) * 0.8 + 0.2)
    return "CNBlock.layer_scale ~ U(0.2, 1.0) (torchvision starts it at 1e-6)"


@torch.no_grad()
def post_init_vit(model, gen):
    # torchvision zeroes the classifier and the class token: random values instead
    model.heads.head.weight.copy_(torch.randn(model.heads.head.weight.shape, generator=gen) * 0.1)
    model.heads.head.bias.copy_(torch.randn(model.heads.head.bias.shape, generator=gen) * 0.1)
    model.class_token.copy_(torch.randn(model.class_token.shape, generator=gen) * 0.5)
    return ("heads.head weight and bias ~ 0.1·N(0,1), class_token ~ 0.5·N(0,1) (torchvision "
            "zeroes them)")


# name → what to build. `recipe` is the PyTorch construction as text; `trims` what differs from
# the named architecture; `keeps` the characteristic operators the export must contain.
MODELS = OrderedDict(
    resnet18=dict(
        build=lambda: SlimResNet(resnet.BasicBlock, [2, 2, 2, 2], (16, 32, 64, 128), 10),
        input="image64",
        opset=13,
        recipe="SlimResNet(torchvision.models.resnet.BasicBlock, [2, 2, 2, 2], widths=(16, 32, "
        "64, 128), num_classes=10): torchvision.models.resnet.ResNet with the stage widths "
        "as a parameter (_make_layer reused), kaiming_normal fan_out init",
        trims=["stage widths 16/32/64/128 instead of 64/128/256/512",
               "10 classes", "64x64 input"],
        keeps=["Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "GlobalAveragePool",
               "Flatten", "Gemm"],
    ),
    mobilenet_v2=dict(
        build=lambda: mobilenetv2.mobilenet_v2(weights=None, width_mult=0.5, num_classes=10),
        input="image64",
        opset=13,
        recipe="torchvision.models.mobilenet_v2(weights=None, width_mult=0.5, num_classes=10)",
        trims=["width_mult 0.5", "10 classes", "64x64 input"],
        keeps=["Conv", "BatchNormalization", "Clip", "Add", "GlobalAveragePool", "Gemm"],
    ),
    mobilenet_v3_small=dict(
        build=lambda: mobilenetv3.mobilenet_v3_small(weights=None, width_mult=0.5,
                                                     num_classes=10),
        input="image64",
        opset=13,
        recipe="torchvision.models.mobilenet_v3_small(weights=None, width_mult=0.5, "
        "num_classes=10)",
        trims=["width_mult 0.5", "10 classes", "64x64 input"],
        keeps=["Conv", "BatchNormalization", "HardSigmoid", "Relu", "Mul",
               "GlobalAveragePool", "Gemm"],
    ),
    efficientnet_b0=dict(
        build=build_efficientnet_b0,
        input="image64",
        opset=13,
        recipe="setting, last = torchvision.models.efficientnet._efficientnet_conf("
        "'efficientnet_b0', width_mult=0.5, depth_mult=0.5); torchvision.models.efficientnet."
        "EfficientNet(setting, dropout=0.2, num_classes=10, last_channel=last)",
        trims=["width_mult 0.5", "depth_mult 0.5", "10 classes", "64x64 input"],
        keeps=["Conv", "BatchNormalization", "Sigmoid", "Mul", "GlobalAveragePool", "Gemm"],
    ),
    squeezenet1_1=dict(
        build=lambda: squeezenet.squeezenet1_1(weights=None, num_classes=10),
        input="image64",
        lr=2e-4,  # no BatchNorm: at 2e-3 every ReLU died (constant output, loss ln 10)
        opset=13,
        recipe="torchvision.models.squeezenet1_1(weights=None, num_classes=10)",
        trims=["10 classes", "64x64 input"],
        keeps=["Conv", "Relu", "MaxPool", "Concat", "GlobalAveragePool", "Flatten"],
    ),
    shufflenet_v2_x1_0=dict(
        build=lambda: shufflenetv2.ShuffleNetV2([2, 2, 2], [24, 48, 96, 192, 512],
                                                num_classes=10),
        input="image64",
        opset=13,
        recipe="torchvision.models.shufflenetv2.ShuffleNetV2(stages_repeats=[2, 2, 2], "
        "stages_out_channels=[24, 48, 96, 192, 512], num_classes=10)",
        trims=["stage repeats 2/2/2 instead of 4/8/4",
               "stage channels 24/48/96/192/512 (x0.5 widths, 512 last conv) instead of "
               "24/116/232/464/1024", "10 classes", "64x64 input"],
        keeps=["Conv", "BatchNormalization", "Relu", "MaxPool", "Concat", "Reshape", "Transpose",
               "ReduceMean", "Gemm"],
    ),
    regnet_y_400mf=dict(
        build=build_regnet_y_400mf,
        input="image64",
        opset=13,
        recipe="torchvision.models.regnet.RegNet(torchvision.models.regnet.BlockParams."
        "from_init_params(depth=6, w_0=24, w_a=16.0, w_m=2.09, group_width=8, se_ratio=0.25), "
        "num_classes=10, stem_width=16)",
        trims=["depth 6, w_0 24, w_a 16 instead of depth 16, w_0 48, w_a 27.89 (3 stages)",
               "stem width 16", "10 classes", "64x64 input"],
        keeps=["Conv", "BatchNormalization", "Relu", "Sigmoid", "Mul", "Add", "GlobalAveragePool",
               "Gemm"],
    ),
    densenet121=dict(
        build=lambda: densenet.DenseNet(growth_rate=12, block_config=(2, 2, 2, 2),
                                        num_init_features=24, num_classes=10),
        input="image64",
        opset=13,
        recipe="torchvision.models.densenet.DenseNet(growth_rate=12, block_config=(2, 2, 2, 2), "
        "num_init_features=24, num_classes=10)",
        trims=["block_config (2, 2, 2, 2) instead of (6, 12, 24, 16)",
               "growth_rate 12 instead of 32", "24 initial features instead of 64",
               "10 classes", "64x64 input"],
        keeps=["Conv", "BatchNormalization", "Relu", "Concat", "AveragePool", "MaxPool",
               "GlobalAveragePool", "Gemm"],
    ),
    convnext_tiny=dict(
        build=build_convnext_tiny,
        post_init=post_init_convnext,
        input="image64",
        opset=17,
        recipe="torchvision.models.convnext.ConvNeXt([CNBlockConfig(24, 48, 1), CNBlockConfig("
        "48, 96, 1), CNBlockConfig(96, 192, 2), CNBlockConfig(192, None, 1)], "
        "stochastic_depth_prob=0.0, num_classes=10)",
        trims=["stage widths 24/48/96/192 instead of 96/192/384/768",
               "stage depths 1/1/2/1 instead of 3/3/9/3", "10 classes", "64x64 input"],
        keeps=["Conv", "Transpose", "LayerNormalization", "MatMul", "Erf", "Mul", "Add",
               "GlobalAveragePool"],
    ),
    vit=dict(
        build=build_vit,
        post_init=post_init_vit,
        input="image32",
        opset=17,
        recipe="torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, "
        "num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10)",
        trims=["vit_b_16 structure with 2 layers instead of 12, 4 heads instead of 12, hidden 64 "
               "instead of 768, MLP 128 instead of 3072", "32x32 input, patch 8 (16 patches + "
               "class token)", "10 classes"],
        keeps=["Conv", "Concat", "LayerNormalization", "MatMul", "Softmax", "Erf", "Gemm"],
    ),
    lraspp_mobilenet_v3_large=dict(
        build=build_lraspp,
        input="image64",
        opset=13,
        recipe="torchvision.models.segmentation.lraspp._lraspp_mobilenetv3(torchvision.models."
        "mobilenet_v3_large(weights=None, width_mult=0.5, reduced_tail=True, dilated=True), "
        "num_classes=4) (what lraspp_mobilenet_v3_large(weights=None, weights_backbone=None) "
        "builds, with a slimmer backbone), output ['out']",
        trims=["backbone width_mult 0.5 and reduced_tail", "4 classes instead of 21",
               "64x64 input"],
        keeps=["Conv", "BatchNormalization", "HardSigmoid", "Sigmoid", "Mul",
               "Resize", "Add", "GlobalAveragePool"],
    ),
    lstm=dict(
        build=lambda: SequenceClassifier(nn.LSTM, 28, 48, 2, bidirectional=True),
        input="rows28",
        opset=13,
        recipe="nn.LSTM(28, 48, num_layers=2, batch_first=True, bidirectional=True), then "
        "nn.Linear(96, 10) on the last time step",
        trims=[],
        keeps=["LSTM", "Transpose", "Gemm"],
    ),
    gru=dict(
        build=lambda: SequenceClassifier(nn.GRU, 28, 64, 2, bidirectional=False),
        input="rows28",
        opset=13,
        recipe="nn.GRU(28, 64, num_layers=2, batch_first=True), then nn.Linear(64, 10) on the "
        "last time step",
        trims=[],
        keeps=["GRU", "Gemm"],
    ),
    text_detector=dict(
        build=TextDetector,
        input="image64",
        opset=13,
        recipe="TextDetector(widths=(16, 24, 48, 64, 96), inner=32): Conv-BN-ReLU backbone to "
        "1/32, FPN 1x1 laterals with nn.Upsample(scale_factor=2, nearest) top-down, levels "
        "brought to 1/4 by F.interpolate (bilinear x8, nearest x4, bilinear x2), Concat, head "
        "Conv-BN-ReLU, ConvTranspose2d(2, stride 2)-BN-ReLU, ConvTranspose2d(2, stride 2), "
        "Sigmoid: a DB-net style probability map [N,1,64,64]",
        trims=["a small DB-net-like net (no ResNet backbone, no threshold branch)",
               "64x64 input"],
        keeps=["Conv", "BatchNormalization", "Relu", "Resize", "Concat", "ConvTranspose",
               "Sigmoid", "Add"],
    ),
)
SEED_BASE = 1700  # model i (in MODELS order) is built after torch.manual_seed(SEED_BASE + i)


# --------------------------------------------------------------------------------------- ONNX
def export(model, example, path, opset):
    """torch.onnx.export with a dynamic batch axis; returns (model proto, warnings)."""
    model.eval()
    caught = []
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        torch.onnx.export(
            model,
            example,
            path,
            opset_version=opset,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
            do_constant_folding=True,
            # keep BatchNormalization nodes (eval-mode export would fold them into the Convs)
            training=torch.onnx.TrainingMode.PRESERVE,
        )
        for x in w:
            msg = f"{x.category.__name__}: {str(x.message).strip()}"
            if msg not in caught:
                caught.append(msg)
    m = onnx.load(path)
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:  # noqa: BLE001 -- name the file, then re-raise
        raise RuntimeError(f"{path}: onnx.checker.check_model(full_check=True) failed: {e}")
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
            if len(n.output) != 1 or a.get("training_mode", 0) != 0:
                raise RuntimeError(f"{path}: BatchNormalization {n.name} not in inference mode")
    return m, caught


def op_counts(m):
    counts = {}
    for n in m.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return dict(sorted(counts.items()))


def value_info(vi):
    dims = [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]
    elem = onnx.TensorProto.DataType.Name(vi.type.tensor_type.elem_type).lower()
    return {"name": vi.name, "dtype": elem, "shape": dims}


def conv_groups(m):
    """Distinct group counts of the Conv nodes (depthwise convs show up as group = channels)."""
    return sorted({next((helper.get_attribute_value(a) for a in n.attribute if a.name == "group"),
                        1) for n in m.graph.node if n.op_type == "Conv"})


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def save_npy(name, arr):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    np.save(os.path.join(OUT, name), arr)
    return arr


# ---------------------------------------------------------------------------- ONNX Runtime check
def ort_version():
    with open(os.path.join(ORT_MODULE, "package.json")) as f:
        return json.load(f)["version"]


def ort_run(model_path, x):
    """ONNX Runtime's first output for x, through tests/ort/ort_run.js (opt level all)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise RuntimeError("node not found: install the Debian package nodejs (or pass --no-ort)")
    with tempfile.TemporaryDirectory() as d:
        xin, yout = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
        np.save(xin, np.ascontiguousarray(x, dtype=np.float32))
        r = subprocess.run([node, ORT_RUN, "--model", model_path, "--input", xin, "--output", yout,
                            "--threads", "1", "--batch", "0"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"ONNX Runtime failed on {model_path}: {r.stderr.strip()}")
        return np.load(yout)


# ------------------------------------------------------------------------------------- models
def make_model(index, name, spec, imgs, data_files, check_ort):
    log(f"{name}")
    kind = INPUT_KINDS[spec["input"]]
    seed = SEED_BASE + index
    torch.manual_seed(seed)
    model = spec["build"]().eval()
    gen = torch.Generator().manual_seed(seed)
    bn_data = kind["make"](imgs.raw("train", *BN_STAT_INDICES), imgs)
    n_bn, n_ln = randomise_norms(model, gen)
    post = spec["post_init"](model, gen) if "post_init" in spec else None
    train_loss = train_briefly(model, kind, imgs, gen, spec.get("lr", TRAIN_LR))
    log(f"  trained {TRAIN_STEPS} steps: loss {train_loss:.3f}")
    n_bn_est = estimate_bn_stats(model, bn_data)
    model.eval()

    x = kind["make"](imgs.raw("test", *INPUT_INDICES), imgs)
    with torch.no_grad():
        # The reference is computed in float64 (weights and inputs are float32 values, so this
        # is the exact function of the ONNX file up to float64 rounding), then rounded to
        # float32: implementations are measured against it, not against torch's own float32
        # rounding, which is recorded (torch_f32_relative_error).
        ref64 = model.double()(x.double()).numpy()
        y32 = model.float()(x).numpy()
    ref = ref64.astype(np.float32)
    torch_f32_err = float(np.abs(y32.astype(np.float64) - ref64).max() / np.abs(ref64).max())
    if not np.all(np.isfinite(ref)) or float(np.abs(ref).max()) == 0.0:
        raise RuntimeError(f"{name}: PyTorch output is not finite or all zero")
    save_npy(f"{name}.input.npy", x.numpy())
    save_npy(f"{name}.output.npy", ref)

    path = os.path.join(OUT, f"{name}.onnx")
    t0 = time.time()
    m, warns = export(model, x, path, spec["opset"])
    ops = op_counts(m)
    missing = [op for op in spec["keeps"] if op not in ops]
    if missing:
        raise RuntimeError(f"{name}: the export has no {', '.join(missing)} node ({ops})")
    size = os.path.getsize(path)
    log(f"  exported in {time.time() - t0:.1f} s: {size} bytes, {sum(ops.values())} nodes, "
        f"{len(warns)} warning(s)")
    for w in warns:
        log(f"    {w[:200]}")

    inits = {i.name for i in m.graph.initializer}
    entry = dict(
        file=f"{name}.onnx",
        architecture=name,
        opset=max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
        input=[value_info(v) for v in m.graph.input if v.name not in inits][0],
        output=[value_info(v) for v in m.graph.output][0],
        input_data=spec["input"],
        ops=ops,
        op_types=sorted(ops),
        nodes=sum(ops.values()),
        conv_groups=conv_groups(m),
        parameters=int(sum(np.prod(i.dims) for i in m.graph.initializer)),
        torch_parameters=int(sum(p.numel() for p in model.parameters())),
        bytes=size,
        sha256=sha256(path),
        seed=seed,
        recipe=spec["recipe"],
        trims=spec["trims"],
        characteristic_ops=spec["keeps"],
        norms=dict(batchnorm=n_bn, batchnorm_stats_estimated=n_bn_est, layernorm=n_ln),
        post_init=post,
        training=dict(steps=TRAIN_STEPS, batch=TRAIN_BATCH, optimizer="Adam",
                      lr=spec.get("lr", TRAIN_LR),
                      images=f"Fashion-MNIST train [{TRAIN_INDICES[0]}, {TRAIN_INDICES[1]})",
                      final_loss=round(train_loss, 4)),
        export=dict(
            api="torch.onnx.export",
            opset_version=spec["opset"],
            dynamic_axes={"input": {"0": "N"}, "output": {"0": "N"}},
            do_constant_folding=True,
            training="TrainingMode.PRESERVE on an eval-mode model (BatchNormalization kept)",
            warnings=warns,
        ),
        test_input=dict(file=f"{name}.input.npy", shape=list(x.shape),
                        sha256=sha256(os.path.join(OUT, f"{name}.input.npy")),
                        images=f"t10k test images {INPUT_INDICES[0]}..{INPUT_INDICES[1] - 1}"),
        test_output=dict(file=f"{name}.output.npy", shape=list(ref.shape),
                         sha256=sha256(os.path.join(OUT, f"{name}.output.npy")),
                         max_abs=float(np.abs(ref).max()),
                         what="PyTorch eval-mode output for the test input, computed in "
                         "float64 and rounded to float32",
                         torch_f32_relative_error=torch_f32_err),
        calib=data_files[spec["input"]]["calib"],
        eval=data_files[spec["input"]]["eval"],
    )
    if check_ort:
        got = ort_run(path, x.numpy())
        if got.shape != ref.shape:
            raise RuntimeError(f"{name}: ONNX Runtime output shape {got.shape}, torch {ref.shape}")
        err = float(np.abs(got.astype(np.float64) - ref).max())
        scale = float(np.abs(ref).max())
        log(f"  ONNX Runtime vs PyTorch: max |diff| {err:.3e} (scale {scale:.3e}, relative "
            f"{err / scale:.3e})")
        if not err <= TOLERANCE * scale:
            raise RuntimeError(f"{name}: ONNX Runtime differs from PyTorch: max |diff| {err} > "
                               f"{TOLERANCE} x {scale}")
        # The batch axis is dynamic: another batch size (the 32 evaluation inputs) must give
        # PyTorch's answers too (the export traced a batch of 3).
        xe = kind["make"](imgs.raw("test", *EVAL_INDICES), imgs)
        with torch.no_grad():
            refe = model.double()(xe.double()).numpy()
            model.float()
        gote = ort_run(path, xe.numpy())
        erre = float(np.abs(gote.astype(np.float64) - refe).max() / np.abs(refe).max())
        log(f"  ONNX Runtime vs PyTorch on the {xe.shape[0]} evaluation inputs: relative {erre:.3e}")
        if gote.shape != refe.shape or not erre <= TOLERANCE:
            raise RuntimeError(f"{name}: ONNX Runtime differs from PyTorch at batch {xe.shape[0]}: "
                               f"shape {gote.shape}, relative error {erre}")
        entry["onnxruntime"] = dict(max_abs_error=err, relative_error=err / scale,
                                    eval_batch_relative_error=erre,
                                    tolerance=f"{TOLERANCE} x max |output|")
    return entry


def make_data(imgs):
    """The shared calibration / evaluation inputs, one pair per input kind."""
    files = {}
    for kind_name, kind in INPUT_KINDS.items():
        files[kind_name] = {}
        for part, split, (lo, hi) in (("calib", "train", CALIB_INDICES),
                                      ("eval", "test", EVAL_INDICES)):
            fname = f"{kind_name}.{part}.npy"
            arr = save_npy(fname, kind["make"](imgs.raw(split, lo, hi), imgs).numpy())
            files[kind_name][part] = dict(
                file=fname, shape=list(arr.shape), sha256=sha256(os.path.join(OUT, fname)),
                images=f"{'train' if split == 'train' else 't10k'} images {lo}..{hi - 1}",
            )
    # The evaluation images' Fashion-MNIST classes (the same images for every input kind):
    # the image classifiers' accuracy is scored on them.
    lo, hi = EVAL_INDICES
    np.save(os.path.join(OUT, "eval.labels.npy"), imgs.test_labels[lo:hi].astype(np.int64))
    labels = dict(file="eval.labels.npy", shape=[hi - lo], dtype="int64",
                  sha256=sha256(os.path.join(OUT, "eval.labels.npy")),
                  what=f"Fashion-MNIST classes of t10k images {lo}..{hi - 1}")
    for kind_name in files:
        files[kind_name]["eval"]["labels"] = labels
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--only", default=",".join(MODELS))
    ap.add_argument("--no-ort", action="store_true", help="skip the ONNX Runtime check")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    for n in names:
        if n not in MODELS:
            sys.exit(f"unknown model {n!r}; models: {', '.join(MODELS)}")
    check_ort = not args.no_ort
    if check_ort and not os.path.exists(os.path.join(ORT_MODULE, "package.json")):
        sys.exit(f"ONNX Runtime is not installed ({ORT_MODULE} is missing): run `cd tests/ort && "
                 "npm ci --ignore-scripts`, or pass --no-ort")
    os.makedirs(OUT, exist_ok=True)
    manifest_path = os.path.join(OUT, "manifest.json")
    models = {}
    if os.path.exists(manifest_path) and set(names) != set(MODELS):
        with open(manifest_path) as f:
            models = json.load(f).get("models", {})
    t0 = time.time()
    imgs = Images(args.data)
    data_files = make_data(imgs)
    for i, name in enumerate(MODELS):
        if name in names:
            models[name] = make_model(i, name, MODELS[name], imgs, data_files, check_ort)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    doc = {
        "generator": "scripts/make_corpus.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "onnxruntime": ort_version() if check_ort else None,
        "threads": 1,
        "weights": "seeded initialisation, no pretrained weights; BatchNorm/LayerNorm affine "
        f"parameters randomised, {TRAIN_STEPS} Adam steps on Fashion-MNIST, then BatchNorm "
        f"statistics estimated on training images {BN_STAT_INDICES[0]}..{BN_STAT_INDICES[1] - 1} "
        "(see the script's docstring)",
        "inputs": {k: dict(shape=["N"] + v["shape"], what=v["what"], **data_files[k])
                   for k, v in INPUT_KINDS.items()},
        "tolerance": f"ONNX Runtime vs PyTorch: max |diff| <= {TOLERANCE} x max |output|",
        "models": {k: models[k] for k in MODELS if k in models},
    }
    with open(manifest_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    log(f"done in {time.time() - t0:.1f} s; tests/fixtures/corpus holds {total} bytes")


if __name__ == "__main__":
    main()
