// Pruner: exact sparsity with deterministic ties, global thresholds with bounds, N:M groups,
// blocks, structured channels (shapes shrink, kept channels bit-identical), masks for
// fine-tuning, determinism across thread counts, and the errors for bad input.
#include "hone/core/threads.hpp"
#include "hone/prune/pruner.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using namespace hone;

namespace {

tensor random_tensor(const shape& s, unsigned seed, bool ties = false) {
    tensor t(dtype::f32, s);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& x : t.span<float>())
        x = ties ? float(int(normal(rng) * 3.0f)) * 0.25f : normal(rng);
    return t;
}

// Brute force: keep the `keep` largest |w|, ties to the lower index (stable sort).
std::vector<std::uint8_t> brute_keep(std::span<const float> w, std::int64_t keep) {
    std::vector<std::size_t> order(w.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return std::fabs(w[a]) > std::fabs(w[b]);
    });
    std::vector<std::uint8_t> m(w.size(), 0);
    for (std::int64_t i = 0; i < keep; ++i)
        m[order[std::size_t(i)]] = 1;
    return m;
}

std::int64_t zeros(std::span<const float> w) { return std::count(w.begin(), w.end(), 0.0f); }

template <class Fn> std::string error_of(Fn&& fn, status* code = nullptr) {
    try {
        fn();
    } catch (const hone::error& e) {
        if (code) *code = e.code();
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("pruned_count rounds half up and rejects sparsity outside [0, 1)") {
    CHECK(pruned_count(0.5, 10) == 5);
    CHECK(pruned_count(0.25, 10) == 3); // 2.5 → 3
    CHECK(pruned_count(0.0, 7) == 0);
    CHECK(pruned_count(0.999, 7) == 7);
    for (double bad : {-0.1, 1.0, 1.5, double(NAN)}) {
        status code{};
        const auto msg = error_of([&] { pruned_count(bad, 10, "fc1"); }, &code);
        CHECK(code == status::invalid_argument);
        CHECK(msg.find("fc1") != std::string::npos);
        CHECK(msg.find("[0, 1)") != std::string::npos);
    }
}

TEST_CASE("magnitude pruning reaches the exact sparsity with deterministic ties") {
    for (bool ties : {false, true})
        for (double s : {0.0, 0.1, 0.5, 0.73, 0.99}) {
            auto w = random_tensor({37, 53}, 3, ties);
            const auto orig = w.clone();
            tensor mask(dtype::u8, w.dims());
            const auto r = prune_magnitude(w, s, mask, "fc");
            const std::int64_t n = 37 * 53;
            const std::int64_t want = std::int64_t(std::floor(s * double(n) + 0.5));
            CHECK(r.pruned == want);
            CHECK(r.total == n);
            const auto expect = brute_keep(orig.span<float>(), n - want);
            CHECK(std::equal(expect.begin(), expect.end(), mask.span<std::uint8_t>().begin()));
            const auto ws = w.span<float>();
            const auto os = orig.span<float>();
            for (std::size_t i = 0; i < ws.size(); ++i) {
                if (expect[i])
                    CHECK(std::bit_cast<std::uint32_t>(ws[i]) ==
                          std::bit_cast<std::uint32_t>(os[i]));
                else
                    CHECK(std::bit_cast<std::uint32_t>(ws[i]) == 0u); // +0, never -0
            }
        }
}

TEST_CASE("magnitude pruning of a tensor of ties keeps the lower indices") {
    tensor w(dtype::f32, {2, 4});
    for (float& x : w.span<float>())
        x = -1.0f;
    const auto r = prune_magnitude(w, 0.5);
    CHECK(r.pruned == 4);
    CHECK(r.threshold == 1.0f);
    const auto s = w.span<float>();
    CHECK(std::vector<float>(s.begin(), s.end()) == std::vector<float>{-1, -1, -1, -1, 0, 0, 0, 0});
}

TEST_CASE("global magnitude pruning: one threshold, exact total, per-layer bounds") {
    auto a = random_tensor({64, 32}, 1);
    auto b = random_tensor({16, 16}, 2);
    auto c = random_tensor({128}, 3);
    // scale b up so that a single threshold prunes little of it
    for (float& x : b.span<float>())
        x *= 4.0f;
    const auto a0 = a.clone(), b0 = b.clone(), c0 = c.clone();

    SUBCASE("without bounds: equals magnitude pruning of the concatenation") {
        std::vector<global_layer> layers{{"a", a}, {"b", b}, {"c", c}};
        const auto reps = prune_global(layers, 0.6);
        std::vector<float> all;
        for (const tensor* t : {&a0, &b0, &c0})
            all.insert(all.end(), t->span<float>().begin(), t->span<float>().end());
        const std::int64_t total = std::int64_t(all.size());
        const auto expect = brute_keep(all, total - pruned_count(0.6, total));
        std::size_t o = 0;
        std::int64_t sum = 0;
        for (const tensor* t : {&a, &b, &c})
            for (float x : t->span<float>())
                CHECK((x != 0.0f) == (expect[o++] == 1));
        for (const auto& r : reps)
            sum += r.pruned;
        CHECK(sum == pruned_count(0.6, total));
        CHECK(reps[1].sparsity() < 0.2); // the scaled-up layer keeps most of its weights
        CHECK(zeros(a.span<float>()) == reps[0].pruned);
    }
    SUBCASE("bounds move the surplus to the other layers at the same threshold") {
        std::vector<global_layer> layers{{"a", a}, {"b", b, 0.5, 0.9}, {"c", c, 0.0, 0.3}};
        const auto reps = prune_global(layers, 0.6);
        const std::int64_t total = 64 * 32 + 256 + 128;
        CHECK(reps[0].pruned + reps[1].pruned + reps[2].pruned == pruned_count(0.6, total));
        CHECK(reps[1].pruned >= 128); // min 50 % of 256
        CHECK(reps[2].pruned <= 38);  // max 30 % of 128
        // Unclamped layers share one threshold: every pruned |w| of a ≤ every kept |w| of a
        // and of any unclamped layer; a is unclamped here.
        float max_pruned = 0, min_kept = INFINITY;
        const std::span<const float> as = a.span<float>(), a0s = a0.span<float>();
        for (std::size_t i = 0; i < as.size(); ++i)
            (as[i] == 0.0f ? max_pruned : min_kept) = as[i] == 0.0f
                                                          ? std::max(max_pruned, std::fabs(a0s[i]))
                                                          : std::min(min_kept, std::fabs(a0s[i]));
        CHECK(max_pruned <= min_kept);
    }
    SUBCASE("impossible bounds are an error naming them") {
        std::vector<global_layer> layers{{"a", a, 0.0, 0.1}, {"b", b, 0.0, 0.1}, {"c", c, 0, 0.1}};
        status code{};
        const auto msg = error_of([&] { prune_global(layers, 0.5); }, &code);
        CHECK(code == status::invalid_argument);
        CHECK(msg.find("bounds") != std::string::npos);
        std::vector<global_layer> bad{{"a", a, 0.5, 0.2}};
        CHECK(error_of([&] { prune_global(bad, 0.3); }).find("'a'") != std::string::npos);
    }
}

TEST_CASE("N:M pruning: every group keeps exactly N, the N largest") {
    for (auto [n, m] : {std::pair{2, 4}, std::pair{4, 8}, std::pair{1, 4}, std::pair{3, 16}}) {
        auto w = random_tensor({24, 64}, unsigned(n * 100 + m), n == 2);
        const auto orig = w.clone();
        tensor mask(dtype::u8, w.dims());
        const auto r = prune_n_m(w, n, m, mask);
        CHECK(r.pruned == 24 * 64 / m * (m - n));
        const std::span<const float> ws = w.span<float>(), os = orig.span<float>();
        const auto ms = mask.span<std::uint8_t>();
        for (std::size_t g = 0; g < ws.size() / std::size_t(m); ++g) {
            int kept = 0;
            float min_kept = INFINITY, max_pruned = 0;
            for (int t = 0; t < m; ++t) {
                const std::size_t i = g * std::size_t(m) + std::size_t(t);
                kept += ms[i];
                if (ms[i]) {
                    min_kept = std::min(min_kept, std::fabs(os[i]));
                    CHECK(ws[i] == os[i]);
                } else {
                    max_pruned = std::max(max_pruned, std::fabs(os[i]));
                    CHECK(std::bit_cast<std::uint32_t>(ws[i]) == 0u);
                }
            }
            CHECK(kept == n);
            CHECK(max_pruned <= min_kept);
        }
    }
    // a conv [Cout, Cin, kh, kw] groups along Cin·kh·kw
    auto conv = random_tensor({8, 4, 3, 3}, 9);
    prune_n_m(conv, 2, 4);
    CHECK(zeros(conv.span<float>()) == 8 * 36 / 2);
}

TEST_CASE("N:M errors: N >= M, M not dividing K") {
    auto w = random_tensor({4, 10}, 1);
    status code{};
    auto msg = error_of([&] { prune_n_m(w, 2, 4, {}, "fc2"); }, &code);
    CHECK(code == status::invalid_argument);
    CHECK(msg.find("fc2") != std::string::npos);
    CHECK(msg.find("multiple of M = 4") != std::string::npos);
    msg = error_of([&] { prune_n_m(w, 4, 4); }, &code);
    CHECK(code == status::invalid_argument);
    CHECK(msg.find("N < M") != std::string::npos);
    CHECK(!error_of([&] { prune_n_m(w, 3, 2); }).empty());
}

TEST_CASE("NaN weights and mismatched masks are errors naming the place") {
    auto w = random_tensor({4, 8}, 1);
    w.span<float>()[13] = NAN;
    status code{};
    auto msg = error_of([&] { prune_magnitude(w, 0.5, {}, "fc3"); }, &code);
    CHECK(code == status::invalid_argument);
    CHECK(msg.find("NaN") != std::string::npos);
    CHECK(msg.find("fc3") != std::string::npos);
    msg = error_of([&] { prune_n_m(w, 2, 4, {}, "fc3"); }, &code);
    CHECK(msg.find("row 1, column 5") != std::string::npos);
    msg = error_of([&] { prune_blocks(w, 1, 4, 0.5, importance::l2, {}, "fc3"); });
    CHECK(msg.find("row 1, column 5") != std::string::npos);
    std::vector<global_layer> layers{{"g", w}};
    CHECK(error_of([&] { prune_global(layers, 0.5); }).find("NaN") != std::string::npos);

    auto ok = random_tensor({4, 8}, 2);
    tensor small(dtype::u8, {4, 7});
    msg = error_of([&] { prune_magnitude(ok, 0.5, small, "fc4"); }, &code);
    CHECK(code == status::shape_mismatch);
    CHECK(msg.find("mask of 'fc4'") != std::string::npos);
    tensor f32mask(dtype::f32, {4, 8});
    error_of([&] { prune_magnitude(ok, 0.5, f32mask); }, &code);
    CHECK(code == status::dtype_mismatch);
    error_of([&] { apply_mask(ok, small); }, &code);
    CHECK(code == status::shape_mismatch);
    tensor grad(dtype::f32, {4, 8}), mask(dtype::u8, {4, 8});
    error_of([&] { masked_sgd_step(ok, grad, small, 0.1f); }, &code);
    CHECK(code == status::shape_mismatch);
    tensor i32(dtype::i32, {4, 8});
    error_of([&] { prune_magnitude(i32, 0.5); }, &code);
    CHECK(code == status::dtype_mismatch);
}

TEST_CASE("block sparsity zeroes whole blocks of least norm") {
    for (auto [br, bc] : {std::pair{1, 4}, std::pair{4, 4}, std::pair{2, 8}}) {
        auto w = random_tensor({16, 32}, unsigned(br * 10 + bc));
        const auto orig = w.clone();
        const auto r = prune_blocks(w, br, bc, 0.5, importance::l2);
        const std::int64_t blocks = 16 * 32 / (br * bc);
        CHECK(r.pruned == blocks / 2 * br * bc);
        // every block is all-zero or untouched; pruned blocks have the smaller norms
        double max_pruned = 0, min_kept = INFINITY;
        const std::span<const float> ws = w.span<float>(), os = orig.span<float>();
        for (std::int64_t b0 = 0; b0 < 16; b0 += br)
            for (std::int64_t c0 = 0; c0 < 32; c0 += bc) {
                int z = 0;
                double nrm = 0;
                for (std::int64_t r2 = b0; r2 < b0 + br; ++r2)
                    for (std::int64_t c2 = c0; c2 < c0 + bc; ++c2) {
                        z += ws[std::size_t(r2 * 32 + c2)] == 0.0f;
                        nrm +=
                            double(os[std::size_t(r2 * 32 + c2)]) * os[std::size_t(r2 * 32 + c2)];
                    }
                CHECK((z == 0 || z == br * bc));
                (z ? max_pruned : min_kept) =
                    z ? std::max(max_pruned, nrm) : std::min(min_kept, nrm);
            }
        CHECK(max_pruned <= min_kept * (1 + 1e-6));
    }
    auto w = random_tensor({6, 8}, 1);
    status code{};
    const auto msg = error_of([&] { prune_blocks(w, 4, 4, 0.5); }, &code);
    CHECK(code == status::invalid_argument);
    CHECK(msg.find("4x4 blocks") != std::string::npos);
}

TEST_CASE("structured pruning shrinks shapes and keeps channels bit-identical") {
    SUBCASE("linear with bias and consumer, l1 / l2") {
        for (importance kind : {importance::l1, importance::l2}) {
            auto w = random_tensor({10, 6}, 4);
            auto bias = random_tensor({10}, 5);
            auto next = random_tensor({3, 10}, 6);
            // make channels 2 and 7 clearly weakest
            for (int j = 0; j < 6; ++j) {
                w.span<float>()[2 * 6 + j] *= 0.01f;
                w.span<float>()[7 * 6 + j] *= 0.02f;
            }
            channel_prune_config cfg;
            cfg.sparsity = 0.2;
            cfg.kind = kind;
            const auto r = prune_channels(w, cfg, bias, next, "fc1");
            CHECK(r.weights.dims() == shape{8, 6});
            CHECK(r.bias.dims() == shape{8});
            CHECK(r.consumer.dims() == shape{3, 8});
            CHECK(r.kept == std::vector<std::int64_t>{0, 1, 3, 4, 5, 6, 8, 9});
            for (std::size_t i = 0; i < r.kept.size(); ++i) {
                const auto c = r.kept[i];
                CHECK(std::memcmp(r.weights.span<float>().data() + i * 6,
                                  w.span<float>().data() + c * 6, 24) == 0);
                CHECK(r.bias.span<float>()[i] == bias.span<float>()[std::size_t(c)]);
                for (int o = 0; o < 3; ++o)
                    CHECK(
                        std::bit_cast<std::uint32_t>(r.consumer.span<float>()[o * 8 + i]) ==
                        std::bit_cast<std::uint32_t>(next.span<float>()[std::size_t(o * 10 + c)]));
            }
        }
    }
    SUBCASE("conv filters, activation-weighted, consumer conv and flatten group") {
        auto w = random_tensor({6, 2, 3, 3}, 7);
        std::vector<float> act{10.0f, 0.0f}; // input channel 1 never fires
        // filter 4 is large only on the dead input channel
        for (int j = 0; j < 9; ++j) {
            w.span<float>()[4 * 18 + j] = 0.001f;
            w.span<float>()[4 * 18 + 9 + j] = 50.0f;
        }
        channel_prune_config cfg;
        cfg.sparsity = 1.0 / 6.0;
        cfg.kind = importance::activation_weighted;
        cfg.activation_norms = act;
        auto next_conv = random_tensor({5, 6, 3, 3}, 8);
        auto r = prune_channels(w, cfg, {}, next_conv);
        CHECK(r.weights.dims() == shape{5, 2, 3, 3});
        CHECK(r.consumer.dims() == shape{5, 5, 3, 3});
        CHECK(std::find(r.kept.begin(), r.kept.end(), 4) == r.kept.end());
        CHECK(r.bias.numel() == 0);
        for (std::size_t i = 0; i < r.kept.size(); ++i)
            CHECK(std::memcmp(r.consumer.span<float>().data() + (1 * 5 + i) * 9,
                              next_conv.span<float>().data() + (1 * 6 + r.kept[i]) * 9, 36) == 0);
        // conv → flatten → linear: the linear's inputs are 6 channels × 4 positions
        auto fc = random_tensor({3, 24}, 9);
        cfg.consumer_group = 4;
        r = prune_channels(w, cfg, {}, fc);
        CHECK(r.consumer.dims() == shape{3, 20});
        for (std::size_t i = 0; i < r.kept.size(); ++i)
            CHECK(std::memcmp(r.consumer.span<float>().data() + 2 * 20 + i * 4,
                              fc.span<float>().data() + 2 * 24 + r.kept[i] * 4, 16) == 0);
        // l2 would keep filter 4 (it has the largest norm)
        cfg.kind = importance::l2;
        r = prune_channels(w, cfg, {}, fc);
        CHECK(std::find(r.kept.begin(), r.kept.end(), 4) != r.kept.end());
    }
    SUBCASE("ties remove the higher channel; bad consumer and norms are errors") {
        tensor w(dtype::f32, {4, 2});
        for (float& x : w.span<float>())
            x = 1.0f;
        channel_prune_config cfg;
        cfg.sparsity = 0.5;
        CHECK(prune_channels(w, cfg).kept == std::vector<std::int64_t>{0, 1});
        tensor next(dtype::f32, {2, 5});
        status code{};
        auto msg = error_of([&] { prune_channels(w, cfg, {}, next, "conv1"); }, &code);
        CHECK(code == status::shape_mismatch);
        CHECK(msg.find("consumer of 'conv1'") != std::string::npos);
        cfg.kind = importance::activation_weighted;
        std::vector<float> act(3, 1.0f);
        cfg.activation_norms = act;
        error_of([&] { prune_channels(w, cfg); }, &code);
        CHECK(code == status::shape_mismatch);
        cfg.kind = importance::l1;
        cfg.sparsity = 1.0;
        error_of([&] { prune_channels(w, cfg); }, &code);
        CHECK(code == status::invalid_argument);
    }
}

TEST_CASE("masks for fine-tuning: mask_of, apply_mask, masked_sgd_step") {
    auto w = random_tensor({8, 8}, 11);
    prune_magnitude(w, 0.5);
    tensor mask(dtype::u8, w.dims());
    mask_of(w, mask);
    CHECK(std::count(mask.span<std::uint8_t>().begin(), mask.span<std::uint8_t>().end(), 1) == 32);
    auto grad = random_tensor({8, 8}, 12);
    auto g2 = grad.clone();
    apply_mask(g2, mask, "grad");
    const auto before = w.clone();
    masked_sgd_step(w, grad, mask, 0.1f);
    for (std::size_t i = 0; i < 64; ++i) {
        const bool kept = mask.span<std::uint8_t>()[i];
        CHECK((g2.span<float>()[i] == 0.0f) == (!kept || grad.span<float>()[i] == 0.0f));
        if (kept)
            CHECK(w.span<float>()[i] == before.span<float>()[i] - 0.1f * grad.span<float>()[i]);
        else
            CHECK(std::bit_cast<std::uint32_t>(w.span<float>()[i]) == 0u);
    }
    CHECK(sparsity_of(w) == doctest::Approx(0.5));
}

TEST_CASE("determinism across thread counts") {
    const int saved = num_threads();
    auto run = [&](int threads) {
        set_num_threads(threads);
        auto a = random_tensor({512, 1024}, 21, true);
        auto b = random_tensor({256, 512}, 22, true);
        std::vector<global_layer> layers{{"a", a, 0.1, 0.9}, {"b", b, 0.6, 0.9}};
        prune_global(layers, 0.55);
        auto c = random_tensor({512, 1024}, 23, true);
        prune_magnitude(c, 0.37);
        auto d = random_tensor({512, 1024}, 24, true);
        std::vector<float> act(1024);
        for (std::size_t i = 0; i < act.size(); ++i)
            act[i] = float(i % 7);
        prune_wanda(d, act, 0.5);
        auto e = random_tensor({512, 1024}, 25, true);
        prune_blocks(e, 4, 4, 0.6, importance::l1);
        auto f = random_tensor({512, 1024}, 26, true);
        prune_n_m(f, 2, 4);
        std::vector<float> out;
        for (tensor* t : {&a, &b, &c, &d, &e, &f})
            out.insert(out.end(), t->span<float>().begin(), t->span<float>().end());
        return out;
    };
    const auto one = run(1);
    const auto two = run(2);
    const auto four = run(4);
    set_num_threads(saved);
    CHECK(std::memcmp(one.data(), two.data(), one.size() * 4) == 0);
    CHECK(std::memcmp(one.data(), four.data(), one.size() * 4) == 0);
}
