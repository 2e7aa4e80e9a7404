// Determinism by construction (issue #15, docs/determinism.md): every algorithm with a
// thread-count or SIMD-dependent path, run at 1, 2, 3 and 4 threads (identical bytes required)
// and at every SIMD tier present up to the start-up cap (HONE_MAX_ISA): identical bytes where
// docs/determinism.md promises them, else closeness within a stated tolerance.
//
// Inputs are sized so that the parallel and SIMD paths engage: several 256-row Hessian chunks and
// 256-wide tiles, several 64-row GPTQ chunks and 128-row SparseGPT chunks, more than 16 scale
// groups, several 65,536-value calibrator chunks, sizes that are not multiples of the vector
// widths.
//
// oneDNN (the Hessian's tile products, GPTQ's updates, AWQ's and the report's output products)
// fixes its ISA at its first use in the process: set_max_isa() does not move it, so the tiers
// compared here differ only in hone's own kernels. Set HONE_DETERMINISM_DIGESTS=1 to print a
// digest per case and tier; comparing the digests of two processes started with different
// ONEDNN_MAX_CPU_ISA (or HONE_MAX_ISA, which caps oneDNN at start-up) shows what oneDNN's ISA
// changes.
#include "../../src/quantize/hessian.hpp"
#include "../kernels/isa_tiers.hpp"

#include <hone/cluster/clusterer.hpp>
#include <hone/cluster/kmeans1d.hpp>
#include <hone/core/tensor.hpp>
#include <hone/core/threads.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/prune/pruner.hpp>
#include <hone/quantize/calibrator.hpp>
#include <hone/quantize/gptq.hpp>
#include <hone/quantize/quantizer.hpp>
#include <hone/quantize/smooth_quant.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace {

using hone::isa;
using hone::tensor;

// ---- inputs (generated once, without oneDNN, from fixed seeds) ------------------------------

/// Standard normal values from raw 64-bit draws (Box–Muller): the same on every library.
std::vector<float> normal(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    auto u01 = [&] { return (double(rng() >> 11) + 0.5) * 0x1.0p-53; };
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; i += 2) {
        const double r = std::sqrt(-2.0 * std::log(u01())), t = 6.283185307179586 * u01();
        v[i] = float(r * std::cos(t)) * scale;
        if (i + 1 < n) v[i + 1] = float(r * std::sin(t)) * scale;
    }
    return v;
}

tensor make(std::int64_t rows, std::int64_t cols, const std::vector<float>& v) {
    tensor t(hone::dtype::f32, {rows, cols});
    std::copy(v.begin(), v.end(), t.span<float>().begin());
    return t;
}

tensor weights(std::int64_t n, std::int64_t k, std::uint64_t seed) {
    return make(n, k, normal(std::size_t(n * k), seed, 0.1f));
}

/// Correlated layer inputs [m, k]: neighbouring columns mixed, a shared per-row component,
/// column scales 1…4 (so act-order permutes), a few outlier columns, and dead (all-zero)
/// columns.
tensor layer_inputs(std::int64_t m, std::int64_t k, std::uint64_t seed,
                    std::vector<std::int64_t> dead = {}) {
    const auto z = normal(std::size_t(m * (k + 1)), seed);
    std::vector<float> x(std::size_t(m * k));
    for (std::int64_t r = 0; r < m; ++r) {
        const float common = z[std::size_t(m * k + r)];
        for (std::int64_t c = 0; c < k; ++c) {
            const float a = z[std::size_t(r * k + c)], b = z[std::size_t(r * k + (c + 1) % k)];
            float v = (a + 0.6f * b + 0.3f * common) * (1.0f + float(c % 4));
            if (c % 97 == 5) v *= 12.0f; // outlier channels (AWQ, SmoothQuant)
            x[std::size_t(r * k + c)] = v;
        }
    }
    for (auto c : dead)
        for (std::int64_t r = 0; r < m; ++r)
            x[std::size_t(r * k + c)] = 0.0f;
    return make(m, k, x);
}

tensor gram(const tensor& x) {
    const std::int64_t m = x.dims()[0], k = x.dims()[1];
    tensor h(hone::dtype::f32, {k, k});
    std::fill(h.span<float>().begin(), h.span<float>().end(), 0.0f);
    hone::kernels::hessian_accumulate(x.span<float>().data(), m, k, h.span<float>().data());
    return h;
}

// ---- what a run produced -------------------------------------------------------------------

/// The outputs of one run: their bytes, concatenated, and the same outputs as numbers (the
/// values compared with a tolerance across SIMD tiers when bytes are not promised there).
struct outcome {
    std::vector<unsigned char> raw;
    std::vector<double> values;

    void bytes(const void* p, std::size_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        raw.insert(raw.end(), b, b + n);
    }
    template <class T> void add(std::span<const T> v, bool as_values = true) {
        bytes(v.data(), v.size_bytes());
        if (as_values)
            for (const T& x : v)
                values.push_back(double(x));
    }
    template <class T> void add(const std::vector<T>& v, bool as_values = true) {
        add(std::span<const T>(v), as_values);
    }
    void add(const tensor& t, bool as_values = false) {
        bytes(t.data(), t.nbytes());
        if (as_values)
            for (float x : t.span<float>())
                values.push_back(x);
    }
    void add(double x) {
        bytes(&x, sizeof x);
        values.push_back(x);
    }
    /// Packed data, scales and zero points as bytes; the dequantized weights as values.
    void add(const hone::quantized_tensor& q) {
        add(q.data);
        add(q.scales);
        add(q.zero_points);
        add(q.dequantize(), true);
    }
    void add(const hone::quant_error_report& r) {
        for (double v : {r.mse, r.max_abs_error, r.sqnr_db, r.fraction_clipped, r.output_mse,
                         r.output_sqnr_db})
            add(std::isfinite(v) ? v : 0.0);
    }
    void add(const hone::calib_result& r) {
        add(r.min);
        add(r.max);
        add(r.scale);
        add(r.zero_point);
        for (auto m : r.chosen)
            add(double(m));
        for (const auto& e : r.candidate_error)
            add(e);
    }
    void add(const hone::palettized_tensor& p) {
        add(p.packed_indices());
        add(p.codebooks());
        add(p.dequantize(), true);
        add(p.sse());
    }
    void add(const hone::kmeans1d_result& r) {
        add(r.centroids);
        add(r.sse);
        add(double(r.iterations));
    }
};

std::uint64_t digest(const std::vector<unsigned char>& b) { // FNV-1a
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : b)
        h = (h ^ c) * 1099511628211ull;
    return h;
}

/// ‖a − b‖₂ / ‖b‖₂ (0 when both are zero).
double relative_l2(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double d = 0, r = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        r += b[i] * b[i];
    }
    return r > 0 ? std::sqrt(d / r) : std::sqrt(d);
}

/// What is promised across SIMD tiers for a case.
struct across_tiers {
    bool identical = true; ///< identical bytes on every tier
    double rel_l2 = 0; ///< else: ‖values − values(top tier)‖ / ‖values(top tier)‖ at most
};
constexpr across_tiers same_bytes{};

/// The tiers this machine has, up to the cap in force at start-up (HONE_MAX_ISA), so that a
/// run under HONE_MAX_ISA=avx2 or scalar checks only those tiers.
std::vector<isa> tiers() {
    static const isa cap = hone::active_isa();
    std::vector<isa> out;
    for (isa t : hone::test::available_tiers())
        if (static_cast<int>(t) <= static_cast<int>(cap)) out.push_back(t);
    return out;
}

/// Restores the thread count and the SIMD cap, also when a check throws.
struct restore_settings {
    int threads = hone::num_threads();
    isa cap = hone::active_isa();
    ~restore_settings() {
        hone::set_num_threads(threads);
        hone::set_max_isa(cap);
    }
};

bool print_digests() { return std::getenv("HONE_DETERMINISM_DIGESTS") != nullptr; }

/// Runs `run` at 1, 2, 3, 4 threads on every tier: identical bytes across thread counts on each
/// tier; across tiers, identical bytes or values within the tolerance, as `promise` says.
template <class Run> void check(const std::string& name, across_tiers promise, Run&& run) {
    CAPTURE(name);
    const auto start = std::chrono::steady_clock::now();
    const restore_settings restore;
    std::vector<std::pair<isa, outcome>> per_tier;
    for (isa tier : tiers()) {
        hone::set_max_isa(tier);
        REQUIRE(hone::active_isa() == tier);
        std::optional<outcome> first;
        for (int threads : {1, 2, 3, 4}) {
            hone::set_num_threads(threads);
            outcome o = run();
            REQUIRE(!o.raw.empty());
            if (!first) {
                first = std::move(o);
                continue;
            }
            INFO("tier ", hone::name_of(tier), ": ", threads, " threads against 1");
            CHECK(o.raw == first->raw);
            if (o.raw != first->raw && !o.values.empty())
                MESSAGE("relative L2 difference ", relative_l2(o.values, first->values));
        }
        per_tier.emplace_back(tier, std::move(*first));
    }
    const outcome& top = per_tier.back().second;
    for (const auto& entry : per_tier) {
        const hone::isa tier = entry.first; // captured by INFO (clang 14: not a binding)
        const outcome& o = entry.second;
        if (print_digests())
            std::printf("digest %-34s %-7s onednn=%-16s %016llx\n", name.c_str(),
                        std::string(hone::name_of(tier)).c_str(),
                        hone::kernels::onednn_isa().c_str(),
                        static_cast<unsigned long long>(digest(o.raw)));
        if (&o == &top) continue;
        INFO("tier ", hone::name_of(tier), " against ", hone::name_of(per_tier.back().first));
        if (promise.identical) {
            CHECK(o.raw == top.raw);
        } else {
            const double d = relative_l2(o.values, top.values);
            CHECK(d <= promise.rel_l2);
            if (print_digests())
                std::printf("         %-34s %-7s relative L2 %.3g (%s)\n", name.c_str(),
                            std::string(hone::name_of(tier)).c_str(), d,
                            o.raw == top.raw ? "identical bytes" : "bytes differ");
        }
    }
    if (print_digests())
        std::printf(
            "time     %-34s %.0f ms\n", name.c_str(),
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
}

// Shared inputs: 300 calibration rows (a 256-row Hessian chunk and a partial one) of a layer of
// K = 600 inputs (three 256-wide Hessian tiles, the last partial) or K = 300 (two), with dead
// inputs.
struct layer {
    std::int64_t k, m = 300;
    tensor x, h;
    explicit layer(std::int64_t inputs)
        : k(inputs), x(layer_inputs(300, inputs, 11, {7, inputs - 199})), h(gram(x)) {}
};
const layer& big() {
    static const layer l(600);
    return l;
}
const layer& mid() {
    static const layer l(300);
    return l;
}

} // namespace

// ---- Hessian --------------------------------------------------------------------------------

TEST_CASE("determinism: hessian_accumulate, prepare_hessian") {
    const auto& l = big();
    check("hessian_accumulate", same_bytes, [&] {
        // two calls (256 rows, the chunk, then 44): the bytes of one call
        tensor h(hone::dtype::f32, {l.k, l.k});
        std::fill(h.span<float>().begin(), h.span<float>().end(), 0.0f);
        const float* x = l.x.span<float>().data();
        hone::kernels::hessian_accumulate(x, 256, l.k, h.span<float>().data());
        hone::kernels::hessian_accumulate(x + 256 * l.k, l.m - 256, l.k, h.span<float>().data());
        outcome o;
        o.add(h, true);
        return o;
    });
    std::vector<std::int64_t> order(static_cast<std::size_t>(l.k));
    for (std::int64_t i = 0; i < l.k; ++i)
        order[std::size_t(i)] = (i * 7) % l.k; // 7 coprime to 600
    for (const bool permuted : {false, true})
        check(permuted ? "prepare_hessian (permuted)" : "prepare_hessian", same_bytes, [&] {
            const auto p = hone::detail::prepare_hessian(
                l.h, 0.01,
                permuted ? std::span<const std::int64_t>(order) : std::span<const std::int64_t>{},
                "h");
            outcome o;
            o.add(p.inverse_cholesky_upper);
            o.add(p.dead, false);
            return o;
        });
}

// ---- GPTQ and the quantizer ----------------------------------------------------------------

TEST_CASE("determinism: gptq_quantize") {
    const auto& l = mid();
    const tensor w = weights(140, l.k, 12); // two 64-row chunks and a partial one
    struct variant {
        const char* name;
        hone::quant_spec spec;
        hone::gptq_config cfg;
    };
    const hone::quant_spec g60{.bits = 4,
                               .symmetric = false,
                               .granularity = hone::quant_granularity::per_group,
                               .group_size = 60};
    const variant variants[] = {
        {"gptq int4 g60 dynamic groups", g60, {.block_size = 100}},
        {"gptq int4 g60 act-order clip", g60, {.act_order = true, .clip_search = true}},
        {"gptq int3 per-channel act-order",
         {.bits = 3, .granularity = hone::quant_granularity::per_channel},
         {.act_order = true, .block_size = 64}},
    };
    for (const auto& v : variants)
        check(v.name, same_bytes, [&] {
            outcome o;
            o.add(hone::gptq_quantize(w, l.h, v.spec, v.cfg, "w"));
            return o;
        });
}

TEST_CASE("determinism: quantizer (RTN, clip search, GPTQ, AWQ)") {
    const tensor w = weights(333, 96, 13); // 999 groups of 32: the parallel path
    const hone::quant_spec g32{.bits = 4,
                               .symmetric = false,
                               .granularity = hone::quant_granularity::per_group,
                               .group_size = 32};
    const hone::quant_spec g32_3bit{.bits = 3,
                                    .symmetric = false,
                                    .granularity = hone::quant_granularity::per_group,
                                    .group_size = 32};
    // 8 and 4 bits pack through the SIMD quantize_linear kernel, 3 bits through the scalar formula
    check("quantizer rtn int4 g32", same_bytes, [&] {
        outcome o;
        o.add(hone::quantizer({.spec = g32}).quantize(w));
        return o;
    });
    check("quantizer rtn int8 per-channel", same_bytes, [&] {
        outcome o;
        o.add(hone::quantizer(hone::quantizer_config{}).quantize(w));
        return o;
    });
    check("quantizer clip int3 g32", same_bytes, [&] {
        outcome o;
        o.add(hone::quantizer({.spec = g32_3bit, .method = hone::weight_method::clip_search})
                  .quantize(w));
        return o;
    });
    // GPTQ and AWQ through run(): Hessian from the inputs, the report's output figures
    const auto& l = mid();
    const tensor wl = weights(70, l.k, 14);
    check("quantizer gptq int4 g60 (+report)", same_bytes, [&] {
        const hone::quantizer q({.spec = {.bits = 4,
                                          .granularity = hone::quant_granularity::per_group,
                                          .group_size = 60},
                                 .method = hone::weight_method::gptq});
        const auto r = q.run(wl, {.inputs = l.x}, "w");
        outcome o;
        o.add(r.weights);
        o.add(r.report);
        return o;
    });
    check("quantizer awq int4 g60 (+report)", same_bytes, [&] {
        const hone::quantizer q({.spec = {.bits = 4,
                                          .granularity = hone::quant_granularity::per_group,
                                          .group_size = 60},
                                 .method = hone::weight_method::awq,
                                 .awq = {.grid = 6}});
        const auto r = q.run(wl, {.inputs = l.x}, "w");
        outcome o;
        o.add(r.weights);
        o.add(r.input_scales);
        o.add(r.awq_alpha);
        o.add(r.report);
        return o;
    });
    // Few rows, a long K: a shape whose reduction oneDNN splits across its threads when it runs
    // a product on several (its AVX2 kernels do, e.g. under ONEDNN_MAX_CPU_ISA=AVX2).
    const tensor wk = weights(32, 4096, 23), xk = layer_inputs(8, 4096, 24);
    check("quantizer awq 8 rows K=4096 (+report)", same_bytes, [&] {
        const hone::quantizer q({.spec = {.bits = 4,
                                          .granularity = hone::quant_granularity::per_group,
                                          .group_size = 128},
                                 .method = hone::weight_method::awq,
                                 .awq = {.grid = 5}});
        const auto r = q.run(wk, {.inputs = xk}, "w");
        outcome o;
        o.add(r.weights);
        o.add(r.input_scales);
        o.add(r.awq_alpha);
        o.add(r.report);
        return o;
    });
}

// ---- SparseGPT and the pruner --------------------------------------------------------------

TEST_CASE("determinism: SparseGPT") {
    // 260 rows: three 128-row chunks (the last partial); K = 300 in blocks of 64 (the last 44)
    const std::int64_t rows = 260, k = 300;
    const tensor x = layer_inputs(400, k, 15, {9});
    const tensor h = gram(x);
    const tensor w0 = weights(rows, k, 16);
    struct variant {
        const char* name;
        hone::sparsegpt_config cfg;
    };
    hone::sparsegpt_config unstructured{.sparsity = 0.5, .block_size = 64};
    hone::sparsegpt_config two_four{.n = 2, .m = 4, .block_size = 64};
    hone::sparsegpt_config joint{.sparsity = 0.6, .block_size = 64, .quant_bits = 4};
    hone::sparsegpt_config callback{.sparsity = 0.5, .block_size = 64};
    callback.quantize = [](std::int64_t, std::span<float> v) {
        for (float& value : v)
            value = std::nearbyint(value * 32.0f) / 32.0f;
    };
    const variant variants[] = {{"sparsegpt 50%", unstructured},
                                {"sparsegpt 2:4", two_four},
                                {"sparsegpt 60% + int4", joint},
                                {"sparsegpt 50% + column quantizer", callback}};
    for (const auto& v : variants)
        // Identical on every tier: the lazy update goes through kernels::subtract_product, whose
        // tiers all compute the same IEEE operations in the same order.
        check(v.name, same_bytes, [&] {
            tensor w = w0.clone();
            tensor mask(hone::dtype::u8, w.dims());
            const auto r = hone::prune_sparsegpt(w, h, v.cfg, mask, "w");
            outcome o;
            o.add(w, true);
            o.add(mask);
            o.add(r.loss);
            o.add(r.row_scales);
            return o;
        });
}

TEST_CASE("determinism: pruner (magnitude, N:M, Wanda, global, blocks, channels)") {
    // 260 × 1031 = 268,060 weights: above the 2^18 of the parallel count of the global search
    const tensor w0 = weights(260, 1031, 17);
    const tensor x = layer_inputs(333, 1031, 18, {3});
    const tensor w24 = weights(300, 1032, 19);
    auto stats_of = [&](bool with_hessian) {
        hone::layer_statistics s(1031, with_hessian);
        s.add(
            hone::make_view(x.span<float>().data(), 200 * 1031 * 4, hone::dtype::f32, {200, 1031}));
        s.add(hone::make_view(x.span<float>().data() + 200 * 1031, 133 * 1031 * 4, hone::dtype::f32,
                              {133, 1031}));
        return s;
    };
    auto pruned = [](tensor& w, const tensor& mask, const hone::prune_report& r) {
        outcome o;
        o.add(w, true);
        o.add(mask);
        o.add(double(r.pruned));
        o.add(double(r.threshold));
        return o;
    };
    check("pruner magnitude 37%", same_bytes, [&] {
        tensor w = w0.clone(), mask(hone::dtype::u8, w.dims());
        const auto r = hone::pruner({.sparsity = 0.37}).prune(w, nullptr, mask);
        return pruned(w, mask, r);
    });
    check("pruner magnitude 2:4", same_bytes, [&] {
        tensor w = w24.clone(), mask(hone::dtype::u8, w.dims());
        const auto r = hone::pruner({.n = 2, .m = 4}).prune(w, nullptr, mask);
        return pruned(w, mask, r);
    });
    check("pruner wanda 50% (+statistics)", same_bytes, [&] {
        const auto s = stats_of(false);
        tensor w = w0.clone(), mask(hone::dtype::u8, w.dims());
        const auto r =
            hone::pruner({.method = hone::prune_method::wanda, .sparsity = 0.5}).prune(w, &s, mask);
        outcome o = pruned(w, mask, r);
        o.add(s.column_norms());
        return o;
    });
    check("pruner sparsegpt 50% (+statistics)", same_bytes, [&] {
        const std::int64_t k = 300;
        hone::layer_statistics s(k);
        s.add(hone::make_view(x.span<float>().data(), 333 * k * 4, hone::dtype::f32, {333, k}));
        tensor w = weights(260, k, 20), mask(hone::dtype::u8, w.dims());
        const auto r = hone::pruner({.method = hone::prune_method::sparsegpt, .block_size = 64})
                           .prune(w, &s, mask);
        outcome o = pruned(w, mask, r);
        o.add(s.hessian(), true);
        return o;
    });
    check("prune_global 55% (bounds)", same_bytes, [&] {
        tensor a = w0.clone(), b = weights(100, 513, 21);
        tensor ma(hone::dtype::u8, a.dims()), mb(hone::dtype::u8, b.dims());
        std::vector<hone::global_layer> layers{{"a", a, 0.1, 0.9, ma}, {"b", b, 0.6, 0.9, mb}};
        const auto r = hone::prune_global(layers, 0.55);
        outcome o = pruned(a, ma, r[0]);
        outcome ob = pruned(b, mb, r[1]);
        o.raw.insert(o.raw.end(), ob.raw.begin(), ob.raw.end());
        o.values.insert(o.values.end(), ob.values.begin(), ob.values.end());
        return o;
    });
    check("prune_blocks 4x8 l2 60%", same_bytes, [&] {
        tensor w = weights(260, 1032, 22), mask(hone::dtype::u8, w.dims());
        const auto r = hone::prune_blocks(w, 4, 8, 0.6, hone::importance::l2, mask);
        return pruned(w, mask, r);
    });
    check("prune_channels l2 / activation-weighted", same_bytes, [&] {
        const auto s = stats_of(false);
        const auto norms = s.column_norms();
        outcome o;
        for (auto kind : {hone::importance::l2, hone::importance::activation_weighted}) {
            const auto r = hone::prune_channels(
                w0, {.sparsity = 0.3, .kind = kind, .activation_norms = norms});
            o.add(r.weights, true);
            o.add(r.scores);
        }
        return o;
    });
}

// ---- activation calibrators and SmoothQuant ------------------------------------------------

namespace {

/// Three batches [rows, channels]: signed data with outliers, or ReLU data (exact zeros).
std::vector<tensor> batches(std::int64_t rows, std::int64_t channels, bool relu,
                            std::uint64_t seed) {
    std::vector<tensor> out;
    for (int b = 0; b < 3; ++b) {
        auto v = normal(std::size_t(rows * channels), seed + std::uint64_t(b));
        for (std::size_t i = 0; i < v.size(); ++i) {
            v[i] *= 1.0f + float(i % std::size_t(channels) % 5);
            if (i % 4099 == 17) v[i] *= 9.0f; // sparse outliers
            if (relu) v[i] = std::max(v[i], 0.0f);
        }
        // the batches grow the range: the histogram is re-binned between them
        for (float& x : v)
            x *= float(1 << b);
        out.push_back(make(rows, channels, v));
    }
    return out;
}

} // namespace

TEST_CASE("determinism: calibrators (every method, per tensor and per channel)") {
    using hone::calib_method;
    const auto per_tensor = batches(300, 301, false, 30);  // 90,300 values: two chunks
    const auto relu_tensor = batches(300, 301, true, 40);  // one-sided, exact zeros
    const auto per_channel = batches(1000, 19, false, 50); // 19 channels along the last axis
    const tensor consumer = weights(19, 301, 31);
    struct variant {
        const char* data;
        const std::vector<tensor>* b;
        hone::kernels::quant_axis g;
        hone::dtype type;
        hone::kernels::quant_scheme scheme;
        std::int64_t bins;
    };
    const variant variants[] = {
        {"signed per-tensor u8 affine",
         &per_tensor,
         {},
         hone::dtype::u8,
         hone::kernels::quant_scheme::affine,
         2048},
        {"relu per-tensor u8 affine",
         &relu_tensor,
         {},
         hone::dtype::u8,
         hone::kernels::quant_scheme::affine,
         2048},
        {"per-channel i8 symmetric",
         &per_channel,
         {hone::kernels::granularity::per_channel, -1, 0},
         hone::dtype::i8,
         hone::kernels::quant_scheme::symmetric,
         256},
        {"per-channel u8 affine",
         &per_channel,
         {hone::kernels::granularity::per_channel, 1, 0},
         hone::dtype::u8,
         hone::kernels::quant_scheme::affine,
         128},
    };
    for (const auto& v : variants)
        for (auto method :
             {calib_method::min_max, calib_method::moving_average, calib_method::percentile,
              calib_method::entropy, calib_method::mse, calib_method::auto_select}) {
            const bool consumer_too =
                method == calib_method::auto_select && v.b == &per_tensor; // per tensor only
            for (const bool with_consumer : {false, true}) {
                if (with_consumer && !consumer_too) continue;
                const std::string name = std::string("calibrator ") +
                                         hone::calib_method_name(method) + ", " + v.data +
                                         (with_consumer ? " + consumer" : "");
                check(name, same_bytes, [&] {
                    hone::calibrator c({.method = method,
                                        .granularity = v.g,
                                        .type = v.type,
                                        .scheme = v.scheme,
                                        .percentile = 99.9,
                                        .bins = v.bins});
                    for (const auto& b : *v.b)
                        c.observe(b);
                    if (method == calib_method::auto_select) {
                        if (with_consumer) c.set_consumer(consumer);
                        for (const auto& b : *v.b)
                            c.score(b);
                    }
                    outcome o;
                    o.add(c.result());
                    return o;
                });
            }
        }
}

TEST_CASE("determinism: SmoothQuant") {
    const tensor w = weights(96, 203, 32);
    const tensor x = layer_inputs(300, 203, 33, {4});
    std::vector<hone::const_tensor_view> views;
    for (std::int64_t r0 : {0, 100, 200})
        views.push_back(hone::make_view(x.span<float>().data() + r0 * 203, 100 * 203 * 4,
                                        hone::dtype::f32, {100, 203}));
    for (const bool i8 : {false, true})
        check(i8 ? "smooth_quant i8 symmetric" : "smooth_quant u8 affine", same_bytes, [&] {
            hone::smooth_quant_params p;
            p.alphas = {0.0f, 0.25f, 0.4f, 0.5f, 0.6f, 0.75f, 1.0f};
            if (i8) {
                p.act_type = hone::dtype::i8;
                p.act_scheme = hone::kernels::quant_scheme::symmetric;
            }
            const auto r = hone::smooth_quant_search(w, views, p);
            outcome o;
            o.add(double(r.alpha));
            o.add(r.scales);
            o.add(r.weights, true);
            o.add(double(r.act_min));
            o.add(double(r.act_max));
            o.add(double(r.act_qparams.scale));
            o.add(double(r.act_qparams.zero_point));
            o.add(r.errors);
            o.add(r.error_before);
            o.add(r.reference_energy);
            return o;
        });
}

// ---- clustering ----------------------------------------------------------------------------

TEST_CASE("determinism: clusterer, optimal 1-D k-means, Lloyd with each initialisation") {
    // Identical on every tier: the optimal solver's row scans go through kernels::kmeans_dp,
    // whose tiers (chosen by set_max_isa) compute each entry with the same IEEE operations.
    auto values = normal(100003, 60, 0.05f);
    for (std::size_t i = 0; i < values.size(); i += 7)
        values[i] = 0.0f; // sparsity for preserve_sparsity
    std::vector<float> importance(values.size());
    for (std::size_t i = 0; i < importance.size(); ++i)
        importance[i] = 0.5f + float(i % 13) / 4.0f;
    check("kmeans1d_optimal k=16", same_bytes, [&] {
        outcome o;
        o.add(hone::kmeans1d_optimal(values, {}, 16));
        return o;
    });
    check("kmeans1d_optimal k=9 importance", same_bytes, [&] {
        outcome o;
        o.add(hone::kmeans1d_optimal(std::span(values).first(40001),
                                     std::span(importance).first(40001), 9));
        return o;
    });
    for (auto init : {hone::kmeans_init::kmeans_plus_plus, hone::kmeans_init::linear,
                      hone::kmeans_init::density, hone::kmeans_init::random})
        check("kmeans1d_lloyd init " + std::to_string(int(init)), same_bytes, [&] {
            outcome o;
            o.add(hone::kmeans1d_lloyd(values, importance, 12,
                                       {.init = init, .max_iterations = 50, .seed = 99}));
            return o;
        });

    const tensor w = make(96, 1000, std::vector<float>(values.begin(), values.begin() + 96000));
    const tensor imp =
        make(96, 1000, std::vector<float>(importance.begin(), importance.begin() + 96000));
    check("clusterer per-tensor optimal k=16 sparsity", same_bytes, [&] {
        outcome o;
        o.add(
            hone::clusterer(
                {.clusters = 16, .method = hone::kmeans_method::optimal, .preserve_sparsity = true})
                .cluster(w));
        return o;
    });
    check("clusterer per-channel automatic f16 importance", same_bytes, [&] {
        outcome o;
        o.add(hone::clusterer({.clusters = 8,
                               .granularity = hone::cluster_granularity::per_channel,
                               .codebook_type = hone::dtype::f16})
                  .cluster(w, imp));
        return o;
    });
    for (auto init : {hone::kmeans_init::kmeans_plus_plus, hone::kmeans_init::linear,
                      hone::kmeans_init::density, hone::kmeans_init::random})
        check("clusterer per-group lloyd init " + std::to_string(int(init)), same_bytes, [&] {
            outcome o;
            o.add(hone::clusterer({.clusters = 16,
                                   .method = hone::kmeans_method::lloyd,
                                   .granularity = hone::cluster_granularity::per_group,
                                   .group_size = 5,
                                   .preserve_sparsity = true,
                                   .lloyd = {.init = init, .seed = 1234}})
                      .cluster(w));
            return o;
        });
}
