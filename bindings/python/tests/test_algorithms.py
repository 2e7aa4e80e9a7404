"""hone.algorithms (quantizer, calibrator, pruning, clustering, policy, validation) against
references computed here with NumPy, and the error paths.

Run by CTest (test_python_binding) like test_hone.py; by hand:
HONE_LIBRARY=build/src/libhone.so PYTHONPATH=bindings/python HONE_FIXTURES_DIR=... \
      python3 -m unittest discover -s bindings/python/tests -v
"""

import gzip
import itertools
import os
import unittest

import hone

try:
    import numpy as np  # the algorithms' references
except ImportError as e:  # a missing tool fails, naming the fix (never a silent skip)
    raise ImportError("test_algorithms needs NumPy: install the Debian package python3-numpy "
                      "(scripts/setup.sh does)") from e

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
FIXTURES = os.environ.get("HONE_FIXTURES_DIR",
                          os.path.join(ROOT, "tests", "fixtures", "fashion_mnist"))
IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
LABELS = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"


def rng(seed=0):
    return np.random.default_rng(seed)


def distinct_weights(shape, seed=0):
    """Random f32 weights with pairwise distinct magnitudes (no ties to break)."""
    n = int(np.prod(shape))
    mags = (np.arange(1, n + 1, dtype=np.float32) / n)
    r = rng(seed)
    w = r.permutation(mags) * np.where(r.random(n) < 0.5, -1.0, 1.0).astype(np.float32)
    return w.astype(np.float32).reshape(shape)


class ErrorCase(unittest.TestCase):
    def assertHoneError(self, status, fn, *words):
        with self.assertRaises(hone.HoneError) as e:
            fn()
        self.assertEqual(e.exception.status, status, str(e.exception))
        for word in words:
            self.assertIn(word, e.exception.message)
        return e.exception


class Quantizer(ErrorCase):
    def test_int8_per_channel_is_symmetric_rtn(self):
        w = rng().standard_normal((6, 20)).astype(np.float32)
        q = hone.quantize(w, bits=8, granularity="per_channel", symmetric=True)
        scale = (np.abs(w).max(axis=1) / np.float32(127)).astype(np.float32)
        ref = np.clip(np.round(w / scale[:, None]), -128, 127)  # np.round: half to even
        data, scales, zero_points = q.parts()
        self.assertEqual(data.dtype, hone.DType.I8)
        np.testing.assert_array_equal(scales.numpy(), scale)
        np.testing.assert_array_equal(data.numpy(), ref.astype(np.int8))
        self.assertEqual(zero_points.shape, (0,))
        deq = q.dequantize().numpy()
        np.testing.assert_array_equal(deq, (ref.astype(np.float32) * scale[:, None]))
        self.assertTrue(np.all(np.abs(deq - w) <= scale[:, None] / 2 * (1 + 1e-6)))
        self.assertEqual(q.bytes, w.size + 4 * 6)
        self.assertEqual(q.shape, (6, 20))
        self.assertEqual(q.spec["bits"], 8)
        self.assertEqual(q.spec["granularity"], "per_channel")

    def test_report_matches_a_reference(self):
        w = rng(1).standard_normal((4, 16)).astype(np.float32)
        q = hone.quantize(w, bits=4, granularity="per_tensor")
        err = q.dequantize().numpy().astype(np.float64) - w
        r = q.report
        self.assertEqual(r["elements"], w.size)
        self.assertAlmostEqual(r["mse"], float(np.mean(err ** 2)), delta=1e-12)
        self.assertAlmostEqual(r["max_abs_error"], float(np.abs(err).max()), places=7)
        sqnr = 10 * np.log10(np.sum(w.astype(np.float64) ** 2) / np.sum(err ** 2))
        self.assertAlmostEqual(r["sqnr_db"], sqnr, places=6)
        again = q.measure_error(w)
        self.assertEqual(again["mse"], r["mse"])
        self.assertNotIn("output_mse", again)
        x = rng(2).standard_normal((8, 16)).astype(np.float32)
        out = q.measure_error(w, inputs=x)
        y, yq = x.astype(np.float64) @ w.T, x.astype(np.float64) @ q.dequantize().numpy().T
        self.assertAlmostEqual(out["output_mse"], float(np.mean((y - yq) ** 2)),
                               delta=1e-6 * out["output_mse"])

    def test_int4_per_group_packs_two_per_byte(self):
        w = rng(3).standard_normal((4, 32)).astype(np.float32)
        q = hone.quantize(w, bits=4, granularity="per_group", group_size=8)
        data, scales, _ = q.parts()
        self.assertEqual((data.dtype, scales.shape), (hone.DType.I4, (4, 4)))
        scale = np.abs(w.reshape(4, 4, 8)).max(axis=2) / np.float32(7)
        np.testing.assert_array_equal(scales.numpy(), scale.astype(np.float32))
        raw = np.frombuffer(data.tobytes(), dtype=np.uint8)
        low = ((raw & 0xF).astype(np.int8) ^ 8) - 8  # sign-extend the nibbles
        high = ((raw >> 4).astype(np.int8) ^ 8) - 8
        ints = np.stack([low, high], axis=1).reshape(4, 32)
        ref = np.clip(np.round(w.reshape(4, 4, 8) / scale[:, :, None]), -8, 7).reshape(4, 32)
        np.testing.assert_array_equal(ints, ref)
        self.assertEqual(q.bytes, 64 + 16 * 4)
        deq = q.dequantize().numpy()
        bound = np.repeat(scale, 8, axis=1) / 2 * (1 + 1e-6)
        self.assertTrue(np.all(np.abs(deq - w) <= bound))

    def test_affine_unsigned_keeps_zero_exact(self):
        w = (rng(4).random((3, 10)) * 3 - 0.5).astype(np.float32)
        q = hone.quantize(w, bits=8, granularity="per_tensor", symmetric=False, signed=False)
        _, scales, zero_points = q.parts()
        lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
        self.assertAlmostEqual(scales.tolist()[0], (hi - lo) / 255, delta=1e-6)
        zp = zero_points.tolist()[0]
        self.assertEqual(zp, int(np.round(-lo / scales.tolist()[0])))
        self.assertLessEqual(np.abs(q.dequantize().numpy() - w).max(),
                             scales.tolist()[0] / 2 * (1 + 1e-6))
        w0 = w.copy()
        w0[0, 0] = 0.0
        self.assertEqual(hone.quantize(w0, symmetric=False, signed=False,
                                       granularity="per_tensor").dequantize().numpy()[0, 0], 0.0)

    def test_gptq_beats_rtn_on_the_layer_output(self):
        r = rng(5)
        k = 64
        mix = r.standard_normal((k, k)).astype(np.float32)
        x = (r.standard_normal((512, k)) @ mix).astype(np.float32)  # correlated inputs
        w = r.standard_normal((16, k)).astype(np.float32)
        stats = hone.LayerStats(k)
        stats.add(x)
        h = stats.hessian().numpy()
        self.assertLess(np.abs(h - x.T.astype(np.float64) @ x).max(),
                        1e-5 * np.abs(h).max())

        def output_mse(q):
            return float(np.mean((x @ w.T - x @ q.dequantize().numpy().T) ** 2))

        rtn = hone.quantize(w, bits=3)
        gptq = hone.quantize(w, bits=3, method="gptq", hessian=h)
        self.assertLess(output_mse(gptq), output_mse(rtn))
        from_inputs = hone.quantize(w, bits=3, method="gptq", inputs=x)
        self.assertIn("output_sqnr_db", from_inputs.report)
        awq = hone.quantize(w, bits=4, method="awq", inputs=x)
        s = awq.input_scales.numpy()
        self.assertEqual(s.shape, (k,))
        self.assertTrue(np.all(s > 0))
        self.assertIsNone(rtn.input_scales)

    def test_from_parts_round_trips(self):
        w = rng(6).standard_normal((5, 8)).astype(np.float32)
        q = hone.quantize(w)
        data, scales, _ = q.parts()
        back = hone.QuantizedTensor.from_parts((5, 8), data, scales)
        np.testing.assert_array_equal(back.dequantize().numpy(), q.dequantize().numpy())
        self.assertIsNone(back.report)

    def test_bad_arguments(self):
        w = rng().standard_normal((4, 8)).astype(np.float32)
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.quantize(w, bits=1),
                             "bits")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.quantize(w, bits=4, granularity="per_group",
                                                   group_size=3), "group size 3")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.quantize(w, method="gptq", name="fc1"),
                             "fc1", "Hessian")
        self.assertHoneError(hone.Status.DTYPE_MISMATCH,
                             lambda: hone.quantize(w.astype(np.int32)), "weights", "f32")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.QuantizedTensor.from_parts(
                                 (4, 8), np.zeros((4, 8), np.int8), np.ones(3, np.float32)),
                             "scales")
        with self.assertRaises(ValueError):
            hone.quantize(w, method="best")
        with self.assertRaises(ValueError):
            hone.Quantizer(clip_stepz=3)


class Calibrator(ErrorCase):
    def test_min_max_over_batches(self):
        a = rng(7).standard_normal((16, 8)).astype(np.float32)
        b = (rng(8).standard_normal((16, 8)) * 2 + 0.5).astype(np.float32)
        c = hone.Calibrator()
        c.observe(a)
        c.observe(b)
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        r = c.result()
        self.assertEqual(c.channels, 1)
        self.assertEqual((r["min"][0], r["max"][0]), (lo, hi))
        scale, zp = c.qparams()
        self.assertAlmostEqual(scale, (hi - lo) / 255, delta=1e-7)
        self.assertEqual(zp, int(np.round(-lo / scale)))

    def test_per_channel_symmetric_i8(self):
        x = rng(9).standard_normal((32, 5)).astype(np.float32) * np.arange(1, 6, dtype=np.float32)
        c = hone.Calibrator(granularity="per_channel", axis=1, dtype="i8", scheme="symmetric")
        c.observe(x)
        r = c.result()
        self.assertEqual(c.channels, 5)
        np.testing.assert_allclose(r["scale"], np.abs(x).max(axis=0) / 127, rtol=1e-6)
        self.assertEqual(r["zero_point"], [0] * 5)

    def test_histogram_methods_do_not_depend_on_the_batch_split(self):
        x = rng(10).standard_normal((64, 16)).astype(np.float32)
        for method in ("percentile", "entropy", "mse"):
            whole, split = hone.Calibrator(method=method), hone.Calibrator(method=method)
            whole.observe(x)
            for part in np.split(x, 4):
                split.observe(part)
            self.assertEqual(whole.result(), split.result(), method)
        p = hone.Calibrator(method="percentile", percentile=99.0, scheme="symmetric", dtype="i8")
        p.observe(x)
        lo, hi = p.result()["min"][0], p.result()["max"][0]
        a = np.sort(np.abs(x).ravel())
        ref = a[int(np.ceil(0.99 * a.size)) - 1]  # nearest rank
        bin_width = 2.0 ** np.ceil(np.log2(a[-1])) / 2048  # the histogram's range is 2^e
        self.assertLessEqual(abs(hi - ref), bin_width)
        self.assertEqual(lo, -hi)

    def test_auto_needs_a_scoring_pass_and_is_no_worse_than_min_max(self):
        x = rng(11).standard_normal((256, 8)).astype(np.float32)
        x[0, 0] = 40.0  # an outlier: min/max wastes the grid
        c = hone.Calibrator(method="auto")
        c.observe(x)
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, c.result, "score")
        c.score(x)

        def qdq_error(scale, zp):
            q = np.clip(np.round(x / np.float32(scale)) + zp, 0, 255)
            return float(np.sum(((q - zp) * np.float32(scale) - x) ** 2))

        mm = hone.Calibrator()
        mm.observe(x)
        self.assertLessEqual(qdq_error(*c.qparams()), qdq_error(*mm.qparams()))

    def test_bad_arguments(self):
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.Calibrator(percentile=0), "percentile")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.Calibrator(bins=100),
                             "bins")
        c = hone.Calibrator(name="act0")
        x = np.ones((2, 3), np.float32)
        x[1, 1] = np.nan
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: c.observe(x), "act0", "NaN")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, c.qparams)  # nothing observed
        pc = hone.Calibrator(granularity="per_channel", axis=1)
        pc.observe(np.ones((2, 8), np.float32))
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: pc.observe(np.ones((2, 3), np.float32)), "channels")
        with self.assertRaises(ValueError):
            hone.Calibrator(method="minmax")


class Pruning(ErrorCase):
    def test_magnitude_keeps_the_largest(self):
        w = distinct_weights((8, 16))
        before = w.copy()
        r = hone.prune_magnitude(w, 0.7)
        n = w.size
        expected = int(np.floor(0.7 * n + 0.5))
        self.assertEqual(hone.pruned_count(0.7, n), expected)
        self.assertEqual((r.total, r.pruned), (n, expected))
        out, mask = r.weights.numpy(), r.mask.numpy()
        order = np.argsort(np.abs(w).ravel())
        keep = np.zeros(n, bool)
        keep[order[expected:]] = True
        np.testing.assert_array_equal(mask.ravel().astype(bool), keep)
        np.testing.assert_array_equal(out, np.where(keep.reshape(w.shape), w, 0))
        self.assertEqual(r.threshold, np.abs(w).ravel()[order[expected]])
        np.testing.assert_array_equal(w, before)  # the caller's weights are unchanged
        self.assertAlmostEqual(hone.sparsity_of(out), expected / n)
        np.testing.assert_array_equal(hone.mask_of(out).numpy(), mask)

    def test_two_four_pattern(self):
        w = distinct_weights((6, 16), seed=1)
        r = hone.prune_n_m(w, 2, 4)
        groups = r.mask.numpy().reshape(6, 4, 4)
        self.assertTrue(np.all(groups.sum(axis=2) == 2))
        top = np.argsort(-np.abs(w.reshape(6, 4, 4)), axis=2)[:, :, :2]
        ref = np.zeros_like(groups)
        np.put_along_axis(ref, top, 1, axis=2)
        np.testing.assert_array_equal(groups, ref)
        self.assertEqual(r.pruned, w.size // 2)

    def test_global_uses_one_threshold(self):
        a, b = distinct_weights((4, 8), 2), distinct_weights((8, 8), 3) * 3
        results = hone.prune_global([a, b], 0.5)
        total = a.size + b.size
        self.assertEqual(sum(r.pruned for r in results), hone.pruned_count(0.5, total))
        kept = np.concatenate([np.abs(r.weights.numpy()[r.mask.numpy() == 1]) for r in results])
        gone = np.concatenate([np.abs(w[r.mask.numpy() == 0])
                               for w, r in zip((a, b), results)])
        self.assertGreater(kept.min(), gone.max())
        clamped = hone.prune_global([a, b], 0.5, max_sparsity=[0.25, 0.999])
        self.assertLessEqual(clamped[0].pruned, int(0.25 * a.size))

    def test_blocks_remove_the_weakest(self):
        w = distinct_weights((4, 8), 4)
        r = hone.prune_blocks(w, 2, 2, 0.5, importance="l2")
        norms = np.sqrt((w.reshape(2, 2, 4, 2) ** 2).sum(axis=(1, 3)))  # [2, 4] blocks
        weakest = np.argsort(norms.ravel())[:4]
        mask = r.mask.numpy().reshape(2, 2, 4, 2).transpose(0, 2, 1, 3).reshape(8, 4)
        for blk in range(8):
            self.assertEqual(bool(mask[blk].any()), blk not in weakest)

    def test_wanda_scores_by_activation_norms(self):
        w = distinct_weights((4, 16), 5)
        x = (rng(12).standard_normal((32, 16)) * np.linspace(0.1, 3, 16)).astype(np.float32)
        stats = hone.LayerStats(16, with_hessian=False)
        stats.add(x[:10])
        stats.add(x[10:])
        self.assertEqual(stats.tokens, 32)
        norms = stats.column_norms().numpy()
        np.testing.assert_allclose(norms, np.sqrt((x.astype(np.float64) ** 2).sum(axis=0)),
                                   rtol=1e-6)
        r = hone.prune_wanda(w, norms, 0.25)
        score = np.abs(w) * norms
        mask = r.mask.numpy()
        for row in range(4):
            self.assertEqual(mask[row].sum(), 12)
            self.assertGreater(score[row][mask[row] == 1].min(), score[row][mask[row] == 0].max())

    def test_sparsegpt_beats_magnitude_on_the_output(self):
        r = rng(13)
        k = 32
        x = (r.standard_normal((256, k)) @ r.standard_normal((k, k))).astype(np.float32)
        w = r.standard_normal((8, k)).astype(np.float32)
        stats = hone.LayerStats(k)
        stats.add(x)
        h = stats.hessian()
        sg = hone.prune_sparsegpt(w, h, 0.5)
        mag = hone.prune_magnitude(w, 0.5)
        self.assertEqual(sg.pruned, mag.pruned)
        self.assertTrue(np.all(sg.weights.numpy()[sg.mask.numpy() == 0] == 0))
        self.assertGreaterEqual(sg.loss, 0)

        def err(p):
            return float(np.sum((x @ w.T - x @ p.weights.numpy().T) ** 2))

        self.assertLess(err(sg), err(mag))
        nm = hone.prune_sparsegpt(w, h, n=2, m=4)
        self.assertTrue(np.all(nm.mask.numpy().reshape(8, -1, 4).sum(axis=2) == 2))
        q = hone.prune_sparsegpt(w, h, 0.5, quant_bits=4)
        self.assertEqual(len(q.row_scales), 8)
        steps = q.weights.numpy() / np.array(q.row_scales, np.float32)[:, None]
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)

    def test_bad_arguments(self):
        w = rng().standard_normal((4, 8)).astype(np.float32)
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.prune_magnitude(w, 1.0),
                             "sparsity")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.prune_n_m(w, 4, 4),
                             "N < M")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.prune_n_m(w, 2, 3),
                             "multiple of M")
        nan = w.copy()
        nan[1, 2] = np.nan
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.prune_magnitude(nan, .5),
                             "NaN")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.prune_sparsegpt(w, np.eye(7, dtype=np.float32)),
                             "Hessian")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.prune_wanda(w, np.ones(7, np.float32)),
                             "activation norms")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.prune_global([w], 0.5, min_sparsity=[0.1, 0.2]),
                             "min_sparsity")


def brute_force_kmeans(values, k):
    """The least SSE of any split of the sorted values into k contiguous clusters (the 1-D
    optimum is always contiguous)."""
    v = sorted(values)
    best = float("inf")
    for cuts in itertools.combinations(range(1, len(v)), k - 1):
        bounds = (0,) + cuts + (len(v),)
        sse = 0.0
        for lo, hi in zip(bounds, bounds[1:]):
            part = np.array(v[lo:hi], np.float64)
            sse += float(((part - part.mean()) ** 2).sum())
        best = min(best, sse)
    return best


class Clustering(ErrorCase):
    def test_per_tensor_codebook(self):
        w = rng(14).standard_normal((8, 12)).astype(np.float32)
        c = hone.cluster(w, clusters=4)
        info = c.info
        self.assertEqual((info["bits"], info["groups"], info["entries"]), (2, 1, 4))
        deq = c.dequantize().numpy()
        self.assertLessEqual(len(np.unique(deq)), 4)
        book = c.codebooks().numpy()
        idx = c.indices().numpy()
        np.testing.assert_array_equal(deq, book[0][idx].reshape(w.shape))
        # every weight sits at its nearest centroid
        used = book[0][: c.clusters_used()[0]]
        nearest = np.abs(w[..., None] - used).min(axis=-1)
        np.testing.assert_allclose(np.abs(deq - w), nearest, atol=1e-7)
        self.assertAlmostEqual(info["sse"], float(((deq.astype(np.float64) - w) ** 2).sum()),
                               delta=1e-9 * max(1.0, info["sse"]) + 1e-6)
        self.assertEqual(c.bytes, 8 * ((12 * 2 + 7) // 8) + 4 * 4)
        self.assertEqual(c.packed().shape, (8, 3))

    def test_few_distinct_values_are_exact(self):
        w = np.array([[0.5, -1.0, 2.0, 0.5], [2.0, 2.0, -1.0, 0.25]], np.float32)
        c = hone.cluster(w, clusters=8)
        np.testing.assert_array_equal(c.dequantize().numpy(), w)
        self.assertEqual(c.clusters_used(), [4])
        centroids, sse = hone.kmeans1d(w, clusters=8)
        self.assertEqual(centroids, sorted(set(w.ravel().tolist())))
        self.assertEqual(sse, 0.0)

    def test_optimal_kmeans_matches_brute_force(self):
        values = rng(15).standard_normal(10).astype(np.float32)
        centroids, sse = hone.kmeans1d(values, clusters=3, method="optimal")
        self.assertEqual(len(centroids), 3)
        self.assertEqual(centroids, sorted(centroids))
        self.assertAlmostEqual(sse, brute_force_kmeans(values.tolist(), 3), places=5)

    def test_per_channel_and_sparsity(self):
        w = rng(16).standard_normal((6, 10)).astype(np.float32)
        w[:, ::3] = 0.0
        c = hone.cluster(w, clusters=4, granularity="per_channel", preserve_sparsity=True,
                         method="optimal")
        self.assertEqual(c.info["groups"], 6)
        deq = c.dequantize().numpy()
        for row in range(6):
            self.assertLessEqual(len(np.unique(deq[row])), 4)
        np.testing.assert_array_equal(deq[w == 0], 0.0)
        self.assertTrue(np.all(deq[w != 0] != 0))
        fine = hone.cluster(w, clusters=16, granularity="per_channel")
        self.assertLessEqual(fine.info["sse"], c.info["sse"])

    def test_bad_arguments(self):
        w = rng().standard_normal((4, 8)).astype(np.float32)
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.cluster(w, 1),
                             "clusters")
        nan = w.copy()
        nan[1, 2] = np.nan
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.cluster(nan, 4),
                             "element 10")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT, lambda: hone.kmeans1d([], 4),
                             "empty")
        with self.assertRaises(ValueError):
            hone.cluster(w, 4, method="fast")


class Policies(ErrorCase):
    def test_tiers_and_round_trip(self):
        medium = hone.Policy.for_tier("medium").to_dict()
        self.assertEqual((medium["tier"], medium["max_accuracy_drop"], medium["min_agreement"],
                          medium["required_approvals"]), ("medium", 0.01, 0.97, 0))
        self.assertEqual(hone.Policy.for_tier("critical").to_dict()["required_approvals"], 2)
        p = hone.Policy.from_json('{"tier": "high", "max_accuracy_drop": 0.003}')
        d = p.to_dict()
        self.assertEqual((d["tier"], d["max_accuracy_drop"], d["required_approvals"]),
                         ("high", 0.003, 1))
        self.assertEqual(hone.Policy.from_json(p.to_json()).to_json(), p.to_json())

    def test_bad_policies(self):
        self.assertHoneError(hone.Status.FORMAT,
                             lambda: hone.Policy.from_json(
                                 '{"tier": "low", "max_acuracy_drop": 0.1}', "p.json"),
                             "p.json", "max_acuracy_drop")
        self.assertHoneError(hone.Status.FORMAT,
                             lambda: hone.Policy.from_json('{"tier": "extreme"}'), "extreme")
        self.assertHoneError(hone.Status.FORMAT,
                             lambda: hone.Policy.from_json('{"tier": "low", "min_agreement": 2}'),
                             "min_agreement")
        with self.assertRaises(ValueError):
            hone.Policy.for_tier("lowest")


class Validation(ErrorCase):
    N = 300

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(IMAGES):
            raise FileNotFoundError(f"{IMAGES} is missing: install the Debian package "
                                    "dataset-fashion-mnist (scripts/setup.sh does)")
        with gzip.open(IMAGES, "rb") as f:
            raw = f.read()[16:16 + cls.N * 784]
        cls.x = (np.frombuffer(raw, np.uint8).astype(np.float32) / 255).reshape(cls.N, 784)
        with gzip.open(LABELS, "rb") as f:
            cls.labels = list(f.read()[8:8 + cls.N])
        cls.model = hone.Model(os.path.join(FIXTURES, "mlp.onnx"))
        cls.baseline = hone.Executor(cls.model)

    def logits(self, executor):
        return executor.run(self.x)[0].numpy()

    def test_model_against_itself(self):
        v = hone.validate(self.baseline, self.baseline, self.x, self.labels, latency_batches=())
        s = v.summary()
        accuracy = float(np.mean(self.logits(self.baseline).argmax(1) == self.labels))
        self.assertEqual(s["samples"], self.N)
        self.assertEqual(s["agreement"], 1.0)
        self.assertAlmostEqual(s["baseline_accuracy"], accuracy)
        self.assertEqual(s["candidate_accuracy"], s["baseline_accuracy"])
        self.assertEqual((s["regressions"], s["improvements"]), (0, 0))
        d = v.decide(hone.Policy.for_tier("low"))
        self.assertEqual((d["verdict"], d["approvals_missing"]), ("approved", 0))
        self.assertTrue(all(r["passed"] for r in d["decision"]["reasons"]))
        self.assertAlmostEqual(v.report()["accuracy"]["baseline"], accuracy)
        # critical judges the pessimistic end of the interval: 300 samples cannot pass it
        c = v.decide(hone.Policy.for_tier("critical"))
        self.assertEqual(c["verdict"], "rejected")
        drop = [r for r in c["decision"]["reasons"] if r["metric"] == "accuracy_drop"][0]
        self.assertFalse(drop["passed"])
        self.assertAlmostEqual(drop["value"], -s["delta_low"])

    def test_pruned_candidate_figures(self):
        pruned = hone.Model(os.path.join(FIXTURES, "mlp.onnx"))
        for name, _, shape in pruned.weights:
            if len(shape) == 2:
                pruned.set_weight(name, hone.prune_magnitude(pruned.weight(name), 0.9).weights)
        candidate = hone.Executor(pruned)
        v = hone.validate(self.baseline, candidate, self.x, self.labels, latency_batches=(),
                          slices={"first 100": list(range(100))})
        s = v.summary()
        base, cand = self.logits(self.baseline).argmax(1), self.logits(candidate).argmax(1)
        labels = np.array(self.labels)
        self.assertAlmostEqual(s["agreement"], float(np.mean(base == cand)))
        self.assertAlmostEqual(s["candidate_accuracy"], float(np.mean(cand == labels)))
        self.assertEqual(s["regressions"], int(np.sum((base == labels) & (cand != labels))))
        self.assertEqual(s["improvements"], int(np.sum((base != labels) & (cand == labels))))
        self.assertLessEqual(s["delta_low"], s["candidate_accuracy"] - s["baseline_accuracy"])
        self.assertGreaterEqual(s["delta_high"], s["candidate_accuracy"] - s["baseline_accuracy"])
        names = [sl["name"] for sl in v.report()["slices"]]
        self.assertIn("first 100", names)
        # 90% of every layer is far too much: the drop exceeds the low tier's 2 points
        self.assertGreater(s["baseline_accuracy"] - s["candidate_accuracy"], 0.02)
        d = v.decide(hone.Policy.for_tier("low"))
        failed = [r["metric"] for r in d["decision"]["reasons"] if not r["passed"]]
        self.assertEqual(d["verdict"], "rejected")
        self.assertIn("accuracy_drop", failed)
        self.assertIn("agreement", failed)

    def test_latency_is_timed_on_the_given_batches(self):
        v = hone.validate(self.baseline, self.baseline, self.x[:50], latency_batches=(1, 8),
                          warmup=1, repeats=3)
        latency = v.report()["latency"]
        self.assertEqual([entry["batch"] for entry in latency], [1, 8])
        self.assertEqual(latency[0]["baseline_ms"]["runs"], 3)

    def test_python_runner(self):
        seen = []

        def run(batch):
            seen.append(batch.shape[0])
            return self.baseline.run(batch)[0].numpy()

        v = hone.validate(hone.Runner(run, name="python"), self.baseline, self.x, None,
                          batch_size=128, latency_batches=())
        s = v.summary()
        self.assertEqual(s["agreement"], 1.0)
        self.assertEqual(s["baseline_accuracy"], 1.0)  # no labels: the baseline's answers
        self.assertEqual(v.report()["baseline_name"], "python")
        self.assertEqual(sum(seen[:3]), self.N)

        def broken(batch):
            raise KeyError("boom")

        with self.assertRaises(KeyError):
            hone.validate(broken, self.baseline, self.x, self.labels, latency_batches=())

    def test_bad_arguments(self):
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.validate(self.baseline, self.baseline, self.x, [1, 2],
                                                   latency_batches=()), "3", "labels")
        self.assertHoneError(hone.Status.INVALID_ARGUMENT,
                             lambda: hone.validate(self.baseline, self.baseline, self.x,
                                                   batch_size=0, latency_batches=()),
                             "batch size")
        self.assertHoneError(hone.Status.SHAPE_MISMATCH,
                             lambda: hone.validate(self.baseline,
                                                   lambda b: np.zeros((3, 10), np.float32),
                                                   self.x, latency_batches=()), "[3, 10]")
        with self.assertRaises(TypeError):
            hone.Runner(5)


if __name__ == "__main__":
    unittest.main()
