// Weight-only int4 group-wise GEMV 1×4096×4096 against fp32 GEMV of the same shape (oneDNN
// through matmul_f32, and a plain AVX2 loop of this file), and against a memcpy of the packed
// weight bytes (how close the int4 GEMV is to the bandwidth of reading its weights). The
// contract: int4 GEMV ≥ 4× faster than fp32 GEMV. Correctness is checked before timing.
// bytes_per_second is always the bytes of weights the variant reads (f32 or packed int4).
#include <hone/core/tensor.hpp>
#include <hone/core/threads.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/kernels/weight_only.hpp>

#include <benchmark/benchmark.h>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

constexpr std::int64_t N = 4096, K = 4096;

struct problem {
    hone::tensor w{hone::dtype::f32, {N, K}};
    std::vector<float> x = std::vector<float>(K);
    problem() {
        std::mt19937 rng(7);
        std::normal_distribution<float> normal;
        for (float& v : w.span<float>())
            v = normal(rng) * 0.02f;
        for (float& v : x)
            v = normal(rng);
    }
};

const problem& data() {
    static const problem p;
    return p;
}

/// y = W·x in double from the dequantized weights; throws if y_test is off by more than the
/// documented bound (g + K/g + 16)·2⁻²⁴·Σ|w·x|.
void check_gemv(const hone::kernels::int4_weights& q, const std::vector<float>& y_test) {
    hone::tensor wf(hone::dtype::f32, {N, K});
    hone::kernels::int4_dequantize(q.view(), wf);
    const auto w = wf.span<float>();
    const auto& x = data().x;
    const double u = std::ldexp(1.0, -24);
    for (std::int64_t r = 0; r < N; r += 7) {
        double exact = 0, mag = 0;
        for (std::int64_t c = 0; c < K; ++c) {
            exact += double(w[r * K + c]) * x[c];
            mag += std::fabs(double(w[r * K + c]) * x[c]);
        }
        const double tol = double(q.group_size + K / q.group_size + 16) * u * mag;
        if (!(std::fabs(y_test[r] - exact) <= tol))
            throw std::runtime_error("int4 GEMV result out of tolerance at row " +
                                     std::to_string(r));
    }
}

void run_int4(benchmark::State& state, const hone::kernels::int4_config& cfg) {
    const auto q = hone::kernels::int4_quantize(data().w, cfg);
    std::vector<float> y(N);
    hone::kernels::int4_gemv(q.view(), data().x, y);
    check_gemv(q, y);
    for (auto _ : state) {
        hone::kernels::int4_gemv(q.view(), data().x, y);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(q.nbytes()));
    state.SetLabel(std::string(hone::name_of(hone::active_isa())) + ", " +
                   std::to_string(hone::num_threads()) + " threads");
}

void BM_wo_int4_gemv_sym_g128(benchmark::State& s) { run_int4(s, {128, true, hone::dtype::f32}); }
void BM_wo_int4_gemv_asym_g128(benchmark::State& s) { run_int4(s, {128, false, hone::dtype::f32}); }
void BM_wo_int4_gemv_sym_g32(benchmark::State& s) { run_int4(s, {32, true, hone::dtype::f32}); }
void BM_wo_int4_gemv_sym_g128_f16(benchmark::State& s) {
    run_int4(s, {128, true, hone::dtype::f16});
}

void BM_wo_memcpy_int4_bytes(benchmark::State& state) {
    const auto q = hone::kernels::int4_quantize(data().w, {});
    std::vector<unsigned char> dst(q.nbytes());
    for (auto _ : state) {
        std::memcpy(dst.data(), q.weights.data(), q.weights.nbytes());
        std::memcpy(dst.data() + q.weights.nbytes(), q.scales.data(), q.scales.nbytes());
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(q.nbytes()));
}

/// y = W·x in double; throws if y_test differs by more than K·2⁻²⁴·Σ|w·x|.
void check_fp32(const std::vector<float>& y_test) {
    const auto w = data().w.span<float>();
    const auto& x = data().x;
    for (std::int64_t r = 0; r < N; r += 7) {
        double exact = 0, mag = 0;
        for (std::int64_t c = 0; c < K; ++c) {
            exact += double(w[r * K + c]) * x[c];
            mag += std::fabs(double(w[r * K + c]) * x[c]);
        }
        if (!(std::fabs(y_test[r] - exact) <= K * std::ldexp(1.0, -24) * mag))
            throw std::runtime_error("fp32 GEMV result out of tolerance");
    }
}

void BM_wo_fp32_gemv_onednn(benchmark::State& state) {
    const float* w = data().w.span<float>().data();
    std::vector<float> y(N);
    hone::kernels::matmul_f32(data().x.data(), w, y.data(), 1, K, N,
                              hone::kernels::weight_layout::n_by_k, nullptr);
    check_fp32(y);
    for (auto _ : state) {
        hone::kernels::matmul_f32(data().x.data(), w, y.data(), 1, K, N,
                                  hone::kernels::weight_layout::n_by_k, nullptr);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(state.iterations() * N * K * 4);
    state.SetLabel(hone::kernels::onednn_isa());
}

#if defined(__x86_64__)
/// Plain fp32 GEMV rows [r0, r1): 4 AVX2 accumulators per row, one pass over W.
__attribute__((target("avx2,fma"))) void fp32_rows(const float* w, const float* x, float* y,
                                                   std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
        const float* row = w + r * K;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (std::int64_t c = 0; c < K; c += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + c), _mm256_loadu_ps(x + c), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + c + 8), _mm256_loadu_ps(x + c + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(row + c + 16), _mm256_loadu_ps(x + c + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(row + c + 24), _mm256_loadu_ps(x + c + 24), a3);
        }
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        float s = 0;
        for (float v : lanes)
            s += v;
        y[r] = s;
    }
}

/// The plain fp32 GEMV on hone::num_threads() threads (std::thread; started per call, which
/// costs tens of microseconds against milliseconds of GEMV).
void fp32_gemv(const float* w, const float* x, float* y) {
    const int nt = hone::num_threads();
    std::vector<std::thread> pool;
    const std::int64_t per = (N + nt - 1) / nt;
    for (int t = 1; t < nt; ++t)
        pool.emplace_back(fp32_rows, w, x, y, t * per, std::min(N, (t + 1) * per));
    fp32_rows(w, x, y, 0, std::min(N, per));
    for (auto& th : pool)
        th.join();
}

void BM_wo_fp32_gemv_simd(benchmark::State& state) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        state.SkipWithError("no AVX2");
        return;
    }
    const float* w = data().w.span<float>().data();
    std::vector<float> y(N);
    fp32_gemv(w, data().x.data(), y.data());
    check_fp32(y);
    for (auto _ : state) {
        fp32_gemv(w, data().x.data(), y.data());
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(state.iterations() * N * K * 4);
    state.SetLabel("avx2, " + std::to_string(hone::num_threads()) + " threads");
}
BENCHMARK(BM_wo_fp32_gemv_simd)->UseRealTime();
#endif

/// Dequantization of the whole 4096×4096 matrix to f32 (the M > 1 path does it in blocks).
void BM_wo_int4_dequantize(benchmark::State& state) {
    const auto q = hone::kernels::int4_quantize(data().w, {});
    hone::tensor wf(hone::dtype::f32, {N, K});
    hone::kernels::int4_dequantize(q.view(), wf);
    for (std::int64_t i = 0; i < N * K; i += 4097)
        if (!(std::fabs(wf.span<float>()[std::size_t(i)] -
                        data().w.span<float>()[std::size_t(i)]) <=
              0.5f * q.scales.span<float>()[std::size_t(i / 128)] * 1.001f))
            throw std::runtime_error("int4 dequantization out of tolerance");
    for (auto _ : state) {
        hone::kernels::int4_dequantize(q.view(), wf);
        benchmark::DoNotOptimize(wf.data());
    }
    state.SetBytesProcessed(state.iterations() * N * K * 4);
}

/// M > 1: int4_matmul (dequantize blocks + oneDNN) against matmul_f32 on the f32 weights.
void BM_wo_int4_matmul(benchmark::State& state) {
    const std::int64_t m = state.range(0);
    const auto q = hone::kernels::int4_quantize(data().w, {});
    hone::tensor x(hone::dtype::f32, {m, K}), y(hone::dtype::f32, {m, N});
    for (std::int64_t i = 0; i < m * K; ++i)
        x.span<float>()[std::size_t(i)] = data().x[std::size_t(i % K)];
    hone::kernels::int4_matmul(q.view(), x, y);
    std::vector<float> y0(y.span<float>().begin(), y.span<float>().begin() + N);
    check_gemv(q, y0);
    for (auto _ : state) {
        hone::kernels::int4_matmul(q.view(), x, y);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetItemsProcessed(state.iterations() * m);
}

void BM_wo_fp32_matmul(benchmark::State& state) {
    const std::int64_t m = state.range(0);
    std::vector<float> x(std::size_t(m * K), 0.5f), y(std::size_t(m * N));
    for (auto _ : state) {
        hone::kernels::matmul_f32(x.data(), data().w.span<float>().data(), y.data(), m, K, N,
                                  hone::kernels::weight_layout::n_by_k, nullptr);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetItemsProcessed(state.iterations() * m);
}

} // namespace

BENCHMARK(BM_wo_fp32_gemv_onednn)->UseRealTime();
BENCHMARK(BM_wo_memcpy_int4_bytes)->UseRealTime();
BENCHMARK(BM_wo_int4_gemv_sym_g128)->UseRealTime();
BENCHMARK(BM_wo_int4_gemv_asym_g128)->UseRealTime();
BENCHMARK(BM_wo_int4_gemv_sym_g32)->UseRealTime();
BENCHMARK(BM_wo_int4_gemv_sym_g128_f16)->UseRealTime();
BENCHMARK(BM_wo_int4_dequantize)->UseRealTime();
BENCHMARK(BM_wo_int4_matmul)->Arg(2)->Arg(8)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(BM_wo_fp32_matmul)->Arg(2)->Arg(8)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();
