"""The Python binding against the real library and the committed Fashion-MNIST fixtures.

Run by CTest (test_python_binding) with HONE_LIBRARY, PYTHONPATH and HONE_FIXTURES_DIR set; by
hand: HONE_LIBRARY=build/src/libhone.so.2 PYTHONPATH=bindings/python \
      python3 -m unittest discover -s bindings/python/tests -v
"""

import array
import ast
import ctypes
import gzip
import hashlib
import json
import os
import struct
import tempfile
import unittest

import hone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
FIXTURES = os.environ.get("HONE_FIXTURES_DIR",
                          os.path.join(ROOT, "tests", "fixtures", "fashion_mnist"))
IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
LABELS = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"


def read_npy_f32(path):
    """(shape, array('f')) of a little-endian float32 NPY file."""
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:6] == b"\x93NUMPY", path
    header_len = struct.unpack("<H", raw[8:10])[0]
    header = ast.literal_eval(raw[10:10 + header_len].decode())
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    values = array.array("f")
    values.frombytes(raw[10 + header_len:])
    return tuple(header["shape"]), values


def test_images(count):
    """The first `count` Fashion-MNIST test images, pixels/255, as array('f') [count*784]."""
    with gzip.open(IMAGES, "rb") as f:
        raw = f.read()
    pixels = raw[16:16 + count * 784]
    return array.array("f", (p / 255.0 for p in pixels))


def test_labels(count):
    with gzip.open(LABELS, "rb") as f:
        return list(f.read()[8:8 + count])


def argmax_rows(values, cols):
    return [max(range(cols), key=lambda c: values[r * cols + c]) for r in range(len(values) // cols)]


class Versions(unittest.TestCase):
    def test_version_and_threads(self):
        self.assertRegex(hone.version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(hone.abi_version(), 2)
        hone.set_num_threads(1)
        self.assertEqual(hone.get_num_threads(), 1)
        hone.set_num_threads(0)
        self.assertGreaterEqual(hone.get_num_threads(), 1)


class Strings(unittest.TestCase):
    """The binding's one reader of hone's string rule: size first, then a buffer of that size."""

    def test_two_calls_size_then_buffer(self):
        calls = []

        def get(buffer, capacity, needed):  # a C function returning "a\0b" + NUL
            calls.append((buffer is None, capacity))
            if needed is not None:
                ctypes.cast(needed, ctypes.POINTER(ctypes.c_size_t))[0] = 4
            if capacity < 4:
                return hone.Status.OUT_OF_RANGE
            ctypes.memmove(buffer, b"a\0b\0", 4)
            return hone.Status.OK

        self.assertEqual(hone._read_bytes(get), b"a\0b")  # all before the final NUL
        self.assertEqual(calls, [(True, 0), (False, 4)])

    def test_text_is_utf8(self):
        def get(buffer, capacity, needed):  # "hé" + NUL
            if needed is not None:
                ctypes.cast(needed, ctypes.POINTER(ctypes.c_size_t))[0] = 4
            if capacity < 4:
                return hone.Status.OUT_OF_RANGE
            ctypes.memmove(buffer, "hé".encode() + b"\0", 4)
            return hone.Status.OK

        self.assertEqual(hone._read_string(get), "hé")

    def test_other_failures_raise(self):
        with self.assertRaises(hone.HoneError) as e:
            hone._read_string(lambda b, c, n: hone.Status.NOT_FOUND)
        self.assertEqual(e.exception.status, hone.Status.NOT_FOUND)


class Tensors(unittest.TestCase):
    def test_round_trip(self):
        t = hone.Tensor.from_buffer(array.array("f", [1.5, -2.0, 3.25, 0.0, 7.0, 8.0]), (2, 3))
        self.assertEqual(t.shape, (2, 3))
        self.assertEqual(t.dtype, hone.DType.F32)
        self.assertEqual(t.nbytes, 24)
        self.assertEqual(t.tolist(), [1.5, -2.0, 3.25, 0.0, 7.0, 8.0])
        i = hone.Tensor.from_buffer(array.array("q", [5, -6]))
        self.assertEqual((i.dtype, i.shape, i.tolist()), (hone.DType.I64, (2,), [5, -6]))
        z = hone.Tensor(hone.DType.U8, [4])
        self.assertEqual(z.tolist(), [0, 0, 0, 0])

    def test_bad_input(self):
        with self.assertRaises(hone.HoneError) as e:
            hone.Tensor.from_buffer(array.array("f", [1.0, 2.0, 3.0]), (2, 2))
        self.assertEqual(e.exception.status, hone.Status.SHAPE_MISMATCH)
        with self.assertRaises(hone.HoneError) as e:
            hone.Tensor(hone.DType.F32, [2, -1])
        self.assertEqual(e.exception.status, hone.Status.INVALID_ARGUMENT)
        self.assertIn("negative", str(e.exception))
        with self.assertRaises(ValueError):
            hone.Tensor.from_buffer(array.array("d", [1.0]))


class Models(unittest.TestCase):
    def setUp(self):
        self.model = hone.Model(os.path.join(FIXTURES, "mlp.onnx"))

    def test_structure(self):
        info = self.model.info
        self.assertEqual((info["inputs"], info["outputs"]), (1, 1))
        self.assertEqual(info["producer"], "pytorch")
        name, dtype, shape = self.model.inputs[0]
        self.assertEqual((name, dtype, shape), ("input", hone.DType.F32, (-1, 784)))
        self.assertEqual(self.model.outputs[0][0], "logits")
        self.assertEqual([n for n, _, _ in self.model.weights],
                         ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "fc3.bias",
                          "fc3.weight"])
        weights = {n: s for n, _, s in self.model.weights}
        self.assertIn((256, 784), weights.values())
        self.assertEqual(sum(1 for s in weights.values() if len(s) == 2), 3)

    def test_executor_matches_the_reference_logits(self):
        shape, reference = read_npy_f32(os.path.join(FIXTURES, "mlp_ref_logits.npy"))
        count = shape[0]
        run = hone.Executor(self.model)
        (logits,) = run.run(hone.Tensor.from_buffer(test_images(count), (count, 784)))
        self.assertEqual(logits.shape, (count, 10))
        got = logits.tolist()
        scale = max(abs(v) for v in reference)
        self.assertLessEqual(max(abs(a - b) for a, b in zip(got, reference)), 1e-4 * scale)
        paths = run.node_paths()
        self.assertEqual([(n, op) for n, op, _ in paths],
                         [("/fc1/Gemm", "Gemm"), ("/Relu", "Relu"), ("/fc2/Gemm", "Gemm"),
                          ("/Relu_1", "Relu"), ("/fc3/Gemm", "Gemm")])
        self.assertTrue(paths[0][2].startswith("f32 linear (oneDNN)"))
        self.assertTrue(paths[1][2].startswith("fused into Gemm"))

    def test_int8_agrees_and_observes(self):
        count = 512
        images = hone.Tensor.from_buffer(test_images(count), (count, 784))
        labels = test_labels(count)
        (f32,) = hone.Executor(self.model).run(images)
        seen = {}
        int8 = hone.Executor(self.model, precision="int8_dynamic")
        (q,) = int8.run(images, observe=lambda name, value: seen.setdefault(name, value.shape))
        self.assertIn("logits", seen)
        self.assertEqual(seen["logits"], (count, 10))
        top_f32, top_q = argmax_rows(f32.tolist(), 10), argmax_rows(q.tolist(), 10)
        agree = sum(a == b for a, b in zip(top_f32, top_q)) / count
        self.assertGreaterEqual(agree, 0.98)
        acc = sum(a == b for a, b in zip(top_q, labels)) / count
        self.assertGreater(acc, 0.80)
        self.assertTrue(any("int8" in path for _, _, path in int8.node_paths()))

    def test_observer_exception_stops_the_run(self):
        images = hone.Tensor.from_buffer(test_images(2), (2, 784))

        def boom(name, value):
            raise KeyError(name)

        with self.assertRaises(KeyError):
            hone.Executor(self.model).run(images, observe=boom)

    def test_weights_save_and_reload(self):
        name = next(n for n, _, s in self.model.weights if s == (10, 128))
        w = self.model.weight(name)
        doubled = array.array("f", [2 * v for v in w.tolist()])
        self.model.set_weight(name, hone.Tensor.from_buffer(doubled, (10, 128)))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "doubled.onnx")
            self.model.save(path)
            again = hone.Model(path)
            self.assertEqual(again.weight(name).tobytes(), doubled.tobytes())

    def test_qdq_export_is_smaller_and_agrees(self):
        count = 256
        images = hone.Tensor.from_buffer(test_images(count), (count, 784))
        # Ranges of each layer input, observed on the f32 model.
        inputs = {"input": None, "/Relu_output_0": None, "/Relu_1_output_0": None}
        ranges = {}

        def seen(name, value):
            if name in inputs:
                v = value.tolist()
                ranges[name] = (min(v), max(v))

        (f32,) = hone.Executor(self.model, keep=list(inputs)).run(images, observe=seen)
        ranges["input"] = (0.0, 1.0)
        self.assertEqual(set(ranges), set(inputs))
        self.assertEqual(self.model.qdq_activation_tensors(),
                         ["input", "/Relu_output_0", "/Relu_1_output_0", "logits"])
        scale, zero_point = hone.qdq_grid(-1.0, 3.0)
        self.assertAlmostEqual(scale, 4.0 / 255, places=6)
        self.assertEqual(zero_point, 64)
        qdq = self.model.to_qdq(ranges=ranges, f32_nodes=["/fc3/Gemm"])
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "qdq.onnx")
            qdq.save(path)
            self.assertLess(os.path.getsize(path) * 3.2,
                            os.path.getsize(os.path.join(FIXTURES, "mlp.onnx")))
            again = hone.Model(path)
        ops = again.info
        self.assertEqual(ops["opset"], 13)
        (q,) = hone.Executor(again, precision="int8_static").run(images)
        agree = sum(a == b for a, b in zip(argmax_rows(f32.tolist(), 10),
                                           argmax_rows(q.tolist(), 10))) / count
        self.assertGreaterEqual(agree, 0.97)
        with self.assertRaises(hone.HoneError) as e:
            self.model.to_qdq(ranges={"input": (1.0, float("nan"))})
        self.assertIn("input", str(e.exception))
        # The dynamic int8 form: integer operators, the same top-1 within quantization noise.
        dynamic = self.model.to_qdq(form="dynamic_int8")
        (d,) = hone.Executor(dynamic).run(images)
        agree = sum(a == b for a, b in zip(argmax_rows(f32.tolist(), 10),
                                           argmax_rows(d.tolist(), 10))) / count
        self.assertGreaterEqual(agree, 0.97)
        with self.assertRaises(ValueError):
            self.model.to_qdq(form="int3")

    def test_bad_input(self):
        with self.assertRaises(hone.HoneError) as e:
            hone.Model("/nonexistent/model.onnx")
        self.assertIn("/nonexistent/model.onnx", str(e.exception))
        with self.assertRaises(hone.HoneError) as e:
            self.model.weight("no such weight")
        self.assertEqual(e.exception.status, hone.Status.NOT_FOUND)
        with self.assertRaises(hone.HoneError) as e:
            hone.Executor(self.model).run(hone.Tensor(hone.DType.F32, [3, 783]))
        self.assertIn("input", str(e.exception))
        with self.assertRaises(ValueError):
            hone.Executor(self.model, precision="int3")


# Validator-shaped metrics (90% -> 89.7% on 1000 samples, 99% agreement): tier low passes them.
METRICS = ('{"accuracy":{"baseline":0.9,"candidate":0.897,"delta_interval":[-0.012,0.002]},'
           '"baseline":{"samples":1000},"candidate":{"samples":1000,"agreement":0.99}}')


class Ledgers(unittest.TestCase):
    def test_signed_records_verify_and_tampering_is_found(self):
        with tempfile.TemporaryDirectory() as d:
            key = hone.Key()
            key.save(os.path.join(d, "me.pem"))
            self.assertEqual(hone.Key.load(os.path.join(d, "me.pem")).public_hex, key.public_hex)
            # RFC 8032 section 7.1, TEST 1: this secret key (PKCS#8) has public key d75a98…511a
            with open(os.path.join(d, "rfc8032.pem"), "w") as f:
                f.write("-----BEGIN PRIVATE KEY-----\n"
                        "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
                        "-----END PRIVATE KEY-----\n")
            self.assertEqual(hone.Key.load(os.path.join(d, "rfc8032.pem")).public_hex,
                             "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
            artifact = os.path.join(d, "model.bin")
            with open(artifact, "wb") as f:
                f.write(b"weights")
            path = os.path.join(d, "ledger.jsonl")
            ledger = hone.Ledger(path)
            self.assertEqual(ledger.append("baseline", "alice", key, metrics='{"accuracy":0.9}'), 1)
            seq = ledger.append("optimize", "alice", key, artifacts=[artifact], metrics=METRICS,
                                policy='{"tier":"low","required_approvals":1}',
                                decision='{"verdict":"needs_signoff","approvals_required":1}')
            self.assertEqual(seq, 2)
            result = ledger.verify(require_signatures=True, trusted={"alice": key.public_hex})
            self.assertEqual((result["ok"], result["records"]), (True, 2))
            status = ledger.check_artifact(artifact)
            self.assertEqual((status["verdict"], status["seq"]), ("needs_signoff", 2))
            bob = hone.Key()
            with self.assertRaises(hone.HoneError) as e:  # the optimizer's own key
                ledger.append("approve", "alice", key, subject=2)
            self.assertIn("separation of duties", str(e.exception))
            self.assertEqual(ledger.append("approve", "bob", bob, subject=2), 3)
            status = ledger.check_artifact(artifact)
            self.assertEqual((status["verdict"], status["seq"]), ("approved", 2))
            trust = hone.TrustStore.parse(f"alice optimizer {key.public_hex}\n"
                                          f"bob approver:low {bob.public_hex}  # reviewer\n")
            self.assertEqual(len(trust), 2)
            self.assertEqual((trust.holder(key.public_hex), trust.holder(bob.public_hex)),
                             ("alice", "bob"))
            with self.assertRaises(hone.HoneError) as e:
                trust.holder("00")
            self.assertEqual(e.exception.status, hone.Status.NOT_FOUND)
            with open(artifact, "rb") as f:
                report = hone.check_load(f.read(), path, trust=trust, strict=True)
            self.assertEqual(report["verdict"], "approved")
            self.assertEqual(report["matched_record"], 2)
            self.assertEqual(report["chain"]["records_verified"], 3)
            self.assertTrue(report["decision_rederived"])
            self.assertEqual(report["optimize_signer"]["holder"], "alice")
            self.assertEqual([(a["holder"], a["counted"]) for a in
                              report["approvals"]["records"]], [("bob", True)])
            with open(artifact, "rb") as f:
                self.assertEqual(hone.check_load(f.fileno(), path, trust=trust)["verdict"],
                                 "approved")
            no_bob = hone.TrustStore.parse(f"alice optimizer {key.public_hex}\n")
            with self.assertRaises(hone.HoneError) as e:  # bob is not in no_bob
                ledger.append("approve", "bob", bob, subject=2, trust=no_bob)
            self.assertIn("is not in trust store", str(e.exception))
            self.assertEqual(hone.check_load(b"weights", path, trust=no_bob)["verdict"],
                             "needs_signoff")
            with self.assertRaises(hone.HoneError) as e:
                hone.TrustStore.parse("alice optimizer,chef 00", source="t.trust")
            self.assertIn("t.trust line 1, field 2 (roles)", str(e.exception))
            with open(artifact, "ab") as f:
                f.write(b"!")
            self.assertEqual(hone.Ledger(path).check_artifact(artifact)["verdict"], "unknown")
            with open(path, "r+b") as f:
                text = f.read()
                self.assertIn(b'"accuracy":0.9', text)
                f.seek(0)
                f.write(text.replace(b"0.9", b"0.8", 1))
            tampered = hone.Ledger(path).verify()
            self.assertFalse(tampered["ok"])
            self.assertTrue(tampered["problem"])
            other = hone.Key()
            wrong = hone.Ledger(path).verify(trusted={"alice": other.public_hex})
            self.assertFalse(wrong["ok"])

    def test_cyclonedx_bom_carries_the_record(self):
        with tempfile.TemporaryDirectory() as d:
            key = hone.Key()
            base, artifact = os.path.join(d, "base.onnx"), os.path.join(d, "model.onnx")
            for p, data in ((base, b"f32 weights"), (artifact, b"int8 weights")):
                with open(p, "wb") as f:
                    f.write(data)
            ledger = hone.Ledger(os.path.join(d, "ledger.jsonl"))
            ledger.append("baseline", "ci", key, artifacts=[base])
            ledger.append("optimize", "ci", key, artifacts=[artifact], metrics=METRICS,
                          policy='{"tier":"low","required_approvals":1}',
                          decision='{"verdict":"needs_signoff","approvals_required":1}',
                          recipe='{"name":"int8"}', note="baseline record 1")
            text = ledger.export_cyclonedx()
            self.assertEqual(text, ledger.export_cyclonedx(2))  # same record, same bytes
            bom = json.loads(text)
            self.assertEqual((bom["bomFormat"], bom["specVersion"]), ("CycloneDX", "1.6"))
            with open(os.path.join(d, "ledger.jsonl"), "rb") as f:
                line = f.read().splitlines()[1]
            digest = hashlib.sha256(line).hexdigest()
            self.assertEqual(bom["serialNumber"][9:17], digest[:8])
            model = bom["components"][0]
            self.assertEqual(model["type"], "machine-learning-model")
            self.assertEqual(model["hashes"][0]["content"],
                             hashlib.sha256(b"int8 weights").hexdigest())
            self.assertEqual(bom["components"][1]["hashes"][0]["content"],
                             hashlib.sha256(b"f32 weights").hexdigest())
            metrics = {(m["type"], m.get("slice")): m
                       for m in model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]}
            self.assertEqual(float(metrics[("top-1 accuracy", None)]["value"]), 0.897)
            self.assertEqual(float(metrics[("top-1 agreement", None)]["value"]), 0.99)
            ci = metrics[("top-1 accuracy change", None)]["confidenceInterval"]
            self.assertEqual((float(ci["lowerBound"]), float(ci["upperBound"])), (-0.012, 0.002))
            props = {p["name"]: p["value"] for p in model["modelCard"]["properties"]}
            self.assertEqual((props["hone:policy.tier"], props["hone:decision.verdict"]),
                             ("low", "needs_signoff"))
            with self.assertRaises(hone.HoneError) as e:
                ledger.export_cyclonedx(1)
            self.assertEqual(e.exception.status, hone.Status.INVALID_ARGUMENT)
            self.assertIn("record 1 is not an optimize record", str(e.exception))



def _own_baseline_class_0_candidate(folder):
    """An engine's runner factory for the tests: hone's executor on the baseline's bytes (written
    into `folder`), and a candidate that answers class 0 for every sample."""
    def engine(role, data):
        if role == "baseline":
            path = os.path.join(folder, "engine_baseline.onnx")
            with open(path, "wb") as f:
                f.write(data)
            return hone.Executor(hone.Model(path))

        def class_0(batch):
            n = batch.shape[0]
            logits = array.array("f", [1.0 if i % 10 == 0 else 0.0 for i in range(n * 10)])
            return hone.Tensor.from_buffer(logits, shape=(n, 10))
        return hone.Runner(class_0, name="always class 0")
    return engine

class Optimize(unittest.TestCase):
    """The whole flow through hone_optimize: the MLP fixture to int8 QDQ on Fashion-MNIST."""

    def test_int8_run_records_and_reports(self):
        with tempfile.TemporaryDirectory() as d:
            out, ledger = os.path.join(d, "mlp.int8.onnx"), os.path.join(d, "l.jsonl")
            stages, notes = [], []
            r = hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "int8",
                              "fashion-mnist:train:128", "fashion-mnist:test:256", out, ledger,
                              policy="low", repeats=2, latency_batches=[1],
                              progress=lambda stage, done, total: stages.append(stage),
                              note=notes.append)
            self.assertIn(r["verdict"], ("approved", "rejected"))
            self.assertEqual(r["artifacts"], [out])
            self.assertEqual(r["artifact_bytes"], os.path.getsize(out))
            # int8 weights: under a third of the f32 file.
            self.assertLess(r["artifact_bytes"], os.path.getsize(os.path.join(FIXTURES,
                                                                              "mlp.onnx")) / 3)
            self.assertEqual((r["baseline_seq"], r["record_seq"]), (1, 2))  # a new ledger
            self.assertEqual(r["report"]["decision"]["verdict"], r["verdict"])
            self.assertGreater(r["report"]["metrics"]["baseline"]["accuracy"], 0.7)
            self.assertIn("baseline accuracy", stages)
            self.assertTrue(any(n.startswith("baseline: top-1") for n in notes))
            self.assertTrue(hone.Ledger(ledger).verify()["ok"])

    def test_accuracy_search(self):
        with tempfile.TemporaryDirectory() as d:
            out, ledger = os.path.join(d, "mlp.int3.onnx"), os.path.join(d, "l.jsonl")
            recipe = ('{"name": "int3", "steps": [{"kind": "quantize", "bits": 3, '
                      '"granularity": "per_channel"}]}')
            stages = []
            r = hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), recipe,
                              "fashion-mnist:train:512", "fashion-mnist:test:256", out, ledger,
                              policy="low", repeats=2, latency_batches=[1],
                              progress=lambda stage, done, total: stages.append(stage),
                              tolerable_drop=0.005)
            s = r["report"]["search"]
            self.assertIn("accuracy search", stages)
            self.assertAlmostEqual(s["bound"], 0.005)
            self.assertEqual(s["trials"][0]["role"], "full")
            self.assertEqual(s["trials"][0]["kept"], [])
            self.assertLess(len(s["kept"]), 3)  # the MLP has three layers; one stays quantized
            if s["met"]:
                self.assertLessEqual(s["baseline"] - s["accuracy"], 0.005 + 1e-12)
            with self.assertRaises(hone.HoneError) as e:
                hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "int8",
                              "fashion-mnist:train:64", "fashion-mnist:test:64", out, ledger,
                              tolerable_drop=1.5)
            self.assertEqual(e.exception.status, hone.Status.INVALID_ARGUMENT)
            self.assertIn("tolerable_drop", e.exception.message)

    def test_precision_budget(self):
        with tempfile.TemporaryDirectory() as d:
            out, ledger = os.path.join(d, "mlp.mixed.onnx"), os.path.join(d, "l.jsonl")
            r = hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "int4",
                              "fashion-mnist:train:256", "fashion-mnist:test:256", out, ledger,
                              policy="low", repeats=2, latency_batches=[1], target_bpw=6)
            b = r["report"]["budget"]
            self.assertTrue(b["feasible"])
            self.assertLessEqual(b["bits_per_weight"], 6)
            self.assertEqual([len(l["options"]) for l in b["layers"]], [3, 3, 3])  # f32, 8, 4
            self.assertEqual(sorted(l["layer"] for l in b["layers"]),
                             sorted(set(l["layer"] for l in b["layers"])))
            # The file as the target: 300,000 bytes of the 941,279-byte f32 MLP.
            out2 = os.path.join(d, "mlp.300k.onnx")
            r = hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "int4",
                              "fashion-mnist:train:256", "fashion-mnist:test:256", out2, ledger,
                              policy="low", repeats=2, latency_batches=[1], target_bytes=300000)
            b = r["report"]["budget"]
            self.assertTrue(b["feasible"])
            self.assertEqual(b["params"]["file_bytes"], 300000)
            self.assertEqual(b["file_bytes"], os.path.getsize(out2))
            self.assertLessEqual(os.path.getsize(out2), 300000)
            with self.assertRaises(hone.HoneError) as e:
                hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "int4",
                              "fashion-mnist:train:64", "fashion-mnist:test:64", out2, ledger,
                              target_bpw=4, target_bytes=1000)
            self.assertIn("alternatives", e.exception.message)

    def test_validate_change(self):
        """A file made by optimize, validated again as a change made elsewhere: a record in the
        ledger; with an engine answering class 0, rejected on its answers."""
        with tempfile.TemporaryDirectory() as d:
            out, ledger = os.path.join(d, "mlp.int8.onnx"), os.path.join(d, "l.jsonl")
            mlp = os.path.join(FIXTURES, "mlp.onnx")
            hone.optimize(mlp, "int8", "fashion-mnist:train:128", "fashion-mnist:test:128", out,
                          ledger, policy="low", repeats=2, latency_batches=[1])
            r = hone.validate_change(mlp, out, "fashion-mnist:test:256", policy="low",
                                     ledger=ledger, repeats=2, latency_batches=[1])
            self.assertIn(r["verdict"], ("approved", "rejected"))
            self.assertEqual(r["record_seq"], 3)
            self.assertEqual(r["artifacts"], [out])
            self.assertEqual(r["artifact_bytes"], os.path.getsize(out))

            r = hone.validate_change(mlp, out, "fashion-mnist:test:256", policy="low",
                                     repeats=2, latency_batches=[1],
                                     engine=_own_baseline_class_0_candidate(d))
            self.assertEqual(r["verdict"], "rejected")
            self.assertIsNone(r["record_seq"])
            with self.assertRaises(hone.HoneError) as e:
                hone.validate_change(mlp, os.path.join(d, "missing.onnx"), "fashion-mnist:test:8")
            self.assertIn("missing.onnx", e.exception.message)

    def test_engine_runners(self):
        """The engine's runners validate: hone's executor on the bytes for the baseline, a
        function always answering class 0 for the candidate — rejected, on the engine's say."""
        with tempfile.TemporaryDirectory() as d:
            out, ledger = os.path.join(d, "mlp.int8.onnx"), os.path.join(d, "l.jsonl")
            seen = {}

            own = _own_baseline_class_0_candidate(d)

            def engine(role, data):
                seen[role] = data
                return own(role, data)

            r = hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "int8",
                              "fashion-mnist:train:128", "fashion-mnist:test:256", out, ledger,
                              policy="low", repeats=2, latency_batches=[1], engine=engine)
            self.assertEqual(list(seen), ["baseline", "candidate"])
            with open(out, "rb") as f:
                self.assertEqual(seen["candidate"], f.read())  # the deployable file's bytes
            self.assertEqual(r["verdict"], "rejected")
            m = r["report"]["metrics"]
            self.assertEqual(m["baseline_name"], "engine baseline")
            self.assertEqual(m["candidate_name"], "always class 0")
            self.assertGreater(m["accuracy"]["baseline"], 0.7)
            self.assertLess(m["accuracy"]["candidate"], 0.2)

            def broken(role, data):
                raise RuntimeError(f"engine cannot load the {role}")

            out2 = os.path.join(d, "never.onnx")
            with self.assertRaises(RuntimeError) as e:
                hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "int8",
                              "fashion-mnist:train:64", "fashion-mnist:test:64", out2, ledger,
                              policy="low", repeats=2, latency_batches=[1], engine=broken)
            self.assertIn("engine cannot load the baseline", str(e.exception))
            self.assertFalse(os.path.exists(out2))

    def test_cancel_and_errors(self):
        with tempfile.TemporaryDirectory() as d:
            out, ledger = os.path.join(d, "c.onnx"), os.path.join(d, "l.jsonl")
            with self.assertRaises(hone.HoneError) as e:
                hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "int8",
                              "fashion-mnist:train:64", "fashion-mnist:test:64", out, ledger,
                              progress=lambda stage, done, total: stage != "applying int8")
            self.assertEqual(e.exception.status, hone.Status.CANCELLED)
            self.assertIn("applying int8", e.exception.message)
            self.assertFalse(os.path.exists(out))
            with self.assertRaises(hone.HoneError) as e:
                hone.optimize(os.path.join(FIXTURES, "mlp.onnx"), "no-such-recipe",
                              "fashion-mnist:train:64", "fashion-mnist:test:64", out, ledger)
            self.assertEqual(e.exception.status, hone.Status.INVALID_ARGUMENT)
            self.assertIn("no-such-recipe", e.exception.message)


if __name__ == "__main__":
    unittest.main()
