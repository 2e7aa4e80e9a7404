#!/usr/bin/python3
"""Train the small MobileNet-style Fashion-MNIST classifier tests/fixtures/fashion_mnist/mobilenet.onnx.

How to run (from the repository root; Debian packages python3-torch 1.13, python3-onnx 1.12,
python3-numpy, dataset-fashion-mnist; nothing is downloaded):

    /usr/bin/python3 scripts/make_mobilenet_fixture.py                  # train, export, update fixtures.json
    /usr/bin/python3 scripts/make_mobilenet_fixture.py --out /tmp/mnet  # the same into another folder
    /usr/bin/python3 scripts/make_mobilenet_fixture.py --epochs 1 --out /tmp/mnet   # a quick smoke run

It is the fixture for fine-tuning experiments on a real convolutional network (quantization-aware
training, LSQ, 2:4 sparsity fine-tuning): a trained model with BatchNormalization kept, depthwise
convolutions, HardSwish / HardSigmoid, squeeze-excite gating (Mul) and residual Adds.

Fashion-MNIST is read from the IDX gz files in /usr/share/datasets/fashion-mnist (--data DIR to
override) with scripts/make_fixtures.py's reader: pixels/255 as [N,1,28,28], nothing else -- the
same input as cnn.onnx, i.e. what hone's `fashion-mnist:test` data spec feeds.

Model (names are the ONNX initializer / node names; every Conv but the SE ones has no bias):
  stem   Conv 1->16 3x3 stride 2 pad 1, BatchNormalization, HardSwish         [N,16,14,14]
  b1     depthwise-separable block, residual, squeeze-excite:
         dw Conv 16 3x3 group 16, BN, HardSwish;
         SE: GlobalAveragePool, Conv 1x1 16->8 (+bias), Relu, Conv 1x1 8->16 (+bias),
             HardSigmoid, Mul;
         pw Conv 1x1 16->16, BN (linear); Add with the block input            [N,16,14,14]
  b2     inverted residual, stride 2 (no residual): expand Conv 1x1 16->64, BN, HardSwish;
         dw Conv 64 3x3 stride 2 group 64, BN, HardSwish; project Conv 1x1 64->32, BN
                                                                              [N,32,7,7]
  b3     inverted residual, residual, squeeze-excite: expand Conv 1x1 32->128, BN, HardSwish;
         dw Conv 128 3x3 group 128, BN, HardSwish; SE 128->32->128;
         project Conv 1x1 128->32, BN; Add with the block input               [N,32,7,7]
  head   Conv 1x1 32->128, BN, HardSwish; GlobalAveragePool; Flatten; Gemm 128->10 (transB=1)

What it writes into --out (default tests/fixtures/fashion_mnist):
  mobilenet.onnx             torch.onnx.export, opset 17, input `input` f32 [N,1,28,28] ->
                             `logits` f32 [N,10], dynamic batch N. BatchNormalization is NOT
                             folded into Conv (TrainingMode.PRESERVE on an eval-mode model:
                             inference-mode BN nodes, one output, running statistics as
                             initializers), as in cnn.onnx.
  mobilenet_ref_logits.npy   torch fp32 logits [256,10] of the first 256 test images (file order)
  fixtures.json              the entries of both files are added or replaced; every other entry
                             and the top-level fields are kept as they are (a folder without a
                             fixtures.json gets one with these two entries only)

Checks: onnx.checker (full_check); the node types (BatchNormalization in inference mode, HardSwish,
HardSigmoid, Mul, GlobalAveragePool, depthwise Conv, Add, Gemm, no MatMul); the ONNX graph is run
by make_fixtures.py's independent interpreter (numpy + torch.nn.functional, driven only by the
ONNX nodes) on the 256 reference images (must match torch within 1e-4) and on all 10,000 test
images (its accuracy is recorded next to torch's).

Determinism: fixed seed (init and data order), torch.use_deterministic_algorithms(True) and a
fixed thread count (--threads, default 1 as make_fixtures.py; another thread count gives other
weights). Two runs with the same thread count write byte-identical ONNX and NPY files; only
fixtures.json's seconds differ.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (the data reader, ONNX helpers and interpreter)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "fashion_mnist")
SEED = 5  # make_fixtures.py uses 1..4
OPSET = 17
N_REF = mf.N_REF  # 256
ONNX_NAME = "mobilenet.onnx"
REF_NAME = "mobilenet_ref_logits.npy"

RECIPE = {
    "optimizer": "Adam (betas 0.9/0.999, no weight decay)",
    "lr": 3e-3,
    "schedule": "cosine from lr to 0 over all steps, set per step",
    "epochs": 5,
    "batch": 128,
    "loss": "cross_entropy",
    "data": "Fashion-MNIST train (60000), pixels/255 as [N,1,28,28], reshuffled each epoch, "
    "no augmentation",
    "batchnorm": "default momentum 0.1, eps 1e-5; running statistics from training",
    "init_and_shuffle_seed": SEED,
}

REQUIRED_OPS = ("Conv", "BatchNormalization", "HardSwish", "HardSigmoid", "Mul",
                "GlobalAveragePool", "Relu", "Add", "Flatten", "Gemm")


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------------------------------- model
class SqueezeExcite(nn.Module):
    """GlobalAveragePool, 1x1 reduce, Relu, 1x1 expand, HardSigmoid, Mul with the features."""

    def __init__(self, channels, reduced):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.relu = nn.ReLU()
        self.expand = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.expand(self.relu(self.reduce(self.pool(x)))))


class Block(nn.Module):
    """[expand 1x1 + BN + HardSwish] -> depthwise 3x3 + BN + HardSwish -> [SE] -> pointwise 1x1
    + BN (linear) -> [+ input when the shapes allow]. Without expansion it is a depthwise-separable
    block, with it an inverted residual (MobileNetV2/V3)."""

    def __init__(self, cin, cout, stride, expand=1, se_reduced=0):
        super().__init__()
        mid = cin * expand
        self.expand = nn.Conv2d(cin, mid, 1, bias=False) if expand > 1 else None
        self.expand_bn = nn.BatchNorm2d(mid) if expand > 1 else None
        self.dw = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.dw_bn = nn.BatchNorm2d(mid)
        self.act = nn.Hardswish()
        self.se = SqueezeExcite(mid, se_reduced) if se_reduced else None
        self.pw = nn.Conv2d(mid, cout, 1, bias=False)
        self.pw_bn = nn.BatchNorm2d(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.expand is not None:
            y = self.act(self.expand_bn(self.expand(y)))
        y = self.act(self.dw_bn(self.dw(y)))
        if self.se is not None:
            y = self.se(y)
        y = self.pw_bn(self.pw(y))
        return x + y if self.residual else y


class Stem(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.Hardswish()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Stem(1, 16, 3, 2)  # [N,16,14,14]
        self.b1 = Block(16, 16, 1, expand=1, se_reduced=8)  # [N,16,14,14], residual
        self.b2 = Block(16, 32, 2, expand=4)  # [N,32,7,7]
        self.b3 = Block(32, 32, 1, expand=4, se_reduced=32)  # [N,32,7,7], residual
        self.head = Stem(32, 128, 1, 1)  # 1x1 Conv 32->128, BN, HardSwish
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):  # [N,1,28,28], pixels/255
        x = self.head(self.b3(self.b2(self.b1(self.stem(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


ARCHITECTURE = (
    "MobileNet-style CNN trained on Fashion-MNIST, opset 17, input pixels/255 as [N,1,28,28]. "
    "stem: Conv 1->16 3x3 stride 2 pad 1 (no bias), BatchNormalization, HardSwish [N,16,14,14]; "
    "b1 (depthwise-separable, squeeze-excite, residual): depthwise Conv 16 3x3 group 16, BN, "
    "HardSwish, SE (GlobalAveragePool, Conv 1x1 16->8, Relu, Conv 1x1 8->16, HardSigmoid, Mul), "
    "pointwise Conv 1x1 16->16, BN, Add with the block input; "
    "b2 (inverted residual, stride 2): Conv 1x1 16->64, BN, HardSwish, depthwise Conv 64 3x3 "
    "stride 2 group 64, BN, HardSwish, Conv 1x1 64->32, BN [N,32,7,7]; "
    "b3 (inverted residual, squeeze-excite, residual): Conv 1x1 32->128, BN, HardSwish, "
    "depthwise Conv 128 3x3 group 128, BN, HardSwish, SE 128->32->128, Conv 1x1 128->32, BN, Add; "
    "head: Conv 1x1 32->128, BN, HardSwish, GlobalAveragePool, Flatten, Gemm 128->10 (transB=1). "
    "Only the SE convs and the Gemm have biases. BN is NOT folded into Conv (exported with "
    "TrainingMode.PRESERVE on an eval-mode model: inference mode, one output, running statistics "
    "as initializers)"
)


# ------------------------------------------------------------------------------------- training
def train(model, x, y, recipe):
    """Adam, cosine learning rate per step, batch 128, reshuffled every epoch from a seeded
    generator. Returns per-epoch mean losses and seconds."""
    gen = torch.Generator().manual_seed(recipe["init_and_shuffle_seed"])
    opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    n, batch, epochs = x.shape[0], recipe["batch"], recipe["epochs"]
    steps = epochs * math.ceil(n / batch)
    step = 0
    losses, times = [], []
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch):
            lr = recipe["lr"] * 0.5 * (1.0 + math.cos(math.pi * step / steps))
            for g in opt.param_groups:
                g["lr"] = lr
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss) * idx.numel()
            step += 1
        losses.append(total / n)
        times.append(time.time() - t0)
        log(f"  epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f} ({times[-1]:.1f} s)")
    model.eval()
    return losses, times


# --------------------------------------------------------------------------------------- checks
def check_graph(m):
    ops = mf.op_counts(m)
    for need in REQUIRED_OPS:
        if need not in ops:
            raise RuntimeError(f"{ONNX_NAME}: no {need} node ({ops})")
    if "MatMul" in ops:
        raise RuntimeError(f"{ONNX_NAME}: the classifier was exported as MatMul, not Gemm ({ops})")
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            a = mf._attrs(n)
            if len(n.output) != 1 or a.get("training_mode", 0) != 0:
                raise RuntimeError(f"{ONNX_NAME}: BatchNormalization {n.name} not in inference mode")
    groups = [mf._attrs(n).get("group", 1) for n in m.graph.node if n.op_type == "Conv"]
    if not any(g > 1 for g in groups):
        raise RuntimeError(f"{ONNX_NAME}: no depthwise Conv (group > 1)")
    dims = m.graph.input[0].type.tensor_type.shape.dim
    if dims[0].dim_param != "N" or [d.dim_value for d in dims[1:]] != [1, 28, 28]:
        raise RuntimeError(f"{ONNX_NAME}: input shape is not [N,1,28,28]")
    return ops, groups


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def update_fixtures_json(out, entries):
    """Add or replace `entries` in OUT/fixtures.json, keeping everything else as it is (the file
    is written as make_fixtures.py writes it: indent 1, files sorted by name)."""
    path = os.path.join(out, "fixtures.json")
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
    else:
        doc = {
            "generator": "scripts/make_mobilenet_fixture.py",
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "numpy": np.__version__,
            "threads": torch.get_num_threads(),
            "reference_inputs": "first 256 images of t10k-images-idx3-ubyte, file order, pixels/255",
            "files": {},
        }
    files = doc.setdefault("files", {})
    for name, meta in entries.items():
        meta["bytes"] = os.path.getsize(os.path.join(out, name))
        meta["sha256"] = sha256(os.path.join(out, name))
        files[name] = meta
    doc["files"] = {k: files[k] for k in sorted(files)}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=mf.DEFAULT_DATA)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    recipe = dict(RECIPE, epochs=args.epochs, threads=args.threads)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()

    (xtr, ytr), (xte, yte) = mf.load_split(args.data, "train"), mf.load_split(args.data, "test")
    xtr, xte = xtr.unsqueeze(1), xte.unsqueeze(1)  # [N,1,28,28]

    log(f"MobileNet (seed {SEED}, {args.epochs} epochs, {args.threads} thread(s))")
    torch.manual_seed(SEED)
    model = MobileNet()
    trainable = sum(p.numel() for p in model.parameters())
    log(f"  {trainable} trainable parameters")
    t0 = time.time()
    losses, times = train(model, xtr, ytr, recipe)
    train_seconds = time.time() - t0
    acc = mf.accuracy(model, xte, yte)
    log(f"  torch test accuracy {acc:.4f} (training {train_seconds:.1f} s)")

    xin = xte[:N_REF]
    with torch.no_grad():
        ref = np.ascontiguousarray(model(xin).numpy(), dtype=np.float32)
    np.save(os.path.join(args.out, REF_NAME), ref)

    path = os.path.join(args.out, ONNX_NAME)
    m = mf.export(model, torch.zeros(1, 1, 28, 28), path, OPSET, ["input"], ["logits"],
                  preserve_bn=True)
    ops, groups = check_graph(m)
    log(f"  {ONNX_NAME}: {sum(ops.values())} nodes {ops}")
    err = mf.verify(m, {"input": xin.numpy()}, ref, ONNX_NAME)
    iacc = mf.interpreter_accuracy(m, xte, yte)
    log(f"  {ONNX_NAME}: interpreter test accuracy {iacc:.4f}")
    if iacc != acc:
        log(f"  note: interpreter and torch accuracies differ ({iacc} vs {acc})")

    info = mf.io_info(m)
    entries = {
        ONNX_NAME: dict(
            what=ARCHITECTURE,
            generator="scripts/make_mobilenet_fixture.py",
            **info,
            trainable_parameters=trainable,
            conv_groups=groups,
            test_accuracy_fp32=acc,
            test_accuracy_by="torch 1.13 eager, all 10000 test images",
            test_accuracy_onnx_interpreter=iacc,
            training=recipe,
            training_seconds=round(train_seconds, 1),
            epoch_seconds=[round(t, 1) for t in times],
            epoch_losses=[round(v, 6) for v in losses],
            interpreter_max_abs_diff=err,
        ),
        REF_NAME: dict(
            what="torch fp32 logits of mobilenet.onnx for the first 256 test images (t10k file "
            "order), input pixels/255 as [256,1,28,28]",
            generator="scripts/make_mobilenet_fixture.py",
            shape=[N_REF, 10],
            top1_agreement_with_labels=float((ref.argmax(1) == yte[:N_REF].numpy()).mean()),
        ),
    }
    update_fixtures_json(args.out, entries)
    log(f"  {ONNX_NAME} sha256 {sha256(path)}, {os.path.getsize(path)} bytes")
    log(f"done in {time.time() - t_start:.1f} s")


if __name__ == "__main__":
    main()
