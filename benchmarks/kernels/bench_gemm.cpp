// GEMM through oneDNN: hone fp32 vs hone int8 (M×K×N = M×4096×4096, M = 1024 and 1), and hone's
// int8 layer vs a raw oneDNN primitive of the same configuration built here (creation excluded).
// Ratios to read in one run: int8/fp32 (contract ≥ 3.5× on AVX-512 VNNI) and hone/raw (≤ 5%).
// Correctness is checked before timing. The label gives oneDNN's effective ISA and kernel.
//
// On CPUs without VNNI, hone's exact int8 (linear_params::exact, the default) runs the product
// twice to avoid oneDNN's 16-bit pair saturation; the "fast" rows use exact = false, the very
// primitive the raw call uses.
//
// Small shapes of a real model (a 784-128-10 MLP: K×N = 784×128 and 128×10, M = 1 and 64):
// hone f32 vs hone int8 with dynamic per-row activations and reduce_range (7-bit activations,
// exact without splitting on non-VNNI CPUs) and vs the default exact 8-bit path; int8/f32
// time ratios are read off the "mlp" rows.
#include <hone/kernels/gemm.hpp>

#include <oneapi/dnnl/dnnl.h>

#include <dlfcn.h>

#include <algorithm>
#include <benchmark/benchmark.h>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace hk = hone::kernels;
constexpr std::int64_t K = 4096, N = 4096;
constexpr float act_scale = 8.0f / 255.0f;
constexpr std::int32_t act_zero = 128;

struct data {
    std::vector<float> w, bias, a;
    std::vector<std::uint8_t> a_u8;
};

const data& inputs() {
    static const data d = [] {
        data r;
        std::mt19937 rng(1);
        std::normal_distribution<float> normal;
        r.w.resize(std::size_t(K * N));
        for (auto& x : r.w)
            x = normal(rng) * 0.05f;
        r.bias.resize(std::size_t(N));
        for (auto& x : r.bias)
            x = normal(rng);
        r.a.resize(std::size_t(1024 * K));
        r.a_u8.resize(r.a.size());
        for (std::size_t i = 0; i < r.a.size(); ++i) {
            r.a[i] = normal(rng);
            r.a_u8[i] = std::uint8_t(
                std::clamp(std::nearbyint(r.a[i] / act_scale) + float(act_zero), 0.0f, 255.0f));
        }
        return r;
    }();
    return d;
}

hk::linear make_linear(hk::gemm_type type, hk::act_quant act, bool exact) {
    hk::linear_params p;
    p.type = type;
    p.k = K;
    p.n = N;
    p.layout = hk::weight_layout::n_by_k;
    p.activations = act;
    p.act_scale = act_scale;
    p.act_zero_point = act_zero;
    p.exact = exact;
    return hk::linear(p, inputs().w, inputs().bias);
}

// f32 check of one row against a double product.
void check_row(const std::vector<float>& y, std::int64_t row, double tol) {
    const auto& d = inputs();
    for (std::int64_t j = 0; j < N; j += 97) {
        double s = d.bias[std::size_t(j)];
        for (std::int64_t k = 0; k < K; ++k)
            s += double(d.a[std::size_t(row * K + k)]) * d.w[std::size_t(j * K + k)];
        if (std::fabs(y[std::size_t(row * N + j)] - s) > tol)
            throw std::runtime_error("bench_gemm: result check failed at column " +
                                     std::to_string(j));
    }
}

std::string label(const hk::linear& l, std::int64_t m) {
    return "onednn " + hk::onednn_isa() + " " + l.implementation(m) +
           (l.splits_activations() ? " split" : "");
}

void run_linear(benchmark::State& state, hk::gemm_type type, hk::act_quant act, bool exact,
                bool u8_input) {
    const std::int64_t m = state.range(0);
    const auto lin = make_linear(type, act, exact);
    std::vector<float> y(std::size_t(m * N));
    hone::tensor src(u8_input ? hone::dtype::u8 : hone::dtype::f32, {m, K});
    if (u8_input)
        std::memcpy(src.data(), inputs().a_u8.data(), src.nbytes());
    else
        std::memcpy(src.data(), inputs().a.data(), src.nbytes());
    auto dst = hone::make_view(y.data(), y.size() * 4, hone::dtype::f32, {m, N});
    lin.run(src, dst);
    check_row(y, 0, type == hk::gemm_type::f32 ? 1e-3 : 0.15); // int8: quantization error
    for (auto _ : state) {
        lin.run(src, dst);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GOPS"] =
        benchmark::Counter(2.0 * double(m) * K * N, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(label(lin, m));
}

void BM_gemm_hone_f32(benchmark::State& s) { run_linear(s, hk::gemm_type::f32, {}, true, false); }
void BM_gemm_hone_int8_exact_f32in(benchmark::State& s) {
    run_linear(s, hk::gemm_type::int8, hk::act_quant::static_per_tensor, true, false);
}
void BM_gemm_hone_int8_fast_f32in(benchmark::State& s) {
    run_linear(s, hk::gemm_type::int8, hk::act_quant::static_per_tensor, false, false);
}
void BM_gemm_hone_int8_fast_u8in(benchmark::State& s) {
    run_linear(s, hk::gemm_type::int8, hk::act_quant::static_per_tensor, false, true);
}
void BM_gemm_hone_int8_dynamic_row(benchmark::State& s) {
    run_linear(s, hk::gemm_type::int8, hk::act_quant::dynamic_per_row, true, false);
}

// oneDNN's C API, resolved at run time from the libdnnl that libhone already loaded: the
// benchmark program is not linked against oneDNN itself (hone keeps it PRIVATE).
template <class F> F dnnl_fn(const char* name) {
    void* p = dlsym(RTLD_DEFAULT, name);
    if (!p) throw std::runtime_error(std::string("bench_gemm: oneDNN symbol not found: ") + name);
    return reinterpret_cast<F>(p);
}
#define DNNL(name) dnnl_fn<decltype(&name)>(#name)

void ok(dnnl_status_t s, const char* what) {
    if (s != dnnl_success) throw std::runtime_error(std::string("bench_gemm: oneDNN ") + what);
}

// The same primitive as hone's static int8 layer with exact = false, built directly.
void BM_gemm_raw_onednn_int8(benchmark::State& state) {
    const std::int64_t m = state.range(0);
    const auto lin = make_linear(hk::gemm_type::int8, hk::act_quant::static_per_tensor, false);
    dnnl_engine_t eng{};
    dnnl_stream_t str{};
    ok(DNNL(dnnl_engine_create)(&eng, dnnl_cpu, 0), "engine");
    ok(DNNL(dnnl_stream_create)(&str, eng, dnnl_stream_default_flags), "stream");
    const auto init = DNNL(dnnl_memory_desc_init_by_tag);
    dnnl_memory_desc_t src, wei, bias, dst, user_w;
    const dnnl_dims_t src_dims{m, K}, w_dims{K, N}, bias_dims{1, N}, dst_dims{m, N};
    ok(init(&src, 2, src_dims, dnnl_u8, dnnl_ab), "src md");
    ok(init(&wei, 2, w_dims, dnnl_s8, dnnl_format_tag_any), "wei md");
    ok(init(&user_w, 2, w_dims, dnnl_s8, dnnl_ba), "user wei md");
    ok(init(&bias, 2, bias_dims, dnnl_f32, dnnl_ab), "bias md");
    ok(init(&dst, 2, dst_dims, dnnl_f32, dnnl_ab), "dst md");
    std::vector<float> scales(static_cast<std::size_t>(N)), bias_fused(static_cast<std::size_t>(N));
    for (std::int64_t j = 0; j < N; ++j) {
        scales[std::size_t(j)] = act_scale * lin.weight_scales()[std::size_t(j)];
        bias_fused[std::size_t(j)] = inputs().bias[std::size_t(j)] / scales[std::size_t(j)];
    }
    dnnl_primitive_attr_t attr{};
    ok(DNNL(dnnl_primitive_attr_create)(&attr), "attr");
    ok(DNNL(dnnl_primitive_attr_set_output_scales)(attr, N, 1 << 1, scales.data()), "scales");
    const std::int32_t zp = act_zero;
    ok(DNNL(dnnl_primitive_attr_set_zero_points)(attr, DNNL_ARG_SRC, 1, 0, &zp), "zero point");
    dnnl_matmul_desc_t md;
    ok(DNNL(dnnl_matmul_desc_init)(&md, &src, &wei, &bias, &dst), "matmul desc");
    dnnl_primitive_desc_t pd{};
    ok(DNNL(dnnl_primitive_desc_create)(&pd, &md, attr, eng, nullptr), "matmul pd");
    const dnnl_memory_desc_t* packed_md =
        DNNL(dnnl_primitive_desc_query_md)(pd, dnnl_query_weights_md, 0);
    const char* impl = nullptr;
    ok(DNNL(dnnl_primitive_desc_query)(pd, dnnl_query_impl_info_str, 0, &impl), "impl");
    dnnl_primitive_t prim{};
    ok(DNNL(dnnl_primitive_create)(&prim, pd), "matmul");
    // Weights quantized as hone does, [N, K] = "ba" of {K, N}, reordered once.
    std::vector<std::int8_t> q(std::size_t(K * N));
    for (std::int64_t j = 0; j < N; ++j)
        for (std::int64_t k = 0; k < K; ++k)
            q[std::size_t(j * K + k)] =
                std::int8_t(std::clamp(std::nearbyint(inputs().w[std::size_t(j * K + k)] /
                                                      lin.weight_scales()[std::size_t(j)]),
                                       -127.0f, 127.0f));
    const auto mem = DNNL(dnnl_memory_create);
    std::vector<float> y(std::size_t(m * N)), y_hone(y.size());
    dnnl_memory_t m_user{}, m_packed{}, m_src{}, m_bias{}, m_dst{};
    ok(mem(&m_user, &user_w, eng, q.data()), "memory");
    ok(mem(&m_packed, packed_md, eng, DNNL_MEMORY_ALLOCATE), "memory");
    ok(mem(&m_src, &src, eng, const_cast<std::uint8_t*>(inputs().a_u8.data())), "memory");
    ok(mem(&m_bias, &bias, eng, bias_fused.data()), "memory");
    ok(mem(&m_dst, &dst, eng, y.data()), "memory");
    dnnl_primitive_desc_t rpd{};
    dnnl_primitive_t reorder{};
    ok(DNNL(dnnl_reorder_primitive_desc_create)(&rpd, &user_w, eng, packed_md, eng, nullptr),
       "reorder pd");
    ok(DNNL(dnnl_primitive_create)(&reorder, rpd), "reorder");
    const auto execute = DNNL(dnnl_primitive_execute);
    const auto wait = DNNL(dnnl_stream_wait);
    const dnnl_exec_arg_t reorder_args[] = {{DNNL_ARG_FROM, m_user}, {DNNL_ARG_TO, m_packed}};
    ok(execute(reorder, str, 2, reorder_args), "reorder");
    ok(wait(str), "wait");
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, m_src},
                                    {DNNL_ARG_WEIGHTS, m_packed},
                                    {DNNL_ARG_BIAS, m_bias},
                                    {DNNL_ARG_DST, m_dst}};
    ok(execute(prim, str, 4, args), "matmul");
    ok(wait(str), "wait");
    hone::tensor hsrc(hone::dtype::u8, {m, K});
    std::memcpy(hsrc.data(), inputs().a_u8.data(), hsrc.nbytes());
    lin.run(hsrc, hone::make_view(y_hone.data(), y_hone.size() * 4, hone::dtype::f32, {m, N}));
    if (y != y_hone) throw std::runtime_error("bench_gemm: hone and raw oneDNN disagree");
    for (auto _ : state) {
        execute(prim, str, 4, args);
        wait(str);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GOPS"] =
        benchmark::Counter(2.0 * double(m) * K * N, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("onednn " + hk::onednn_isa() + " " + impl);
    const auto destroy_mem = DNNL(dnnl_memory_destroy);
    for (auto* x : {m_user, m_packed, m_src, m_bias, m_dst})
        destroy_mem(x);
    DNNL(dnnl_primitive_destroy)(reorder);
    DNNL(dnnl_primitive_destroy)(prim);
    DNNL(dnnl_primitive_desc_destroy)(rpd);
    DNNL(dnnl_primitive_desc_destroy)(pd);
    DNNL(dnnl_primitive_attr_destroy)(attr);
    DNNL(dnnl_stream_destroy)(str);
    DNNL(dnnl_engine_destroy)(eng);
}

// ---- small MLP shapes
// ----------------------------------------------------------------------------

enum class mlp_kind { f32, int8_rr, int8_exact };

// One [N, K] layer of an MLP with its inputs: w ~ N(0, 1/√K), ReLU-like non-negative inputs
// for the second layer, pixel-like [0, 1) inputs for the first.
struct mlp_data {
    std::vector<float> w, bias, a;
};

const mlp_data& mlp_inputs(std::int64_t k) {
    static mlp_data by_shape[2];
    static const bool made = [] {
        for (int i = 0; i < 2; ++i) {
            const std::int64_t kk = i == 0 ? 784 : 128, nn = i == 0 ? 128 : 10;
            auto& d = by_shape[i];
            std::mt19937 rng(unsigned(7 + i));
            std::normal_distribution<float> normal;
            std::uniform_real_distribution<float> unit(0.0f, 1.0f);
            d.w.resize(std::size_t(kk * nn));
            for (auto& x : d.w)
                x = normal(rng) / std::sqrt(float(kk));
            d.bias.resize(std::size_t(nn));
            for (auto& x : d.bias)
                x = 0.1f * normal(rng);
            d.a.resize(std::size_t(64 * kk));
            for (auto& x : d.a)
                x = i == 0 ? unit(rng) : std::max(0.0f, normal(rng));
        }
        return true;
    }();
    (void)made;
    return by_shape[k == 784 ? 0 : 1];
}

void run_mlp(benchmark::State& state, mlp_kind kind) {
    const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
    if (!((k == 784 && n == 128) || (k == 128 && n == 10)))
        throw std::runtime_error("bench_gemm: mlp shapes are 784x128 and 128x10");
    const auto& d = mlp_inputs(k);
    hk::linear_params p;
    p.type = kind == mlp_kind::f32 ? hk::gemm_type::f32 : hk::gemm_type::int8;
    p.k = k;
    p.n = n;
    p.activations = hk::act_quant::dynamic_per_row;
    p.reduce_range = kind == mlp_kind::int8_rr;
    const hk::linear lin(p, d.w, d.bias);
    std::vector<float> y(std::size_t(m * n));
    lin.run(d.a.data(), y.data(), m);
    // Check every output against a double product: f32 tight; int8 within a few quantization
    // steps of the activations (7 or 8 bits) and weights, relative to Σ|a·w|.
    double worst = 0;
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            double s = d.bias[std::size_t(j)], g = std::fabs(d.bias[std::size_t(j)]);
            for (std::int64_t kk = 0; kk < k; ++kk) {
                const double prod =
                    double(d.a[std::size_t(i * k + kk)]) * d.w[std::size_t(j * k + kk)];
                s += prod;
                g += std::fabs(prod);
            }
            worst = std::max(worst, std::fabs(y[std::size_t(i * n + j)] - s) / g);
        }
    const double tol = kind == mlp_kind::f32 ? 1e-5 : kind == mlp_kind::int8_rr ? 0.02 : 0.01;
    if (!(worst <= tol))
        throw std::runtime_error("bench_gemm: mlp result check failed (relative error " +
                                 std::to_string(worst) + ")");
    for (auto _ : state) {
        lin.run(d.a.data(), y.data(), m);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GOPS"] =
        benchmark::Counter(2.0 * double(m) * k * n, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["relerr"] = worst;
    state.SetLabel(label(lin, m));
}

void BM_mlp_hone_f32(benchmark::State& s) { run_mlp(s, mlp_kind::f32); }
void BM_mlp_hone_int8_row_rr(benchmark::State& s) { run_mlp(s, mlp_kind::int8_rr); }
void BM_mlp_hone_int8_row_exact(benchmark::State& s) { run_mlp(s, mlp_kind::int8_exact); }

// H += XᵀX for GPTQ/SparseGPT, X [rows, K] (K = 784: an MLP's first layer; 4096: an LLM
// projection): hone's fixed-order accumulation (256×256 tiles, 64-row chunks, one thread per
// tile pair: bytes independent of the thread count) against the same Gram matrix as one
// multi-threaded oneDNN product (Xᵀ copied out first, not timed). Ratio hessian/one_product
// in one run is what the fixed order costs. Checked against each other before timing.
std::vector<float> gram_input(std::int64_t rows, std::int64_t k) {
    std::vector<float> x(std::size_t(rows * k));
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    for (auto& v : x)
        v = normal(rng);
    return x;
}

void BM_hessian_accumulate(benchmark::State& s) {
    const std::int64_t rows = s.range(0), k = s.range(1);
    const auto x = gram_input(rows, k);
    std::vector<float> h(std::size_t(k * k));
    for (auto _ : s) {
        std::fill(h.begin(), h.end(), 0.0f);
        hk::hessian_accumulate(x.data(), rows, k, h.data());
    }
    s.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(rows) * double(k) * double(k),
                                               benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
    s.SetLabel("oneDNN " + hk::onednn_isa());
}

void BM_hessian_one_product(benchmark::State& s) {
    const std::int64_t rows = s.range(0), k = s.range(1);
    const auto x = gram_input(rows, k);
    std::vector<float> xt(x.size()), h(std::size_t(k * k)), want(h.size(), 0.0f);
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < k; ++c)
            xt[std::size_t(c * rows + r)] = x[std::size_t(r * k + c)];
    hk::matmul_f32(xt.data(), x.data(), h.data(), k, rows, k, hk::weight_layout::k_by_n, nullptr);
    hk::hessian_accumulate(x.data(), rows, k, want.data());
    for (std::size_t i = 0; i < h.size(); ++i)
        if (std::fabs(h[i] - want[i]) > 1e-3f * (std::fabs(want[i]) + float(rows)))
            throw std::runtime_error("bench_gemm: hessian_accumulate disagrees with XᵀX");
    for (auto _ : s)
        hk::matmul_f32(xt.data(), x.data(), h.data(), k, rows, k, hk::weight_layout::k_by_n,
                       nullptr);
    s.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(rows) * double(k) * double(k),
                                               benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
    s.SetLabel("oneDNN " + hk::onednn_isa());
}

} // namespace

BENCHMARK(BM_hessian_accumulate)
    ->Args({2048, 784})
    ->Args({4096, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_hessian_one_product)
    ->Args({2048, 784})
    ->Args({4096, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// M = 1 (decode-like, memory-bound) and M = 1024; few iterations: the big shape takes ~1 s.
#define HONE_GEMM_BENCH(fn)                                                                        \
    BENCHMARK(fn)->Arg(1)->Iterations(30)->Unit(benchmark::kMillisecond)->UseRealTime();           \
    BENCHMARK(fn)->Arg(1024)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime()
HONE_GEMM_BENCH(BM_gemm_hone_f32);
HONE_GEMM_BENCH(BM_gemm_hone_int8_exact_f32in);
HONE_GEMM_BENCH(BM_gemm_hone_int8_fast_f32in);
HONE_GEMM_BENCH(BM_gemm_hone_int8_fast_u8in);
HONE_GEMM_BENCH(BM_gemm_raw_onednn_int8);
HONE_GEMM_BENCH(BM_gemm_hone_int8_dynamic_row);

// {M, K, N}: the two layers of a 784-128-10 MLP, one sample and a batch of 64.
#define HONE_MLP_BENCH(fn)                                                                         \
    BENCHMARK(fn)                                                                                  \
        ->Args({1, 784, 128})                                                                      \
        ->Args({64, 784, 128})                                                                     \
        ->Args({1, 128, 10})                                                                       \
        ->Args({64, 128, 10})                                                                      \
        ->Unit(benchmark::kMicrosecond)                                                            \
        ->UseRealTime()
HONE_MLP_BENCH(BM_mlp_hone_f32);
HONE_MLP_BENCH(BM_mlp_hone_int8_row_rr);
HONE_MLP_BENCH(BM_mlp_hone_int8_row_exact);
