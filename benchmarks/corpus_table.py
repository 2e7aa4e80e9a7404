#!/usr/bin/python3
"""Prints the docs table of the real-world model corpus (tests/fixtures/corpus, made by
scripts/make_corpus.py): per model its operators, hone's max error against PyTorch (relative
to the output's scale), ONNX Runtime's, the int8 SQNR of `hone optimize --recipe int8`'s QDQ
file run in ONNX Runtime (against the f32 model in ONNX Runtime, on the corpus's 32
evaluation inputs), and the size before/after (bytes of the f32 ONNX file vs the int8 QDQ file).

    benchmarks/corpus_table.py [--build build] [--only resnet18,vit] [--json out.json]

Needs: the build (libhone and the `hone` CLI: cmake --build build --target hone hone_cli),
ONNX Runtime (tests/ort: npm ci --ignore-scripts), /usr/bin/python3 with numpy. hone's
executor is driven through the Python binding (bindings/python). A model hone cannot run or
optimize gets hone's one-line message in the table instead of a number.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "fixtures", "corpus")
ORT_RUN = os.path.join(ROOT, "tests", "ort", "ort_run.js")
POLICY = {"tier": "low", "max_accuracy_drop": 1, "max_slice_accuracy_drop": 1,
          "min_agreement": 0, "max_latency_regression": None}


def relative_error(got, ref):
    if got.shape != ref.shape:
        raise RuntimeError(f"shape {list(got.shape)}, reference {list(ref.shape)}")
    return float(np.abs(got.astype(np.float64) - ref).max() / np.abs(ref).max())


def sqnr_db(q, ref):
    ref = ref.astype(np.float64)
    return float(10 * np.log10((ref ** 2).sum() / ((ref - q) ** 2).sum()))


def ort_run(model, x_path, out_path):
    node = shutil.which("node") or shutil.which("nodejs")
    r = subprocess.run([node, ORT_RUN, "--model", model, "--input", x_path, "--output", out_path,
                        "--threads", "1", "--batch", "0"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return np.load(out_path)


def one_line(msg):
    msg = " ".join(msg.split())
    return msg.replace(CORPUS + "/", "").replace("|", "/")


def measure(name, e, hone_mod, hone_cli, tmp):
    row = {"model": name, "ops": e["ops"], "nodes": e["nodes"], "parameters": e["parameters"],
           "f32_bytes": e["bytes"], "ort_vs_pytorch": e.get("onnxruntime", {}).get(
               "relative_error")}
    model = os.path.join(CORPUS, e["file"])
    x = np.load(os.path.join(CORPUS, e["test_input"]["file"]))
    ref = np.load(os.path.join(CORPUS, e["test_output"]["file"]))
    try:
        out = hone_mod.Executor(hone_mod.Model(model)).run(x)[0].numpy()
        row["hone_vs_pytorch"] = relative_error(out, ref)
    except Exception as err:  # noqa: BLE001 -- hone's message goes into the table
        row["hone_error"] = one_line(str(err))
    out = os.path.join(tmp, f"{name}.int8.onnx")
    calib = os.path.join(CORPUS, e["calib"]["file"])
    ev = os.path.join(CORPUS, e["eval"]["file"])
    labels = os.path.join(CORPUS, e["eval"]["labels"]["file"])
    env = dict(os.environ, HONE_NUM_THREADS=os.environ.get("HONE_NUM_THREADS", "1"))
    r = subprocess.run([hone_cli, "-q", "optimize", model, "--recipe", "int8", "--calib", calib,
                        "--eval", f"{ev},{labels}", "--policy", os.path.join(tmp, "p.json"),
                        "--out", out, "--ledger", os.path.join(tmp, f"{name}.jsonl"),
                        "--latency-batch", "1", "--repeats", "2"],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        row["optimize_error"] = one_line(r.stderr)
        return row
    row["int8_bytes"] = os.path.getsize(out)
    try:
        f32 = ort_run(model, ev, os.path.join(tmp, "f32.npy"))
        q = ort_run(out, ev, os.path.join(tmp, "q.npy"))
        row["int8_sqnr_db"] = sqnr_db(q, f32)
    except RuntimeError as err:
        row["ort_error"] = one_line(str(err))
    return row


def table(rows):
    lines = ["| architecture | operators | hone vs PyTorch | ORT vs PyTorch | int8 SQNR (ORT) | "
             "f32 bytes | int8 QDQ bytes |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(r["ops"].items()) if k != "Constant")
        hone = (f"{r['hone_vs_pytorch']:.1e}" if "hone_vs_pytorch" in r
                else f"fails: {r['hone_error']}")
        ort = f"{r['ort_vs_pytorch']:.1e}" if r.get("ort_vs_pytorch") is not None else "-"
        if "int8_sqnr_db" in r:
            sq = f"{r['int8_sqnr_db']:.1f} dB"
        else:
            sq = f"fails: {r.get('optimize_error') or r.get('ort_error')}"
        after = (f"{r['int8_bytes']:,} ({r['f32_bytes'] / r['int8_bytes']:.2f}x smaller)"
                 if "int8_bytes" in r else "-")
        lines.append(f"| {r['model']} | {ops} | {hone} | {ort} | {sq} | {r['f32_bytes']:,} | "
                     f"{after} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--only", default="")
    ap.add_argument("--json", help="also write the measurements as JSON here")
    args = ap.parse_args()
    lib = os.path.join(args.build, "src", "libhone.so.2")
    hone_cli = os.path.join(args.build, "src", "cli", "hone")
    for f, what in ((lib, "libhone"), (hone_cli, "the hone CLI")):
        if not os.path.exists(f):
            sys.exit(f"corpus_table: {what} not built ({f}): cmake --build {args.build} "
                     "--target hone hone_cli")
    if not os.path.exists(os.path.join(ROOT, "tests", "ort", "node_modules", "onnxruntime-node")):
        sys.exit("corpus_table: ONNX Runtime not installed: cd tests/ort && npm ci "
                 "--ignore-scripts")
    os.environ["HONE_LIBRARY"] = lib
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import hone  # noqa: E402 -- found through the path set just above

    with open(os.path.join(CORPUS, "manifest.json")) as f:
        manifest = json.load(f)
    names = [n for n in args.only.split(",") if n] or list(manifest["models"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "p.json"), "w") as f:
            json.dump(POLICY, f)
        for name in names:
            print(f"corpus_table: {name}", file=sys.stderr, flush=True)
            rows.append(measure(name, manifest["models"][name], hone, hone_cli, tmp))
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
