// Backward of MatMul (see grad.hpp): dA_i = dY_i·B_iᵀ and dB_i = A_iᵀ·dY_i per batch matrix i,
// summed over the batch an operand was broadcast to. Products run as tiles of rows, each a
// one-thread oneDNN product, so the bytes do not depend on the thread count.
#include "common.hpp"
#include "grad.hpp"

#include "hone/kernels/gemm.hpp"

#include <algorithm>
#include <exception>

namespace hone::ops {

using detail::require_f32;
using kernels::weight_layout;

namespace {

constexpr std::int64_t tile_rows = 64;

struct product {
    const float* a; // [M, K]
    const float* b; // [K, N] or [N, K] (layout)
    float* c;       // [M, N]
};

// Each C = A·B of `jobs`, in tiles of tile_rows rows of C (independent of the thread count).
void run_products(const std::vector<product>& jobs, std::int64_t m, std::int64_t k, std::int64_t n,
                  weight_layout layout) {
    const std::int64_t tiles = (m + tile_rows - 1) / tile_rows;
    const auto count = static_cast<std::int64_t>(jobs.size()) * tiles;
    std::exception_ptr error;
    const int threads = count > 1 ? detail::threads_for(count * tile_rows * k * n) : 1;
    detail::in_team(threads, [&] {
        const kernels::single_thread_scope one_thread;
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t t = 0; t < count; ++t) {
            const product& job = jobs[std::size_t(t / tiles)];
            const std::int64_t r0 = (t % tiles) * tile_rows, rows = std::min(tile_rows, m - r0);
            try {
                kernels::matmul_f32(job.a + r0 * k, job.b, job.c + r0 * n, rows, k, n, layout,
                                    nullptr);
            } catch (...) {
#pragma omp critical(hone_matmul_backward_error)
                if (!error) error = std::current_exception();
            }
        }
    });
    if (error) std::rethrow_exception(error);
}

shape make_shape(std::span<const std::int64_t> prefix, std::int64_t rows, std::int64_t cols) {
    std::vector<std::int64_t> d(prefix.begin(), prefix.end());
    d.push_back(rows);
    d.push_back(cols);
    return shape(std::span<const std::int64_t>(d));
}

// MatMul's operands with 1-D ones promoted: A [a_batch, M, K], B [b_batch, K, N], dY
// [batch, M, N], each contiguous.
struct matmul_plan {
    std::int64_t m = 0, k = 0, n = 0;
    shape a2, b2, batch;
    std::vector<std::int64_t> a_of, b_of; // per batch index, the matrix of A / B it reads
    std::int64_t batches() const { return batch.numel(); }
};

// For each batch index, the index of the matrix of an operand with batch dims `own`.
std::vector<std::int64_t> matrix_of(const shape& batch, std::span<const std::int64_t> own) {
    strides_array st{};
    const std::size_t shift = batch.rank() - own.size();
    std::int64_t stride = 1; // matrices
    for (std::size_t i = own.size(); i-- > 0;) {
        st[i + shift] = own[i] == 1 ? 0 : stride;
        stride *= own[i];
    }
    std::vector<std::int64_t> out(std::size_t(batch.numel()));
    for (std::int64_t i = 0; i < batch.numel(); ++i) {
        std::int64_t rest = i, idx = 0;
        for (std::size_t d = batch.rank(); d-- > 0;) {
            idx += (rest % batch[d]) * st[d];
            rest /= batch[d];
        }
        out[std::size_t(i)] = idx;
    }
    return out;
}

matmul_plan plan(const_tensor_view a, const_tensor_view b, const_tensor_view dy, const char* op) {
    if (a.rank() == 0 || b.rank() == 0)
        fail(status::shape_mismatch, fmt::format("{}: operands must have rank ≥ 1, got {} and {}",
                                                 op, a.dims().to_string(), b.dims().to_string()));
    matmul_plan l;
    const auto ad = a.dims().dims(), bd = b.dims().dims();
    const bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
    const auto a_batch = a_vec ? ad.first(0) : ad.first(ad.size() - 2);
    const auto b_batch = b_vec ? bd.first(0) : bd.first(bd.size() - 2);
    l.m = a_vec ? 1 : ad[ad.size() - 2];
    l.k = ad.back();
    l.n = b_vec ? 1 : bd.back();
    if ((b_vec ? bd[0] : bd[bd.size() - 2]) != l.k)
        fail(status::shape_mismatch, fmt::format("{}: A {} and B {} do not agree on K", op,
                                                 a.dims().to_string(), b.dims().to_string()));
    l.batch = broadcast_shapes(shape(a_batch), shape(b_batch), op);
    std::vector<std::int64_t> y(l.batch.dims().begin(), l.batch.dims().end());
    if (!a_vec) y.push_back(l.m);
    if (!b_vec) y.push_back(l.n);
    if (!(dy.dims() == shape(std::span<const std::int64_t>(y))))
        fail(status::shape_mismatch,
             fmt::format("{}: dY has shape {}, expected {} for A {} and B {}", op,
                         dy.dims().to_string(), shape(std::span<const std::int64_t>(y)).to_string(),
                         a.dims().to_string(), b.dims().to_string()));
    l.a2 = make_shape(a_batch, l.m, l.k);
    l.b2 = make_shape(b_batch, l.k, l.n);
    l.a_of = matrix_of(l.batch, a_batch);
    l.b_of = matrix_of(l.batch, b_batch);
    return l;
}

// The last two axes of a contiguous [..., R, C] swapped: [..., C, R].
tensor swap_last(const float* data, const shape& dims) {
    std::vector<std::int64_t> perm(dims.rank());
    for (std::size_t i = 0; i < perm.size(); ++i)
        perm[i] = static_cast<std::int64_t>(i);
    std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
    return transpose(const_tensor_view(data, dtype::f32, dims, dims.contiguous_strides()), perm);
}

// The gradient of an operand of `own` (promoted shape own2) from `full`, computed for every batch
// index: summed over the batch it was broadcast to.
tensor fit(tensor full, const shape& own2, const shape& own) {
    return detail::copy_as(reduce_to_shape(full, own2), own);
}

// dA = dY·Bᵀ.
tensor grad_a(const matmul_plan& l, const float* b, const float* dy, const shape& a_dims) {
    const bool whole = l.a2.numel() == l.batches() * l.m * l.k; // A not broadcast
    tensor out(dtype::f32, whole ? a_dims : make_shape(l.batch.dims(), l.m, l.k));
    auto* pd = static_cast<float*>(out.data());
    std::vector<product> jobs;
    for (std::int64_t i = 0; i < l.batches(); ++i)
        jobs.push_back(
            {dy + i * l.m * l.n, b + l.b_of[std::size_t(i)] * l.k * l.n, pd + i * l.m * l.k});
    run_products(jobs, l.m, l.n, l.k, weight_layout::n_by_k); // B_i [K, N] read as [N', K']
    return whole ? std::move(out) : fit(std::move(out), l.a2, a_dims);
}

// dB = Aᵀ·dY; a B shared by every batch index takes one product over the stacked rows.
tensor grad_b(const matmul_plan& l, const float* a, const float* dy, const shape& b_dims) {
    const bool whole = l.b2.numel() == l.batches() * l.k * l.n; // B not broadcast
    if (l.b2.numel() == l.k * l.n && !whole) {
        tensor out(dtype::f32, b_dims);
        const tensor at = swap_last(a, shape{l.batches() * l.m, l.k});
        run_products({{static_cast<const float*>(at.data()), dy, static_cast<float*>(out.data())}},
                     l.k, l.batches() * l.m, l.n, weight_layout::k_by_n);
        return out;
    }
    const tensor at = swap_last(a, l.a2);
    const auto* pa = static_cast<const float*>(at.data());
    tensor out(dtype::f32, whole ? b_dims : make_shape(l.batch.dims(), l.k, l.n));
    auto* pd = static_cast<float*>(out.data());
    std::vector<product> jobs;
    for (std::int64_t i = 0; i < l.batches(); ++i)
        jobs.push_back(
            {pa + l.a_of[std::size_t(i)] * l.m * l.k, dy + i * l.m * l.n, pd + i * l.k * l.n});
    run_products(jobs, l.k, l.m, l.n, weight_layout::k_by_n);
    return whole ? std::move(out) : fit(std::move(out), l.b2, b_dims);
}

} // namespace

linear_grads matmul_backward(const_tensor_view a, const_tensor_view b, const_tensor_view dy,
                             bool need_a, bool need_b) {
    const char* op = "ops::matmul_backward";
    require_f32(a, op, "A");
    require_f32(b, op, "B");
    require_f32(dy, op, "dY");
    const matmul_plan l = plan(a, b, dy, op);
    const detail::contiguous_f32 ca(a), cb(b), cg(dy);
    linear_grads g;
    if (need_a) g.da = grad_a(l, cb.data, cg.data, a.dims());
    if (need_b) g.db = grad_b(l, ca.data, cg.data, b.dims());
    return g;
}

} // namespace hone::ops
