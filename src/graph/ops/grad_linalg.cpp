// Backward of ops::gemm: dA' = alpha·dY·B'ᵀ, dB' = alpha·A'ᵀ·dY, dC = beta·dY summed to C's shape.
#include "common.hpp"
#include "grad.hpp"

#include "hone/core/error.hpp"
#include "hone/kernels/gemm.hpp"

#include <fmt/format.h>

namespace hone::ops {

namespace {

using kernels::weight_layout;

tensor scaled(tensor t, float s) {
    if (s != 1.0f)
        for (float& v : t.span<float>())
            v *= s;
    return t;
}

} // namespace

linear_grads gemm_backward(const_tensor_view a, const_tensor_view b, const shape* c_dims,
                           const_tensor_view dy, const gemm_params& p, bool need_a, bool need_b) {
    constexpr const char* op = "ops::gemm_backward";
    detail::require_f32(a, op, "A");
    detail::require_f32(b, op, "B");
    detail::require_f32(dy, op, "dY");
    detail::require_rank(a, 2, op, "A");
    detail::require_rank(b, 2, op, "B");
    const std::int64_t m = p.trans_a ? a.dims()[1] : a.dims()[0];
    const std::int64_t k = p.trans_a ? a.dims()[0] : a.dims()[1];
    const std::int64_t n = p.trans_b ? b.dims()[0] : b.dims()[1];
    if ((p.trans_b ? b.dims()[1] : b.dims()[0]) != k)
        fail(status::shape_mismatch, fmt::format("{}: A {} and B {} do not agree on K", op,
                                                 a.dims().to_string(), b.dims().to_string()));
    if (!(dy.dims() == shape{m, n}))
        fail(status::shape_mismatch, fmt::format("{}: dY has shape {}, the output [{}, {}]", op,
                                                 dy.dims().to_string(), m, n));
    const detail::contiguous_f32 as(a), bs(b), ds(dy);
    linear_grads g;
    if (need_a) {
        // dA' [M, K] = dY [M, N] · B'ᵀ; B' is B (k_by_n) or Bᵀ, so B'ᵀ is read with the other
        // layout.
        tensor dap(dtype::f32, shape{m, k});
        kernels::matmul_f32(ds.data, bs.data, static_cast<float*>(dap.data()), m, n, k,
                            p.trans_b ? weight_layout::k_by_n : weight_layout::n_by_k, nullptr);
        g.da = scaled(p.trans_a ? ops::transpose(dap.view()) : std::move(dap), p.alpha);
    }
    if (need_b) {
        // dB' [K, N] = A'ᵀ [K, M] · dY; A'ᵀ is A itself when trans_a.
        const tensor at = p.trans_a ? tensor() : ops::transpose(a);
        const float* apt = p.trans_a ? as.data : static_cast<const float*>(at.data());
        tensor dbp(dtype::f32, shape{k, n});
        kernels::matmul_f32(apt, ds.data, static_cast<float*>(dbp.data()), k, m, n,
                            weight_layout::k_by_n, nullptr);
        g.db = scaled(p.trans_b ? ops::transpose(dbp.view()) : std::move(dbp), p.alpha);
    }
    if (c_dims) g.dc = scaled(reduce_to_shape(dy, *c_dims), p.beta);
    return g;
}

} // namespace hone::ops
