#!/usr/bin/python3
"""Generate the ONNX / NPY test fixtures in tests/fixtures/fashion_mnist/.

How to run (from the repository root, Debian packages python3-torch 1.13, python3-onnx 1.12,
python3-numpy; no network access is needed or used):

    /usr/bin/python3 scripts/make_fixtures.py                 # everything
    /usr/bin/python3 scripts/make_fixtures.py --only mlp      # one group: mlp, cnn, variants,
                                                              # encoder, mobile (comma-separated)

Fashion-MNIST is read from the IDX gz files in /usr/share/datasets/fashion-mnist (override with
--data DIR). Pixels are scaled to [0,1] by /255 and nothing else.

What it writes (see docs/fixtures.md and the generated fixtures.json for details):
  mlp.onnx                 opset 13, Gemm/Relu MLP 784-256-128-10 trained on Fashion-MNIST
  mlp_fc{1,2,3}_{weight,bias}.npy   its weights, float32, PyTorch layout [out,in]
  mlp_ref_logits.npy       torch logits [256,10] of the first 256 test images (file order)
  cnn.onnx                 opset 13, Conv+BatchNormalization+Relu+MaxPool x2, Flatten, Gemm x2
  cnn_opset9.onnx, cnn_opset17.onnx   the same trained CNN at other opsets
  cnn_ref_logits.npy       torch logits [256,10] of the first 256 test images
  mlp_constants.onnx       mlp.onnx with every initializer turned into a Constant node
  mlp_external.onnx + mlp_external.data   mlp.onnx with its tensors in ONNX external data
  tiny_encoder.onnx        opset 17, one transformer encoder block, random weights
  tiny_encoder_input.npy / tiny_encoder_output.npy
  mobile_block.onnx        opset 13, stem conv/BN/HardSwish, depthwise conv/BN/ReLU6(Clip),
                           squeeze-excite with HardSigmoid, AveragePool, nearest Resize, Gemm
  mobile_block_input.npy / mobile_block_output.npy
  fixtures.json            what every file is, opsets, I/O names and shapes, accuracies,
                           training recipes, seeds, SHA-256 of every file

Determinism: fixed seeds, torch.set_num_threads(1), torch.use_deterministic_algorithms(True).
Every exported graph is also run through a small independent ONNX interpreter in this script
(numpy plus torch.nn.functional, driven only by the ONNX nodes and attributes) and its outputs
are compared to the torch outputs, so the reference NPY files are known to describe the ONNX
semantics of each file (onnx 1.12 has no reference evaluator).

The hone library never needs Python: this script only produces committed test data.
"""

import argparse
import copy
import gzip
import hashlib
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
# torch.onnx's shape inference warns about prim::Constant; the graphs are checked below
warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "fashion_mnist")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
N_REF = 256  # reference outputs: first 256 test images, file order

MLP_SEED = 1
CNN_SEED = 2
ENCODER_SEED = 3
MOBILE_SEED = 4


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------- data
def read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims}")
    return data.reshape(dims)


def load_split(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx_gz(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx_gz(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.astype(np.float32) / np.float32(255.0))  # [N,28,28]
    y = torch.from_numpy(y.astype(np.int64))
    return x, y


# ------------------------------------------------------------------------------------- training
def train(model, x, y, epochs, seed, lr, batch=128):
    """Adam, cross-entropy, batch 128, reshuffled every epoch from a seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = x.shape[0]
    times = []
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss) * idx.numel()
        times.append(time.time() - t0)
        log(f"  epoch {epoch + 1}/{epochs}: loss {total / n:.4f} ({times[-1]:.1f} s)")
    model.eval()
    return times


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    return correct / x.shape[0]


# ---------------------------------------------------------------------------------- ONNX helpers
def export(model, example, path, opset, input_names, output_names, preserve_bn=False):
    model.eval()
    kwargs = {}
    if preserve_bn:
        # Eval-mode export folds BatchNormalization into the preceding Conv (the eval peephole
        # pass, which runs only for TrainingMode.EVAL). PRESERVE with the model in eval mode
        # keeps BN as its own node, in inference mode (one output, training_mode=0). Constant
        # folding stays on (it only folds constant subgraphs such as Cast/Concat of constants;
        # the node checks below prove BN survives).
        kwargs = dict(training=torch.onnx.TrainingMode.PRESERVE)
    dyn = {n: {0: "N"} for n in input_names + output_names}
    torch.onnx.export(
        model,
        example,
        path,
        opset_version=opset,
        input_names=input_names,
        output_names=output_names,
        dynamic_axes=dyn,
        **kwargs,
    )
    m = onnx.load(path)
    check(m, path)
    return m


def check(m, what):
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:  # noqa: BLE001 -- report which file failed, then re-raise
        raise RuntimeError(f"{what}: onnx.checker.check_model(full_check=True) failed: {e}")


def op_types(m):
    ops = []
    for n in m.graph.node:
        if n.op_type not in ops:
            ops.append(n.op_type)
    return ops


def op_counts(m):
    counts = {}
    for n in m.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def value_info(vi):
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        dims.append(d.dim_param if d.dim_param else d.dim_value)
    elem = onnx.TensorProto.DataType.Name(vi.type.tensor_type.elem_type).lower()
    return {"name": vi.name, "dtype": elem, "shape": dims}


def io_info(m):
    inits = {i.name for i in m.graph.initializer}
    return {
        "opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
        "inputs": [value_info(v) for v in m.graph.input if v.name not in inits],
        "outputs": [value_info(v) for v in m.graph.output],
        "ops": op_counts(m),
        "initializers": len(m.graph.initializer),
        "parameters": int(sum(np.prod(i.dims) for i in m.graph.initializer)),
    }


def save_npy(name, arr):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    np.save(os.path.join(OUT, name), arr)
    return arr


# ------------------------------------------------------------------ independent ONNX interpreter
# Only what the fixtures use. Each op is implemented from the ONNX operator definition and the
# node attributes (numpy, plus torch.nn.functional for convolution/pooling arithmetic); nothing
# is taken from the torch module that was exported.
def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pads_2d(pads):
    # ONNX pads [top, left, bottom, right]; only symmetric padding is used by the fixtures
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise NotImplementedError(f"asymmetric pads {pads}")
    return (pads[0], pads[1])


def run_onnx(m, feeds, model_dir=None):
    if model_dir is not None and any(
        t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer
    ):
        m = copy.deepcopy(m)
        onnx.load_external_data_for_model(m, model_dir)
    env = {k: np.asarray(v) for k, v in feeds.items()}
    for init in m.graph.initializer:
        env[init.name] = numpy_helper.to_array(init)
    t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731
    for node in m.graph.node:
        a = _attrs(node)
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            y = numpy_helper.to_array(a["value"])
        elif op == "Gemm":
            A = x[0].T if a.get("transA", 0) else x[0]
            B = x[1].T if a.get("transB", 0) else x[1]
            y = a.get("alpha", 1.0) * (A.astype(np.float64) @ B.astype(np.float64))
            if len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
            y = y.astype(np.float32)
        elif op == "MatMul":
            y = np.matmul(x[0].astype(np.float64), x[1].astype(np.float64)).astype(np.float32)
        elif op == "Relu":
            y = np.maximum(x[0], 0)
        elif op == "Add":
            y = x[0] + x[1]
        elif op == "Sub":
            y = x[0] - x[1]
        elif op == "Mul":
            y = x[0] * x[1]
        elif op == "Div":
            y = x[0] / x[1]
        elif op == "Sqrt":
            y = np.sqrt(x[0])
        elif op == "Pow":
            y = np.power(x[0], x[1])
        elif op == "Erf":
            y = np.vectorize(math.erf, otypes=[np.float64])(x[0]).astype(x[0].dtype)
        elif op == "Clip":
            lo = x[1] if len(x) > 1 and x[1] is not None else a.get("min", -np.inf)
            hi = x[2] if len(x) > 2 and x[2] is not None else a.get("max", np.inf)
            y = np.minimum(np.maximum(x[0], lo), hi)
        elif op == "HardSigmoid":
            y = np.clip(a.get("alpha", 0.2) * x[0] + a.get("beta", 0.5), 0, 1).astype(np.float32)
        elif op == "HardSwish":
            y = x[0] * np.clip(x[0] / 6 + 0.5, 0, 1)
        elif op == "Softmax":
            axis = a.get("axis", -1)
            e = np.exp(x[0] - x[0].max(axis=axis, keepdims=True))
            y = e / e.sum(axis=axis, keepdims=True)
        elif op == "Transpose":
            y = np.transpose(x[0], a.get("perm"))
        elif op == "Reshape":
            shape = [int(s) for s in x[1]]
            shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            y = x[0].reshape(shape)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:ax])), -1)
        elif op == "Shape":
            y = np.array(x[0].shape, dtype=np.int64)
        elif op == "Gather":
            y = np.take(x[0], x[1], axis=a.get("axis", 0))
        elif op == "Unsqueeze":
            axes = a["axes"] if "axes" in a else [int(v) for v in x[1]]
            y = x[0]
            for ax in sorted(axes):
                y = np.expand_dims(y, ax)
        elif op == "Concat":
            y = np.concatenate(x, axis=a["axis"])
        elif op == "ReduceMean":
            y = x[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif op == "LayerNormalization":
            axis = a.get("axis", -1)
            axes = tuple(range(axis % x[0].ndim, x[0].ndim))
            mu = x[0].mean(axis=axes, keepdims=True)
            var = ((x[0] - mu) ** 2).mean(axis=axes, keepdims=True)
            y = (x[0] - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * x[1]
            if len(x) > 2 and x[2] is not None:
                y = y + x[2]
        elif op == "BatchNormalization":
            if a.get("training_mode", 0) != 0 or len(node.output) != 1:
                raise RuntimeError(f"BatchNormalization {node.name} is not in inference mode")
            s = [1, -1] + [1] * (x[0].ndim - 2)
            scale, bias, mean, var = (v.reshape(s) for v in x[1:5])
            y = (x[0] - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * scale + bias
        elif op == "Conv":
            k = x[1].shape[2:]
            pads = _pads_2d(a.get("pads", [0, 0, 0, 0]))
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise NotImplementedError("auto_pad")
            if "kernel_shape" in a and tuple(a["kernel_shape"]) != tuple(k):
                raise RuntimeError("kernel_shape does not match the weight")
            y = F.conv2d(
                t(x[0]),
                t(x[1]),
                t(x[2]) if len(x) > 2 else None,
                stride=tuple(a.get("strides", [1, 1])),
                padding=pads,
                dilation=tuple(a.get("dilations", [1, 1])),
                groups=a.get("group", 1),
            ).numpy()
        elif op == "MaxPool":
            if len(node.output) != 1:
                raise NotImplementedError("MaxPool indices output")
            y = F.max_pool2d(
                t(x[0]),
                tuple(a["kernel_shape"]),
                stride=tuple(a.get("strides", [1, 1])),
                padding=_pads_2d(a.get("pads", [0, 0, 0, 0])),
                dilation=tuple(a.get("dilations", [1, 1])),
                ceil_mode=bool(a.get("ceil_mode", 0)),
            ).numpy()
        elif op == "AveragePool":
            y = F.avg_pool2d(
                t(x[0]),
                tuple(a["kernel_shape"]),
                stride=tuple(a.get("strides", [1, 1])),
                padding=_pads_2d(a.get("pads", [0, 0, 0, 0])),
                ceil_mode=bool(a.get("ceil_mode", 0)),
                count_include_pad=bool(a.get("count_include_pad", 0)),
            ).numpy()
        elif op == "GlobalAveragePool":
            y = x[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Resize":
            mode = a.get("mode", b"nearest")
            ctm = a.get("coordinate_transformation_mode", b"half_pixel")
            nm = a.get("nearest_mode", b"round_prefer_floor")
            if (mode, ctm, nm) != (b"nearest", b"asymmetric", b"floor"):
                raise NotImplementedError(f"Resize {mode} {ctm} {nm}")
            scales = x[2] if len(x) > 2 and x[2] is not None and x[2].size else None
            if scales is None:
                sizes = x[3]
                scales = sizes / np.array(x[0].shape)
            out_shape = [int(math.floor(d * s)) for d, s in zip(x[0].shape, scales)]
            y = x[0]
            for ax in range(y.ndim):
                src = np.floor(np.arange(out_shape[ax]) / scales[ax]).astype(np.int64)
                src = np.minimum(src, y.shape[ax] - 1)
                y = np.take(y, src, axis=ax)
        else:
            raise NotImplementedError(f"interpreter: op {op}")
        outs = y if isinstance(y, tuple) else (y,)
        for name, val in zip(node.output, outs):
            env[name] = np.asarray(val)
    return [env[o.name] for o in m.graph.output]


def verify(m, feeds, expected, what, model_dir=None, atol=1e-4):
    got = run_onnx(m, feeds, model_dir)[0]
    err = float(np.abs(got.astype(np.float64) - expected).max())
    if got.shape != expected.shape or not err <= atol:
        raise RuntimeError(f"{what}: ONNX interpreter differs from torch (max |diff| {err})")
    log(f"  {what}: interpreter matches torch, max |diff| {err:.2e}")
    return err


# ----------------------------------------------------------------------------------------- MLP
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


MLP_RECIPE = {
    "optimizer": "Adam",
    "lr": 1e-3,
    "epochs": 10,
    "batch": 128,
    "loss": "cross_entropy",
    "data": "Fashion-MNIST train (60000), pixels/255, reshuffled each epoch",
    "init_and_shuffle_seed": MLP_SEED,
}


def make_mlp(data, meta):
    log("MLP")
    (xtr, ytr), (xte, yte) = data
    torch.manual_seed(MLP_SEED)
    model = MLP()
    times = train(model, xtr.reshape(-1, 784), ytr, MLP_RECIPE["epochs"], MLP_SEED, MLP_RECIPE["lr"])
    acc = accuracy(model, xte.reshape(-1, 784), yte)
    log(f"  test accuracy {acc:.4f}")
    path = os.path.join(OUT, "mlp.onnx")
    m = export(model, torch.zeros(1, 784), path, 13, ["input"], ["logits"])
    if [n.op_type for n in m.graph.node] != ["Gemm", "Relu", "Gemm", "Relu", "Gemm"]:
        raise RuntimeError(f"mlp.onnx: unexpected nodes {op_counts(m)}")
    for i, name in ((1, "fc1"), (2, "fc2"), (3, "fc3")):
        layer = getattr(model, name)
        save_npy(f"mlp_fc{i}_weight.npy", layer.weight.detach().numpy())
        save_npy(f"mlp_fc{i}_bias.npy", layer.bias.detach().numpy())
    xin = xte[:N_REF].reshape(-1, 784)
    with torch.no_grad():
        ref = save_npy("mlp_ref_logits.npy", model(xin).numpy())
    err = verify(m, {"input": xin.numpy()}, ref, "mlp.onnx")
    iacc = interpreter_accuracy(m, xte.reshape(-1, 784), yte)
    log(f"  mlp.onnx: interpreter test accuracy {iacc:.4f}")
    meta["mlp.onnx"] = dict(
        what="MLP 784-256-128-10 (Gemm, Relu, Gemm, Relu, Gemm) trained on Fashion-MNIST; "
        "input pixels/255 flattened to 784, no other normalization; Gemm weights are "
        "initializers fc{1,2,3}.weight [out,in] with transB=1 and biases fc{1,2,3}.bias",
        **io_info(m),
        test_accuracy_fp32=acc,
        test_accuracy_by="torch 1.13 eager, all 10000 test images",
        test_accuracy_onnx_interpreter=iacc,
        training=MLP_RECIPE,
        interpreter_max_abs_diff=err,
    )
    for i, (o, n) in enumerate(((256, 784), (128, 256), (10, 128)), 1):
        meta[f"mlp_fc{i}_weight.npy"] = dict(
            what=f"mlp.onnx fc{i}.weight, float32, PyTorch layout [out,in]", shape=[o, n]
        )
        meta[f"mlp_fc{i}_bias.npy"] = dict(what=f"mlp.onnx fc{i}.bias, float32", shape=[o])
    meta["mlp_ref_logits.npy"] = dict(
        what="torch fp32 logits of mlp for the first 256 test images (t10k file order), "
        "input pixels/255 flattened",
        shape=[N_REF, 10],
        top1_agreement_with_labels=float((ref.argmax(1) == yte[:N_REF].numpy()).mean()),
    )
    return model


def interpreter_accuracy(m, x, y, batch=1000, input_name="input"):
    """Top-1 accuracy of the ONNX graph itself (through run_onnx) on the full test split."""
    correct = 0
    for i in range(0, x.shape[0], batch):
        out = run_onnx(m, {input_name: x[i : i + batch].numpy()})[0]
        correct += int((out.argmax(1) == y[i : i + batch].numpy()).sum())
    return correct / x.shape[0]


# ----------------------------------------------------------------------------------------- CNN
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


CNN_RECIPE = {
    "optimizer": "Adam",
    "lr": 1e-3,
    "epochs": 4,
    "batch": 128,
    "loss": "cross_entropy",
    "data": "Fashion-MNIST train (60000), pixels/255 as [N,1,28,28], reshuffled each epoch",
    "batchnorm": "default momentum 0.1, eps 1e-5; running statistics from training",
    "init_and_shuffle_seed": CNN_SEED,
}
CNN_OPS = ["Conv", "BatchNormalization", "Relu", "MaxPool"] * 2 + ["Flatten", "Gemm", "Relu", "Gemm"]


def make_cnn(data, meta):
    log("CNN")
    (xtr, ytr), (xte, yte) = data
    torch.manual_seed(CNN_SEED)
    model = CNN()
    train(model, xtr.unsqueeze(1), ytr, CNN_RECIPE["epochs"], CNN_SEED, CNN_RECIPE["lr"])
    xte4 = xte.unsqueeze(1)
    acc = accuracy(model, xte4, yte)
    log(f"  test accuracy {acc:.4f}")
    xin = xte4[:N_REF]
    with torch.no_grad():
        ref = save_npy("cnn_ref_logits.npy", model(xin).numpy())
    for name, opset in (("cnn.onnx", 13), ("cnn_opset9.onnx", 9), ("cnn_opset17.onnx", 17)):
        m = export(model, torch.zeros(1, 1, 28, 28), os.path.join(OUT, name), opset,
                   ["input"], ["logits"], preserve_bn=True)
        ops = [n.op_type for n in m.graph.node]
        if ops != CNN_OPS:
            raise RuntimeError(f"{name}: unexpected nodes {ops}")
        for n in m.graph.node:
            if n.op_type == "BatchNormalization":
                a = _attrs(n)
                if len(n.output) != 1 or a.get("training_mode", 0) != 0:
                    raise RuntimeError(f"{name}: BatchNormalization {n.name} not in inference mode")
        err = verify(m, {"input": xin.numpy()}, ref, name)
        iacc = interpreter_accuracy(m, xte4, yte)
        log(f"  {name}: interpreter test accuracy {iacc:.4f}")
        meta[name] = dict(
            what=f"CNN trained on Fashion-MNIST, opset {opset}: Conv(1->8,3x3,pad 1), "
            "BatchNormalization (inference mode, one output, running statistics as "
            "initializers), Relu, MaxPool 2x2; Conv(8->16,3x3,pad 1), BatchNormalization, Relu, "
            "MaxPool 2x2; Flatten; Gemm 784->64 (transB=1), Relu, Gemm 64->10. Input pixels/255 "
            "as [N,1,28,28]. BN is NOT folded into Conv (exported with TrainingMode.PRESERVE on "
            "an eval-mode model)"
            + ("" if opset == 13 else "; same weights as cnn.onnx"),
            **io_info(m),
            test_accuracy_fp32=acc,
            test_accuracy_by="torch 1.13 eager, all 10000 test images",
            test_accuracy_onnx_interpreter=iacc,
            training=CNN_RECIPE,
            interpreter_max_abs_diff=err,
        )
    meta["cnn_ref_logits.npy"] = dict(
        what="torch fp32 logits of the CNN (cnn.onnx, cnn_opset9.onnx, cnn_opset17.onnx) for the "
        "first 256 test images (t10k file order), input pixels/255 as [256,1,28,28]",
        shape=[N_REF, 10],
        top1_agreement_with_labels=float((ref.argmax(1) == yte[:N_REF].numpy()).mean()),
    )


# ------------------------------------------------------------------------------------ variants
def make_variants(data, meta):
    """Loader variants of the committed mlp.onnx (run the mlp group first)."""
    log("MLP variants")
    (_, _), (xte, _) = data
    base = onnx.load(os.path.join(OUT, "mlp.onnx"))
    ref = np.load(os.path.join(OUT, "mlp_ref_logits.npy"))
    feeds = {"input": xte[:N_REF].reshape(-1, 784).numpy()}
    base_out = run_onnx(base, feeds)[0]

    def same_as_base(m, what, model_dir=None):
        if not np.array_equal(run_onnx(m, feeds, model_dir)[0], base_out):
            raise RuntimeError(f"{what}: interpreter output differs from mlp.onnx")

    # every initializer becomes a Constant node (placed first, outputs keep the names)
    m = copy.deepcopy(base)
    consts = [
        helper.make_node("Constant", [], [init.name], name=f"const_{init.name}", value=init)
        for init in m.graph.initializer
    ]
    nodes = consts + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    del m.graph.initializer[:]
    check(m, "mlp_constants.onnx")
    onnx.save_model(m, os.path.join(OUT, "mlp_constants.onnx"))
    err = verify(m, feeds, ref, "mlp_constants.onnx")
    same_as_base(m, "mlp_constants.onnx")
    meta["mlp_constants.onnx"] = dict(
        what="mlp.onnx with every initializer replaced by a Constant node (value attribute, "
        "output named like the initializer, nodes placed before the Gemms); no initializers",
        **io_info(m),
        same_function_as="mlp.onnx (reference: mlp_ref_logits.npy)",
        interpreter_max_abs_diff=err,
    )

    # external data: all tensors in one file next to the model
    m = copy.deepcopy(base)
    path = os.path.join(OUT, "mlp_external.onnx")
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="mlp_external.data", size_threshold=0)
    m = onnx.load(path, load_external_data=False)
    onnx.checker.check_model(path, full_check=True)
    if not all(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer):
        raise RuntimeError("mlp_external.onnx: not every initializer is external")
    err = verify(m, feeds, ref, "mlp_external.onnx", model_dir=OUT)
    same_as_base(m, "mlp_external.onnx", model_dir=OUT)
    ext = [{e.key: e.value for e in t.external_data} | {"name": t.name}
           for t in m.graph.initializer]
    meta["mlp_external.onnx"] = dict(
        what="mlp.onnx with every initializer stored as ONNX external data in "
        "mlp_external.data (data_location=EXTERNAL, keys location/offset/length)",
        **io_info(m),
        external_tensors=ext,
        same_function_as="mlp.onnx (reference: mlp_ref_logits.npy)",
        interpreter_max_abs_diff=err,
    )
    meta["mlp_external.data"] = dict(
        what="raw little-endian tensor bytes referenced by mlp_external.onnx"
    )


# ------------------------------------------------------------------------------------- encoder
class TinyEncoder(nn.Module):
    """Pre-norm transformer encoder block, d=32, 2 heads of 16, sequence 8, MLP 32-64-32."""

    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(32)
        self.q = nn.Linear(32, 32)
        self.k = nn.Linear(32, 32)
        self.v = nn.Linear(32, 32)
        self.proj = nn.Linear(32, 32)
        self.ln2 = nn.LayerNorm(32)
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 32)

    def forward(self, x):  # [N,8,32]
        h = self.ln1(x)
        q = self.q(h).reshape(-1, 8, 2, 16).transpose(1, 2)  # [N,2,8,16]
        k = self.k(h).reshape(-1, 8, 2, 16).permute(0, 2, 3, 1)  # [N,2,16,8]
        v = self.v(h).reshape(-1, 8, 2, 16).transpose(1, 2)  # [N,2,8,16]
        att = torch.softmax(torch.matmul(q, k) / 4.0, dim=-1)  # / sqrt(16)
        o = torch.matmul(att, v).transpose(1, 2).reshape(-1, 8, 32)
        x = x + self.proj(o)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


def randomize_affine(module, gen):
    """LayerNorm / BatchNorm affine parameters away from the identity (1, 0)."""
    with torch.no_grad():
        module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
        module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)


def make_encoder(meta):
    log("tiny encoder")
    torch.manual_seed(ENCODER_SEED)
    model = TinyEncoder().eval()
    gen = torch.Generator().manual_seed(ENCODER_SEED)
    randomize_affine(model.ln1, gen)
    randomize_affine(model.ln2, gen)
    x = torch.randn(2, 8, 32, generator=gen)
    with torch.no_grad():
        ref = model(x).numpy()
    save_npy("tiny_encoder_input.npy", x.numpy())
    save_npy("tiny_encoder_output.npy", ref)
    m = export(model, x, os.path.join(OUT, "tiny_encoder.onnx"), 17, ["input"], ["output"])
    ops = op_counts(m)
    for need in ("LayerNormalization", "MatMul", "Transpose", "Reshape", "Softmax", "Erf"):
        if need not in ops:
            raise RuntimeError(f"tiny_encoder.onnx: no {need} node ({ops})")
    err = verify(m, {"input": x.numpy()}, ref, "tiny_encoder.onnx")
    meta["tiny_encoder.onnx"] = dict(
        what="one pre-norm transformer encoder block with random weights: LayerNormalization, "
        "2-head self-attention (MatMul+Add projections, Reshape/Transpose to heads, MatMul, Div "
        "by 4 = sqrt(16), Softmax, MatMul, Transpose/Reshape back, output projection), residual "
        "Add, LayerNormalization, MLP 32->64 with exact GELU (Div, Erf, Add, Mul, Mul) and "
        "64->32, residual Add. Input/output [N,8,32]; torch's export names the output's dim 1 "
        "symbolically (Addoutput_dim_1) although it is 8, which loaders must accept",
        **io_info(m),
        seed=ENCODER_SEED,
        interpreter_max_abs_diff=err,
    )
    meta["tiny_encoder_input.npy"] = dict(what="input for tiny_encoder.onnx, randn", shape=[2, 8, 32])
    meta["tiny_encoder_output.npy"] = dict(
        what="torch fp32 output of tiny_encoder.onnx for tiny_encoder_input.npy", shape=[2, 8, 32]
    )


# -------------------------------------------------------------------------------------- mobile
class MobileBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.se1 = nn.Conv2d(8, 4, 1)
        self.se2 = nn.Conv2d(4, 8, 1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):  # [N,3,16,16]
        x = F.hardswish(self.bn1(self.stem(x)))  # [N,8,8,8]
        y = torch.clamp(self.bn2(self.dw(x)), 0.0, 6.0)  # ReLU6 on the depthwise conv
        g = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(y, 1)))))
        y = y * g + x  # squeeze-excite gating, residual
        p = F.avg_pool2d(y, 2, count_include_pad=False)  # [N,8,4,4]
        y = y + F.interpolate(p, scale_factor=2.0, mode="nearest")  # [N,8,8,8]
        z = F.avg_pool2d(y, 2, count_include_pad=False)  # [N,8,4,4]
        return self.fc(torch.flatten(z, 1))


def make_mobile(meta):
    log("mobile block")
    torch.manual_seed(MOBILE_SEED)
    model = MobileBlock().eval()
    gen = torch.Generator().manual_seed(MOBILE_SEED)
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            randomize_affine(bn, gen)
            bn.running_mean.copy_(torch.randn(bn.running_mean.shape, generator=gen) * 0.5)
            bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=gen) * 1.5 + 0.5)
    x = torch.randn(2, 3, 16, 16, generator=gen)
    with torch.no_grad():
        ref = model(x).numpy()
    save_npy("mobile_block_input.npy", x.numpy())
    save_npy("mobile_block_output.npy", ref)
    m = export(model, x, os.path.join(OUT, "mobile_block.onnx"), 13, ["input"], ["output"],
               preserve_bn=True)
    ops = op_counts(m)
    for need in ("Conv", "BatchNormalization", "Clip", "HardSigmoid", "GlobalAveragePool",
                 "AveragePool", "Resize", "Mul", "Flatten", "Gemm"):
        if need not in ops:
            raise RuntimeError(f"mobile_block.onnx: no {need} node ({ops})")
    groups = [_attrs(n).get("group", 1) for n in m.graph.node if n.op_type == "Conv"]
    if 8 not in groups:
        raise RuntimeError("mobile_block.onnx: no depthwise Conv (group=8)")
    err = verify(m, {"input": x.numpy()}, ref, "mobile_block.onnx")
    meta["mobile_block.onnx"] = dict(
        what="mobile-style block with random weights and randomized BatchNorm statistics: "
        "Conv 3->8 3x3 stride 2 (no bias), BatchNormalization, HardSwish (at opset 13 exported "
        "as HardSigmoid(alpha=1/6)+Mul); depthwise Conv 8->8 3x3 group=8, BatchNormalization, "
        "ReLU6 as Clip(min=0,max=6 inputs); squeeze-excite: GlobalAveragePool, Conv 1x1 8->4, "
        "Relu, Conv 1x1 4->8, HardSigmoid, Mul; residual Add; AveragePool 2x2, nearest Resize "
        "x2 (asymmetric, floor), Add; AveragePool 2x2; Flatten; Gemm 128->10",
        **io_info(m),
        seed=MOBILE_SEED,
        conv_groups=groups,
        interpreter_max_abs_diff=err,
    )
    meta["mobile_block_input.npy"] = dict(what="input for mobile_block.onnx, randn",
                                          shape=[2, 3, 16, 16])
    meta["mobile_block_output.npy"] = dict(
        what="torch fp32 output of mobile_block.onnx for mobile_block_input.npy", shape=[2, 10]
    )


# ----------------------------------------------------------------------------------------- main
GROUPS = ["mlp", "cnn", "variants", "encoder", "mobile"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--only", default=",".join(GROUPS))
    args = ap.parse_args()
    groups = [g for g in args.only.split(",") if g]
    for g in groups:
        if g not in GROUPS:
            sys.exit(f"unknown group {g!r}; groups: {', '.join(GROUPS)}")
    os.makedirs(OUT, exist_ok=True)
    meta_path = os.path.join(OUT, "fixtures.json")
    meta = {}
    if os.path.exists(meta_path) and set(groups) != set(GROUPS):
        with open(meta_path) as f:
            meta = json.load(f).get("files", {})
    t0 = time.time()
    data = None
    if {"mlp", "cnn", "variants"} & set(groups):
        data = (load_split(args.data, "train"), load_split(args.data, "test"))
    fns = {
        "mlp": lambda: make_mlp(data, meta),
        "cnn": lambda: make_cnn(data, meta),
        "variants": lambda: make_variants(data, meta),
        "encoder": lambda: make_encoder(meta),
        "mobile": lambda: make_mobile(meta),
    }
    for g in GROUPS:
        if g in groups:
            fns[g]()
    for name in sorted(meta):
        p = os.path.join(OUT, name)
        if not os.path.exists(p):
            raise RuntimeError(f"fixtures.json lists {name} but the file is missing")
        meta[name]["bytes"] = os.path.getsize(p)
        meta[name]["sha256"] = sha256(p)
    doc = {
        "generator": "scripts/make_fixtures.py",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "threads": 1,
        "reference_inputs": "first 256 images of t10k-images-idx3-ubyte, file order, pixels/255",
        "files": {k: meta[k] for k in sorted(meta)},
    }
    with open(meta_path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    log(f"done in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
