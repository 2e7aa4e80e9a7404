// Sparsity, clustering and palettized kernels. Each benchmark checks its result before timing.
// Ratios to read (one run): topk vs memcpy of the same bytes; palettized 4-bit GEMV vs the
// fp32 GEMV (matmul_f32 at M = 1) of the same 4096×4096 shape.
#include <hone/kernels/cluster.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/kernels/palettized.hpp>
#include <hone/kernels/sparsity.hpp>

#include <algorithm>
#include <benchmark/benchmark.h>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

namespace hk = hone::kernels;
constexpr std::int64_t dim = 4096;

std::vector<float> normal_floats(std::size_t n, unsigned seed) {
    std::vector<float> v(n);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& x : v)
        x = normal(rng);
    return v;
}

void label(benchmark::State& state) {
    state.SetLabel(std::string(hone::name_of(hone::active_isa())));
}

void BM_memcpy_16M_f32(benchmark::State& state) {
    const auto src = normal_floats(dim * dim, 1);
    std::vector<float> dst(src.size());
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(src.size() * sizeof(float)));
}

void BM_topk_magnitude_4096x4096_50pct(benchmark::State& state) {
    const auto w = normal_floats(dim * dim, 2);
    std::vector<std::uint8_t> mask(w.size());
    const std::int64_t keep = dim * dim / 2;
    const auto r = hk::topk_mask(w, keep, hk::score_kind::magnitude, mask);
    if (std::count(mask.begin(), mask.end(), 1) != keep) throw std::runtime_error("topk count");
    for (std::size_t i = 0; i < w.size(); i += 997)
        if ((std::fabs(w[i]) > r.threshold) != (mask[i] == 1) && std::fabs(w[i]) != r.threshold)
            throw std::runtime_error("topk threshold");
    for (auto _ : state) {
        hk::topk_mask(w, keep, hk::score_kind::magnitude, mask);
        benchmark::DoNotOptimize(mask.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(w.size() * sizeof(float)));
    label(state);
}

void BM_nm_mask_2of4_4096x4096(benchmark::State& state) {
    const auto w = normal_floats(dim * dim, 3);
    std::vector<std::uint8_t> mask(w.size());
    hk::nm_mask(w, dim, dim, 2, 4, hk::score_kind::magnitude, mask);
    for (std::size_t g = 0; g < w.size(); g += 4 * 101)
        if (mask[g] + mask[g + 1] + mask[g + 2] + mask[g + 3] != 2)
            throw std::runtime_error("2:4 group");
    for (auto _ : state) {
        hk::nm_mask(w, dim, dim, 2, 4, hk::score_kind::magnitude, mask);
        benchmark::DoNotOptimize(mask.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(w.size() * sizeof(float)));
    label(state);
}

void BM_nearest_centroid_1M_into_16(benchmark::State& state) {
    const auto v = normal_floats(1'000'000, 4);
    std::vector<float> c(16);
    for (int j = 0; j < 16; ++j)
        c[std::size_t(j)] = -3.0f + 0.4f * float(j);
    std::vector<std::uint8_t> idx(v.size());
    hk::nearest_centroid(v, c, idx);
    for (std::size_t i = 0; i < v.size(); i += 1009) {
        const float d = std::fabs(v[i] - c[idx[i]]);
        for (float cj : c)
            if (std::fabs(v[i] - cj) < d) throw std::runtime_error("nearest centroid");
    }
    for (auto _ : state) {
        hk::nearest_centroid(v, c, idx);
        benchmark::DoNotOptimize(idx.data());
    }
    state.SetItemsProcessed(state.iterations() * std::int64_t(v.size()));
    label(state);
}

struct palettized_4bit {
    std::vector<std::uint8_t> packed;
    std::vector<float> codebooks;
    std::vector<float> dense;
    palettized_4bit() {
        std::vector<std::uint8_t> idx(dim * dim);
        std::mt19937 rng(5);
        for (auto& i : idx)
            i = std::uint8_t(rng() & 15u);
        packed.resize(std::size_t(dim) * hk::packed_row_bytes(dim, 4));
        hk::pack_indices(idx, dim, dim, 4, packed);
        codebooks = normal_floats(std::size_t(dim) * 16, 6); // one codebook per output channel
        dense.resize(idx.size());
        for (std::size_t i = 0; i < idx.size(); ++i)
            dense[i] = codebooks[(i / dim) * 16 + idx[i]];
    }
    hk::palettized_matrix view() const {
        return {dim,
                dim,
                4,
                1,
                hone::dtype::f32,
                packed,
                {reinterpret_cast<const std::byte*>(codebooks.data()), codebooks.size() * 4}};
    }
};

const palettized_4bit& weights() {
    static const palettized_4bit w;
    return w;
}

void BM_gemv_fp32_1x4096x4096(benchmark::State& state) {
    const auto& w = weights();
    const auto x = normal_floats(dim, 7);
    std::vector<float> y(dim);
    for (auto _ : state) {
        hk::matmul_f32(x.data(), w.dense.data(), y.data(), 1, dim, dim, hk::weight_layout::n_by_k,
                       nullptr);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(w.dense.size() * sizeof(float)));
    label(state);
}

void BM_gemv_palettized_4bit_1x4096x4096(benchmark::State& state) {
    const auto& w = weights();
    const auto x = normal_floats(dim, 7);
    std::vector<float> y(dim), ref(dim);
    hk::palettized_gemv(w.view(), x, y);
    hk::matmul_f32(x.data(), w.dense.data(), ref.data(), 1, dim, dim, hk::weight_layout::n_by_k,
                   nullptr);
    for (std::int64_t r = 0; r < dim; ++r)
        if (std::fabs(y[std::size_t(r)] - ref[std::size_t(r)]) >
            1e-3f * (1 + std::fabs(ref[std::size_t(r)])))
            throw std::runtime_error("palettized GEMV mismatch");
    for (auto _ : state) {
        hk::palettized_gemv(w.view(), x, y);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(w.dense.size() * sizeof(float)));
    label(state);
}

} // namespace

BENCHMARK(BM_memcpy_16M_f32)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_topk_magnitude_4096x4096_50pct)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_nm_mask_2of4_4096x4096)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_nearest_centroid_1M_into_16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemv_fp32_1x4096x4096)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_gemv_palettized_4bit_1x4096x4096)->Unit(benchmark::kMicrosecond)->UseRealTime();
