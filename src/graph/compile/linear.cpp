// Compiling Gemm, MatMul and MatMulNBits: oneDNN linear (f32/int8), the int4 and palettized
// kernels, or the reference ops.
#include "../executor_impl.hpp"

#include "hone/io/onnx_integer.hpp"

#include <cstring>

namespace hone {

namespace {

std::int64_t quant_levels(bool reduce) { return reduce ? 127 : 255; }

} // namespace

compiled executor::impl::compile_gemm(const work_node& w) {
    const auto& n = w.n;
    const ops::gemm_params gp = op_table::parse_gemm(n);
    const float alpha = gp.alpha, beta = gp.beta;
    const bool ta = gp.trans_a, tb = gp.trans_b;
    const auto b = cst(n, 1);
    const auto c = cst(n, 2);
    const bool relu = w.relu;
    // Kernel path: constant B, bias a constant [N] / [1, N] / scalar, A not transposed.
    if (b && b->rank() == 2 && b->type() == dtype::f32 && !ta &&
        (!has_input(n, 2) || (c && c->type() == dtype::f32))) {
        const auto nn = tb ? b->dims()[0] : b->dims()[1];
        const auto kk = tb ? b->dims()[1] : b->dims()[0];
        const bool bias_ok =
            !c || c->numel() == 1 ||
            (c->numel() == nn && (c->rank() == 1 || (c->rank() == 2 && c->dims()[0] == 1)));
        if (bias_ok) {
            if (options.int4_weights.count(n.inputs[1]) ||
                options.palettized_weights.count(n.inputs[1])) {
                if (alpha != 1.0f)
                    fail(status::unsupported,
                         fmt::format("packed weight '{}': alpha {} ≠ 1 is not supported",
                                     n.inputs[1], alpha));
                std::vector<float> pb;
                if (c) {
                    auto cc = tensor::copy_of(*c);
                    const auto cv = cc.span<float>();
                    for (std::int64_t j = 0; j < nn; ++j)
                        pb.push_back(beta * cv[cv.size() == 1 ? 0 : static_cast<std::size_t>(j)]);
                }
                return *compile_packed(w, kk, nn, std::move(pb), true);
            }
            auto wt = tensor::copy_of(*b);
            if (alpha != 1.0f)
                for (auto& v : wt.span<float>())
                    v *= alpha;
            std::vector<float> bias;
            if (c) {
                auto cc = tensor::copy_of(*c);
                const auto cv = cc.span<float>();
                bias.resize(static_cast<std::size_t>(nn));
                for (std::int64_t j = 0; j < nn; ++j)
                    bias[static_cast<std::size_t>(j)] =
                        beta * cv[cv.size() == 1 ? 0 : static_cast<std::size_t>(j)];
            }
            return compile_matmul_like(w, std::move(wt), kk, nn,
                                       tb ? kernels::weight_layout::n_by_k
                                          : kernels::weight_layout::k_by_n,
                                       std::move(bias), relu, /*rank2_only=*/true);
        }
    }
    return {[gp, relu](std::span<const optional_view> in, run_state& st) {
                const auto& a = *in[0];
                const auto& bb = *in[1];
                auto y = ops::gemm(a, bb, in.size() > 2 ? in[2] : std::nullopt, gp);
                st.macs += static_cast<double>(a.numel()) *
                           static_cast<double>(y.dims().rank() == 2 ? y.dims()[1] : 0);
                if (relu) y = ops::relu(y);
                std::vector<tensor> out;
                out.push_back(std::move(y));
                return out;
            },
            fused(w, "f32 ops::gemm")};
}

compiled executor::impl::compile_matmul_like(const work_node& w, tensor wt, std::int64_t kk,
                                             std::int64_t nn, kernels::weight_layout layout,
                                             std::vector<float> bias, bool relu, bool rank2_only) {
    const auto& n = w.n;
    kernels::linear_params lp;
    lp.k = kk;
    lp.n = nn;
    lp.layout = layout;
    lp.relu = relu;
    std::string path = "f32 linear (oneDNN)";
    bool q = false;
    if (options.precision != exec_precision::f32 && !f32_nodes.count(n.name)) {
        lp.type = kernels::gemm_type::int8;
        lp.reduce_range = reduce_range != 0;
        const auto range = options.activation_ranges.find(n.inputs[0]);
        if (w.act_qdq) lp.reduce_range = false; // the model's own 8-bit grid
        const char* bits = lp.reduce_range ? ", 7-bit activations" : "";
        if (w.act_qdq) {
            lp.activations = kernels::act_quant::static_per_tensor;
            lp.act_scale = w.act_scale;
            lp.act_zero_point = w.act_zero_point;
            path = "int8 QDQ linear (u8 x s8 per-channel, the model's activation scale)";
        } else if (options.precision == exec_precision::int8_static &&
                   range != options.activation_ranges.end()) {
            lp.activations = kernels::act_quant::static_per_tensor;
            range_to_grid(range->second, quant_levels(lp.reduce_range), lp.act_scale,
                          lp.act_zero_point);
            path = fmt::format("int8 static linear (u8 x s8 per-channel{})", bits);
        } else {
            lp.activations = kernels::act_quant::dynamic_per_tensor;
            path = fmt::format("int8 dynamic linear (u8 x s8 per-channel{})", bits);
            if (options.precision == exec_precision::int8_static)
                path += fmt::format(" - no activation range for '{}'", n.inputs[0]);
        }
        q = true;
    }
    auto lin = std::make_shared<const kernels::linear>(lp, wt.span<const float>(),
                                                       std::span<const float>(bias));
    if (q && lin->splits_activations()) path += ", split activations";
    if (relu) path += " + fused ReLU";
    const auto bytes_held = (q ? wt.nbytes() / 4 : wt.nbytes()) + bias.size() * sizeof(float);
    kernel_fn fn = [lin, kk, nn, rank2_only](std::span<const optional_view> in, run_state& st) {
        const auto& a = *in[0];
        if (a.rank() < 1 || a.dims()[a.rank() - 1] != kk || (rank2_only && a.rank() != 2))
            fail(status::shape_mismatch,
                 fmt::format("input of shape {} does not match weights [K={}, N={}]{}",
                             a.dims().to_string(), kk, nn, rank2_only ? " (rank 2 needed)" : ""));
        if (a.type() != dtype::f32)
            fail(status::dtype_mismatch,
                 fmt::format("input is {}, f32 expected", name_of(a.type())));
        std::optional<tensor> keep;
        const auto src = contiguous(a, keep);
        std::int64_t m = 1;
        for (std::size_t d = 0; d + 1 < a.rank(); ++d)
            m *= a.dims()[d];
        std::vector<std::int64_t> dims(a.dims().dims().begin(), a.dims().dims().end());
        dims.back() = nn;
        tensor y = st.output(dtype::f32, shape(std::span<const std::int64_t>(dims)));
        if (m > 0)
            lin->run(static_cast<const float*>(src.data()), static_cast<float*>(y.data()), m);
        st.macs += static_cast<double>(m) * static_cast<double>(kk) * static_cast<double>(nn);
        std::vector<tensor> out;
        out.push_back(std::move(y));
        return out;
    };
    return {std::move(fn), path, q, bytes_held};
}

std::optional<compiled> executor::impl::compile_packed(const work_node& w, std::int64_t kk,
                                                       std::int64_t nn, std::vector<float> bias,
                                                       bool rank2_only) {
    const auto& n = w.n;
    const auto& name = n.inputs[1];
    const auto i4 = options.int4_weights.find(name);
    const auto pal = options.palettized_weights.find(name);
    packed_used.insert(name);
    const bool relu = w.relu;
    const shape want{nn, kk};
    // One product y[M, N] = x[M, K] · Wᵀ + bias, per kind.
    std::function<void(const float*, float*, std::int64_t)> mm;
    std::string path;
    std::uint64_t held = 0;
    if (i4 != options.int4_weights.end()) {
        if (!i4->second)
            fail(status::invalid_argument, fmt::format("int4 weight '{}' is null", name));
        if (!(i4->second->dims == want))
            fail(status::shape_mismatch,
                 fmt::format("int4 weight '{}' has dims {}; this layer needs [N, K] = {}", name,
                             i4->second->dims.to_string(), want.to_string()));
        auto packed = std::make_shared<const kernels::int4_weights>(i4->second->to_int4_weights());
        held = packed->nbytes();
        path = fmt::format("int4 weight-only linear ({}, group {})",
                           packed->symmetric() ? "i4 symmetric" : "u4", packed->group_size);
        mm = [packed, kk, nn, bias](const float* x, float* y, std::int64_t m) {
            const auto xv = make_view(x, static_cast<std::size_t>(m * kk) * sizeof(float),
                                      dtype::f32, shape{m, kk});
            auto yv = make_view(y, static_cast<std::size_t>(m * nn) * sizeof(float), dtype::f32,
                                shape{m, nn});
            kernels::int4_matmul(packed->view(), xv, yv, bias);
        };
    } else {
        if (!pal->second)
            fail(status::invalid_argument, fmt::format("palettized weight '{}' is null", name));
        const auto& p = *pal->second;
        if (!(p.dims() == want))
            fail(status::shape_mismatch,
                 fmt::format("palettized weight '{}' has dims {}; this layer needs [N, K] = {}",
                             name, p.dims().to_string(), want.to_string()));
        if (p.axis() != 0 || p.rows() != nn || p.cols() != kk)
            fail(status::unsupported,
                 fmt::format("palettized weight '{}': channel axis {} (rows {}, cols {}); the "
                             "kernel needs axis 0, rows N = {}, cols K = {}",
                             name, p.axis(), p.rows(), p.cols(), nn, kk));
        auto keep = pal->second;
        held = p.bytes();
        path =
            fmt::format("palettized linear ({}-bit indices, {} codebook(s))", p.bits(), p.groups());
        mm = [keep, kk, nn, bias](const float* x, float* y, std::int64_t m) {
            const auto mat = keep->matrix();
            kernels::palettized_matmul(
                mat, std::span<const float>(x, static_cast<std::size_t>(m * kk)), m,
                std::span<float>(y, static_cast<std::size_t>(m * nn)), bias);
        };
    }
    if (relu) path += " + fused ReLU";
    held += bias.size() * sizeof(float);
    kernel_fn fn = [mm, kk, nn, relu, rank2_only](std::span<const optional_view> in,
                                                  run_state& st) {
        const auto& a = *in[0];
        if (a.rank() < 1 || a.dims()[a.rank() - 1] != kk || (rank2_only && a.rank() != 2))
            fail(status::shape_mismatch,
                 fmt::format("input of shape {} does not match packed weights [N={}, K={}]{}",
                             a.dims().to_string(), nn, kk, rank2_only ? " (rank 2 needed)" : ""));
        if (a.type() != dtype::f32)
            fail(status::dtype_mismatch,
                 fmt::format("input is {}, f32 expected", name_of(a.type())));
        std::optional<tensor> keep;
        const auto src = contiguous(a, keep);
        std::int64_t m = 1;
        for (std::size_t d = 0; d + 1 < a.rank(); ++d)
            m *= a.dims()[d];
        std::vector<std::int64_t> dims(a.dims().dims().begin(), a.dims().dims().end());
        dims.back() = nn;
        tensor y(dtype::f32, shape(std::span<const std::int64_t>(dims)));
        if (m > 0) {
            mm(static_cast<const float*>(src.data()), static_cast<float*>(y.data()), m);
            if (relu)
                for (auto& v : y.span<float>())
                    v = std::max(v, 0.0f);
        }
        st.macs += static_cast<double>(m) * static_cast<double>(kk) * static_cast<double>(nn);
        std::vector<tensor> out;
        out.push_back(std::move(y));
        return out;
    };
    return compiled{std::move(fn), path, false, held};
}

// com.microsoft.MatMulNBits (bits 4, constant B / scales / zero points, f32 A): the int4
// weight-only kernel on exactly the model's integers when K is a multiple of block_size;
// otherwise (K padded in the last block) the weights dequantized exactly to f32 [N, K] at load.
compiled executor::impl::compile_matmul_nbits(const work_node& w) {
    const auto& n = w.n;
    const auto k = n.get_int("K", -1), nn = n.get_int("N", -1), bits = n.get_int("bits", 4),
               block = n.get_int("block_size", -1);
    if (bits != 4)
        fail(status::unsupported,
             fmt::format("bits = {}: only 4-bit MatMulNBits is supported", bits));
    if (has_input(n, 4)) fail(status::unsupported, "input g_idx (act-order) is not supported");
    if (block < 16 || (block & (block - 1)) != 0)
        fail(status::format_error,
             fmt::format("block_size = {} is not a power of two ≥ 16", block));
    const auto b = cst(n, 1), sc = cst(n, 2), zp = cst(n, 3), bias = cst(n, 5);
    if (!b || !sc || (has_input(n, 3) && !zp) || (has_input(n, 5) && !bias))
        fail(status::unsupported, "B, scales, zero_points and bias must be constants");
    auto qt = std::make_shared<const quantized_tensor>(unpack_matmul_nbits(
        *b, *sc, has_input(n, 3) ? std::optional<const_tensor_view>(*zp) : std::nullopt, k, nn,
        block, n.label()));
    std::vector<float> bv;
    if (bias) {
        if (bias->type() != dtype::f32 || bias->numel() != nn)
            fail(status::shape_mismatch,
                 fmt::format("bias is {} {}, f32 [{}] expected", name_of(bias->type()),
                             bias->dims().to_string(), nn));
        const auto t = tensor::copy_of(*bias);
        bv.assign(t.span<const float>().begin(), t.span<const float>().end());
    }
    if (k % block == 0) {
        options.int4_weights[n.inputs[1]] = qt; // compile_packed reads it from there
        auto c = *compile_packed(w, k, nn, std::move(bv), false);
        c.path = "MatMulNBits on the " + c.path;
        return c;
    }
    const auto full = qt->dequantize(); // [N, n_blocks·block_size]; the padding is dropped
    tensor wt(dtype::f32, shape{nn, k});
    for (std::int64_t r = 0; r < nn; ++r)
        std::memcpy(wt.span<float>().data() + r * k,
                    full.span<const float>().data() + r * qt->dims[1],
                    static_cast<std::size_t>(k) * sizeof(float));
    auto c = compile_matmul_like(w, std::move(wt), k, nn, kernels::weight_layout::n_by_k,
                                 std::move(bv), false, false);
    c.path = fmt::format("MatMulNBits dequantized exactly at load (K = {} not a multiple of "
                         "block_size {}): {}",
                         k, block, c.path);
    return c;
}

compiled executor::impl::compile_matmul(const work_node& w) {
    const auto& n = w.n;
    const auto b = cst(n, 1);
    if (b && b->rank() == 2 && b->type() == dtype::f32) {
        std::vector<float> bias;
        if (!w.bias.empty()) {
            const auto t = tensor::copy_of(constv.at(w.bias));
            bias.assign(t.span<float>().begin(), t.span<float>().end());
        }
        if (options.int4_weights.count(n.inputs[1]) ||
            options.palettized_weights.count(n.inputs[1]))
            return *compile_packed(w, b->dims()[0], b->dims()[1], std::move(bias), false);
        return compile_matmul_like(w, tensor::copy_of(*b), b->dims()[0], b->dims()[1],
                                   kernels::weight_layout::k_by_n, std::move(bias), w.relu, false);
    }
    const bool relu = w.relu;
    return {[relu](std::span<const optional_view> in, run_state& st) {
                auto y = ops::matmul(*in[0], *in[1]);
                const auto& a = *in[0];
                st.macs += static_cast<double>(y.numel()) *
                           static_cast<double>(a.rank() ? a.dims()[a.rank() - 1] : 0);
                if (relu) y = ops::relu(y);
                std::vector<tensor> out;
                out.push_back(std::move(y));
                return out;
            },
            fused(w, "f32 ops::matmul")};
}

} // namespace hone
