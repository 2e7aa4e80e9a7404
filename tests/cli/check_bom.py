"""Compares a CycloneDX BOM from `hone ledger export --format cyclonedx` with the ledger record and
the files it came from, without hone's code (Python's json and hashlib only).

usage: check_bom.py LEDGER.jsonl SEQ BOM.json CANDIDATE_FILE BASE_MODEL_FILE
Prints "ok N" (N performance metrics checked) or exits 1 naming the field that differs."""
import hashlib
import json
import sys


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def expect(what: str, got, want) -> None:
    if got != want:
        fail(f"{what}: BOM has {got!r}, the record has {want!r}")


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main() -> None:
    ledger_path, seq, bom_path, candidate_path, base_path = sys.argv[1:6]
    seq = int(seq)
    with open(ledger_path, "rb") as f:
        line = f.read().split(b"\n")[seq - 1]
    record = json.loads(line)
    with open(bom_path) as f:
        bom = json.load(f)

    # serialNumber: the first 128 bits of SHA-256(line), version 8, RFC variant.
    h = list(hashlib.sha256(line).hexdigest()[:32])
    h[12] = "8"
    h[16] = "89ab"[int(h[16], 16) & 3]
    h = "".join(h)
    expect("serialNumber", bom["serialNumber"],
           f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    expect("bomFormat", bom["bomFormat"], "CycloneDX")
    expect("specVersion", bom["specVersion"], "1.6")
    expect("metadata.timestamp", bom["metadata"]["timestamp"], record["time"])
    expect("metadata.tools", bom["metadata"]["tools"]["components"][0]["name"], "hone")
    meta = {p["name"]: p["value"] for p in bom["metadata"]["properties"]}
    expect("hone:ledger.record_sha256", meta["hone:ledger.record_sha256"],
           hashlib.sha256(line).hexdigest())
    expect("hone:signer", meta.get("hone:signer"), record["signature"]["public_key"])

    components = {c["bom-ref"]: c for c in bom["components"]}
    model = bom["components"][0]
    expect("candidate type", model["type"], "machine-learning-model")
    expect("candidate name", model["name"], record["artifacts"][0]["path"])
    expect("candidate SHA-256", model["hashes"], [{"alg": "SHA-256",
                                                   "content": sha256_file(candidate_path)}])
    expect("candidate SHA-256 (record)", model["hashes"][0]["content"],
           record["artifacts"][0]["sha256"])
    base = [c for c in bom["components"] if c["bom-ref"].startswith("base-model")]
    expect("base model SHA-256", [c["hashes"][0]["content"] for c in base],
           [sha256_file(base_path)])
    for role in ("calibration", "evaluation"):
        data = components[f"dataset-{role}"]
        expect(f"{role} type", data["type"], "data")
        expect(f"{role} name", data["name"], record["data"][role]["spec"])
        expect(f"{role} files", [(c["name"], c["hashes"][0]["content"]) for c in data["components"]],
               [(f["path"], f["sha256"]) for f in record["data"][role]["files"]])
    expect("dependencies", sorted(bom["dependencies"][0]["dependsOn"]),
           sorted([c["bom-ref"] for c in base] + ["dataset-calibration", "dataset-evaluation"]))

    card = model["modelCard"]
    expect("modelParameters.datasets", card["modelParameters"]["datasets"],
           [{"ref": "dataset-calibration"}, {"ref": "dataset-evaluation"}])
    got = {(m["type"], m.get("slice")): m for m in card["quantitativeAnalysis"]["performanceMetrics"]}
    m = record["metrics"]
    checked = 0

    def metric(kind, slice_, value, interval=None):
        nonlocal checked
        entry = got.get((kind, slice_))
        if entry is None:
            fail(f"performanceMetrics has no '{kind}' for slice {slice_!r}")
        expect(f"'{kind}' {slice_ or ''} value", float(entry["value"]), float(value))
        if interval is not None:
            ci = entry.get("confidenceInterval")
            if ci is None:
                fail(f"'{kind}' {slice_ or ''} has no confidenceInterval")
            expect(f"'{kind}' {slice_ or ''} interval",
                   [float(ci["lowerBound"]), float(ci["upperBound"])], interval)
        checked += 1

    acc = m["accuracy"]
    metric("top-1 accuracy", None, acc["candidate"])
    metric("baseline top-1 accuracy", None, acc["baseline"])
    metric("top-1 accuracy change", None, acc["candidate"] - acc["baseline"], acc["delta_interval"])
    metric("McNemar p-value", None, acc["mcnemar_p"])
    metric("top-1 agreement", None, m["candidate"]["agreement"])
    metric("samples", None, m["baseline"]["samples"])
    metric("model bytes", None, m["candidate"]["model_bytes"])
    metric("model size ratio", None, m["candidate"]["model_bytes"] / m["baseline"]["model_bytes"])
    for point in m["latency"]:
        s = f"batch {point['batch']}"
        metric("latency ratio", s, point["paired_ratio"], point["paired_ratio_interval"])
        metric("latency p50 ms", s, point["candidate_ms"]["p50"])
        metric("baseline latency p50 ms", s, point["baseline_ms"]["p50"])
    if not m["slices"]:
        fail("the record has no slices: the per-slice check would be vacuous")
    for sl in m["slices"]:
        metric("top-1 accuracy", sl["name"], sl["candidate_accuracy"])
        metric("baseline top-1 accuracy", sl["name"], sl["baseline_accuracy"])
        metric("top-1 accuracy change", sl["name"],
               sl["candidate_accuracy"] - sl["baseline_accuracy"], sl["delta_interval"])
        metric("samples", sl["name"], sl["samples"])

    props = {p["name"]: p["value"] for p in card["properties"]}
    expect("hone:policy.tier", props["hone:policy.tier"], record["policy"]["tier"])
    expect("hone:decision.verdict", props["hone:decision.verdict"], record["decision"]["verdict"])
    expect("hone:policy", json.loads(props["hone:policy"]), record["policy"])
    expect("performanceTradeoffs", card["considerations"]["performanceTradeoffs"],
           [r["text"] for r in record["decision"]["reasons"]])
    formulation = {p["name"]: p["value"] for p in bom["formulation"][0]["properties"]}
    expect("hone:recipe", json.loads(formulation["hone:recipe"]), record["recipe"])
    print(f"ok {checked}")


main()
