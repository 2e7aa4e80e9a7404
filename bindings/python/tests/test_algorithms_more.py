"""hone.SmoothQuant, bias_correction, prune_channels, sparse_encode and FineTune against references
computed here with NumPy (or read back through other parts of the binding), and their errors.

Run by CTest (test_python_binding) like test_algorithms.py; by hand:
HONE_LIBRARY=build/src/libhone.so PYTHONPATH=bindings/python HONE_FIXTURES_DIR=... \
      python3 -m unittest discover -s bindings/python/tests -p test_algorithms_more.py -v
"""

import gzip
import math
import os
import tempfile
import unittest

import hone

try:
    import numpy as np  # the references
except ImportError as e:  # a missing tool fails, naming the fix (never a silent skip)
    raise ImportError("test_algorithms_more needs NumPy: install the Debian package "
                      "python3-numpy (scripts/setup.sh does)") from e

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
FIXTURES = os.environ.get("HONE_FIXTURES_DIR",
                          os.path.join(ROOT, "tests", "fixtures", "fashion_mnist"))
MLP = os.path.join(FIXTURES, "mlp.onnx")
DATA = "/usr/share/datasets/fashion-mnist"


def rng(seed=0):
    return np.random.default_rng(seed)


def fashion_mnist(split, count):
    """The first `count` images of `split` ("train" or "t10k"), pixels/255 [count, 784] f32, and
    their labels."""
    images = os.path.join(DATA, f"{split}-images-idx3-ubyte.gz")
    if not os.path.exists(images):
        raise FileNotFoundError(f"{images} is missing: install the Debian package "
                                "dataset-fashion-mnist (scripts/setup.sh does)")
    with gzip.open(images, "rb") as f:
        raw = f.read(16 + count * 784)[16:]
    with gzip.open(os.path.join(DATA, f"{split}-labels-idx1-ubyte.gz"), "rb") as f:
        labels = list(f.read(8 + count)[8:])
    return (np.frombuffer(raw, np.uint8).astype(np.float32) / 255).reshape(count, 784), labels


class ErrorCase(unittest.TestCase):
    def assertHoneError(self, status, fn, *words):
        with self.assertRaises(hone.HoneError) as e:
            fn()
        self.assertEqual(e.exception.status, status, str(e.exception))
        for word in words:
            self.assertIn(word, e.exception.message)
        return e.exception


# ---- SmoothQuant -------------------------------------------------------------------------------

def smoothing_factors(x, w, alpha):
    """s_j = max|X_j|^a / max|W_j|^(1-a), clamped to [1e-5, 1e5]; 1 for dead channels."""
    xa, wa = np.abs(x).max(0).astype(np.float64), np.abs(w).max(0).astype(np.float64)
    s = np.ones(x.shape[1])
    live = (xa > 0) & (wa > 0)
    s[live] = np.clip(xa[live] ** alpha / wa[live] ** (1 - alpha), 1e-5, 1e5)
    return s.astype(np.float32)


def w8a8_error(x, w, s):
    """Summed squared output error of the smoothed layer in W8A8: W·s per row symmetric int8
    RTN, x / s per tensor u8 affine with its min/max (hone.h, SmoothQuant)."""
    ws = w * s[None, :]
    step_w = np.abs(ws).max(1, keepdims=True) / np.float32(127)
    wq = np.clip(np.round(ws / step_w), -128, 127) * step_w
    xs = x / s[None, :]
    lo, hi = min(float(xs.min()), 0.0), max(float(xs.max()), 0.0)
    step = np.float32((np.float32(hi) - np.float32(lo)) / np.float32(255))
    zero = np.clip(np.round(-np.float32(lo) / step), 0, 255)
    xq = (np.clip(np.round(xs / step) + zero, 0, 255) - zero) * step
    ref = x.astype(np.float64) @ w.T.astype(np.float64)
    return float(np.sum((ref - xq.astype(np.float64) @ wq.T.astype(np.float64)) ** 2))


class SmoothQuant(ErrorCase):
    GRID = [0.0, 0.25, 0.5, 0.75, 1.0]

    def setUp(self):
        r = rng(3)
        self.w = r.standard_normal((8, 16)).astype(np.float32)
        self.x = r.standard_normal((64, 16)).astype(np.float32)
        self.x[:, [2, 9]] *= 40  # outlier channels: smoothing pays
        self.x[:, 5] = 0         # a dead channel keeps s = 1

    def test_factors_and_folded_weights_for_one_alpha(self):
        for alpha in (0.5, 0.8):
            r = hone.smooth_quant(self.w, [self.x[:40], self.x[40:]], alphas=[alpha])
            s = smoothing_factors(self.x, self.w, alpha)
            self.assertAlmostEqual(r["alpha"], alpha, places=6)
            np.testing.assert_allclose(r["scales"].numpy(), s, rtol=1e-5)
            self.assertEqual(r["scales"].numpy()[5], 1.0)
            got = r["scales"].numpy()
            np.testing.assert_array_equal(r["weights"].numpy(), self.w * got[None, :])
            # the smoothed layer computes the same function
            np.testing.assert_allclose((self.x / got) @ r["weights"].numpy().T,
                                       self.x @ self.w.T, rtol=1e-4, atol=1e-3)

    def test_alpha_search_minimises_the_w8a8_error(self):
        with hone.SmoothQuant(self.w, alphas=self.GRID, name="fc") as sq:
            for batch in (self.x[:32], self.x[32:]):
                sq.observe(batch)
            for batch in (self.x[:32], self.x[32:]):
                sq.score(batch)
            r = sq.result()
        errors = [w8a8_error(self.x, self.w, smoothing_factors(self.x, self.w, a))
                  for a in self.GRID]
        best = min(errors)
        self.assertIn(r["alpha"], [a for a, e in zip(self.GRID, errors) if e <= best * 1.001])
        self.assertAlmostEqual(r["error_after"], best, delta=best * 1e-3)
        before = w8a8_error(self.x, self.w, np.ones(16, np.float32))
        self.assertAlmostEqual(r["error_before"], before, delta=before * 1e-3)
        self.assertLess(r["error_after"], r["error_before"] / 4)  # the outliers moved
        self.assertEqual(r["weights"].shape, (8, 16))

    def test_errors(self):
        bad = np.zeros((3, 5), np.float32)
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.smooth_quant(self.w, [bad]), "batch", "[M, 16]")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.SmoothQuant(self.w, alphas=[0.5, 1.5]), "α", "[0, 1]")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.SmoothQuant(self.w, alphas=[]), "grid is empty")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.SmoothQuant(self.w[0]), "weights", "[N, K]")
        sq = hone.SmoothQuant(self.w, name="fc7")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: sq.score(self.x),
                             "fc7", "score() before observe()")
        sq.observe(self.x)
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, sq.result, "result() before score()")
        with self.assertRaises(ValueError):
            hone.SmoothQuant(self.w, act_dtype="u4")
        with self.assertRaises(ValueError):
            hone.SmoothQuant(self.w, act_scheme="asymmetric")


# ---- bias correction ---------------------------------------------------------------------------

class BiasCorrection(ErrorCase):
    def setUp(self):
        r = rng(4)
        self.w = r.standard_normal((6, 10)).astype(np.float32)
        self.x = (r.standard_normal((200, 10)) + 0.7).astype(np.float32)
        self.wq = hone.quantize(self.w, bits=3).dequantize().numpy()
        self.b = r.standard_normal(6).astype(np.float32)

    def test_formula(self):
        mx, mq = self.x.mean(0), (self.x.mean(0) * 1.02).astype(np.float32)
        w, wq = self.w.astype(np.float64), self.wq.astype(np.float64)
        got = hone.bias_correction(self.w, self.wq, mx, self.b, mq).numpy()
        np.testing.assert_allclose(got, self.b + w @ mx - wq @ mq, rtol=1e-5, atol=1e-6)
        # bias None = 0, mean_xq None = mean_x
        got = hone.bias_correction(self.w, self.wq, mx).numpy()
        np.testing.assert_allclose(got, (w - wq) @ mx, rtol=1e-5, atol=1e-6)
        self.assertEqual(got.shape, (6,))

    def test_removes_the_mean_output_shift(self):
        mx = self.x.mean(0)
        corrected = hone.bias_correction(self.w, self.wq, mx, self.b).numpy()
        y = self.x.astype(np.float64) @ self.w.T + self.b
        shift_before = (y - (self.x.astype(np.float64) @ self.wq.T + self.b)).mean(0)
        shift_after = (y - (self.x.astype(np.float64) @ self.wq.T + corrected)).mean(0)
        self.assertGreater(np.abs(shift_before).max(), 1e-2)
        self.assertLess(np.abs(shift_after).max(), 1e-5)

    def test_errors(self):
        mx = self.x.mean(0)
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.bias_correction(self.w, self.wq, mx[:9]), "mean_x", "10")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.bias_correction(self.w, self.wq, mx, self.b[:3]),
                             "bias", "6")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.bias_correction(self.w, self.wq, mx, None, mx[:4]),
                             "mean_xq")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.bias_correction(self.w, self.wq[:5], mx), "deployed")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.bias_correction(self.w[0], self.wq[0], mx), "weights")


# ---- channel pruning ---------------------------------------------------------------------------

def kept_by_score(scores, removed):
    """Indices kept when the `removed` lowest scores go (ties: the higher index goes), ascending."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], -i))
    return sorted(order[removed:])


class ChannelPruning(ErrorCase):
    def test_l2_keeps_the_strongest_rows_and_slices_the_consumer(self):
        r = rng(5)
        w = r.standard_normal((8, 5)).astype(np.float32)
        bias = r.standard_normal(8).astype(np.float32)
        consumer = r.standard_normal((3, 8)).astype(np.float32)
        res = hone.prune_channels(w, 0.5, bias=bias, consumer=consumer)
        kept = kept_by_score(np.linalg.norm(w.astype(np.float64), axis=1), 4)
        self.assertEqual(res.kept, kept)
        np.testing.assert_array_equal(res.weights.numpy(), w[kept])
        np.testing.assert_array_equal(res.bias.numpy(), bias[kept])
        np.testing.assert_array_equal(res.consumer.numpy(), consumer[:, kept])
        # the count is pruned_count(s, rows); nothing else asked, nothing else returned
        res = hone.prune_channels(w, 0.3)
        self.assertEqual(len(res.kept), 8 - hone.pruned_count(0.3, 8))
        self.assertIsNone(res.bias)
        self.assertIsNone(res.consumer)

    def test_l1_and_l2_rank_differently(self):
        # row 0: one large weight (L2 wins), row 1: many medium ones (L1 wins)
        w = np.array([[3, 0, 0, 0], [1.2, 1.2, 1.2, 1.2], [0.1, 0, 0, 0]], np.float32)
        self.assertEqual(hone.prune_channels(w, 0.34, importance="l2").kept, [0, 1])
        self.assertEqual(hone.prune_channels(w, 0.67, importance="l2").kept, [0])
        self.assertEqual(hone.prune_channels(w, 0.67, importance="l1").kept, [1])

    def test_ties_remove_the_higher_channel(self):
        w = np.tile(np.array([[1, -2, 3]], np.float32), (6, 1))
        self.assertEqual(hone.prune_channels(w, 0.5).kept, [0, 1, 2])

    def test_activation_weighted_conv_into_flattened_linear(self):
        r = rng(6)
        conv = r.standard_normal((6, 2, 3, 3)).astype(np.float32)     # [Cout, Cin, kh, kw]
        norms = np.array([0.1, 5.0], np.float32)                      # per input channel
        linear = r.standard_normal((4, 6 * 4)).astype(np.float32)     # flatten of 6 × 2×2
        res = hone.prune_channels(conv, 0.5, importance="activation_weighted",
                                  activation_norms=norms, consumer=linear, consumer_group=4)
        scores = (np.abs(conv.astype(np.float64)) * norms[None, :, None, None]).sum((1, 2, 3))
        kept = kept_by_score(scores, 3)
        self.assertEqual(res.kept, kept)
        self.assertEqual(res.weights.shape, (3, 2, 3, 3))
        np.testing.assert_array_equal(res.weights.numpy(), conv[kept])
        columns = [c * 4 + g for c in kept for g in range(4)]
        np.testing.assert_array_equal(res.consumer.numpy(), linear[:, columns])
        # the same ranking with one norm per reduction element (K = 18)
        per_k = np.repeat(norms, 9)
        self.assertEqual(hone.prune_channels(conv, 0.5, importance="activation_weighted",
                                             activation_norms=per_k).kept, kept)

    def test_errors(self):
        w = rng(7).standard_normal((4, 6)).astype(np.float32)
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.prune_channels(w, 1.0),
                             "sparsity")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.prune_channels(w, consumer=np.ones((3, 5), np.float32)),
                             "consumer", "axis 1 = 4")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.prune_channels(w, bias=np.ones(3, np.float32)),
                             "bias", "[4]")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.prune_channels(w, importance="activation_weighted"),
                             "activation norms")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.prune_channels(w, consumer=np.ones((3, 4), np.float32),
                                                         consumer_group=0), "consumer_group")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.prune_channels(w[0]),
                             "rank")
        with self.assertRaises(ValueError):
            hone.prune_channels(w, importance="l3")


# ---- sparse storage ----------------------------------------------------------------------------

def sparse_matrix(shape, density, seed):
    r = rng(seed)
    x = r.standard_normal(shape).astype(np.float32)
    x[r.random(shape) >= density] = 0
    return x


def decode_n_m(values, index, rows, k, n, m):
    """Dense [rows, k] from N:M storage as docs/pruner.md lays it out."""
    bits = math.ceil(math.log2(m))
    per_row = k * n // m
    row_bytes = math.ceil(per_row * bits / 8)
    dense = np.zeros((rows, k), np.float32)
    for r in range(rows):
        stream = int.from_bytes(index[r * row_bytes:(r + 1) * row_bytes], "little")
        for i in range(per_row):
            position = (stream >> (i * bits)) & ((1 << bits) - 1)
            dense[r, (i // n) * m + position] = values[r * per_row + i]
    return dense


class SparseStorage(ErrorCase):
    def test_bitmask(self):
        x = sparse_matrix((5, 13), 0.3, 8)  # 65 elements: a partial last byte
        x[0, 0] = -0.0                       # a stored −0 is a zero
        s = hone.sparse_encode(x)
        nnz = int(np.count_nonzero(x))
        self.assertEqual(s.bytes, math.ceil(x.size / 8) + 4 * nnz)
        self.assertEqual(s.dense_bytes, 4 * x.size)
        self.assertEqual(s.index(), np.packbits(x.ravel() != 0, bitorder="little").tobytes())
        np.testing.assert_array_equal(s.values().numpy(), x.ravel()[x.ravel() != 0])
        dense = s.to_dense().numpy()
        self.assertEqual(dense.tobytes(), (x + np.float32(0)).tobytes())  # −0 comes back +0
        self.assertEqual(s.format, "bitmask")

    def test_n_m_layout_and_round_trip(self):
        # the documented example: one row [0, 5, 0, 6 | 7, 0, 0, 0] in 2:4
        s = hone.sparse_encode(np.array([[0, 5, 0, 6, 7, 0, 0, 0]], np.float32), "n_m", 2, 4)
        self.assertEqual(s.values().tolist(), [5, 6, 7, 0])
        self.assertEqual(s.index(), bytes([0x4D]))
        self.assertEqual(s.bytes, 4 * 8 * 2 // 4 + 1)
        for n, m, shape in ((2, 4, (6, 16)), (4, 8, (3, 24)), (1, 4, (4, 3, 4))):
            x = hone.prune_n_m(sparse_matrix(shape, 0.9, n + m), n, m).weights.numpy()
            rows, k = shape[0], x.size // shape[0]
            s = hone.sparse_encode(x, "n_m", n, m)
            bits = math.ceil(math.log2(m))
            self.assertEqual(s.bytes, 4 * x.size * n // m + rows * math.ceil(k * n // m * bits / 8))
            self.assertEqual(s.to_dense().numpy().tobytes(), x.tobytes())
            self.assertEqual(s.to_dense().shape, shape)
            decoded = decode_n_m(s.values().numpy(), s.index(), rows, k, n, m)
            np.testing.assert_array_equal(decoded, x.reshape(rows, k))
            self.assertEqual((s.n, s.m), (n, m))

    def test_csr(self):
        x = sparse_matrix((4, 2, 5), 0.4, 9)  # read as [4, 10]
        x[2] = 0                               # an empty row
        s = hone.sparse_encode(x, "csr")
        flat = x.reshape(4, 10)
        nnz = int(np.count_nonzero(flat))
        counts = np.count_nonzero(flat, axis=1)
        self.assertEqual(s.row_ptr().tolist(), [0] + np.cumsum(counts).tolist())
        self.assertEqual(s.col_indices().tolist(), np.nonzero(flat)[1].tolist())
        np.testing.assert_array_equal(s.values().numpy(), flat[flat != 0])
        self.assertEqual(s.index(), b"")
        self.assertEqual(s.bytes, 4 * (4 + 1) + 8 * nnz)
        self.assertEqual(s.to_dense().numpy().tobytes(), x.tobytes())
        self.assertEqual(hone.sparse_encode(x).row_ptr().shape, (0,))  # bitmask: no row_ptr

    def test_errors(self):
        dense = np.ones((2, 8), np.float32)
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.sparse_encode(dense, "n_m"), "row 0", "group 0")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.sparse_encode(np.zeros((2, 6), np.float32), "n_m"),
                             "K = 6", "M = 4")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.sparse_encode(dense, "n_m", 4, 4), "N < M")
        self.assertHoneError(hone.Status.DTYPE_MISMATCH,
                             lambda: hone.sparse_encode(np.ones(4, np.int32)), "dense", "f32")
        with self.assertRaises(ValueError):
            hone.sparse_encode(dense, "coo")
        with self.assertRaises(ValueError):
            hone.sparse_encode(dense).buffer("bits")


# ---- fine-tuning -------------------------------------------------------------------------------

class FineTuning(ErrorCase):
    @classmethod
    def setUpClass(cls):
        cls.x, cls.y = fashion_mnist("train", 512)
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def accuracy(self, model):
        logits = hone.Executor(model).run(self.x)[0].numpy()
        return float(np.mean(logits.argmax(1) == np.array(self.y)))

    def test_training_improves_and_writes_a_loadable_model(self):
        losses = []
        with hone.FineTune(MLP, self.x, self.y, epochs=2, batch_size=64, learning_rate=0.01,
                           progress=lambda p: losses.append(p)) as run:
            before = run.evaluate(self.x, self.y)
            self.assertEqual(run.run(), 16)            # 2 epochs of 512 / 64
            self.assertFalse(run.step())
            after = run.evaluate(self.x, self.y)
            run.finish(self.path("trained.onnx"))
        self.assertAlmostEqual(before, self.accuracy(hone.Model(MLP)), delta=1 / 512)
        self.assertGreater(after, before + 0.01)
        self.assertEqual([p["step"] for p in losses], list(range(1, 17)))
        self.assertEqual({p["total_steps"] for p in losses}, {16})
        self.assertEqual([p["epoch"] for p in losses], [0] * 8 + [1] * 8)
        self.assertAlmostEqual(losses[0]["learning_rate"], 0.01, places=6)
        self.assertLess(np.mean([p["loss"] for p in losses[8:]]),
                        np.mean([p["loss"] for p in losses[:8]]))
        trained = hone.Model(self.path("trained.onnx"))
        self.assertEqual([w[0] for w in trained.weights], [w[0] for w in hone.Model(MLP).weights])
        self.assertAlmostEqual(self.accuracy(trained), after, delta=1 / 512)
        self.assertFalse(np.array_equal(trained.weight("fc1.weight").numpy(),
                                        hone.Model(MLP).weight("fc1.weight").numpy()))

    def test_pruned_run_keeps_the_magnitude_mask(self):
        original = hone.Model(MLP)
        with hone.FineTune(MLP, self.x, self.y, prune_sparsity=0.75, learning_rate=0.01) as run:
            pruned_accuracy = run.evaluate(self.x, self.y)
            self.assertEqual(run.run(), 8)
            self.assertGreater(run.evaluate(self.x, self.y), pruned_accuracy)
            run.finish(self.path("pruned.onnx"))
        trained = hone.Model(self.path("pruned.onnx"))
        for name, _, shape in original.weights:
            w0, w1 = original.weight(name).numpy(), trained.weight(name).numpy()
            if len(shape) < 2:
                continue
            # zeros exactly where magnitude pruning of the original puts them
            order = np.argsort(np.abs(w0).ravel(), kind="stable")
            expected = np.zeros(w0.size, bool)
            expected[order[:hone.pruned_count(0.75, w0.size)]] = True
            np.testing.assert_array_equal(w1.ravel() == 0, expected, err_msg=name)

    def test_model_handle_and_distillation_from_a_teacher(self):
        model = hone.Model(MLP)  # changed in memory: the run must train this one
        model.set_weight("fc1.weight", hone.prune_magnitude(model.weight("fc1.weight"), 0.95)
                         .weights)
        expected = self.accuracy(model)
        self.assertLess(expected, self.accuracy(hone.Model(MLP)) - 0.02)
        losses = []
        with hone.FineTune(model, self.x, None, teacher=MLP, loss="distillation",
                           optimizer="adamw", learning_rate=1e-3, schedule="cosine",
                           progress=lambda p: losses.append(p["loss"])) as run:
            self.assertAlmostEqual(run.evaluate(self.x, self.y), expected, delta=1 / 512)
            self.assertEqual(run.run(), 8)
            self.assertGreater(run.evaluate(self.x, self.y), expected)
        self.assertTrue(all(math.isfinite(v) for v in losses))
        self.assertLess(losses[-1], losses[0])

    def test_clustered_weights_keep_their_codebook(self):
        out = self.path("clustered.onnx")
        steps = hone.finetune(MLP, self.x[:128], self.y[:128], out, cluster_count=8,
                              learning_rate=1e-4, momentum=0.0)
        self.assertEqual(steps, 2)
        trained = hone.Model(out)
        for name, _, shape in trained.weights:
            if len(shape) >= 2:
                self.assertLessEqual(len(np.unique(trained.weight(name).numpy())), 8, name)

    def test_progress_stops_and_raises(self):
        calls = []

        def stop_at_three(p):
            calls.append(p["step"])
            return len(calls) < 3

        with hone.FineTune(MLP, self.x, self.y, progress=stop_at_three) as run:
            self.assertEqual(run.run(), 3)
            self.assertFalse(run.step())
        self.assertEqual(calls, [1, 2, 3])

        def broken(p):
            raise KeyError("boom")

        with hone.FineTune(MLP, self.x[:128], self.y[:128], progress=broken) as run:
            with self.assertRaises(KeyError):
                run.step()
            self.assertFalse(run.step())  # the failed callback stopped the run

    def test_errors(self):
        x, y = self.x[:8], self.y[:8]
        for options, words in (({"prune_sparsity": 1.5}, ("prune_sparsity",)),
                               ({"weight_bits": 9}, ("weight_bits",)),
                               ({"cluster_count": 1}, ("cluster_count",)),
                               ({"learned_scales": True}, ("learned_scales", "weight_bits")),
                               ({"batch_size": 0}, ("batch_size",)),
                               ({"learning_rate": float("nan")}, ("learning_rate",))):
            self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                                 lambda: hone.FineTune(MLP, x, y, **options), *words)
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.FineTune(MLP, x, y[:7]), "7 labels", "8 samples")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.FineTune(MLP, np.zeros((8, 780), np.float32), y),
                             "inputs", "784")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.FineTune(MLP, x, None),
                             "labels")
        self.assertHoneError(hone.Status.IO, lambda: hone.FineTune(self.path("none.onnx"), x, y),
                             "none.onnx")
        run = hone.FineTune(MLP, x, y)
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: run.evaluate(x, []),
                             "labels are required")
        self.assertHoneError(hone.Status.IO, lambda: run.finish(self.path("no/dir/m.onnx")),
                             "no/dir/m.onnx")
        run.close()
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, run.step, "closed")
        with self.assertRaises(ValueError):
            hone.FineTune(MLP, x, y, optimizer="adam")
        with self.assertRaises(ValueError):
            hone.FineTune(MLP, x, y, lr=0.1)


if __name__ == "__main__":
    unittest.main()
