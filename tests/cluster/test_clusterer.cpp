// The clusterer: granularities and axes, palettized storage round trips, sparsity preservation,
// importance, determinism across thread counts, the fine-tuning hook, errors.
#include <hone/cluster/clusterer.hpp>
#include <hone/core/error.hpp>
#include <hone/core/half.hpp>
#include <hone/core/threads.hpp>
#include <hone/kernels/palettized.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <vector>

namespace {

hone::tensor random_tensor(const hone::shape& dims, unsigned seed, double zero_fraction = 0) {
    hone::tensor t(hone::dtype::f32, dims);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    std::uniform_real_distribution<double> u(0, 1);
    for (float& x : t.span<float>())
        x = u(rng) < zero_fraction ? 0.0f : normal(rng);
    return t;
}

float entry(const hone::palettized_tensor& p, std::int64_t g, std::int64_t j) {
    const auto e = p.entries();
    return p.codebook_type() == hone::dtype::f16
               ? hone::to_float(static_cast<const hone::half*>(p.codebooks().data())[g * e + j])
               : static_cast<const float*>(p.codebooks().data())[g * e + j];
}

/// Checks every stored weight against its codebook and that each weight went to the nearest
/// real centroid of its codebook; returns the unweighted SSE.
double check_consistent(const hone::palettized_tensor& p, const hone::tensor& w_channel_major) {
    const auto idx = p.indices();
    const auto iv = idx.span<std::uint8_t>();
    const auto wv = w_channel_major.span<float>();
    hone::tensor decoded(hone::dtype::f32, {p.rows(), p.cols()});
    hone::kernels::palettized_decode(p.matrix(), decoded.span<float>());
    const auto dv = decoded.span<float>();
    double sse = 0;
    for (std::int64_t r = 0; r < p.rows(); ++r) {
        const auto g = r / p.rows_per_group();
        for (std::int64_t c = 0; c < p.cols(); ++c) {
            const auto i = r * p.cols() + c;
            REQUIRE(iv[i] < p.clusters_used(g));
            CHECK(dv[i] == entry(p, g, iv[i]));
            const double e = double(wv[i]) - dv[i];
            sse += e * e;
            if (!p.preserves_sparsity())
                for (int j = 0; j < p.clusters_used(g); ++j)
                    CHECK(std::fabs(double(wv[i]) - entry(p, g, j)) >= std::fabs(e));
        }
    }
    return sse;
}

} // namespace

TEST_CASE("per-tensor 16 clusters: layout, bytes, round trip, optimality") {
    const auto w = random_tensor({64, 100}, 1);
    const hone::clusterer cl({.clusters = 16});
    const auto p = cl.cluster(w, {}, "fc");
    CHECK(p.bits() == 4);
    CHECK(p.rows() == 64);
    CHECK(p.cols() == 100);
    CHECK(p.groups() == 1);
    CHECK(p.clusters_used(0) == 16);
    CHECK(p.methods()[0] == hone::kmeans_method::optimal);
    CHECK(p.bytes() == std::size_t(64 * 50 + 16 * 4));
    CHECK(p.packed_indices().dims() == hone::shape{64, 50});
    const double sse = check_consistent(p, w);
    CHECK(p.sse() == doctest::Approx(sse).epsilon(1e-12));
    // The codebook is the optimal one (rounded to f32).
    const auto opt = hone::kmeans1d_optimal(w.span<float>(), {}, 16);
    for (int j = 0; j < 16; ++j)
        CHECK(entry(p, 0, j) == float(opt.centroids[j]));
    CHECK(sse <= opt.sse * (1 + 1e-6));
    // dequantize() equals the kernel decode, and indices() unpack the packed bytes.
    const auto d = p.dequantize();
    hone::tensor decoded(hone::dtype::f32, {64, 100});
    hone::kernels::palettized_decode(p.matrix(), decoded.span<float>());
    CHECK(std::memcmp(d.data(), decoded.data(), d.nbytes()) == 0);
    std::vector<std::uint8_t> repacked(p.packed_indices().nbytes());
    hone::kernels::pack_indices(p.indices().span<std::uint8_t>(), 64, 100, 4, repacked);
    CHECK(std::memcmp(repacked.data(), p.packed_indices().data(), repacked.size()) == 0);
    // palettized_gemv on the clustered weights equals the dense product of dequantized ones.
    std::vector<float> x(100), y(64), ref(64, 0.0f);
    for (int i = 0; i < 100; ++i)
        x[i] = float(i % 7) - 3.0f;
    hone::kernels::palettized_gemv(p.matrix(), x, y);
    for (int r = 0; r < 64; ++r) {
        double s = 0;
        for (int c = 0; c < 100; ++c)
            s += double(d.span<float>()[r * 100 + c]) * x[c];
        CHECK(y[r] == doctest::Approx(s).epsilon(1e-5));
    }
}

TEST_CASE("bits follow k; codebooks padded with zeros") {
    const auto w = random_tensor({8, 40}, 2);
    for (const int k : {2, 3, 4, 5, 16, 17, 64, 200, 256}) {
        const auto p = hone::clusterer({.clusters = k}).cluster(w);
        const int bits = int(std::ceil(std::log2(double(k))));
        CHECK(p.bits() == std::max(1, bits));
        CHECK(p.clusters_used(0) == k);
        for (auto j = p.clusters_used(0); j < p.entries(); ++j)
            CHECK(entry(p, 0, j) == 0.0f);
        CHECK(p.bytes() ==
              hone::kernels::packed_row_bytes(40, p.bits()) * 8 + std::size_t(p.entries()) * 4);
        check_consistent(p, w);
    }
}

TEST_CASE("per-channel and per-group along any axis") {
    const auto w = random_tensor({6, 5, 4}, 3);
    for (const int axis : {0, 1, 2, -1}) {
        const int a = axis < 0 ? axis + 3 : axis;
        // The channel-major copy of w for this axis.
        const std::int64_t rows = w.dims()[a], cols = 120 / rows;
        hone::tensor cm(hone::dtype::f32, {rows, cols});
        {
            std::vector<std::int64_t> count(rows, 0);
            for (std::int64_t i0 = 0; i0 < 6; ++i0)
                for (std::int64_t i1 = 0; i1 < 5; ++i1)
                    for (std::int64_t i2 = 0; i2 < 4; ++i2) {
                        const std::int64_t id[3] = {i0, i1, i2};
                        const auto r = id[a];
                        cm.span<float>()[r * cols + count[r]++] =
                            w.span<float>()[(i0 * 5 + i1) * 4 + i2];
                    }
        }
        for (const auto gran :
             {hone::cluster_granularity::per_channel, hone::cluster_granularity::per_group}) {
            hone::clusterer_config cfg{.clusters = 4, .granularity = gran, .axis = axis};
            cfg.group_size = 2;
            const auto p = hone::clusterer(cfg).cluster(w);
            CHECK(p.axis() == a);
            CHECK(p.rows() == rows);
            CHECK(p.cols() == cols);
            const std::int64_t rpg = gran == hone::cluster_granularity::per_channel ? 1 : 2;
            CHECK(p.rows_per_group() == std::min(rpg, rows));
            CHECK(p.groups() == (rows + p.rows_per_group() - 1) / p.rows_per_group());
            check_consistent(p, cm);
            // Each codebook is the optimum of its own channels.
            for (std::int64_t g = 0; g < p.groups(); ++g) {
                const auto r0 = g * p.rows_per_group(),
                           r1 = std::min(rows, r0 + p.rows_per_group());
                const auto vals =
                    cm.span<float>().subspan(std::size_t(r0 * cols), std::size_t((r1 - r0) * cols));
                const auto opt = hone::kmeans1d_optimal(vals, {}, 4);
                for (std::size_t j = 0; j < opt.centroids.size(); ++j)
                    CHECK(entry(p, g, std::int64_t(j)) == float(opt.centroids[j]));
            }
            // dequantize() puts every value back where it came from.
            const auto d = p.dequantize();
            CHECK(d.dims() == w.dims());
            for (std::int64_t i0 = 0; i0 < 6; ++i0)
                for (std::int64_t i1 = 0; i1 < 5; ++i1)
                    for (std::int64_t i2 = 0; i2 < 4; ++i2) {
                        const std::int64_t id[3] = {i0, i1, i2};
                        const auto flat = (i0 * 5 + i1) * 4 + i2;
                        const float orig = w.span<float>()[flat], deq = d.span<float>()[flat];
                        const auto g = id[a] / p.rows_per_group();
                        // deq is the nearest centroid of orig in its channel's codebook.
                        float best = entry(p, g, 0);
                        for (int j = 1; j < p.clusters_used(g); ++j)
                            if (std::fabs(orig - entry(p, g, j)) < std::fabs(orig - best))
                                best = entry(p, g, j);
                        CHECK(deq == best);
                    }
        }
    }
}

TEST_CASE("strided input and a rank-1 tensor") {
    const auto big = random_tensor({10, 12}, 4);
    // Every second column: a strided [10, 6] view.
    const std::int64_t strides[2] = {12, 2};
    const auto v = hone::make_view(big.data(), big.nbytes(), hone::dtype::f32, {10, 6}, strides);
    const auto p = hone::clusterer({.clusters = 4}).cluster(v);
    const auto copy = hone::tensor::copy_of(v);
    const auto q = hone::clusterer({.clusters = 4}).cluster(copy);
    CHECK(std::memcmp(p.packed_indices().data(), q.packed_indices().data(),
                      q.packed_indices().nbytes()) == 0);
    CHECK(std::memcmp(p.codebooks().data(), q.codebooks().data(), q.codebooks().nbytes()) == 0);
    const auto r1 = random_tensor({33}, 5);
    const auto p1 = hone::clusterer({.clusters = 8}).cluster(r1);
    CHECK(p1.rows() == 1);
    CHECK(p1.cols() == 33);
    CHECK(p1.bytes() == std::size_t(13 + 8 * 4));
    check_consistent(p1, r1);
}

TEST_CASE("sparsity-preserving: every zero stays zero, non-zeros never map to it") {
    for (const auto gran :
         {hone::cluster_granularity::per_tensor, hone::cluster_granularity::per_channel}) {
        for (const int k : {2, 3, 8, 16}) {
            const auto w = random_tensor({16, 64}, 6 + unsigned(k), 0.5);
            hone::clusterer_config cfg{.clusters = k, .granularity = gran};
            cfg.preserve_sparsity = true;
            const auto p = hone::clusterer(cfg).cluster(w);
            const auto d = p.dequantize();
            const auto idx = p.indices();
            std::int64_t zeros = 0;
            for (std::int64_t i = 0; i < w.numel(); ++i) {
                const float x = w.span<float>()[i];
                const auto g = (i / p.cols()) / p.rows_per_group();
                if (x == 0) {
                    ++zeros;
                    CHECK(d.span<float>()[i] == 0.0f);
                    CHECK(!std::signbit(d.span<float>()[i]));
                    CHECK(entry(p, g, idx.span<std::uint8_t>()[i]) == 0.0f);
                } else {
                    // A non-zero weight's centroid is one of the k − 1 non-zero-slot ones:
                    // its index differs from that of the zeros of its codebook.
                    std::int64_t zero_index = -1;
                    for (std::int64_t t = (i / p.cols()) * p.cols(); t < w.numel(); ++t)
                        if (w.span<float>()[t] == 0) {
                            zero_index = idx.span<std::uint8_t>()[t];
                            break;
                        }
                    if (zero_index >= 0 && (i / p.cols()) / p.rows_per_group() == g)
                        CHECK(idx.span<std::uint8_t>()[i] != zero_index);
                }
            }
            CHECK(zeros > w.numel() / 3);
            for (std::int64_t g = 0; g < p.groups(); ++g)
                CHECK(p.clusters_used(g) <= k);
        }
    }
    // Without zeros the mode uses all k centroids.
    const auto dense = random_tensor({4, 50}, 40);
    hone::clusterer_config cfg{.clusters = 8};
    cfg.preserve_sparsity = true;
    const auto p = hone::clusterer(cfg).cluster(dense);
    CHECK(p.clusters_used(0) == 8);
    const auto plain = hone::clusterer({.clusters = 8}).cluster(dense);
    CHECK(std::memcmp(p.codebooks().data(), plain.codebooks().data(), plain.codebooks().nbytes()) ==
          0);
    // All-zero tensor: one centroid, 0.
    hone::tensor zeros(hone::dtype::f32, {3, 3});
    const auto pz = hone::clusterer(cfg).cluster(zeros);
    CHECK(pz.clusters_used(0) == 1);
    CHECK(pz.sse() == 0);
}

TEST_CASE("importance weighting and f16 codebooks") {
    const auto w = random_tensor({32, 32}, 7);
    hone::tensor imp(hone::dtype::f32, {32, 32});
    std::mt19937_64 rng(8);
    std::exponential_distribution<float> e(1.0f);
    for (float& x : imp.span<float>())
        x = e(rng);
    const auto p = hone::clusterer({.clusters = 8}).cluster(w, imp);
    const auto opt = hone::kmeans1d_optimal(w.span<float>(), imp.span<float>(), 8);
    for (int j = 0; j < 8; ++j)
        CHECK(entry(p, 0, j) == float(opt.centroids[j]));
    CHECK(p.sse() == doctest::Approx(opt.sse).epsilon(1e-6));
    const auto unweighted = hone::clusterer({.clusters = 8}).cluster(w);
    CHECK(hone::kmeans1d_sse(w.span<float>(), imp.span<float>(), opt.centroids) <=
          p.sse() * (1 + 1e-6));
    // The weighted objective of the unweighted codebook is not better.
    std::vector<double> uc;
    for (int j = 0; j < 8; ++j)
        uc.push_back(entry(unweighted, 0, j));
    CHECK(hone::kmeans1d_sse(w.span<float>(), imp.span<float>(), uc) >= opt.sse * (1 - 1e-9));

    hone::clusterer_config cfg{.clusters = 16};
    cfg.codebook_type = hone::dtype::f16;
    const auto h = hone::clusterer(cfg).cluster(w);
    CHECK(h.codebook_type() == hone::dtype::f16);
    CHECK(h.bytes() == std::size_t(32 * 16 + 16 * 2));
    for (int j = 0; j < 16; ++j)
        CHECK(hone::to_float(hone::to_half(entry(h, 0, j))) == entry(h, 0, j));
    check_consistent(h, w);
}

TEST_CASE("automatic method follows the budget; lloyd gives a consistent result") {
    const auto w = random_tensor({20, 50}, 9);
    hone::clusterer_config cfg{.clusters = 16};
    cfg.auto_max_cells = 16 * 1000;
    CHECK(hone::clusterer(cfg).cluster(w).methods()[0] == hone::kmeans_method::optimal);
    cfg.auto_max_cells = 16 * 1000 - 1;
    const auto l = hone::clusterer(cfg).cluster(w);
    CHECK(l.methods()[0] == hone::kmeans_method::lloyd);
    check_consistent(l, w);
    cfg.method = hone::kmeans_method::optimal;
    const auto o = hone::clusterer(cfg).cluster(w);
    CHECK(o.methods()[0] == hone::kmeans_method::optimal);
    CHECK(o.sse() <= l.sse() * (1 + 1e-6));
}

TEST_CASE("identical bytes for any thread count") {
    const auto w = random_tensor({48, 70}, 10, 0.2);
    for (const auto method : {hone::kmeans_method::optimal, hone::kmeans_method::lloyd}) {
        hone::clusterer_config cfg{
            .clusters = 8, .method = method, .granularity = hone::cluster_granularity::per_channel};
        cfg.preserve_sparsity = true;
        std::vector<std::vector<std::byte>> results;
        for (const int threads : {1, 2, 4}) {
            hone::set_num_threads(threads);
            const auto p = hone::clusterer(cfg).cluster(w);
            std::vector<std::byte> bytes(p.packed_indices().nbytes() + p.codebooks().nbytes());
            std::memcpy(bytes.data(), p.packed_indices().data(), p.packed_indices().nbytes());
            std::memcpy(bytes.data() + p.packed_indices().nbytes(), p.codebooks().data(),
                        p.codebooks().nbytes());
            results.push_back(bytes);
        }
        hone::set_num_threads(0);
        CHECK(results[0] == results[1]);
        CHECK(results[0] == results[2]);
    }
}

TEST_CASE("fine-tuning hook: gradient sums per centroid, update, reassign") {
    const auto w = random_tensor({8, 30}, 11, 0.3);
    hone::clusterer_config cfg{.clusters = 4,
                               .granularity = hone::cluster_granularity::per_channel};
    cfg.preserve_sparsity = true;
    auto p = hone::clusterer(cfg).cluster(w);
    const auto before = p.dequantize();
    const auto idx = p.indices();
    // dL/dW for L = ½‖Ŵ − T‖² with target T = W + 0.01: gradient Ŵ − T.
    hone::tensor grad(hone::dtype::f32, {8, 30});
    for (int i = 0; i < 240; ++i)
        grad.span<float>()[i] = before.span<float>()[i] - (w.span<float>()[i] + 0.01f);
    p.accumulate_gradient(grad);
    const auto e = p.entries();
    std::vector<double> sums(std::size_t(p.groups() * e), 0.0);
    std::vector<std::int64_t> counts(sums.size(), 0);
    for (int i = 0; i < 240; ++i) {
        const auto slot = std::size_t((i / 30) * e + idx.span<std::uint8_t>()[i]);
        sums[slot] += grad.span<float>()[i];
        ++counts[slot];
    }
    for (std::size_t s = 0; s < sums.size(); ++s) {
        CHECK(p.gradient_sums()[s] == doctest::Approx(sums[s]).epsilon(1e-12));
        CHECK(p.gradient_counts()[s] == counts[s]);
    }
    // Averaged step with lr 1 moves each non-zero centroid to the mean target of its weights.
    std::vector<float> old(std::size_t(p.groups() * e));
    for (std::int64_t g = 0; g < p.groups(); ++g)
        for (std::int64_t j = 0; j < e; ++j)
            old[std::size_t(g * e + j)] = entry(p, g, j);
    p.apply_gradient(1.0f, true);
    for (std::int64_t g = 0; g < p.groups(); ++g)
        for (std::int64_t j = 0; j < p.clusters_used(g); ++j) {
            const auto s = std::size_t(g * e + j);
            if (old[s] == 0.0f) {
                CHECK(entry(p, g, j) == 0.0f); // the zero centroid never moves
            } else if (counts[s] > 0) {
                CHECK(entry(p, g, j) ==
                      doctest::Approx(double(old[s]) - sums[s] / double(counts[s])).epsilon(1e-6));
            }
        }
    for (const double s : p.gradient_sums())
        CHECK(s == 0.0);
    // The trained codebook lowers the loss against the target.
    const auto after = p.dequantize();
    double loss_before = 0, loss_after = 0;
    for (int i = 0; i < 240; ++i) {
        const double t = double(w.span<float>()[i]) + (w.span<float>()[i] == 0 ? 0 : 0.01);
        loss_before += std::pow(before.span<float>()[i] - t, 2);
        loss_after += std::pow(after.span<float>()[i] - t, 2);
    }
    CHECK(loss_after < loss_before);
    // Zeros are still zero after the update.
    for (int i = 0; i < 240; ++i)
        if (w.span<float>()[i] == 0) CHECK(after.span<float>()[i] == 0.0f);
    // A plain-sum step: c ← c − lr·Σ.
    p.accumulate_gradient(grad);
    const std::vector<double> s2(p.gradient_sums().begin(), p.gradient_sums().end());
    std::vector<float> old2(old.size());
    for (std::int64_t g = 0; g < p.groups(); ++g)
        for (std::int64_t j = 0; j < e; ++j)
            old2[std::size_t(g * e + j)] = entry(p, g, j);
    p.apply_gradient(0.1f, false);
    for (std::int64_t g = 0; g < p.groups(); ++g)
        for (std::int64_t j = 0; j < p.clusters_used(g); ++j) {
            const auto s = std::size_t(g * e + j);
            if (old2[s] != 0.0f)
                CHECK(entry(p, g, j) == doctest::Approx(old2[s] - 0.1 * s2[s]).epsilon(1e-6));
        }
    // Reassign latent weights: codebooks sorted, every weight at its nearest centroid.
    const auto latent = random_tensor({8, 30}, 12, 0.3);
    p.reassign(latent);
    for (std::int64_t g = 0; g < p.groups(); ++g)
        for (std::int64_t j = 1; j < p.clusters_used(g); ++j)
            CHECK(entry(p, g, j - 1) <= entry(p, g, j));
    const auto d = p.dequantize();
    double sse = 0;
    for (int i = 0; i < 240; ++i) {
        const float x = latent.span<float>()[i];
        if (x == 0) CHECK(d.span<float>()[i] == 0.0f);
        sse += std::pow(double(x) - d.span<float>()[i], 2);
    }
    CHECK(p.sse() == doctest::Approx(sse).epsilon(1e-9));
}

TEST_CASE("bad input gets a clear error") {
    auto fails = [](auto&& fn, hone::status code, const char* needle) {
        try {
            fn();
            FAIL("no error");
        } catch (const hone::error& e) {
            CHECK(e.code() == code);
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    fails([] { hone::clusterer({.clusters = 1}); }, hone::status::invalid_argument, "clusters = 1");
    fails([] { hone::clusterer({.clusters = 257}); }, hone::status::invalid_argument,
          "clusters = 257");
    fails(
        [] {
            hone::clusterer_config c;
            c.granularity = hone::cluster_granularity::per_group;
            c.group_size = 0;
            hone::clusterer{c};
        },
        hone::status::invalid_argument, "group_size");
    fails(
        [] {
            hone::clusterer_config c;
            c.codebook_type = hone::dtype::i8;
            hone::clusterer{c};
        },
        hone::status::dtype_mismatch, "codebook type i8");
    const hone::clusterer cl({.clusters = 4});
    hone::tensor empty(hone::dtype::f32, {0, 5});
    fails([&] { cl.cluster(empty, {}, "fc9"); }, hone::status::invalid_argument, "fc9 is empty");
    hone::tensor ints(hone::dtype::i32, {4});
    fails([&] { cl.cluster(ints, {}, "fc9"); }, hone::status::dtype_mismatch, "must be f32");
    auto w = random_tensor({4, 4}, 13);
    w.span<float>()[5] = NAN;
    fails([&] { cl.cluster(w, {}, "fc9"); }, hone::status::invalid_argument, "element 5");
    w.span<float>()[5] = -INFINITY;
    fails([&] { cl.cluster(w, {}, "fc9"); }, hone::status::invalid_argument, "-inf");
    w.span<float>()[5] = 0;
    hone::tensor imp(hone::dtype::f32, {4, 5});
    fails([&] { cl.cluster(w, imp, "fc9"); }, hone::status::shape_mismatch, "importance must be");
    hone::tensor neg(hone::dtype::f32, {4, 4});
    neg.span<float>()[3] = -1;
    fails([&] { cl.cluster(w, neg, "fc9"); }, hone::status::invalid_argument,
          "importance element 3");
    hone::clusterer_config axis_cfg{.clusters = 4,
                                    .granularity = hone::cluster_granularity::per_channel};
    axis_cfg.axis = 2;
    fails([&] { hone::clusterer(axis_cfg).cluster(w, {}, "fc9"); }, hone::status::invalid_argument,
          "axis 2");
    hone::clusterer_config f16{.clusters = 2};
    f16.codebook_type = hone::dtype::f16;
    hone::tensor huge(hone::dtype::f32, {2});
    huge.span<float>()[0] = 1e6f;
    huge.span<float>()[1] = -1e6f;
    fails([&] { hone::clusterer(f16).cluster(huge, {}, "fc9"); }, hone::status::invalid_argument,
          "does not fit f16");
    // Fewer distinct values than k: documented, not an error.
    hone::tensor few(hone::dtype::f32, {2, 3});
    const float vals[] = {1, 2, 1, 2, 1, 3};
    std::memcpy(few.data(), vals, sizeof vals);
    const auto p = cl.cluster(few);
    CHECK(p.clusters_used(0) == 3);
    CHECK(p.sse() == 0);
    const auto d = p.dequantize();
    CHECK(std::memcmp(d.data(), vals, sizeof vals) == 0);
    // Hook errors.
    auto q = cl.cluster(random_tensor({4, 4}, 14));
    hone::tensor g(hone::dtype::f32, {4, 3});
    fails([&] { q.accumulate_gradient(g); }, hone::status::shape_mismatch, "gradient must be");
    hone::tensor gn(hone::dtype::f32, {4, 4});
    gn.span<float>()[0] = NAN;
    fails([&] { q.accumulate_gradient(gn); }, hone::status::invalid_argument, "gradient element 0");
    fails([&] { q.apply_gradient(NAN); }, hone::status::invalid_argument, "learning rate");
    fails([&] { q.reassign(g); }, hone::status::shape_mismatch, "weights must be");
    hone::tensor out(hone::dtype::f32, {4, 5});
    fails([&] { q.dequantize(out.view()); }, hone::status::shape_mismatch, "dst must be");
}
