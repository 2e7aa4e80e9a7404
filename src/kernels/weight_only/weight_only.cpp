// Public entry of the weight-only int4 kernels: validation, threading, dispatch, and the
// dequantize-then-oneDNN path for M > 1.
#include "hone/kernels/weight_only.hpp"

#include "hone/core/threads.hpp"
#include "hone/kernels/gemm.hpp"
#include "weight_only.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace hone::kernels {

const dispatch<weight_only_table>& weight_only_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<weight_only_table> d{&weight_only_ref, &weight_only_avx2,
                                               &weight_only_avx512};
#else
    static const dispatch<weight_only_table> d{&weight_only_ref, nullptr, nullptr};
#endif
    return d;
}

int4_matrix checked_int4(const int4_weights_view& w, const char* fn); // used by pack.cpp too

namespace {

/// Up to this many rows of x, int4_matmul runs the GEMV once per row. Measured for 4096×4096
/// on Zen 3 with 2 threads (bench_kernels BM_wo_int4_matmul): one GEMV ≈ 0.9 ms, the
/// dequantize + oneDNN path ≈ 17 ms at M = 16 and 22 ms at M = 64, so it pays from M ≈ 20.
constexpr std::int64_t gemv_rows_limit = 16;
/// Scratch bound for the dequantized block of W in int4_matmul (f32 elements, 8 MiB).
constexpr std::int64_t block_elements = std::int64_t(2) << 20;
/// Weights per thread below which a parallel loop is not worth waking threads for.
constexpr std::int64_t weights_per_thread = std::int64_t(1) << 16;

void check_part(const const_tensor_view& t, std::initializer_list<dtype> types, std::int64_t n,
                std::int64_t groups, const char* fn, const char* what) {
    if (std::find(types.begin(), types.end(), t.type()) == types.end()) {
        std::string allowed;
        for (dtype d : types)
            allowed += (allowed.empty() ? "" : " or ") + std::string(name_of(d));
        fail(status::dtype_mismatch,
             fmt::format("{}: {} must be {}, got {}", fn, what, allowed, name_of(t.type())));
    }
    if (t.dims() != shape{n, groups})
        fail(status::shape_mismatch,
             fmt::format("{}: {} must be [N, K/group_size] = [{}, {}], got {}", fn, what, n, groups,
                         t.dims().to_string()));
    if (!t.is_contiguous())
        fail(status::invalid_argument, fmt::format("{}: {} must be contiguous", fn, what));
    if (t.data() == nullptr && t.numel() > 0)
        fail(status::invalid_argument, fmt::format("{}: {} has a null buffer", fn, what));
}

int threads_for(std::int64_t rows, std::int64_t weights) {
    const std::int64_t wanted = std::max<std::int64_t>(1, weights / weights_per_thread);
    return static_cast<int>(std::min<std::int64_t>({wanted, rows, num_threads()}));
}

/// Runs fn(r0, r1) over [0, rows) split into one contiguous range per thread.
template <class Fn> void parallel_rows(std::int64_t rows, std::int64_t cols, Fn&& fn) {
    const int nt = threads_for(rows, rows * cols);
    if (nt <= 1) return fn(std::int64_t(0), rows);
    const std::int64_t per = (rows + nt - 1) / nt;
#pragma omp parallel for schedule(static, 1) num_threads(nt)
    for (int t = 0; t < nt; ++t) {
        const std::int64_t r0 = std::min(rows, t * per), r1 = std::min(rows, r0 + per);
        if (r0 < r1) fn(r0, r1);
    }
}

const float* checked_bias(std::span<const float> bias, std::int64_t n, const char* fn) {
    if (bias.empty()) return nullptr;
    if (static_cast<std::int64_t>(bias.size()) != n)
        fail(status::shape_mismatch,
             fmt::format("{}: bias has {} values, expected N = {}", fn, bias.size(), n));
    return bias.data();
}

void gemv_checked(const int4_matrix& m, const float* x, float* y, const float* bias) {
    if (m.n == 0) return;
    const auto& table = weight_only_kernels().pick();
    std::vector<float> xp(static_cast<std::size_t>(m.k));
    if (m.k > 0) table.prepare_x(x, xp.data(), m.k, m.group_size);
    parallel_rows(m.n, m.k, [&](std::int64_t r0, std::int64_t r1) {
        table.gemv_rows(m, xp.data(), bias, y, r0, r1);
    });
}

void dequantize_checked(const int4_matrix& m, float* dst, std::int64_t r0, std::int64_t r1) {
    const auto& table = weight_only_kernels().pick();
    parallel_rows(r1 - r0, m.k, [&](std::int64_t a, std::int64_t b) {
        table.dequantize_rows(m, dst + a * m.k, r0 + a, r0 + b);
    });
}

void check_f32(const const_tensor_view& t, const char* fn, const char* what) {
    if (t.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: {} must be f32, got {}", fn, what, name_of(t.type())));
    if (!t.is_contiguous())
        fail(status::invalid_argument, fmt::format("{}: {} must be contiguous", fn, what));
    if (t.data() == nullptr && t.numel() > 0)
        fail(status::invalid_argument, fmt::format("{}: {} has a null buffer", fn, what));
}

} // namespace

int4_matrix checked_int4(const int4_weights_view& w, const char* fn) {
    const auto& q = w.weights;
    if (q.type() != dtype::i4 && q.type() != dtype::u4)
        fail(status::dtype_mismatch,
             fmt::format("{}: weights must be i4 (symmetric) or u4 (asymmetric), got {}", fn,
                         name_of(q.type())));
    if (q.rank() != 2)
        fail(status::shape_mismatch,
             fmt::format("{}: weights must be [N, K], got {}", fn, q.dims().to_string()));
    const std::int64_t n = q.dims()[0], k = q.dims()[1], g = w.group_size;
    if (g < 2 || g % 2 != 0)
        fail(status::invalid_argument,
             fmt::format("{}: group_size {} must be even and at least 2", fn, g));
    if (k % g != 0)
        fail(status::invalid_argument,
             fmt::format("{}: group_size {} does not divide K = {} (weights {})", fn, g, k,
                         q.dims().to_string()));
    if (!q.is_contiguous())
        fail(status::invalid_argument, fmt::format("{}: weights must be contiguous", fn));
    if (q.data() == nullptr && q.numel() > 0)
        fail(status::invalid_argument, fmt::format("{}: weights have a null buffer", fn));
    const std::int64_t groups = k / g;
    check_part(w.scales, {dtype::f32, dtype::f16}, n, groups, fn, "scales");
    const bool symmetric = q.type() == dtype::i4;
    if (symmetric && w.zero_points.data() != nullptr)
        fail(status::invalid_argument,
             fmt::format("{}: symmetric i4 weights take no zero points (pass a null view)", fn));
    if (!symmetric) {
        if (w.zero_points.data() == nullptr && n * groups > 0)
            fail(status::invalid_argument,
                 fmt::format("{}: asymmetric u4 weights need zero points, got none", fn));
        check_part(w.zero_points, {dtype::u4}, n, groups, fn, "zero_points");
    }
    return int4_matrix{reinterpret_cast<const std::uint8_t*>(q.data()),
                       w.scales.data(),
                       symmetric ? nullptr
                                 : reinterpret_cast<const std::uint8_t*>(w.zero_points.data()),
                       n,
                       k,
                       g,
                       w.scales.type() == dtype::f16};
}

int4_weights_view int4_weights::view() const {
    int4_weights_view v{weights.view(), scales.view(), {}, group_size};
    if (!symmetric()) v.zero_points = zero_points.view();
    return v;
}

void int4_dequantize(const int4_weights_view& w, tensor_view dst) {
    constexpr const char* fn = "int4_dequantize";
    const int4_matrix m = checked_int4(w, fn);
    check_f32(dst, fn, "dst");
    if (dst.dims() != shape{m.n, m.k})
        fail(status::shape_mismatch, fmt::format("{}: dst must be [N, K] = [{}, {}], got {}", fn,
                                                 m.n, m.k, dst.dims().to_string()));
    dequantize_checked(m, static_cast<float*>(dst.data()), 0, m.n);
}

void int4_gemv(const int4_weights_view& w, std::span<const float> x, std::span<float> y,
               std::span<const float> bias) {
    constexpr const char* fn = "int4_gemv";
    const int4_matrix m = checked_int4(w, fn);
    if (static_cast<std::int64_t>(x.size()) != m.k)
        fail(status::shape_mismatch,
             fmt::format("{}: x has {} values, expected K = {}", fn, x.size(), m.k));
    if (static_cast<std::int64_t>(y.size()) != m.n)
        fail(status::shape_mismatch,
             fmt::format("{}: y has {} values, expected N = {}", fn, y.size(), m.n));
    if ((x.data() == nullptr && m.k > 0) || (y.data() == nullptr && m.n > 0))
        fail(status::invalid_argument, fmt::format("{}: x or y is null", fn));
    gemv_checked(m, x.data(), y.data(), checked_bias(bias, m.n, fn));
}

void int4_matmul(const int4_weights_view& w, const_tensor_view x, tensor_view y,
                 std::span<const float> bias) {
    constexpr const char* fn = "int4_matmul";
    const int4_matrix m = checked_int4(w, fn);
    check_f32(x, fn, "x");
    check_f32(y, fn, "y");
    const float* b = checked_bias(bias, m.n, fn);
    const bool vector = x.rank() == 1;
    if (!vector && x.rank() != 2)
        fail(status::shape_mismatch,
             fmt::format("{}: x must be [M, K] or [K], got {}", fn, x.dims().to_string()));
    const std::int64_t rows = vector ? 1 : x.dims()[0];
    if (x.dims()[x.rank() - 1] != m.k)
        fail(status::shape_mismatch,
             fmt::format("{}: x is {} but the weights have K = {}", fn, x.dims().to_string(), m.k));
    const shape want = vector ? shape{m.n} : shape{rows, m.n};
    if (y.dims() != want)
        fail(status::shape_mismatch,
             fmt::format("{}: y must be {}, got {}", fn, want.to_string(), y.dims().to_string()));
    const auto x0 = reinterpret_cast<std::uintptr_t>(x.data()),
               y0 = reinterpret_cast<std::uintptr_t>(y.data());
    if (x0 < y0 + std::uintptr_t(y.numel()) * 4 && y0 < x0 + std::uintptr_t(x.numel()) * 4)
        fail(status::invalid_argument, fmt::format("{}: y must not overlap x", fn));
    const auto* xs = static_cast<const float*>(x.data());
    auto* ys = static_cast<float*>(y.data());
    if (rows <= gemv_rows_limit) {
        for (std::int64_t i = 0; i < rows; ++i)
            gemv_checked(m, xs + i * m.k, ys + i * m.n, b);
        return;
    }
    if (m.n == 0) return;
    // Dequantize W in blocks of whole rows (output columns) and multiply each with oneDNN.
    const std::int64_t block =
        std::clamp<std::int64_t>(block_elements / std::max<std::int64_t>(m.k, 1), 1, m.n);
    std::vector<float> wf(static_cast<std::size_t>(block * m.k));
    std::vector<float> yb(block < m.n ? static_cast<std::size_t>(rows * block) : 0);
    for (std::int64_t n0 = 0; n0 < m.n; n0 += block) {
        const std::int64_t nb = std::min(block, m.n - n0);
        dequantize_checked(m, wf.data(), n0, n0 + nb);
        float* out = block < m.n ? yb.data() : ys;
        matmul_f32(xs, wf.data(), out, rows, m.k, nb, weight_layout::n_by_k, b ? b + n0 : nullptr);
        if (out != ys)
            for (std::int64_t i = 0; i < rows; ++i)
                std::memcpy(ys + i * m.n + n0, out + i * nb, std::size_t(nb) * sizeof(float));
    }
}

} // namespace hone::kernels
