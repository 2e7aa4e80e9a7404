// Clustering 1,000,000 weights into 16 clusters. Each benchmark checks its result first, then
// interleaves, in every iteration, a std::sort of a copy of the same values with the timed work;
// the counter x_sort is (time of the work) / (time of the sort) over the same iterations, so the
// ratio holds under whatever load the machine has. Reported time: the work alone (manual time).
#include <hone/cluster/clusterer.hpp>
#include <hone/cluster/kmeans1d.hpp>
#include <hone/core/threads.hpp>

#include <algorithm>
#include <benchmark/benchmark.h>
#include <chrono>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

constexpr std::size_t n = 1'000'000;

const std::vector<float>& weights() {
    static const std::vector<float> v = [] {
        std::vector<float> w(n);
        std::mt19937 rng(4);
        std::normal_distribution<float> normal(0.0f, 0.05f);
        for (float& x : w)
            x = normal(rng);
        return w;
    }();
    return v;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Runs `work` per iteration next to a std::sort of the same values; sets x_sort.
template <class Work> void against_sort(benchmark::State& state, Work&& work) {
    const auto& w = weights();
    std::vector<float> copy(w.size());
    double sort_time = 0, work_time = 0;
    for (auto _ : state) {
        std::copy(w.begin(), w.end(), copy.begin());
        auto t0 = std::chrono::steady_clock::now();
        std::sort(copy.begin(), copy.end());
        benchmark::DoNotOptimize(copy.data());
        sort_time += seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        work();
        const double t = seconds_since(t0);
        work_time += t;
        state.SetIterationTime(t);
    }
    state.counters["x_sort"] = work_time / sort_time;
    state.counters["sort_ms"] = 1e3 * sort_time / double(state.iterations());
    state.counters["threads"] = hone::num_threads();
    state.SetItemsProcessed(state.iterations() * std::int64_t(w.size()));
}

/// Checks an optimal solution: 16 sorted centroids, the same bits on 1 and 2 threads, an SSE
/// not above Lloyd's from two initialisations, and no single centroid that a small move
/// improves (a necessary optimality condition). Sets sse_vs_lloyd.
void check_optimal(benchmark::State& state, std::span<const float> importance) {
    const auto& w = weights();
    const int threads = hone::num_threads();
    hone::set_num_threads(1);
    const auto one = hone::kmeans1d_optimal(w, importance, 16);
    hone::set_num_threads(2);
    const auto opt = hone::kmeans1d_optimal(w, importance, 16);
    hone::set_num_threads(threads);
    if (opt.centroids.size() != 16 || !std::is_sorted(opt.centroids.begin(), opt.centroids.end()))
        throw std::runtime_error("optimal: 16 sorted centroids expected");
    if (one.centroids != opt.centroids || one.sse != opt.sse)
        throw std::runtime_error("optimal: 1 and 2 threads differ");
    double lloyd = std::numeric_limits<double>::infinity();
    for (const auto init : {hone::kmeans_init::density, hone::kmeans_init::kmeans_plus_plus})
        lloyd = std::min(lloyd, hone::kmeans1d_lloyd(w, importance, 16, {init, 300, 0, 0}).sse);
    if (opt.sse > lloyd * (1 + 1e-12)) throw std::runtime_error("optimal above lloyd");
    for (std::size_t j = 0; j < 16; ++j)
        for (const double d : {-1e-4, 1e-4}) {
            auto c = opt.centroids;
            c[j] += d;
            if (hone::kmeans1d_sse(w, importance, c) < opt.sse)
                throw std::runtime_error("optimal: moving a centroid improves it");
        }
    state.counters["sse_vs_lloyd"] = opt.sse / lloyd;
}

/// Unweighted: the unit-weight path (the values, about 1 % repeated, each of weight 1).
void BM_kmeans1d_optimal_1M_k16(benchmark::State& state) {
    const auto& w = weights();
    check_optimal(state, {});
    against_sort(state, [&] { benchmark::DoNotOptimize(hone::kmeans1d_optimal(w, {}, 16)); });
}

/// Real-valued importances: the weighted path (a division per entry).
void BM_kmeans1d_optimal_weighted_1M_k16(benchmark::State& state) {
    const auto& w = weights();
    static const std::vector<float> importance = [] {
        std::vector<float> v(n);
        std::mt19937 rng(5);
        std::uniform_real_distribution<float> u(0.5f, 2.0f);
        for (float& x : v)
            x = u(rng);
        return v;
    }();
    check_optimal(state, importance);
    against_sort(state,
                 [&] { benchmark::DoNotOptimize(hone::kmeans1d_optimal(w, importance, 16)); });
}

void BM_kmeans1d_lloyd_density_1M_k16(benchmark::State& state) {
    const auto& w = weights();
    const hone::lloyd_options o{hone::kmeans_init::density, 300, 1e-7, 0};
    if (hone::kmeans1d_lloyd(w, {}, 16, o).centroids.size() != 16)
        throw std::runtime_error("lloyd: 16 centroids expected");
    against_sort(state, [&] { benchmark::DoNotOptimize(hone::kmeans1d_lloyd(w, {}, 16, o)); });
}

/// The whole clusterer on a [1000, 1000] tensor, per tensor: solve, assign every weight
/// (kernels::nearest_centroid), pack 4-bit indices.
void BM_clusterer_per_tensor_1000x1000_k16(benchmark::State& state) {
    const auto& w = weights();
    const auto view = hone::make_view(w.data(), w.size() * 4, hone::dtype::f32, {1000, 1000});
    const hone::clusterer cl({.clusters = 16, .method = hone::kmeans_method::optimal});
    const auto p = cl.cluster(view);
    const auto d = p.dequantize();
    const auto opt = hone::kmeans1d_optimal(w, {}, 16);
    double sse = 0;
    for (std::size_t i = 0; i < n; ++i)
        sse += (double(w[i]) - d.span<float>()[i]) * (double(w[i]) - d.span<float>()[i]);
    if (p.bytes() != 1000 * 500 + 64 || sse > opt.sse * (1 + 1e-6))
        throw std::runtime_error("clusterer: size or SSE wrong");
    against_sort(state, [&] { benchmark::DoNotOptimize(cl.cluster(view)); });
}

} // namespace

BENCHMARK(BM_kmeans1d_optimal_1M_k16)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kmeans1d_optimal_weighted_1M_k16)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kmeans1d_lloyd_density_1M_k16)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_clusterer_per_tensor_1000x1000_k16)->UseManualTime()->Unit(benchmark::kMillisecond);
