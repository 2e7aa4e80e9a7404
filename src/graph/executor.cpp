// The graph executor (see hone/graph/executor.hpp): plan at construction, run many times.
#include "executor_impl.hpp"

#include "hone/io/onnx_integer.hpp"
#include "hone/kernels/quantize.hpp"
#include "ops/common.hpp"

#include <cstring>
#include <limits>
#include <unordered_map>

namespace hone {

namespace {

// dst (u8) = QuantizeLinear(Clip(DequantizeLinear(QuantizeLinear(src, r)), r.lo, r.hi), the
// conv's grid), element by element through the kernels those operators run on (hence the same
// bytes as the four steps), a block at a time in cache. Layout-agnostic.
void requantize(const float* src, std::int64_t n, const work_node::requant& r, float act_scale,
                std::int32_t act_zero_point, std::uint8_t* dst) {
    // Blocks big enough for the kernels to spread over the threads themselves, small enough to
    // stay in L2; per-thread scratch kept from call to call.
    constexpr std::int64_t block = 1 << 16;
    thread_local std::vector<std::uint8_t> q;
    thread_local std::vector<float> v;
    q.resize(static_cast<std::size_t>(std::min(block, n)));
    v.resize(q.size());
    for (std::int64_t begin = 0; begin < n; begin += block) {
        const auto m = static_cast<std::size_t>(std::min(block, n - begin));
        const std::span<const float> in(src + begin, m);
        const std::span<float> vs(v.data(), m);
        if (r.type == dtype::i8) {
            const std::span<std::int8_t> qs(reinterpret_cast<std::int8_t*>(q.data()), m);
            kernels::quantize(in, r.scale, r.zero_point, qs);
            kernels::dequantize(std::span<const std::int8_t>(qs), r.scale, r.zero_point, vs);
        } else {
            const std::span<std::uint8_t> qs(q.data(), m);
            kernels::quantize(in, r.scale, r.zero_point, qs);
            kernels::dequantize(std::span<const std::uint8_t>(qs), r.scale, r.zero_point, vs);
        }
        if (r.clip) { // as the executor's Clip (no NaN can come out of DequantizeLinear)
            const float lo = r.lo, hi = r.hi;
            const auto count = static_cast<std::int64_t>(m);
            float* p = v.data();
            const int threads = ops::detail::threads_for(count * 8);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
            for (std::int64_t i = 0; i < count; ++i) { // std::min(std::max(x, lo), hi)
                const float x = p[i] < lo ? lo : p[i];
                p[i] = hi < x ? hi : x;
            }
        }
        kernels::quantize(std::span<const float>(vs), act_scale, act_zero_point,
                          std::span<std::uint8_t>(dst + begin, m));
    }
}

std::optional<dtype> dtype_of_onnx_code(std::int64_t t) {
    switch (t) {
    case 1: return dtype::f32;
    case 2: return dtype::u8;
    case 3: return dtype::i8;
    case 6: return dtype::i32;
    case 7: return dtype::i64;
    case 9: return dtype::boolean;
    case 10: return dtype::f16;
    case 16: return dtype::bf16;
    default: return std::nullopt;
    }
}

tensor copy_tensor(const_tensor_view v) { return tensor::copy_of(v); }

float scalar_float(const_tensor_view v, const std::string& what) {
    if (v.numel() != 1)
        fail(status::shape_mismatch,
             fmt::format("{}: expected a scalar, got shape {}", what, v.dims().to_string()));
    if (v.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: expected f32, got {}", what, name_of(v.type())));
    float x;
    std::memcpy(&x, v.data(), sizeof x);
    return x;
}

using op_table::parse_spatial;

std::int64_t quant_levels(bool reduce) { return reduce ? 127 : 255; }

const_tensor_view need_input(std::span<const optional_view> in, std::size_t i) {
    if (i >= in.size() || !in[i]) fail(status::internal, fmt::format("input {} is missing", i));
    return *in[i];
}

} // namespace

// ---- compiling nodes into kernels -------------------------------------------------------------

compiled executor::impl::compile_gemm(const work_node& w) {
    const auto& n = w.n;
    const float alpha = n.get_float("alpha", 1.0f), beta = n.get_float("beta", 1.0f);
    const bool ta = n.get_int("transA", 0) != 0, tb = n.get_int("transB", 0) != 0;
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
    ops::gemm_params gp{alpha, beta, ta, tb};
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

bool executor::impl::conv_on_kernel(const node& n) const {
    const auto wv = cst(n, 1);
    const bool bias_ok = !has_input(n, 2) || cst(n, 2);
    const auto sp = parse_spatial(n);
    return wv && wv->rank() == 4 && wv->type() == dtype::f32 && bias_ok &&
           (sp.padding == ops::auto_pad::notset || sp.padding == ops::auto_pad::valid) &&
           (sp.kernel_shape.empty() ||
            (sp.kernel_shape.size() == 2 && sp.kernel_shape[0] == wv->dims()[2] &&
             sp.kernel_shape[1] == wv->dims()[3])) &&
           (sp.strides.empty() || sp.strides.size() == 2) &&
           (sp.dilations.empty() || sp.dilations.size() == 2) &&
           (sp.pads.empty() || sp.pads.size() == 4) && n.get_int("group", 1) >= 1;
}

compiled executor::impl::compile_conv(const work_node& w) {
    const auto& n = w.n;
    const auto wv = cst(n, 1);
    const auto bv = cst(n, 2);
    const bool relu = w.relu;
    auto sp = parse_spatial(n);
    const auto group = n.get_int("group", 1);
    const bool bias_ok = !has_input(n, 2) || bv;
    if (!w.post.empty() && !conv_on_kernel(n))
        fail(status::internal, "activations were fused into a Conv that does not run on the "
                               "oneDNN kernel");
    if (conv_on_kernel(n)) {
        kernels::conv2d_params cp;
        cp.in_channels = wv->dims()[1] * group;
        cp.out_channels = wv->dims()[0];
        cp.kernel_h = wv->dims()[2];
        cp.kernel_w = wv->dims()[3];
        if (!sp.strides.empty()) cp.stride_h = sp.strides[0], cp.stride_w = sp.strides[1];
        if (!sp.dilations.empty()) cp.dilation_h = sp.dilations[0], cp.dilation_w = sp.dilations[1];
        if (!sp.pads.empty() && sp.padding == ops::auto_pad::notset) {
            cp.pad_top = sp.pads[0];
            cp.pad_left = sp.pads[1];
            cp.pad_bottom = sp.pads[2];
            cp.pad_right = sp.pads[3];
        }
        cp.groups = group;
        cp.relu = relu;
        cp.post_ops = w.post;
        cp.sum = !w.residual.empty();
        std::string path = "f32 conv2d (oneDNN)";
        bool q = false;
        if (options.precision != exec_precision::f32 && !f32_nodes.count(n.name)) {
            const auto range = options.activation_ranges.find(n.inputs[0]);
            if (w.act_qdq) {
                cp.type = kernels::gemm_type::int8;
                cp.act_scale = w.act_scale;
                cp.act_zero_point = w.act_zero_point;
                path = "int8 QDQ conv2d (oneDNN, u8 x s8 per-channel, the model's activation "
                       "scale)";
                q = true;
            } else if (options.precision == exec_precision::int8_static &&
                       range != options.activation_ranges.end()) {
                cp.type = kernels::gemm_type::int8;
                range_to_grid(range->second, 255, cp.act_scale, cp.act_zero_point);
                path = "int8 static conv2d (oneDNN, u8 x s8 per-channel)";
                q = true;
            } else {
                path += fmt::format(" - int8 conv needs a static activation range for '{}'",
                                    n.inputs[0]);
            }
        }
        auto wt = tensor::copy_of(*wv);
        std::optional<tensor> bt;
        if (bv) bt = tensor::copy_of(*bv);
        const auto bias_span = bt ? bt->span<const float>() : std::span<const float>();
        std::shared_ptr<const kernels::conv2d> conv;
        if (q && reduce_range != 0) {
            // 7-bit weights (|q_w| ≤ 64): on CPUs whose int8 pairs saturate, oneDNN's kernel is
            // then exact without splitting the weights (the conv counterpart of reduce_range).
            const auto oc = cp.out_channels;
            const auto per = wt.numel() / std::max<std::int64_t>(oc, 1);
            const auto w = wt.span<const float>();
            std::vector<std::int8_t> qw(w.size());
            std::vector<float> scales(static_cast<std::size_t>(oc));
            for (std::int64_t c = 0; c < oc; ++c) {
                float mx = 0;
                for (std::int64_t k = 0; k < per; ++k)
                    mx = std::max(mx, std::fabs(w[static_cast<std::size_t>(c * per + k)]));
                const float sc = mx > 0 && std::isfinite(mx) ? mx / 64.0f : 1.0f;
                scales[static_cast<std::size_t>(c)] = sc;
                for (std::int64_t k = 0; k < per; ++k) {
                    const auto i = static_cast<std::size_t>(c * per + k);
                    qw[i] = static_cast<std::int8_t>(
                        std::clamp(std::nearbyint(w[i] / sc), -64.0f, 64.0f));
                }
            }
            conv = std::make_shared<const kernels::conv2d>(
                cp, std::span<const std::int8_t>(qw), std::span<const float>(scales), bias_span);
            path += ", 7-bit weights";
        } else {
            conv = std::make_shared<const kernels::conv2d>(cp, wt.span<const float>(), bias_span);
        }
        if (q && conv->splits_weights()) path += ", split weights";
        if (relu) path += " + fused ReLU";
        if (cp.sum) path += " + fused residual Add";
        for (const auto& name : w.post_names)
            path += " + fused " + name;
        const double macs_per_out =
            static_cast<double>(wv->dims()[1]) * static_cast<double>(cp.kernel_h * cp.kernel_w);
        const bool sum = cp.sum;
        const auto layouts = w.layouts;
        using kernels::conv_layout;
        auto says = [](conv_layout l) { return l == conv_layout::nhwc ? "NHWC" : "NCHW"; };
        if (layouts.src == conv_layout::nhwc || layouts.dst == conv_layout::nhwc ||
            layouts.addend == conv_layout::nhwc)
            path += fmt::format(", {} in, {} out", says(layouts.src), says(layouts.dst));
        const auto pre = w.pre;
        if (pre)
            path += fmt::format(", input requantized from the {} grid{} in one pass",
                                pre->type == dtype::i8 ? "i8" : "u8", pre->clip ? " and Clip" : "");
        const float act_scale = cp.act_scale;
        const std::int32_t act_zp = cp.act_zero_point;
        kernel_fn fn = [conv, macs_per_out, sum, layouts, pre, act_scale,
                        act_zp](std::span<const optional_view> in, run_state& st) {
            std::optional<tensor> keep, keep_addend, requantized;
            auto x = contiguous(*in[0], keep);
            if (pre) {
                if (x.type() != dtype::f32)
                    fail(status::dtype_mismatch,
                         fmt::format("QuantizeLinear (fused into this Conv) reads a {} value; "
                                     "f32 expected",
                                     name_of(x.type())));
                requantized = st.output(dtype::u8, x.dims());
                requantize(static_cast<const float*>(x.data()), x.numel(), *pre, act_scale, act_zp,
                           static_cast<std::uint8_t*>(requantized->data()));
                x = requantized->view();
            }
            const auto nchw = [](const shape& s, conv_layout l) {
                return l == conv_layout::nhwc && s.rank() == 4 ? shape{s[0], s[3], s[1], s[2]} : s;
            };
            const shape logical_in = nchw(x.dims(), layouts.src);
            const shape logical_out = conv->output_shape(logical_in);
            tensor y = st.output(dtype::f32, layouts.dst == conv_layout::nhwc
                                                 ? shape{logical_out[0], logical_out[2],
                                                         logical_out[3], logical_out[1]}
                                                 : logical_out);
            if (sum) {
                const auto r = contiguous(need_input(in, 3), keep_addend);
                if (!(nchw(r.dims(), layouts.addend) == logical_out) || r.type() != dtype::f32)
                    fail(status::shape_mismatch,
                         fmt::format("the residual Add fused into this Conv adds a {} {} to its "
                                     "output {} (executor_options::fuse_conv_activations = false "
                                     "runs it unfused, with broadcasting)",
                                     name_of(r.type()), r.dims().to_string(),
                                     logical_out.to_string()));
                conv->run(x, y.view(), r, layouts);
            } else {
                conv->run(x, y.view(), layouts);
            }
            st.reorders += static_cast<std::uint64_t>(conv->reorders(logical_in, layouts));
            if (requantized && st.pool) st.pool->give(std::move(*requantized));
            st.macs += static_cast<double>(y.numel()) * macs_per_out;
            std::vector<tensor> out;
            out.push_back(std::move(y));
            return out;
        };
        return {std::move(fn), path, q,
                (q ? wt.nbytes() / 4 : wt.nbytes()) + (bt ? bt->nbytes() : 0)};
    }
    ops::conv_params p{sp, group};
    if (wv && bias_ok) {
        auto op = std::make_shared<const ops::conv_op>(*wv, bv, p);
        const double per_out =
            static_cast<double>(wv->numel() / std::max<std::int64_t>(1, wv->dims()[0]));
        return {[op, relu, per_out](std::span<const optional_view> in, run_state& st) {
                    auto y = op->run(*in[0]);
                    st.macs += static_cast<double>(y.numel()) * per_out;
                    if (relu) y = ops::relu(y);
                    std::vector<tensor> out;
                    out.push_back(std::move(y));
                    return out;
                },
                fused(w, "f32 ops::conv_op")};
    }
    return {[p, relu](std::span<const optional_view> in, run_state& st) {
                auto y = ops::conv(*in[0], *in[1], in.size() > 2 ? in[2] : std::nullopt, p);
                const auto& wt = *in[1];
                st.macs +=
                    static_cast<double>(y.numel()) *
                    static_cast<double>(wt.numel() / std::max<std::int64_t>(1, wt.dims()[0]));
                if (relu) y = ops::relu(y);
                std::vector<tensor> out;
                out.push_back(std::move(y));
                return out;
            },
            fused(w, "f32 ops::conv")};
}

namespace {
// dst = f(a, b) for f32 operands of the same dims, or [N, C, spatial...] with [N, C, 1, ...]
// (either side: a squeeze-excitation scale), into a buffer of the run's pool; the same float
// operation per element as ops::binary. Anything else: nullopt (ops::binary runs).
template <class F>
std::optional<tensor> pooled_binary_with(const_tensor_view a, const_tensor_view b, run_state& st,
                                         F f) {
    if (a.type() != dtype::f32 || b.type() != dtype::f32 || !a.is_contiguous() ||
        !b.is_contiguous() || a.rank() != b.rank())
        return std::nullopt;
    const auto& ad = a.dims();
    const auto& bd = b.dims();
    // per_a / per_b: elements of a / b per (n, c) pair (1 for the scale side).
    std::int64_t planes = 1, per_a = 0, per_b = 0;
    if (ad == bd) {
        per_a = per_b = ad.numel(); // one "plane"
    } else {
        if (a.rank() < 3 || ad[0] != bd[0] || ad[1] != bd[1]) return std::nullopt;
        bool a_ones = true, b_ones = true;
        for (std::size_t k = 2; k < a.rank(); ++k)
            a_ones &= ad[k] == 1, b_ones &= bd[k] == 1;
        if (a_ones == b_ones) return std::nullopt;
        planes = ad[0] * ad[1];
        if (planes == 0) return std::nullopt; // ops::binary gives the empty broadcast shape
        per_a = ad.numel() / planes;
        per_b = bd.numel() / planes;
    }
    tensor y = st.output(dtype::f32, per_a >= per_b ? ad : bd);
    const auto* pa = static_cast<const float*>(a.data());
    const auto* pb = static_cast<const float*>(b.data());
    auto* pd = static_cast<float*>(y.data());
    const std::int64_t inner = std::max(per_a, per_b);
    const int threads = ops::detail::threads_for(planes * inner);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t p = 0; p < planes; ++p) {
        const float* x = pa + p * per_a;
        const float* z = pb + p * per_b;
        float* d = pd + p * inner;
        if (per_a == per_b)
            for (std::int64_t i = 0; i < inner; ++i)
                d[i] = f(x[i], z[i]);
        else if (per_b == 1)
            for (std::int64_t i = 0; i < inner; ++i)
                d[i] = f(x[i], z[0]);
        else
            for (std::int64_t i = 0; i < inner; ++i)
                d[i] = f(x[0], z[i]);
    }
    return y;
}

std::optional<tensor> pooled_binary(ops::binary_op op, const_tensor_view a, const_tensor_view b,
                                    run_state& st) {
    switch (op) {
    case ops::binary_op::add:
        return pooled_binary_with(a, b, st, [](float x, float y) { return x + y; });
    case ops::binary_op::sub:
        return pooled_binary_with(a, b, st, [](float x, float y) { return x - y; });
    case ops::binary_op::mul:
        return pooled_binary_with(a, b, st, [](float x, float y) { return x * y; });
    case ops::binary_op::div:
        return pooled_binary_with(a, b, st, [](float x, float y) { return x / y; });
    default: return std::nullopt;
    }
}

template <class F> kernel_fn single(F f) {
    return [f](std::span<const optional_view> in, run_state&) {
        std::vector<tensor> out;
        out.push_back(f(in));
        return out;
    };
}
const_tensor_view need(std::span<const optional_view> in, std::size_t i) {
    if (i >= in.size() || !in[i])
        fail(status::invalid_argument, fmt::format("input {} is missing", i));
    return *in[i];
}
std::vector<std::int64_t> opt_ints(std::span<const optional_view> in, std::size_t i, const char* op,
                                   const char* what) {
    if (i >= in.size() || !in[i]) return {};
    return ops::to_int64_vector(*in[i], op, what);
}
} // namespace

compiled executor::impl::compile(const work_node& w) {
    const auto& n = w.n;
    const auto& op = n.op_type;
    const auto label = n.label();
    auto bad_attr = [&](const std::string& what) -> compiled {
        fail(status::unsupported, fmt::format("{}: {}", label, what));
    };
    auto only_first_output = [&](const char* what) {
        for (std::size_t i = 1; i < n.outputs.size(); ++i)
            if (!n.outputs[i].empty())
                fail(status::unsupported, fmt::format("{}: output {} ('{}', {}) is not supported",
                                                      label, i, n.outputs[i], what));
    };
    if (op == "Gemm") return compile_gemm(w);
    if (op == "MatMul") return compile_matmul(w);
    if (op == "Conv") return compile_conv(w);
    if (op == "MatMulNBits" && n.domain == "com.microsoft") return compile_matmul_nbits(w);

    using V = std::span<const optional_view>;
    if (op == "QuantizeLinear" || op == "DequantizeLinear") {
        // Reference semantics (ONNX opset 13, plus opset 21's block_size): per tensor, per axis
        // or blocked, through the kernel layer. QuantizeLinear's output type is its zero
        // point's (u8 when absent).
        const bool dq = op == "DequantizeLinear";
        const auto axis = n.get_int("axis", 1);
        const auto block = n.get_int("block_size", 0);
        if (n.has("output_dtype")) bad_attr("attribute 'output_dtype' is not supported");
        only_first_output(op.c_str());
        // The output comes from the run's pool: both kernels write every element.
        return {[dq, axis, block](V in, run_state& st) {
                    const auto x = need(in, 0);
                    kernels::quant_params p;
                    p.scale = need(in, 1);
                    if (in.size() > 2 && in[2]) p.zero_point = *in[2];
                    p.axis = static_cast<int>(axis);
                    p.block_size = block;
                    std::vector<tensor> out;
                    if (dq && x.type() == dtype::i32) {
                        out.push_back(ops::dequantize_int32(x, p.scale, p.zero_point, axis));
                        return out;
                    }
                    const auto type =
                        dq ? dtype::f32 : (p.zero_point ? p.zero_point->type() : dtype::u8);
                    out.push_back(st.output(type, x.dims()));
                    if (dq)
                        kernels::dequantize_linear(x, p, out[0].view());
                    else
                        kernels::quantize_linear(x, p, out[0].view());
                    return out;
                },
                dq ? "kernels::dequantize_linear" : "kernels::quantize_linear"};
    }
    if (op == "DynamicQuantizeLinear")
        return {[](V in, run_state&) { return ops::dynamic_quantize_linear(need(in, 0)); },
                "ops::dynamic_quantize_linear"};
    if (op == "MatMulInteger") {
        // A constant B (the weights) is prepared once, at load.
        std::shared_ptr<const ops::integer_matrix> prepared;
        const auto bc = cst(n, 1);
        const bool bz_ok = n.inputs.size() < 4 || n.inputs[3].empty() || cst(n, 3);
        if (bc && bz_ok)
            prepared = std::make_shared<const ops::integer_matrix>(ops::prepare_integer_matrix(
                *bc, n.inputs.size() > 3 && !n.inputs[3].empty() ? cst(n, 3) : std::nullopt));
        return {[prepared](V in, run_state& st) {
                    const auto a = need(in, 0);
                    const auto az = in.size() > 2 ? in[2] : std::nullopt;
                    auto y = prepared ? ops::matmul_integer(a, *prepared, az)
                                      : ops::matmul_integer(a, need(in, 1), az,
                                                            in.size() > 3 ? in[3] : std::nullopt);
                    st.macs += static_cast<double>(y.numel()) *
                               static_cast<double>(a.rank() ? a.dims()[a.rank() - 1] : 0);
                    std::vector<tensor> out;
                    out.push_back(std::move(y));
                    return out;
                },
                prepared ? "ops::matmul_integer (integer reference, weights prepared at load)"
                         : "ops::matmul_integer (integer reference)"};
    }
    if (op == "ConvInteger") {
        const ops::conv_params p{parse_spatial(n), n.get_int("group", 1)};
        return {[p](V in, run_state& st) {
                    const auto wt = need(in, 1);
                    auto y =
                        ops::conv_integer(need(in, 0), wt, in.size() > 2 ? in[2] : std::nullopt,
                                          in.size() > 3 ? in[3] : std::nullopt, p);
                    st.macs +=
                        static_cast<double>(y.numel()) *
                        static_cast<double>(wt.numel() / std::max<std::int64_t>(1, wt.dims()[0]));
                    std::vector<tensor> out;
                    out.push_back(std::move(y));
                    return out;
                },
                "ops::conv_integer (int16 windows, exact)"};
    }
    if (op == "Relu") return {single([](V in) { return ops::relu(need(in, 0)); }), "ops::relu"};
    if (op == "LeakyRelu") {
        const float a = n.get_float("alpha", 0.01f);
        return {single([a](V in) { return ops::leaky_relu(need(in, 0), a); }), "ops::leaky_relu"};
    }
    if (op == "Sigmoid")
        return {single([](V in) { return ops::sigmoid(need(in, 0)); }), "ops::sigmoid"};
    if (op == "HardSigmoid") {
        const float a = n.get_float("alpha", 0.2f), b = n.get_float("beta", 0.5f);
        return {single([a, b](V in) { return ops::hard_sigmoid(need(in, 0), a, b); }),
                "ops::hard_sigmoid"};
    }
    if (op == "HardSwish")
        return {single([](V in) { return ops::hard_swish(need(in, 0)); }), "ops::hard_swish"};
    if (op == "Tanh") return {single([](V in) { return ops::tanh(need(in, 0)); }), "ops::tanh"};
    if (op == "Erf") return {single([](V in) { return ops::erf(need(in, 0)); }), "ops::erf"};
    if (op == "Sqrt") return {single([](V in) { return ops::sqrt(need(in, 0)); }), "ops::sqrt"};
    if (op == "Gelu") {
        const auto a = n.get_string("approximate", "none");
        if (a != "none" && a != "tanh") bad_attr("approximate '" + a + "' is not 'none' or 'tanh'");
        const auto g = a == "tanh" ? ops::gelu_approximation::tanh : ops::gelu_approximation::none;
        return {single([g](V in) { return ops::gelu(need(in, 0), g); }), "ops::gelu"};
    }
    if (op == "Softmax" || op == "LogSoftmax") {
        const auto axis = n.get_int("axis", -1);
        const bool log = op == "LogSoftmax";
        return {single([axis, log](V in) {
                    return log ? ops::log_softmax(need(in, 0), axis)
                               : ops::softmax(need(in, 0), axis);
                }),
                log ? "ops::log_softmax" : "ops::softmax"};
    }
    if (op == "Clip") {
        return {[label](V in, run_state& st) {
                    const float lo = in.size() > 1 && in[1]
                                         ? scalar_float(*in[1], label + " min")
                                         : -std::numeric_limits<float>::infinity();
                    const float hi = in.size() > 2 && in[2]
                                         ? scalar_float(*in[2], label + " max")
                                         : std::numeric_limits<float>::infinity();
                    const auto x = need(in, 0);
                    std::vector<tensor> out;
                    if (x.type() != dtype::f32 || !x.is_contiguous() || std::isnan(lo) ||
                        std::isnan(hi)) {
                        out.push_back(ops::clip(x, lo, hi)); // and its errors
                        return out;
                    }
                    // ops::clip's arithmetic, into a buffer of the run's pool (a Clip after a
                    // DequantizeLinear in QDQ models: no fresh output per run).
                    out.push_back(st.output(dtype::f32, x.dims()));
                    const auto* s = static_cast<const float*>(x.data());
                    auto* d = static_cast<float*>(out[0].data());
                    const std::int64_t n = x.numel();
                    const int threads = ops::detail::threads_for(n * 8);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
                    // A NaN passes both comparisons untouched (std::max(v, lo) is v < lo ?
                    // lo : v), as ops::clip keeps it; without the branch the loop vectorizes.
                    for (std::int64_t i = 0; i < n; ++i)
                        d[i] = std::min(std::max(s[i], lo), hi);
                    return out;
                },
                "ops::clip"};
    }
    if (op == "Cast") {
        const auto to_code = n.get_int("to", -1);
        const auto to = dtype_of_onnx_code(to_code);
        if (!to) bad_attr(fmt::format("cast to ONNX type {} is not supported", to_code));
        const auto t = *to;
        return {single([t](V in) { return ops::cast(need(in, 0), t); }), "ops::cast"};
    }
    if (op == "Identity" || op == "Dropout") {
        if (op == "Dropout") {
            only_first_output("mask");
            if (n.get_int("training_mode", 0) != 0) bad_attr("training_mode is not supported");
        }
        return {single([](V in) { return copy_tensor(need(in, 0)); }), "copy"};
    }
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
        const auto b = op == "Add"   ? ops::binary_op::add
                       : op == "Sub" ? ops::binary_op::sub
                       : op == "Mul" ? ops::binary_op::mul
                       : op == "Div" ? ops::binary_op::div
                                     : ops::binary_op::pow;
        return {[b](V in, run_state& st) {
                    std::vector<tensor> out;
                    if (auto y = pooled_binary(b, need(in, 0), need(in, 1), st))
                        out.push_back(std::move(*y));
                    else
                        out.push_back(ops::binary(b, need(in, 0), need(in, 1)));
                    return out;
                },
                "ops::binary"};
    }
    if (op == "Equal")
        return {single([](V in) { return ops::equal(need(in, 0), need(in, 1)); }), "ops::equal"};
    if (op == "Where")
        return {single([](V in) { return ops::where(need(in, 0), need(in, 1), need(in, 2)); }),
                "ops::where"};
    if (op == "ConvTranspose") {
        ops::conv_transpose_params p;
        p.spatial = parse_spatial(n);
        p.group = n.get_int("group", 1);
        p.output_padding = n.get_ints("output_padding", {});
        p.output_shape = n.get_ints("output_shape", {});
        return {single([p](V in) {
                    return ops::conv_transpose(need(in, 0), need(in, 1),
                                               in.size() > 2 ? in[2] : std::nullopt, p);
                }),
                "ops::conv_transpose"};
    }
    if (op == "BatchNormalization") {
        only_first_output("training statistics");
        if (n.get_int("training_mode", 0) != 0) bad_attr("training_mode is not supported");
        const float eps = n.get_float("epsilon", 1e-5f);
        return {single([eps](V in) {
                    return ops::batch_normalization(need(in, 0), need(in, 1), need(in, 2),
                                                    need(in, 3), need(in, 4), eps);
                }),
                "ops::batch_normalization"};
    }
    if (op == "LayerNormalization") {
        only_first_output("Mean/InvStdDev");
        const auto axis = n.get_int("axis", -1);
        const float eps = n.get_float("epsilon", 1e-5f);
        return {single([axis, eps](V in) {
                    return ops::layer_normalization(
                        need(in, 0), need(in, 1), in.size() > 2 ? in[2] : std::nullopt, axis, eps);
                }),
                "ops::layer_normalization"};
    }
    if (op == "MaxPool" || op == "AveragePool") {
        only_first_output("Indices");
        ops::pool_params p;
        p.spatial = parse_spatial(n);
        p.ceil_mode = n.get_int("ceil_mode", 0) != 0;
        p.count_include_pad = n.get_int("count_include_pad", 0) != 0;
        if (p.spatial.kernel_shape.empty()) bad_attr("kernel_shape is required");
        if (op == "MaxPool" && n.get_int("storage_order", 0) != 0)
            bad_attr("storage_order 1 is not supported");
        const bool mx = op == "MaxPool";
        return {single([p, mx](V in) {
                    return mx ? ops::max_pool(need(in, 0), p) : ops::average_pool(need(in, 0), p);
                }),
                mx ? "ops::max_pool" : "ops::average_pool"};
    }
    if (op == "GlobalAveragePool")
        return {single([](V in) { return ops::global_average_pool(need(in, 0)); }),
                "ops::global_average_pool"};
    if (op == "GlobalMaxPool")
        return {single([](V in) { return ops::global_max_pool(need(in, 0)); }),
                "ops::global_max_pool"};
    if (op == "Resize") {
        // Opset 18/19 additions beyond what ops::resize does.
        if (n.get_int("antialias", 0) != 0) bad_attr("antialias is not supported");
        if (n.has("axes")) bad_attr("axes is not supported");
        if (n.get_string("keep_aspect_ratio_policy", "stretch") != "stretch")
            bad_attr("keep_aspect_ratio_policy other than 'stretch' is not supported");
        ops::resize_params p;
        const auto mode = n.get_string("mode", "nearest");
        if (mode == "nearest")
            p.mode = ops::resize_mode::nearest;
        else if (mode == "linear")
            p.mode = ops::resize_mode::linear;
        else if (mode == "cubic")
            p.mode = ops::resize_mode::cubic;
        else
            bad_attr("mode '" + mode + "' is not supported (nearest, linear, cubic)");
        p.cubic_coeff_a = n.get_float("cubic_coeff_a", -0.75f);
        p.exclude_outside = n.get_int("exclude_outside", 0) != 0;
        const auto ct = n.get_string("coordinate_transformation_mode", "half_pixel");
        if (ct == "half_pixel")
            p.transform = ops::coordinate_transform::half_pixel;
        else if (ct == "pytorch_half_pixel")
            p.transform = ops::coordinate_transform::pytorch_half_pixel;
        else if (ct == "align_corners")
            p.transform = ops::coordinate_transform::align_corners;
        else if (ct == "asymmetric")
            p.transform = ops::coordinate_transform::asymmetric;
        else if (ct == "tf_half_pixel_for_nn")
            p.transform = ops::coordinate_transform::tf_half_pixel_for_nn;
        else
            bad_attr("coordinate_transformation_mode '" + ct + "' is not supported");
        const auto nm = n.get_string("nearest_mode", "round_prefer_floor");
        if (nm == "round_prefer_floor")
            p.nearest = ops::nearest_mode::round_prefer_floor;
        else if (nm == "round_prefer_ceil")
            p.nearest = ops::nearest_mode::round_prefer_ceil;
        else if (nm == "floor")
            p.nearest = ops::nearest_mode::floor;
        else if (nm == "ceil")
            p.nearest = ops::nearest_mode::ceil;
        else
            bad_attr("nearest_mode '" + nm + "' is not an ONNX value");
        const std::string lbl = label;
        return {single([p, lbl](V in) {
                    auto q = p;
                    if (in.size() > 2 && in[2] && in[2]->numel() > 0) {
                        if (in[2]->type() != dtype::f32)
                            fail(status::dtype_mismatch, lbl + ": scales must be f32");
                        const auto t = tensor::copy_of(*in[2]);
                        q.scales.assign(t.span<float>().begin(), t.span<float>().end());
                    }
                    if (in.size() > 3 && in[3] && in[3]->numel() > 0)
                        q.sizes = ops::to_int64_vector(*in[3], "Resize", "sizes");
                    return ops::resize(need(in, 0), q);
                }),
                "ops::resize"};
    }
    if (op == "Flatten") {
        const auto axis = n.get_int("axis", 1);
        return {single([axis](V in) { return ops::flatten(need(in, 0), axis); }), "ops::flatten"};
    }
    if (op == "Reshape") {
        const bool az = n.get_int("allowzero", 0) != 0;
        return {single([az](V in) {
                    const auto s = ops::to_int64_vector(need(in, 1), "Reshape", "shape");
                    return ops::reshape(need(in, 0), s, az);
                }),
                "ops::reshape"};
    }
    if (op == "Transpose") {
        const auto perm = n.get_ints("perm", {});
        return {single([perm](V in) { return ops::transpose(need(in, 0), perm); }),
                "ops::transpose"};
    }
    if (op == "Concat") {
        if (!n.has("axis")) bad_attr("attribute 'axis' is required");
        const auto axis = n.get_int("axis", 0);
        return {single([axis](V in) {
                    std::vector<const_tensor_view> v;
                    for (std::size_t i = 0; i < in.size(); ++i)
                        v.push_back(need(in, i));
                    return ops::concat(v, axis);
                }),
                "ops::concat"};
    }
    if (op == "Slice") {
        return {single([](V in) {
                    const auto starts = ops::to_int64_vector(need(in, 1), "Slice", "starts");
                    const auto ends = ops::to_int64_vector(need(in, 2), "Slice", "ends");
                    const auto axes = opt_ints(in, 3, "Slice", "axes");
                    const auto steps = opt_ints(in, 4, "Slice", "steps");
                    return ops::slice(need(in, 0), starts, ends, axes, steps);
                }),
                "ops::slice"};
    }
    if (op == "Squeeze")
        return {single([](V in) {
                    return ops::squeeze(need(in, 0), opt_ints(in, 1, "Squeeze", "axes"));
                }),
                "ops::squeeze"};
    if (op == "Unsqueeze")
        return {single([](V in) {
                    return ops::unsqueeze(need(in, 0),
                                          ops::to_int64_vector(need(in, 1), "Unsqueeze", "axes"));
                }),
                "ops::unsqueeze"};
    if (op == "Gather") {
        const auto axis = n.get_int("axis", 0);
        return {single([axis](V in) { return ops::gather(need(in, 0), need(in, 1), axis); }),
                "ops::gather"};
    }
    if (op == "Shape") {
        const auto start = n.get_int("start", 0);
        const std::optional<std::int64_t> end =
            n.has("end") ? std::optional<std::int64_t>(n.get_int("end", 0)) : std::nullopt;
        return {
            single([start, end](V in) { return ops::shape_of(need(in, 0).dims(), start, end); }),
            "ops::shape_of"};
    }
    if (op == "Expand")
        return {single([](V in) {
                    return ops::expand(need(in, 0),
                                       ops::to_int64_vector(need(in, 1), "Expand", "shape"));
                }),
                "ops::expand"};
    if (op == "ReduceMean") {
        // Opset 18 moved axes to an optional (here: constant) input.
        auto axes = n.get_ints("axes", {});
        if (has_input(n, 1)) {
            if (n.has("axes")) bad_attr("axes given both as attribute and as input");
            const auto av = cst(n, 1);
            if (!av) bad_attr("axes must be a constant input");
            axes = ops::to_int64_vector(*av, "ReduceMean", "axes");
        }
        if (axes.empty() && n.get_int("noop_with_empty_axes", 0) != 0)
            return {single([](V in) { return copy_tensor(need(in, 0)); }), "copy"};
        const bool keep = n.get_int("keepdims", 1) != 0;
        return {single([axes, keep](V in) { return ops::reduce_mean(need(in, 0), axes, keep); }),
                "ops::reduce_mean"};
    }
    if (op == "ConstantOfShape") {
        std::shared_ptr<const tensor> value;
        if (n.has("value")) {
            const auto& a = n.attributes.at("value");
            if (a.type != attribute::kind::t || !a.t || a.t->numel() != 1)
                fail(status::format_error, label + ": 'value' must be a one-element tensor");
            value = a.t;
        }
        const std::string lbl = label;
        return {single([value, lbl](V in) {
                    const auto dims = ops::to_int64_vector(need(in, 0), "ConstantOfShape", "shape");
                    tensor t(value ? value->type() : dtype::f32,
                             shape(std::span<const std::int64_t>(dims)));
                    if (value) {
                        const auto sz = size_of(value->type());
                        auto* dst = static_cast<std::byte*>(t.data());
                        for (std::int64_t k = 0; k < t.numel(); ++k)
                            std::memcpy(dst + k * static_cast<std::int64_t>(sz), value->data(), sz);
                    }
                    return t;
                }),
                "constant of shape"};
    }
    if (is_table_op(n)) {
        const auto& e = op_table::standard_ops().at(op);
        auto k = e.compile(table_context(n));
        return {[k](V in, run_state& st) { return k(in, st.macs); }, e.path};
    }
    fail(status::unsupported, fmt::format("{}: operator is not supported", label));
}

std::vector<std::string> supported_operators() {
    std::set<std::string> all(supported_ops().begin(), supported_ops().end());
    for (const auto& [op, e] : op_table::standard_ops())
        all.insert(op);
    all.insert("If");
    all.insert("com.microsoft.MatMulNBits");
    return {all.begin(), all.end()};
}

executor::executor(const model& m, const executor_options& options)
    : impl_(std::make_unique<impl>()) {
    impl_->options = options;
    impl_->build(m);
}
executor::~executor() = default;
executor::executor(executor&&) noexcept = default;
executor& executor::operator=(executor&&) noexcept = default;

const std::vector<value_info>& executor::inputs() const noexcept { return impl_->inputs; }
const std::vector<value_info>& executor::outputs() const noexcept { return impl_->outputs; }
const std::vector<node_report>& executor::report() const noexcept { return impl_->report; }
double executor::ops_per_sample() const noexcept { return impl_->ops_per_sample.load(); }
bool executor::uses_int8() const noexcept { return impl_->int8; }
std::uint64_t executor::plan_bytes() const noexcept { return impl_->bytes; }
std::uint64_t executor::last_run_allocations() const noexcept { return impl_->last_misses.load(); }
std::uint64_t executor::last_run_reorders() const noexcept { return impl_->last_reorders.load(); }

std::string executor::report_text() const {
    std::string s;
    for (const auto& r : impl_->report)
        s += fmt::format("{} '{}': {}\n", r.op_type, r.node, r.path);
    return s;
}

std::vector<std::string> executor::observable() const {
    std::vector<std::string> names;
    for (const auto& st : impl_->steps)
        for (const auto s : st.out)
            if (s >= 0) names.push_back(impl_->slot_names[static_cast<std::size_t>(s)]);
    return names;
}

std::vector<tensor> executor::run(const_tensor_view input, const observer& observe) const {
    return run(std::span<const const_tensor_view>(&input, 1), observe);
}

std::vector<tensor> executor::run(std::span<const const_tensor_view> given,
                                  const observer& observe) const {
    const auto& p = *impl_;
    if (given.size() != p.inputs.size())
        fail(status::invalid_argument,
             fmt::format("executor::run: {} inputs given, the model has {}", given.size(),
                         p.inputs.size()));
    std::vector<std::optional<const_tensor_view>> view(p.slot_names.size());
    std::vector<std::optional<tensor>> vals(p.slot_names.size());
    for (std::size_t s = 0; s < p.constants.size(); ++s)
        if (p.constants[s]) view[s] = p.constants[s]->view();
    for (std::size_t i = 0; i < given.size(); ++i) {
        const auto& decl = p.inputs[i];
        const auto& v = given[i];
        if (v.type() != decl.type)
            fail(status::dtype_mismatch,
                 fmt::format("executor::run: input '{}' is {}, the model "
                             "declares {}",
                             decl.name, name_of(v.type()), name_of(decl.type)));
        if (decl.has_shape) {
            bool ok = v.rank() == decl.dims.size();
            for (std::size_t d = 0; ok && d < decl.dims.size(); ++d)
                ok = !decl.dims[d].is_static() || decl.dims[d].size == v.dims()[d];
            if (!ok) {
                std::string want;
                for (const auto& d : decl.dims)
                    want += (want.empty() ? "" : ", ") + (d.is_static()
                                                              ? std::to_string(d.size)
                                                              : (d.param.empty() ? "?" : d.param));
                fail(status::shape_mismatch,
                     fmt::format("executor::run: input '{}' has shape {}, the model declares [{}]",
                                 decl.name, v.dims().to_string(), want));
            }
        }
        view[static_cast<std::size_t>(p.input_slots[i])] = v;
    }
    // This run's pool: an idle one (buffers of earlier runs), or a new one.
    std::unique_ptr<tensor_pool> pool;
    {
        std::lock_guard lock(p.pools_mutex);
        if (!p.idle_pools.empty()) {
            pool = std::move(p.idle_pools.back());
            p.idle_pools.pop_back();
        }
    }
    if (!pool) pool = std::make_unique<tensor_pool>();
    pool->misses = 0;
    run_state st;
    struct give_back {
        const impl& p;
        std::unique_ptr<tensor_pool>& pool;
        const std::uint64_t& reorders;
        ~give_back() {
            pool->trim();
            p.last_misses.store(pool->misses);
            p.last_reorders.store(reorders);
            std::lock_guard lock(p.pools_mutex);
            p.idle_pools.push_back(std::move(pool));
        }
    } returning{p, pool, st.reorders};
    std::vector<optional_view> in;
    for (const auto& step : p.steps) {
        in.clear();
        for (const auto s : step.in) {
            if (s < 0) {
                in.emplace_back(std::nullopt);
                continue;
            }
            if (!view[static_cast<std::size_t>(s)])
                fail(status::internal, fmt::format("executor: value '{}' missing before {} '{}'",
                                                   p.slot_names[static_cast<std::size_t>(s)],
                                                   step.op_type, step.name));
            in.emplace_back(*view[static_cast<std::size_t>(s)]);
        }
        std::vector<tensor> outs;
        st.pool = step.pooled ? pool.get() : nullptr;
        try {
            outs = step.fn(in, st);
        } catch (const hone::error& e) {
            fail(e.code(), fmt::format("{} '{}': {}", step.op_type, step.name, e.what()));
        }
        for (std::size_t k = 0; k < step.out.size(); ++k) {
            const auto s = step.out[k];
            if (s < 0) continue;
            if (k >= outs.size())
                fail(status::internal, fmt::format("{} '{}': output {} was not produced",
                                                   step.op_type, step.name, k));
            const auto si = static_cast<std::size_t>(s);
            vals[si] = std::move(outs[k]);
            view[si] = vals[si]->view();
            if (observe && p.slot_nhwc[si]) { // observers see ONNX's NCHW
                const std::int64_t to_nchw[] = {0, 3, 1, 2};
                const auto v = ops::transpose(*view[si], to_nchw);
                observe(p.slot_names[si], v.view());
            } else if (observe) {
                observe(p.slot_names[si], *view[si]);
            }
        }
        for (const auto s : step.release) {
            if (auto& v = vals[static_cast<std::size_t>(s)]) pool->give(std::move(*v));
            vals[static_cast<std::size_t>(s)].reset();
            view[static_cast<std::size_t>(s)].reset();
        }
    }
    std::vector<tensor> result;
    for (const auto s : p.output_slots) {
        const auto si = static_cast<std::size_t>(s);
        if (vals[si])
            result.push_back(std::move(*vals[si]));
        else if (view[si])
            result.push_back(tensor::copy_of(*view[si]));
        else
            fail(status::internal,
                 fmt::format("executor: output '{}' not computed", p.slot_names[si]));
    }
    const double batch =
        !given.empty() && given[0].rank() > 0 ? static_cast<double>(given[0].dims()[0]) : 1.0;
    if (batch > 0) p.ops_per_sample.store(2.0 * st.macs / batch);
    return result;
}

std::map<std::string, tensor> executor::run_observed(std::span<const const_tensor_view> inputs,
                                                     std::span<const std::string> names) const {
    std::set<std::string> wanted(names.begin(), names.end());
    std::map<std::string, tensor> got;
    const auto produced = observable();
    const std::set<std::string> known(produced.begin(), produced.end());
    for (const auto& n : wanted) {
        bool is_output = false;
        for (const auto& o : impl_->outputs)
            is_output |= o.name == n;
        if (!known.count(n) && !is_output)
            fail(status::not_found,
                 fmt::format("executor::run_observed: value '{}' is not produced by this plan "
                             "(unknown, folded to a constant, or fused away: list it in "
                             "executor_options::keep)",
                             n));
    }
    auto outs = run(inputs, [&](const std::string& name, const_tensor_view v) {
        if (wanted.count(name)) got.insert_or_assign(name, tensor::copy_of(v));
    });
    for (std::size_t i = 0; i < impl_->outputs.size(); ++i)
        if (wanted.count(impl_->outputs[i].name) && !got.count(impl_->outputs[i].name))
            got.emplace(impl_->outputs[i].name, std::move(outs[i]));
    return got;
}

// ---- graph_runner ---------------------------------------------------------------------------

graph_runner::graph_runner(const model& m, const executor_options& options, std::string name)
    : exec_(m, options), name_(std::move(name)), bytes_(0) {
    if (exec_.inputs().size() != 1 || exec_.outputs().size() != 1)
        fail(status::invalid_argument,
             fmt::format("graph_runner: the model has {} inputs and {} outputs; one of each is "
                         "needed",
                         exec_.inputs().size(), exec_.outputs().size()));
    if (name_.empty()) name_ = exec_.uses_int8() ? "hone int8" : "hone f32";
    bytes_ = exec_.plan_bytes();
}

tensor graph_runner::run(const_tensor_view inputs) {
    const auto& decl = exec_.inputs()[0];
    if (decl.has_shape && inputs.rank() >= 1 && !decl.dims.empty() &&
        inputs.rank() != decl.dims.size()) {
        std::vector<std::int64_t> dims{inputs.dims()[0]};
        std::int64_t per = 1;
        bool ok = true;
        for (std::size_t d = 1; d < decl.dims.size(); ++d) {
            ok &= decl.dims[d].is_static();
            dims.push_back(decl.dims[d].size);
            per *= decl.dims[d].is_static() ? decl.dims[d].size : 1;
        }
        const auto batch = inputs.dims()[0];
        if (ok && batch > 0 && inputs.numel() == batch * per) {
            std::optional<tensor> keep;
            const auto c = contiguous(inputs, keep);
            const auto v = make_view(c.data(), storage_bytes(c.type(), c.numel()), c.type(),
                                     shape(std::span<const std::int64_t>(dims)));
            return std::move(exec_.run(v).at(0));
        }
    }
    return std::move(exec_.run(inputs).at(0));
}

runner::work graph_runner::work_per_sample() const {
    return {exec_.ops_per_sample(), exec_.uses_int8()};
}

} // namespace hone
