// MatMul and Gemm through hone::kernels::matmul_f32.
#include "common.hpp"
#include "ops.hpp"

#include "hone/kernels/gemm.hpp"

#include <cstring>

namespace hone::ops {

using detail::require_f32;

tensor matmul(const_tensor_view a, const_tensor_view b) {
    const char* op = "ops::matmul";
    require_f32(a, op, "A");
    require_f32(b, op, "B");
    if (a.rank() == 0 || b.rank() == 0)
        fail(status::shape_mismatch, fmt::format("{}: operands must have rank ≥ 1, got {} and {}",
                                                 op, a.dims().to_string(), b.dims().to_string()));
    // Promote 1-D operands.
    std::vector<std::int64_t> ad(a.dims().dims().begin(), a.dims().dims().end());
    std::vector<std::int64_t> bd(b.dims().dims().begin(), b.dims().dims().end());
    const bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
    if (a_vec) ad = {1, a.dims()[0]};
    if (b_vec) bd = {b.dims()[0], 1};
    const std::int64_t m = ad[ad.size() - 2], k = ad.back();
    const std::int64_t kb = bd[bd.size() - 2], n = bd.back();
    if (k != kb)
        fail(status::shape_mismatch,
             fmt::format("{}: A {} and B {} do not agree (K = {} vs {})", op, a.dims().to_string(),
                         b.dims().to_string(), k, kb));
    const shape a_batch(std::span<const std::int64_t>(ad.data(), ad.size() - 2));
    const shape b_batch(std::span<const std::int64_t>(bd.data(), bd.size() - 2));
    const shape batch = broadcast_shapes(a_batch, b_batch, op);
    std::vector<std::int64_t> out_dims(batch.dims().begin(), batch.dims().end());
    if (!a_vec) out_dims.push_back(m);
    if (!b_vec) out_dims.push_back(n);
    if (out_dims.size() > shape::max_rank)
        fail(status::unsupported, fmt::format("{}: result rank exceeds hone's maximum", op));
    tensor out(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
    if (out.numel() == 0) return out;

    const tensor ac = detail::copy_as(a, shape(std::span<const std::int64_t>(ad)));
    const tensor bc = detail::copy_as(b, shape(std::span<const std::int64_t>(bd)));
    // Matrix index of each operand for each batch index (broadcast strides in matrices).
    auto matrix_strides = [&](const shape& own) {
        strides_array s{};
        const std::size_t shift = batch.rank() - own.rank();
        std::int64_t stride = 1;
        for (std::size_t i = own.rank(); i-- > 0;) {
            s[i + shift] = own[i] == 1 ? 0 : stride;
            stride *= own[i];
        }
        return s;
    };
    const auto sa = matrix_strides(a_batch), sb = matrix_strides(b_batch);
    const auto* pa = static_cast<const float*>(ac.data());
    const auto* pb = static_cast<const float*>(bc.data());
    auto* pc = static_cast<float*>(out.data());
    const std::int64_t batches = batch.numel();
    for (std::int64_t i = 0; i < batches; ++i) {
        std::int64_t rest = i, ia = 0, ib = 0;
        for (std::size_t d = batch.rank(); d-- > 0;) {
            const std::int64_t idx = rest % batch[d];
            rest /= batch[d];
            ia += idx * sa[d];
            ib += idx * sb[d];
        }
        kernels::matmul_f32(pa + ia * m * k, pb + ib * k * n, pc + i * m * n, m, k, n,
                            kernels::weight_layout::k_by_n, nullptr);
    }
    return out;
}

tensor gemm(const_tensor_view a, const_tensor_view b, optional_view c, const gemm_params& params) {
    const char* op = "ops::gemm";
    require_f32(a, op, "A");
    require_f32(b, op, "B");
    detail::require_rank(a, 2, op, "A");
    detail::require_rank(b, 2, op, "B");
    const std::int64_t m = params.trans_a ? a.dims()[1] : a.dims()[0];
    const std::int64_t k = params.trans_a ? a.dims()[0] : a.dims()[1];
    const std::int64_t kb = params.trans_b ? b.dims()[1] : b.dims()[0];
    const std::int64_t n = params.trans_b ? b.dims()[0] : b.dims()[1];
    if (k != kb)
        fail(status::shape_mismatch,
             fmt::format("{}: A {} (transA={}) and B {} (transB={}) do not agree: K = {} vs {}", op,
                         a.dims().to_string(), params.trans_a, b.dims().to_string(), params.trans_b,
                         k, kb));
    const shape out_shape{m, n};
    std::optional<const_tensor_view> cb;
    if (c) {
        require_f32(*c, op, "C");
        if (c->rank() > 2)
            fail(status::shape_mismatch, fmt::format("{}: C {} does not broadcast to [{}, {}]", op,
                                                     c->dims().to_string(), m, n));
        cb = broadcast_view(*c, out_shape, op);
    }
    tensor out(dtype::f32, out_shape);
    if (out.numel() == 0) return out;
    const tensor at = params.trans_a ? transpose(a) : tensor::copy_of(a);
    const tensor bt = tensor::copy_of(b);
    auto* y = static_cast<float*>(out.data());
    // A bias row (C of shape [N] or [1, N]) with alpha = beta = 1 goes into the kernel.
    const bool row_bias = cb && params.alpha == 1.0f && params.beta == 1.0f && cb->stride(0) == 0 &&
                          (n == 1 || cb->stride(1) == 1);
    tensor bias_row;
    const float* bias = nullptr;
    if (row_bias) {
        bias_row = tensor::copy_of(cb->slice(0, 0, 1));
        bias = static_cast<const float*>(bias_row.data());
    }
    kernels::matmul_f32(
        static_cast<const float*>(at.data()), static_cast<const float*>(bt.data()), y, m, k, n,
        params.trans_b ? kernels::weight_layout::n_by_k : kernels::weight_layout::k_by_n, bias);
    if (row_bias) return out;
    if (params.alpha != 1.0f)
        for (std::int64_t i = 0; i < m * n; ++i)
            y[i] *= params.alpha;
    if (cb && params.beta != 0.0f) {
        const auto* pcv = static_cast<const float*>(cb->data());
        const std::int64_t s0 = cb->stride(0), s1 = cb->stride(1);
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j)
                y[i * n + j] += params.beta * pcv[i * s0 + j * s1];
    }
    return out;
}

} // namespace hone::ops
