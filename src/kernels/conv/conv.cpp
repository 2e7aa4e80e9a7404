// hone::kernels::conv2d: weights reordered once, one oneDNN convolution per input shape and
// layouts, src / dst / addend reordered between the caller's layout (NCHW or NHWC) and oneDNN's
// preferred one per call when they differ (into per-thread buffers reused call after call: no
// allocation per call).
#include "hone/kernels/conv.hpp"

#include "hone/kernels/quantize.hpp"

#include "../gemm/int8.hpp"
#include "../gemm/onednn.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

namespace hone::kernels {

using namespace onednn;

namespace {
dnnl::algorithm algorithm_of(conv_activation a) {
    using alg = dnnl::algorithm;
    switch (a) {
    case conv_activation::relu: return alg::eltwise_relu;
    case conv_activation::clip: return alg::eltwise_clip;
    case conv_activation::linear: return alg::eltwise_linear;
    case conv_activation::hardswish: return alg::eltwise_hardswish;
    case conv_activation::logistic: return alg::eltwise_logistic;
    case conv_activation::swish: return alg::eltwise_swish;
    case conv_activation::tanh: return alg::eltwise_tanh;
    case conv_activation::gelu_erf: return alg::eltwise_gelu_erf;
    case conv_activation::gelu_tanh: return alg::eltwise_gelu_tanh;
    }
    fail(status::invalid_argument, fmt::format("conv2d: post-op kind {} is not one of "
                                               "conv_activation's",
                                               int(a)));
}
} // namespace

struct conv2d::impl {
    struct entry {
        dnnl::convolution_forward prim;
        dnnl::memory::desc user_src, user_dst, user_addend, src, dst, scratch, scratch_hi,
            scratch_to_src, scratch_from_dst;
        dnnl::memory weights;
        std::optional<dnnl::convolution_forward> prim_hi; // split: the 64·w_hi part, summed
        dnnl::memory weights_hi;
        std::optional<dnnl::reorder> to_src, from_dst; // absent when NCHW is what it wants
        std::optional<dnnl::reorder> to_dst;           // params.sum: the addend into dst's layout
        dnnl::memory::desc scratch_to_dst;
        std::string name;
    };
    // threads, N, H, W, layouts (src, dst, addend)
    using key = std::tuple<int, std::int64_t, std::int64_t, std::int64_t, int>;

    conv2d_params p;
    bool int8 = false;
    bool split = false; // int8 weights split as w = 64·w_hi + w_lo (no 16-bit saturation)
    // dst quantized (params.dst_type u8/i8) by the primitive itself; with split weights the
    // halves are summed in f32 and quantized after them instead.
    bool quantized_dst = false;
    std::vector<float> w_scales, bias, bias_fused, out_scales, out_scales_hi;
    mutable std::mutex mutex;
    mutable std::vector<dnnl::memory> weights, weights_hi; // reordered copies, one per layout
    mutable std::map<key, std::shared_ptr<const entry>> cache;

    dims weight_dims() const {
        const auto g = p.groups;
        if (g == 1) return {p.out_channels, p.in_channels, p.kernel_h, p.kernel_w};
        return {g, p.out_channels / g, p.in_channels / g, p.kernel_h, p.kernel_w};
    }

    std::int64_t out_extent(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d,
                            std::int64_t lo, std::int64_t hi) const {
        const std::int64_t span = d * (k - 1) + 1;
        const std::int64_t padded = in + lo + hi;
        return padded < span ? 0 : (padded - span) / s + 1;
    }

    shape out_shape(const shape& src) const {
        if (src.rank() != 4 || src[1] != p.in_channels)
            fail(status::shape_mismatch,
                 fmt::format("conv2d: src is {} but the layer expects [N, {}, H, W]",
                             src.to_string(), p.in_channels));
        const auto oh =
            out_extent(src[2], p.kernel_h, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom);
        const auto ow =
            out_extent(src[3], p.kernel_w, p.stride_w, p.dilation_w, p.pad_left, p.pad_right);
        if (oh == 0 || ow == 0)
            fail(status::shape_mismatch,
                 fmt::format("conv2d: src {} is smaller than the dilated kernel {}×{} with its "
                             "padding: the output would be empty",
                             src.to_string(), p.dilation_h * (p.kernel_h - 1) + 1,
                             p.dilation_w * (p.kernel_w - 1) + 1));
        return shape{src[0], p.out_channels, oh, ow};
    }

    // part 0: the whole product (or w_lo when split); part 1: 64·w_hi, summed into dst.
    dnnl::convolution_forward::primitive_desc make_pd(const shape& in, const shape& out,
                                                      int part = 0) const {
        const auto creating = creation_lock();
        const dt src_type = int8 ? dt::u8 : dt::f32;
        const auto src = dnnl::memory::desc({in[0], in[1], in[2], in[3]}, src_type, tag::any);
        const auto dst =
            dnnl::memory::desc({out[0], out[1], out[2], out[3]}, primitive_dst_type(), tag::any);
        const auto wei = dnnl::memory::desc(weight_dims(), int8 ? dt::s8 : dt::f32, tag::any);
        dnnl::primitive_attr attr = base_attr();
        dnnl::post_ops ops;
        if (part == 1 || p.sum) ops.append_sum(1.0f); // split int8 has no addend (checked)
        if (!split || part == 1) {                    // split: after the second half's sum
            if (p.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0, 0);
            for (const auto& e : p.post_ops)
                ops.append_eltwise(1.0f, algorithm_of(e.kind), e.alpha, e.beta);
        }
        attr.set_post_ops(ops);
        if (int8) {
            attr.set_output_scales(1 << 1, part == 1 ? out_scales_hi : out_scales);
            if (p.act_zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {p.act_zero_point});
            if (quantized_dst && !split && p.dst_zero_point != 0)
                attr.set_zero_points(DNNL_ARG_DST, 0, {p.dst_zero_point});
        }
        const dims strides{p.stride_h, p.stride_w}, dil{p.dilation_h - 1, p.dilation_w - 1},
            lo{p.pad_top, p.pad_left}, hi{p.pad_bottom, p.pad_right};
        const auto kind = dnnl::prop_kind::forward_inference;
        const auto alg = dnnl::algorithm::convolution_direct;
        const auto d =
            bias.empty() || part == 1
                ? dnnl::convolution_forward::desc(kind, alg, src, wei, dst, strides, dil, lo, hi)
                : dnnl::convolution_forward::desc(kind, alg, src, wei,
                                                  plain({p.out_channels}, dt::f32), dst, strides,
                                                  dil, lo, hi);
        return dnnl::convolution_forward::primitive_desc(d, attr, engine());
    }

    static dnnl::memory weights_for(std::vector<dnnl::memory>& list,
                                    const dnnl::memory::desc& want) {
        for (const auto& w : list)
            if (w.get_desc() == want) return w;
        dnnl::memory copy(want, engine());
        reorder_now(list.front(), copy);
        list.push_back(copy);
        return copy;
    }

    static tag tag_of(conv_layout l) { return l == conv_layout::nhwc ? tag::nhwc : tag::nchw; }

    // What the primitive writes: the quantized type, or f32 (then quantized after it when split).
    dt primitive_dst_type() const {
        if (!quantized_dst || split) return dt::f32;
        return p.dst_type == dtype::u8 ? dt::u8 : dt::s8;
    }

    // The primitives for `in` ([N, C, H, W]) at `threads` oneDNN threads (what sync_threads()
    // returned), for tensors in `layouts`.
    std::shared_ptr<const entry> get(int threads, const shape& in,
                                     const conv_layouts& layouts) const {
        const int lk = int(layouts.src) | int(layouts.dst) << 1 | int(layouts.addend) << 2;
        const key k{threads, in[0], in[2], in[3], lk};
        {
            std::lock_guard lock(mutex);
            if (auto it = cache.find(k); it != cache.end()) return it->second;
        }
        const auto creating = creation_lock();
        {
            std::lock_guard lock(mutex);
            if (auto it = cache.find(k); it != cache.end()) return it->second; // made meanwhile
        }
        const shape out = out_shape(in);
        auto e = std::make_shared<entry>();
        call("conv2d: creating the oneDNN convolution", [&] {
            const auto pd = make_pd(in, out);
            e->prim = dnnl::convolution_forward(pd);
            e->src = pd.src_desc();
            e->dst = pd.dst_desc();
            e->scratch = pd.scratchpad_desc();
            e->user_src = dnnl::memory::desc({in[0], in[1], in[2], in[3]}, int8 ? dt::u8 : dt::f32,
                                             tag_of(layouts.src));
            e->user_dst = dnnl::memory::desc({out[0], out[1], out[2], out[3]}, primitive_dst_type(),
                                             tag_of(layouts.dst));
            e->user_addend = dnnl::memory::desc({out[0], out[1], out[2], out[3]}, dt::f32,
                                                tag_of(layouts.addend));
            if (e->src != e->user_src) {
                const dnnl::reorder::primitive_desc r(engine(), e->user_src, engine(), e->src,
                                                      base_attr());
                e->to_src = dnnl::reorder(r);
                e->scratch_to_src = r.scratchpad_desc();
            }
            if (e->dst != e->user_dst) {
                const dnnl::reorder::primitive_desc r(engine(), e->dst, engine(), e->user_dst,
                                                      base_attr());
                e->from_dst = dnnl::reorder(r);
                e->scratch_from_dst = r.scratchpad_desc();
            }
            if (p.sum && e->user_addend != e->dst) {
                const dnnl::reorder::primitive_desc back(engine(), e->user_addend, engine(), e->dst,
                                                         base_attr());
                e->to_dst = dnnl::reorder(back);
                e->scratch_to_dst = back.scratchpad_desc();
            }
            e->name = pd.impl_info_str();
            std::optional<dnnl::convolution_forward::primitive_desc> hi;
            if (split) {
                hi = make_pd(in, out, 1);
                if (hi->src_desc() != e->src || hi->dst_desc() != e->dst)
                    fail(status::internal, "conv2d: the two halves of a split int8 convolution "
                                           "chose different layouts");
                e->prim_hi = dnnl::convolution_forward(*hi);
                e->scratch_hi = hi->scratchpad_desc();
            }
            std::lock_guard lock(mutex);
            e->weights = weights_for(weights, pd.weights_desc());
            if (hi) e->weights_hi = weights_for(weights_hi, hi->weights_desc());
        });
        std::lock_guard lock(mutex);
        if (cache.size() >= 64) cache.clear();
        return cache.emplace(k, std::move(e)).first->second;
    }

    void load_weights(const void* data, dt type, int part = 0) {
        // Any plausible input shape gives the weights layout to start from.
        const shape in{1, p.in_channels, p.dilation_h * (p.kernel_h - 1) + 1,
                       p.dilation_w * (p.kernel_w - 1) + 1};
        call("conv2d: preparing weights", [&] {
            const auto pd = make_pd(in, out_shape(in), part);
            const auto tag_user = p.groups == 1 ? tag::oihw : tag::goihw;
            dnnl::memory user({weight_dims(), type, tag_user}, engine(), const_cast<void*>(data));
            dnnl::memory packed(pd.weights_desc(), engine());
            reorder_now(user, packed);
            (part == 1 ? weights_hi : weights).push_back(packed);
        });
    }

    void run(const void* src, const shape& in, void* dst, const float* addend,
             const conv_layouts& layouts) const {
        // A small convolution runs on the calling thread alone: below this many multiply-adds,
        // waking and joining oneDNN's other threads costs more than they save.
        const double macs =
            static_cast<double>(in[0]) * static_cast<double>(in[2]) * static_cast<double>(in[3]) *
            static_cast<double>(p.out_channels) *
            static_cast<double>(p.in_channels / p.groups * p.kernel_h * p.kernel_w) /
            static_cast<double>(p.stride_h * p.stride_w);
        // (Measured on the corpus' mobilenets at batch 1, 2 threads: 0.51 -> 0.30 ms for
        // mobilenet_v3_small with 2^20; larger limits start to slow batch 64 down.)
        constexpr double one_thread_below = 1 << 20;
        std::optional<single_thread_scope> one_thread;
        if (macs < one_thread_below) one_thread.emplace();
        const auto e = get(sync_threads(), in, layouts);
        void* const result = dst; // split + quantized: the f32 sum first, quantized below
        if (quantized_dst && split) dst = thread_buffer(e->user_dst.get_size(), 4);
        call("conv2d::run", [&] {
            sync_threads();
            auto& s = stream();
            dnnl::memory user_src(e->user_src, engine(), const_cast<void*>(src));
            dnnl::memory user_dst(e->user_dst, engine(), dst);
            dnnl::memory src_mem = user_src, dst_mem = user_dst;
            if (e->to_src) {
                src_mem = buffer_for(e->src, 1);
                e->to_src->execute(s, {{DNNL_ARG_FROM, user_src},
                                       {DNNL_ARG_TO, src_mem},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad_for(e->scratch_to_src)}});
            }
            if (e->from_dst) dst_mem = buffer_for(e->dst, 2);
            if (addend) { // the sum post-op adds what dst holds
                dnnl::memory user_addend(e->user_addend, engine(), const_cast<float*>(addend));
                if (e->to_dst)
                    e->to_dst->execute(s,
                                       {{DNNL_ARG_FROM, user_addend},
                                        {DNNL_ARG_TO, dst_mem},
                                        {DNNL_ARG_SCRATCHPAD, scratchpad_for(e->scratch_to_dst)}});
                else if (addend != dst_mem.get_data_handle())
                    std::memcpy(dst_mem.get_data_handle(), addend, e->dst.get_size());
            }
            std::unordered_map<int, dnnl::memory> args{
                {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, e->weights}, {DNNL_ARG_DST, dst_mem}};
            const auto& b = int8 ? bias_fused : bias;
            if (!b.empty())
                args.emplace(DNNL_ARG_BIAS, dnnl::memory(plain({p.out_channels}, dt::f32), engine(),
                                                         const_cast<float*>(b.data())));
            args[DNNL_ARG_SCRATCHPAD] = scratchpad_for(e->scratch);
            e->prim.execute(s, args);
            if (e->prim_hi) {
                args.erase(DNNL_ARG_BIAS);
                args[DNNL_ARG_WEIGHTS] = e->weights_hi;
                args[DNNL_ARG_SCRATCHPAD] = scratchpad_for(e->scratch_hi);
                e->prim_hi->execute(s, args);
            }
            if (e->from_dst)
                e->from_dst->execute(s,
                                     {{DNNL_ARG_FROM, dst_mem},
                                      {DNNL_ARG_TO, user_dst},
                                      {DNNL_ARG_SCRATCHPAD, scratchpad_for(e->scratch_from_dst)}});
            s.wait();
        });
        if (quantized_dst && split) {
            const std::span<const float> f(static_cast<const float*>(dst),
                                           e->user_dst.get_size() / sizeof(float));
            if (p.dst_type == dtype::u8)
                quantize(f, p.dst_scale, p.dst_zero_point,
                         std::span<std::uint8_t>(static_cast<std::uint8_t*>(result), f.size()));
            else
                quantize(f, p.dst_scale, p.dst_zero_point,
                         std::span<std::int8_t>(static_cast<std::int8_t*>(result), f.size()));
        }
    }
};

namespace {

void check_params(const conv2d_params& p) {
    auto positive = [](std::int64_t v, const char* name) {
        if (v < 1)
            fail(status::invalid_argument,
                 fmt::format("conv2d: params.{} = {} must be ≥ 1", name, v));
    };
    positive(p.in_channels, "in_channels");
    positive(p.out_channels, "out_channels");
    positive(p.kernel_h, "kernel_h");
    positive(p.kernel_w, "kernel_w");
    positive(p.stride_h, "stride_h");
    positive(p.stride_w, "stride_w");
    positive(p.dilation_h, "dilation_h");
    positive(p.dilation_w, "dilation_w");
    positive(p.groups, "groups");
    for (auto [v, name] : {std::pair{p.pad_top, "pad_top"},
                           {p.pad_left, "pad_left"},
                           {p.pad_bottom, "pad_bottom"},
                           {p.pad_right, "pad_right"}})
        if (v < 0)
            fail(status::invalid_argument,
                 fmt::format("conv2d: params.{} = {} is negative", name, v));
    if (p.in_channels % p.groups || p.out_channels % p.groups)
        fail(status::invalid_argument,
             fmt::format("conv2d: groups = {} must divide in_channels = {} and out_channels = {}",
                         p.groups, p.in_channels, p.out_channels));
    std::int64_t per_output = 0, total = 0; // C/g·KH·KW, then ·OC, checked for overflow
    if (__builtin_mul_overflow(p.in_channels / p.groups, p.kernel_h, &per_output) ||
        __builtin_mul_overflow(per_output, p.kernel_w, &per_output) ||
        __builtin_mul_overflow(per_output, p.out_channels, &total) ||
        total > (std::int64_t(1) << 40))
        fail(status::invalid_argument,
             fmt::format("conv2d: params describe more than 2^40 weights ({} × {}/{} × {} × {})",
                         p.out_channels, p.in_channels, p.groups, p.kernel_h, p.kernel_w));
    for (const auto& e : p.post_ops) {
        algorithm_of(e.kind); // a valid kind
        if (!std::isfinite(e.alpha) || !std::isfinite(e.beta))
            fail(status::invalid_argument,
                 fmt::format("conv2d: post-op alpha {} / beta {} must be finite", e.alpha, e.beta));
        if (e.kind == conv_activation::clip && e.alpha > e.beta)
            fail(status::invalid_argument,
                 fmt::format("conv2d: clip post-op bounds [{}, {}] are reversed", e.alpha, e.beta));
    }
    if (p.sum && p.type != gemm_type::f32)
        fail(status::unsupported, "conv2d: params.sum (an addend) is supported for f32 only");
    if (p.dst_type != dtype::f32) {
        if (p.type != gemm_type::int8 || (p.dst_type != dtype::u8 && p.dst_type != dtype::i8))
            fail(status::unsupported,
                 fmt::format("conv2d: params.dst_type {} needs an int8 convolution and u8 or i8",
                             name_of(p.dst_type)));
        if (!p.post_ops.empty())
            fail(status::unsupported, "conv2d: a quantized dst_type takes no post_ops (only relu)");
        if (!(p.dst_scale > 0.0f) || !std::isfinite(p.dst_scale))
            fail(status::invalid_argument,
                 fmt::format("conv2d: params.dst_scale = {} must be finite and > 0", p.dst_scale));
        const auto lo = p.dst_type == dtype::u8 ? 0 : -128, hi = lo + 255;
        if (p.dst_zero_point < lo || p.dst_zero_point > hi)
            fail(status::invalid_argument,
                 fmt::format("conv2d: params.dst_zero_point = {} is outside [{}, {}] ({})",
                             p.dst_zero_point, lo, hi, name_of(p.dst_type)));
    }
    if (p.type != gemm_type::f32 && p.type != gemm_type::int8)
        fail(status::unsupported,
             fmt::format("conv2d: params.type {} is not f32 or int8", int(p.type)));
    constexpr std::int64_t max_int8_k = std::numeric_limits<std::int32_t>::max() / (255 * 128);
    if (p.type == gemm_type::int8 && per_output > max_int8_k)
        fail(status::unsupported,
             fmt::format("conv2d: int8 sums over C/groups·KH·KW = {} could overflow s32 (at most "
                         "{})",
                         per_output, max_int8_k));
    if (p.type == gemm_type::int8) {
        if (!(p.act_scale > 0.0f) || !std::isfinite(p.act_scale))
            fail(status::invalid_argument,
                 fmt::format("conv2d: params.act_scale = {} must be finite and > 0", p.act_scale));
        if (p.act_zero_point < 0 || p.act_zero_point > 255)
            fail(status::invalid_argument,
                 fmt::format("conv2d: params.act_zero_point = {} is outside [0, 255] (u8)",
                             p.act_zero_point));
    }
}

std::int64_t weight_count(const conv2d_params& p) {
    return p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
}

void check_size(std::size_t got, std::int64_t want, const char* what) {
    if (got != std::size_t(want))
        fail(status::shape_mismatch,
             fmt::format("conv2d: {} has {} elements, expected {}", what, got, want));
}

std::unique_ptr<conv2d::impl> make_impl(const conv2d_params& p, std::size_t weights,
                                        std::span<const float> bias) {
    check_params(p);
    check_size(weights, weight_count(p), "weights ([OC, C/groups, KH, KW])");
    if (!bias.empty()) check_size(bias.size(), p.out_channels, "bias (OC values)");
    auto d = std::make_unique<conv2d::impl>();
    d->p = p;
    d->int8 = p.type == gemm_type::int8;
    d->bias.assign(bias.begin(), bias.end());
    return d;
}

void setup_int8(conv2d::impl& d, const std::int8_t* q, std::size_t count) {
    d.out_scales.resize(d.w_scales.size());
    d.out_scales_hi.resize(d.w_scales.size());
    for (std::size_t j = 0; j < d.w_scales.size(); ++j) {
        d.out_scales[j] = d.p.act_scale * d.w_scales[j];
        d.out_scales_hi[j] = 64.0f * d.out_scales[j]; // exact: a power of two
    }
    d.bias_fused.resize(d.bias.size());
    for (std::size_t j = 0; j < d.bias.size(); ++j)
        d.bias_fused[j] = d.bias[j] / d.out_scales[j]; // oneDNN 2.x adds the bias before scaling
    d.split = int8_pairs_saturate() &&
              std::any_of(q, q + count, [](std::int8_t v) { return v > 64 || v < -64; });
    d.quantized_dst = d.p.dst_type != dtype::f32;
    if (d.quantized_dst && !d.split) // (acc + bias_fused) · out_scale / dst_scale, one multiply
        for (auto& s : d.out_scales)
            s /= d.p.dst_scale;
    if (!d.split) return d.load_weights(q, dt::s8);
    // w = 64·hi + lo with lo = w & 63 in [0, 63] and hi = w >> 6 in [-2, 1].
    std::vector<std::int8_t> lo(count), hi(count);
    for (std::size_t i = 0; i < count; ++i) {
        lo[i] = std::int8_t(q[i] & 63);
        hi[i] = std::int8_t((q[i] - lo[i]) / 64);
    }
    d.load_weights(lo.data(), dt::s8, 0);
    d.load_weights(hi.data(), dt::s8, 1);
}

} // namespace

conv2d::conv2d(const conv2d_params& params, std::span<const float> weights,
               std::span<const float> bias)
    : impl_(make_impl(params, weights.size(), bias)) {
    auto& d = *impl_;
    if (!d.int8) {
        d.load_weights(weights.data(), dt::f32);
        return;
    }
    const std::int64_t per_channel = weight_count(params) / params.out_channels;
    auto q =
        detail::quantize_weights(weights, per_channel, params.out_channels, weight_layout::n_by_k);
    d.w_scales = std::move(q.scales);
    setup_int8(d, q.q.data(), q.q.size());
}

conv2d::conv2d(const conv2d_params& params, std::span<const std::int8_t> weights,
               std::span<const float> weight_scales, std::span<const float> bias)
    : impl_(make_impl(params, weights.size(), bias)) {
    auto& d = *impl_;
    if (!d.int8)
        fail(status::dtype_mismatch,
             "conv2d: int8 weights given but params.type is not gemm_type::int8");
    check_size(weight_scales.size(), params.out_channels, "weight_scales (OC values)");
    for (std::size_t j = 0; j < weight_scales.size(); ++j)
        if (!(weight_scales[j] > 0.0f) || !std::isfinite(weight_scales[j]))
            fail(status::invalid_argument,
                 fmt::format("conv2d: weight_scales[{}] = {} must be finite and > 0", j,
                             weight_scales[j]));
    d.w_scales.assign(weight_scales.begin(), weight_scales.end());
    setup_int8(d, weights.data(), weights.size());
}

conv2d::~conv2d() = default;
conv2d::conv2d(conv2d&&) noexcept = default;
conv2d& conv2d::operator=(conv2d&&) noexcept = default;

const conv2d_params& conv2d::params() const noexcept { return impl_->p; }
std::span<const float> conv2d::weight_scales() const noexcept { return impl_->w_scales; }
shape conv2d::output_shape(const shape& src) const { return impl_->out_shape(src); }

bool conv2d::splits_weights() const noexcept { return impl_->split; }

std::size_t conv2d::cached_shapes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->cache.size();
}

std::string conv2d::implementation(const shape& src) const {
    impl_->out_shape(src);
    return impl_->get(onednn::sync_threads(), src, {})->name;
}

int conv2d::reorders(const shape& src, const conv_layouts& layouts) const {
    impl_->out_shape(src);
    const auto e = impl_->get(onednn::sync_threads(), src, layouts);
    return int(bool(e->to_src)) + int(bool(e->from_dst)) + int(bool(e->to_dst));
}

void conv2d::run(const_tensor_view src, tensor_view dst) const { run(src, dst, conv_layouts{}); }

void conv2d::run(const_tensor_view src, tensor_view dst, const conv_layouts& layouts) const {
    if (impl_->p.sum)
        fail(status::invalid_argument, "conv2d::run: params.sum is set: pass the addend");
    run_checked(src, dst, nullptr, layouts);
}

void conv2d::run(const_tensor_view src, tensor_view dst, const_tensor_view addend) const {
    run(src, dst, addend, conv_layouts{});
}

namespace {
// [N, C, H, W] of an NHWC view's dims [N, H, W, C] (others as they are).
shape logical(const shape& s, conv_layout l) {
    if (l != conv_layout::nhwc || s.rank() != 4) return s;
    return shape{s[0], s[3], s[1], s[2]};
}
shape physical(const shape& s, conv_layout l) {
    if (l != conv_layout::nhwc || s.rank() != 4) return s;
    return shape{s[0], s[2], s[3], s[1]};
}
} // namespace

void conv2d::run(const_tensor_view src, tensor_view dst, const_tensor_view addend,
                 const conv_layouts& layouts) const {
    if (!impl_->p.sum) fail(status::invalid_argument, "conv2d::run: an addend needs params.sum");
    if (addend.data() == dst.data() && layouts.addend != layouts.dst)
        fail(status::invalid_argument, "conv2d::run: an addend that is dst itself must have "
                                       "dst's layout");
    if (addend.type() != dtype::f32 ||
        !(logical(addend.dims(), layouts.addend) == logical(dst.dims(), layouts.dst)) ||
        !addend.is_contiguous())
        fail(status::shape_mismatch,
             fmt::format("conv2d::run: the addend is {} {}; f32 {} contiguous expected",
                         name_of(addend.type()), addend.dims().to_string(),
                         dst.dims().to_string()));
    if (addend.numel() > 0 && addend.data() == nullptr)
        fail(status::invalid_argument, "conv2d::run: addend data is null");
    run_checked(src, dst, static_cast<const float*>(addend.data()), layouts);
}

void conv2d::run_checked(const_tensor_view src, tensor_view dst, const float* addend,
                         const conv_layouts& layouts) const {
    const auto& d = *impl_;
    const bool u8_ok = d.int8;
    if (src.type() != dtype::f32 && !(u8_ok && src.type() == dtype::u8))
        fail(status::dtype_mismatch, fmt::format("conv2d::run: src is {}; expected f32{}",
                                                 name_of(src.type()), u8_ok ? " or u8" : ""));
    if (dst.type() != d.p.dst_type)
        fail(status::dtype_mismatch, fmt::format("conv2d::run: dst is {}; expected {}",
                                                 name_of(dst.type()), name_of(d.p.dst_type)));
    const shape in = logical(src.dims(), layouts.src);
    const shape out = physical(d.out_shape(in), layouts.dst);
    if (!(dst.dims() == out))
        fail(status::shape_mismatch,
             fmt::format("conv2d::run: dst is {} but src {} gives {}{}", dst.dims().to_string(),
                         src.dims().to_string(), out.to_string(),
                         layouts.dst == conv_layout::nhwc ? " (NHWC)" : ""));
    if (!src.is_contiguous() || !dst.is_contiguous())
        fail(status::invalid_argument, "conv2d::run: src and dst must be contiguous");
    if (src.numel() == 0) return;
    if (src.data() == nullptr || dst.data() == nullptr)
        fail(status::invalid_argument, "conv2d::run: src or dst data is null");
    if (!d.int8 || src.type() == dtype::u8)
        return d.run(src.data(), in, dst.data(), addend, layouts);
    const auto count = static_cast<std::size_t>(src.numel());
    auto* q = static_cast<std::uint8_t*>(thread_buffer(count, 3)); // reused call after call
    quantize(src.span<float>(), d.p.act_scale, d.p.act_zero_point,
             std::span<std::uint8_t>(q, count));
    d.run(q, in, dst.data(), nullptr, layouts);
}

} // namespace hone::kernels
