// Calibrator observe throughput (min/max; histogram per tensor and per channel) against a memcpy
// of the same bytes measured in the same iterations: the counter `x_memcpy` is observe time /
// memcpy time (1 = as fast as copying the batch once; the reported time includes both). Data: a
// ReLU-like [16384, 256] f32 batch (16 MiB). Correctness is checked before timing.
#include <hone/core/threads.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/quantize/calibrator.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr std::int64_t calib_rows = 16384, calib_cols = 256;
constexpr std::int64_t calib_bytes = calib_rows * calib_cols * 4;

const std::vector<float>& calib_batch() {
    static const std::vector<float> x = [] {
        std::vector<float> v(static_cast<std::size_t>(calib_rows * calib_cols));
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (float& e : v)
            e = std::max(0.0f, nd(rng) * 2.0f); // ReLU output: half exact zeros
        return v;
    }();
    return x;
}

hone::const_tensor_view calib_view() {
    return hone::make_view(calib_batch().data(), static_cast<std::size_t>(calib_bytes),
                           hone::dtype::f32, {calib_rows, calib_cols});
}

void calib_require(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("bench_calibrate: wrong result: ") + what);
}

void run_observe(benchmark::State& state, hone::calib_method m, bool per_channel) {
    hone::calibrator_params p;
    p.method = m;
    p.percentile = 100.0;
    if (per_channel) p.granularity = {hone::kernels::granularity::per_channel, 1, 0};
    // correctness: percentile 100 / min_max give the exact max of each channel
    {
        hone::calibrator c(p);
        c.observe(calib_view());
        const auto r = c.result();
        const auto& x = calib_batch();
        if (per_channel) {
            for (std::int64_t ch = 0; ch < calib_cols; ch += 37) {
                float mx = 0;
                for (std::int64_t i = 0; i < calib_rows; ++i)
                    mx = std::max(mx, x[static_cast<std::size_t>(i * calib_cols + ch)]);
                calib_require(r.max[static_cast<std::size_t>(ch)] == mx, "per-channel max");
            }
        } else {
            calib_require(r.max[0] == *std::max_element(x.begin(), x.end()), "max");
        }
        calib_require(c.count() == calib_rows * calib_cols, "count");
    }
    // each iteration times one memcpy of the batch and one observe, back to back, so both see
    // the same machine load; x_memcpy = Σ observe / Σ memcpy
    hone::calibrator c(p);
    std::vector<float> dst(calib_batch().size());
    double observe_s = 0, memcpy_s = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        std::memcpy(dst.data(), calib_batch().data(), static_cast<std::size_t>(calib_bytes));
        benchmark::DoNotOptimize(dst.data());
        const auto t1 = std::chrono::steady_clock::now();
        c.observe(calib_view());
        const auto t2 = std::chrono::steady_clock::now();
        memcpy_s += std::chrono::duration<double>(t1 - t0).count();
        observe_s += std::chrono::duration<double>(t2 - t1).count();
    }
    state.SetBytesProcessed(state.iterations() * calib_bytes);
    state.counters["x_memcpy"] = observe_s / memcpy_s;
    state.SetLabel(std::string(hone::name_of(hone::active_isa())) + ", " +
                   std::to_string(hone::num_threads()) + " threads");
}

void BM_calibrate_memcpy_16MiB(benchmark::State& state) {
    std::vector<float> dst(calib_batch().size());
    for (auto _ : state) {
        std::memcpy(dst.data(), calib_batch().data(), static_cast<std::size_t>(calib_bytes));
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * calib_bytes);
}
void BM_calibrate_observe_min_max(benchmark::State& state) {
    run_observe(state, hone::calib_method::min_max, false);
}
void BM_calibrate_observe_histogram_per_tensor(benchmark::State& state) {
    run_observe(state, hone::calib_method::percentile, false);
}
void BM_calibrate_observe_histogram_per_channel(benchmark::State& state) {
    run_observe(state, hone::calib_method::percentile, true);
}

} // namespace

BENCHMARK(BM_calibrate_memcpy_16MiB)->UseRealTime();
BENCHMARK(BM_calibrate_observe_min_max)->UseRealTime();
BENCHMARK(BM_calibrate_observe_histogram_per_tensor)->UseRealTime();
BENCHMARK(BM_calibrate_observe_histogram_per_channel)->UseRealTime();
