#!/usr/bin/python3
"""Train the small LLaMA-style language-model fixture in tests/fixtures/lm/.

How to run (from the repository root; Debian packages python3-torch 1.13, python3-onnx 1.12,
python3-numpy, bible-kjv-text and its reader bible-kjv; nothing is downloaded):

    /usr/bin/python3 scripts/make_lm_fixture.py            # train, export, write the manifest
    /usr/bin/python3 scripts/make_lm_fixture.py --steps 50 --out /tmp/lm   # a quick smoke run

The text is the King James Bible from Debian's bible-kjv-text, read through its `bible` program
(`bible -f "Genesis 1:1-Revelation 22:21"` prints one verse per line, "Ge1:1 In the beginning").
Each book is its verses' text joined by newlines. Tokens are bytes (vocabulary 256, no BOS).
The books in HELD_OUT are never trained on: they are the evaluation set and its slices.

The model is a LLaMA-style decoder: token embedding, N blocks of (RMSNorm, grouped-query
self-attention with rotary embeddings and a causal mask, residual, RMSNorm, SwiGLU MLP,
residual), a final RMSNorm and an untied LM head. Module names follow Hugging Face's
LlamaForCausalLM, so the state dict is the HF checkpoint's tensor names.

What it writes (docs/fixtures.md):
  model.onnx          torch.onnx.export, opset 17: tokens int64 [batch, seq] -> logits f32
                      [batch, seq, 256], dynamic batch and seq axes
  hf/config.json      LLaMA config field names
  hf/model.safetensors  f32 tensors with HF LLaMA names (written by write_safetensors below)
  tokens.eval.npy     int64 [n, SEQ] windows of the held-out books; the model reads a row and
                      position t predicts the byte at t+1 (the last position has no target)
  tokens.eval.slices.json  the book of each eval row (slice label), in row order
  tokens.calib.npy    int64 [n, SEQ] windows of training books (calibration)
  ref_logits.npy      f32 [REF_ROWS, SEQ, 256] torch logits of the first eval rows
  manifest.json       sizes, sha256, torch version, seed, perplexities, held-out books, recipe

Determinism: fixed seed, a fixed number of steps, torch.use_deterministic_algorithms(True) and a
fixed thread count (--threads, default 2; results can differ at another thread count).
"""

import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HELD_OUT = ["Ruth", "Eccl", "Jonah", "Jas"]  # the `bible` program's abbreviations
HELD_OUT_NAMES = {"Ruth": "Ruth", "Eccl": "Ecclesiastes", "Jonah": "Jonah", "Jas": "James"}
SEQ = 64
EVAL_ROWS_PER_BOOK = 32
CALIB_ROWS = 64
REF_ROWS = 3
CONFIG = dict(
    vocab_size=256,
    hidden_size=128,
    intermediate_size=320,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    max_position_embeddings=SEQ,
)


def read_books():
    """{book abbreviation: text} in canon order, from Debian's bible-kjv."""
    out = subprocess.run(["bible", "-f", "-m", "8192", "Genesis 1:1-Revelation 22:21"],
                         check=True, capture_output=True, text=True, env={**os.environ,
                                                                         "COLUMNS": "100000"})
    books = {}
    for line in out.stdout.splitlines():
        if not line.strip():
            continue
        ref, text = line.split(" ", 1)
        # ref is e.g. "1Sm3:12": the book is everything before the chapter digits
        i = ref.index(":")
        j = i
        while j > 0 and ref[j - 1].isdigit():
            j -= 1
        book = ref[:j]
        books.setdefault(book, []).append(text.strip())
    assert len(books) == 66, f"expected 66 books, got {len(books)}"
    return {b: "\n".join(v) + "\n" for b, v in books.items()}


def to_bytes(text):
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64)


class Linear(nn.Linear):
    """nn.Linear that trains through a 1x1 convolution: Debian's torch has no fast BLAS for
    addmm but runs convolutions through oneDNN, about 1.5x faster here. Same math; in eval
    mode (and so in the ONNX export) it is the plain linear layer (MatMul)."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        shape = x.shape
        y = F.conv2d(x.reshape(-1, shape[-1], 1, 1), self.weight[:, :, None, None])
        return y.reshape(*shape[:-1], self.weight.shape[0])


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x / torch.sqrt(var + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h, self.kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = d // self.h
        self.q_proj = Linear(d, self.h * self.hd, bias=False)
        self.k_proj = Linear(d, self.kv * self.hd, bias=False)
        self.v_proj = Linear(d, self.kv * self.hd, bias=False)
        self.o_proj = Linear(self.h * self.hd, d, bias=False)

    def forward(self, x, cos, sin, causal):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.h // self.kv  # grouped-query attention: each KV head serves `rep` heads
        k = k[:, :, None].expand(b, self.kv, rep, t, self.hd).reshape(b, self.h, t, self.hd)
        v = v[:, :, None].expand(b, self.kv, rep, t, self.hd).reshape(b, self.h, t, self.hd)
        s = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hd)
        s = s.masked_fill(~causal, float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, v).transpose(1, 2).reshape(b, t, self.h * self.hd)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = Linear(d, i, bias=False)
        self.up_proj = Linear(d, i, bias=False)
        self.down_proj = Linear(i, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, causal):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, causal)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class LlamaLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.lm_head = Linear(c["hidden_size"], c["vocab_size"], bias=False)
        hd = c["hidden_size"] // c["num_attention_heads"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer("inv_freq", inv, persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
        for layer in self.model.layers:  # scaled residual projections (GPT-2 style)
            std = 0.02 / math.sqrt(2 * c["num_hidden_layers"])
            nn.init.normal_(layer.self_attn.o_proj.weight, std=std)
            nn.init.normal_(layer.mlp.down_proj.weight, std=std)

    def forward(self, tokens):
        t = tokens.shape[1]
        pos = torch.arange(t, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        x = self.model.embed_tokens(tokens)
        for layer in self.model.layers:
            x = layer(x, cos, sin, causal)
        return self.lm_head(self.model.norm(x))


def windows(seq, n, length):
    """n windows of `length` bytes evenly spaced over seq (non-overlapping when seq is long)."""
    starts = np.linspace(0, len(seq) - length, n).astype(np.int64)
    return np.stack([seq[s:s + length] for s in starts])


def all_windows(seq, length):
    k = len(seq) // length
    return seq[: k * length].reshape(k, length)


@torch.no_grad()
def mean_nll(model, rows, batch=32):
    """Mean next-token NLL (nats) over every position that has a target."""
    total, count = 0.0, 0
    for i in range(0, len(rows), batch):
        x = torch.from_numpy(rows[i:i + batch])
        logits = model(x)
        nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                              x[:, 1:].reshape(-1), reduction="sum")
        total += float(nll)
        count += x[:, 1:].numel()
    return total / count


def write_safetensors(path, tensors):
    """safetensors: u64 little-endian header length, JSON header, then the raw tensor bytes."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/lm")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(os.path.join(a.out, "hf"), exist_ok=True)

    books = read_books()
    train_books = [b for b in books if b not in HELD_OUT]
    train = to_bytes("".join(books[b] for b in train_books))
    held = {b: to_bytes(books[b]) for b in HELD_OUT}

    # unigram (byte frequency) baseline, add-one smoothed, fitted on the training books
    counts = np.bincount(train, minlength=256).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    held_all = np.concatenate([all_windows(held[b], SEQ)[:, 1:].reshape(-1) for b in HELD_OUT])
    unigram_ppl = float(np.exp(-logp[held_all].mean()))

    model = LlamaLM(CONFIG)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95))
    warm = max(1, a.steps // 20)

    def lr_at(s):
        if s < warm:
            return a.lr * (s + 1) / warm
        q = (s - warm) / max(1, a.steps - warm)
        return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * q)))

    t0 = time.time()
    model.train()
    for step in range(a.steps):
        starts = rng.integers(0, len(train) - SEQ - 1, a.batch)
        x = torch.from_numpy(np.stack([train[s:s + SEQ + 1] for s in starts]))
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), x[:, 1:].reshape(-1))
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step < 5 or step == a.steps - 1:
            print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    train_seconds = time.time() - t0
    model.eval()

    per_book = {}
    tot, cnt = 0.0, 0
    for b in HELD_OUT:
        rows = all_windows(held[b], SEQ)
        nll = mean_nll(model, rows)
        per_book[HELD_OUT_NAMES[b]] = {"perplexity": math.exp(nll), "tokens": int(rows[:, 1:].size)}
        tot += nll * rows[:, 1:].size
        cnt += rows[:, 1:].size
    held_ppl = math.exp(tot / cnt)
    train_ppl = math.exp(mean_nll(model, windows(train, 256, SEQ)))
    print(f"held-out ppl {held_ppl:.3f} unigram {unigram_ppl:.3f} train ppl {train_ppl:.3f}")
    if held_ppl > 0.5 * unigram_ppl:
        print("WARNING: held-out perplexity is not below half the unigram baseline's", flush=True)

    # evaluation and calibration token sets
    eval_rows, labels = [], []
    for b in HELD_OUT:
        eval_rows.append(windows(held[b], EVAL_ROWS_PER_BOOK, SEQ))
        labels += [HELD_OUT_NAMES[b]] * EVAL_ROWS_PER_BOOK
    eval_tokens = np.concatenate(eval_rows).astype(np.int64)
    calib_tokens = windows(train, CALIB_ROWS, SEQ).astype(np.int64)
    np.save(os.path.join(a.out, "tokens.eval.npy"), eval_tokens)
    np.save(os.path.join(a.out, "tokens.calib.npy"), calib_tokens)
    with open(os.path.join(a.out, "tokens.eval.slices.json"), "w") as f:
        json.dump(labels, f, indent=0)
        f.write("\n")
    eval_nll = mean_nll(model, eval_tokens)
    with torch.no_grad():
        ref = model(torch.from_numpy(eval_tokens[:REF_ROWS])).numpy().astype(np.float32)
    np.save(os.path.join(a.out, "ref_logits.npy"), ref)

    # ONNX export
    onnx_path = os.path.join(a.out, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(eval_tokens[:2]),), onnx_path, opset_version=17,
                          input_names=["tokens"], output_names=["logits"],
                          dynamic_axes={"tokens": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}})
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    op_types = sorted({n.op_type for n in m.graph.node})

    # Hugging Face-style checkpoint
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(a.out, "hf", "model.safetensors"), state)
    hf_config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                 "hidden_act": "silu", "tie_word_embeddings": False, "torch_dtype": "float32",
                 "bos_token_id": None, "eos_token_id": None, **CONFIG}
    with open(os.path.join(a.out, "hf", "config.json"), "w") as f:
        json.dump(hf_config, f, indent=2)
        f.write("\n")

    files = {}
    for name in ["model.onnx", "hf/config.json", "hf/model.safetensors", "tokens.eval.npy",
                 "tokens.eval.slices.json", "tokens.calib.npy", "ref_logits.npy"]:
        p = os.path.join(a.out, name)
        files[name] = {"bytes": os.path.getsize(p), "sha256": sha256(p)}
    manifest = {
        "what": "byte-level LLaMA-style decoder trained on the King James Bible (Debian bible-kjv-text)",
        "made_by": "scripts/make_lm_fixture.py",
        "torch_version": torch.__version__, "onnx_version": onnx.__version__,
        "numpy_version": np.__version__, "seed": a.seed, "threads": a.threads,
        "config": CONFIG, "parameters": n_params, "opset": 17, "onnx_op_types": op_types,
        "training": {"steps": a.steps, "batch": a.batch, "seq": SEQ, "optimizer": "AdamW(0.9,0.95), weight decay 0.1 on matrices",
                     "lr": a.lr, "schedule": f"linear warmup {warm} steps, cosine to 10%",
                     "grad_clip": 1.0, "seconds": round(train_seconds, 1),
                     "train_books": len(train_books), "train_bytes": int(len(train))},
        "held_out_books": [HELD_OUT_NAMES[b] for b in HELD_OUT],
        "perplexity": {"held_out": held_ppl, "unigram_held_out": unigram_ppl, "train_sample": train_ppl,
                       "eval_set": math.exp(eval_nll), "per_book": per_book,
                       "definition": "exp(mean next-token NLL in nats) over all non-overlapping 64-byte windows of each held-out book; unigram = add-one byte frequencies of the training books"},
        "eval": {"rows": int(eval_tokens.shape[0]), "seq": SEQ, "rows_per_book": EVAL_ROWS_PER_BOOK,
                 "targets": "row[t+1] is the target of position t; the last position has none",
                 "slices_file": "tokens.eval.slices.json"},
        "calibration": {"rows": CALIB_ROWS, "seq": SEQ, "from": "training books, evenly spaced windows"},
        "ref_logits": {"rows": REF_ROWS, "of": "tokens.eval.npy rows 0..%d" % (REF_ROWS - 1)},
        "files": files,
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(json.dumps(manifest["perplexity"], indent=1))
    print("ops:", op_types)


if __name__ == "__main__":
    sys.exit(main())
