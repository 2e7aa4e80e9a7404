// hone::kernels::linear: weights prepared and reordered once, one oneDNN primitive per M.
//
// Paths:
//  - f32 / bf16: src (f32, or bf16-rounded) × reordered weights, bias and ReLU fused.
//  - int8, static activations: everything fused into one u8·s8 primitive whose output scales
//    s_a·s_w[n] and source zero point are fixed at creation (the fast kernels need that); the
//    bias is passed as bias[n] / (s_a·s_w[n]) because oneDNN 2.x adds it before the scale.
//  - int8 on a CPU whose oneDNN kernels saturate pairs of u8·s8 products in 16 bits (no VNNI),
//    with weights beyond ±64 and params.exact: activations are split into their low 7 bits
//    and their top bit, two s32 products are run and combined (acc = lo + 128·hi), then the
//    same rescale pass as the dynamic path.
//  - int8 with reduce_range: 7-bit activations (0..127) cannot saturate a pair, so no split.
//  - int8, dynamic activations: the per-call (or per-row) scale cannot be a fixed output scale,
//    so the primitive writes exact s32 accumulators (no zero point, no scale) straight into dst
//    and one pass rescales them in place: s_a·s_w[n]·(acc − z_a·Σ_k q_w[n,k]) + bias[n].
#include "hone/kernels/gemm.hpp"

#include "hone/kernels/convert.hpp"

#include "check.hpp"
#include "int8.hpp"
#include "onednn.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

namespace hone::kernels {

using namespace onednn;

namespace {

// Per-thread scratch of the int8 path, reused from call to call (no allocation per call once
// the largest M has been seen); trimmed when a call needed more than max_kept bytes.
struct scratch {
    std::vector<std::uint8_t> q, part;
    std::vector<float> scales;
    std::vector<std::int32_t> zero_points, high;

    static constexpr std::size_t max_kept = std::size_t(16) << 20;
    void trim() {
        if (q.capacity() + part.capacity() + 4 * high.capacity() > max_kept) *this = scratch{};
    }
};

scratch& local_scratch() {
    thread_local scratch s;
    return s;
}

template <class T> void grow(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
}

// reduce_range: u8 src must already lie on the 0..127 grid.
void check_reduced_u8(const void* src, std::size_t count) {
    const auto* u = static_cast<const std::uint8_t*>(src);
    std::uint8_t any = 0;
    for (std::size_t i = 0; i < count; ++i)
        any |= u[i];
    if (!(any & 0x80)) return;
    const auto at =
        std::size_t(std::find_if(u, u + count, [](std::uint8_t v) { return v > 127; }) - u);
    fail(status::invalid_argument,
         fmt::format("linear::run: src[{}] = {} is above 127, but params.reduce_range asks for "
                     "7-bit activations (0..127)",
                     at, int(u[at])));
}

} // namespace

struct linear::impl {
    struct entry {
        dnnl::matmul prim;
        dnnl::memory::desc src, dst, scratch;
        dnnl::memory weights; // in the layout this primitive wants
        std::string name;
    };

    linear_params p;
    dt src_type = dt::f32, wei_type = dt::f32, dst_type = dt::f32;
    bool fused_int8 = false;     // static int8: scales, zero point, bias inside oneDNN
    bool emulate_bf16 = false;   // bf16 operands rounded by hone, f32 kernel
    bool split = false;          // int8 activations split into low 7 bits + top bit
    std::vector<float> w_scales; // int8
    std::vector<std::int32_t> colsum;
    std::vector<float> bias;       // as given
    std::vector<float> bias_fused; // static int8: bias / (s_a·s_w)
    std::vector<float> out_scales; // static int8: s_a·s_w

    mutable std::mutex mutex;
    // int8: the weights as given, in their plain layout. oneDNN cannot reorder between two
    // blocked int8 layouts (those with zero-point compensation), so another layout (another M or
    // thread count) is made from this copy; f32 and bf16 reorder from the first packed copy.
    dnnl::memory plain_weights;
    mutable std::vector<dnnl::memory> weights; // reordered copies, one per layout wanted
    // (oneDNN thread count, M) → primitive
    mutable std::map<std::pair<int, std::int64_t>, std::shared_ptr<const entry>> cache;

    static constexpr std::size_t max_cached = 64;

    dnnl::memory::desc user_weights_desc(dt type) const {
        return dnnl::memory::desc({p.k, p.n}, type,
                                  p.layout == weight_layout::k_by_n ? tag::ab : tag::ba);
    }

    dnnl::matmul::primitive_desc make_pd(std::int64_t m) const {
        const auto creating = creation_lock();
        const auto src = plain({m, p.k}, src_type);
        const auto wei = dnnl::memory::desc({p.k, p.n}, wei_type, tag::any);
        const auto dst = plain({m, p.n}, dst_type);
        dnnl::primitive_attr attr = base_attr();
        dnnl::post_ops ops;
        if (p.relu && dst_type == dt::f32)
            ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0, 0);
        attr.set_post_ops(ops);
        const bool with_bias = !bias.empty() && dst_type == dt::f32;
        if (fused_int8) {
            attr.set_output_scales(1 << 1, out_scales);
            if (p.act_zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {p.act_zero_point});
        }
        const auto d = with_bias ? dnnl::matmul::desc(src, wei, plain({1, p.n}, dt::f32), dst)
                                 : dnnl::matmul::desc(src, wei, dst);
        return dnnl::matmul::primitive_desc(d, attr, engine());
    }

    // The weights in `want`, reordered from the plain int8 copy or the first one (under the
    // mutex).
    dnnl::memory weights_for(const dnnl::memory::desc& want) const {
        for (const auto& w : weights)
            if (w.get_desc() == want) return w;
        dnnl::memory copy(want, engine());
        dnnl::memory from = plain_weights ? plain_weights : weights.front(); // a handle
        reorder_now(from, copy);
        weights.push_back(copy);
        return copy;
    }

    // The primitive for M rows at `threads` oneDNN threads (what sync_threads() returned).
    std::shared_ptr<const entry> get(int threads, std::int64_t m) const {
        const auto key = std::make_pair(threads, m);
        {
            std::lock_guard lock(mutex);
            if (auto it = cache.find(key); it != cache.end()) return it->second;
        }
        const auto creating = creation_lock();
        {
            std::lock_guard lock(mutex);
            if (auto it = cache.find(key); it != cache.end()) return it->second; // made meanwhile
        }
        auto made = std::make_shared<entry>();
        const auto pd = call("linear: creating the oneDNN matmul", [&] { return make_pd(m); });
        made->prim = dnnl::matmul(pd);
        made->src = pd.src_desc();
        made->dst = pd.dst_desc();
        made->scratch = pd.scratchpad_desc();
        made->name = pd.impl_info_str();
        std::lock_guard lock(mutex);
        made->weights =
            call("linear: reordering weights", [&] { return weights_for(pd.weights_desc()); });
        if (cache.size() >= max_cached) cache.clear();
        return cache.emplace(key, std::move(made)).first->second;
    }

    // First reorder: from the user's plain layout (data in `plain_data`) into what M =
    // p.first_rows wants.
    void load_weights(const void* plain_data, dt type) {
        wei_type = type;
        auto pd = call("linear: creating the oneDNN matmul",
                       [&] { return make_pd(std::max<std::int64_t>(p.first_rows, 1)); });
        dnnl::memory user(user_weights_desc(type), engine(), const_cast<void*>(plain_data));
        if (type == dt::s8) {
            plain_weights = dnnl::memory(user.get_desc(), engine());
            std::memcpy(plain_weights.get_data_handle(), plain_data, user.get_desc().get_size());
        }
        dnnl::memory packed(pd.weights_desc(), engine());
        call("linear: reordering weights", [&] { reorder_now(user, packed); });
        weights.push_back(packed);
    }

    void execute(const void* src, float* dst, std::int64_t m) const {
        const auto e = get(sync_threads(), m);
        call("linear::run", [&] {
            sync_threads();
            dnnl::memory s(e->src, engine(), const_cast<void*>(src));
            dnnl::memory d(e->dst, engine(), dst);
            std::unordered_map<int, dnnl::memory> args{
                {DNNL_ARG_SRC, s},
                {DNNL_ARG_WEIGHTS, e->weights},
                {DNNL_ARG_DST, d},
                {DNNL_ARG_SCRATCHPAD, scratchpad_for(e->scratch)}};
            const auto& b = fused_int8 ? bias_fused : bias;
            if (!b.empty() && dst_type == dt::f32)
                args.emplace(DNNL_ARG_BIAS, dnnl::memory(plain({1, p.n}, dt::f32), engine(),
                                                         const_cast<float*>(b.data())));
            e->prim.execute(stream(), args);
            stream().wait();
        });
    }

    void run(const void* src, dtype src_dtype, float* dst, std::int64_t m) const {
        if (m == 0) return;
        const std::size_t count = std::size_t(m * p.k);
        if (p.type == gemm_type::f32) return execute(src, dst, m);
        if (p.type == gemm_type::bf16) {
            std::vector<bfloat16> s16(count);
            convert(std::span<const float>(static_cast<const float*>(src), count),
                    std::span<bfloat16>(s16));
            if (!emulate_bf16) return execute(s16.data(), dst, m);
            std::vector<float> rounded(count);
            convert(std::span<const bfloat16>(s16), std::span<float>(rounded));
            return execute(rounded.data(), dst, m);
        }
        // int8
        const std::int32_t qmax = p.reduce_range ? 127 : 255;
        if (src_dtype == dtype::u8 && p.reduce_range) check_reduced_u8(src, count);
        if (fused_int8 && src_dtype == dtype::u8) return execute(src, dst, m);
        auto& buf = local_scratch();
        const std::size_t rows = p.activations == act_quant::dynamic_per_row ? std::size_t(m) : 1;
        grow(buf.scales, rows);
        grow(buf.zero_points, rows);
        const std::uint8_t* q = static_cast<const std::uint8_t*>(src);
        if (src_dtype != dtype::u8) {
            grow(buf.q, count);
            detail::quantize_activations(static_cast<const float*>(src), m, p.k, p.activations,
                                         p.act_scale, p.act_zero_point, qmax, buf.q.data(),
                                         buf.scales.data(), buf.zero_points.data());
            q = buf.q.data();
        } else {
            buf.scales[0] = p.act_scale;
            buf.zero_points[0] = p.act_zero_point;
        }
        if (fused_int8) return execute(q, dst, m);
        if (!split) {
            execute(q, dst, m);
        } else {
            grow(buf.part, count);
            std::uint8_t* part = buf.part.data();
            for (std::size_t i = 0; i < count; ++i)
                part[i] = q[i] & 0x7f;
            execute(part, dst, m);
            for (std::size_t i = 0; i < count; ++i)
                part[i] = q[i] >> 7;
            grow(buf.high, std::size_t(m * p.n));
            execute(part, reinterpret_cast<float*>(buf.high.data()), m);
            detail::add_scaled_s32(dst, buf.high.data(), std::size_t(m * p.n), 128);
        }
        detail::rescale_s32(dst, m, p.n, p.k, std::span<const float>(buf.scales.data(), rows),
                            std::span<const std::int32_t>(buf.zero_points.data(), rows), w_scales,
                            colsum, bias, p.relu);
        buf.trim();
    }
};

namespace {

// Largest K whose s32 sums of u8·s8 products (|product| ≤ 255·128) cannot overflow.
constexpr std::int64_t max_int8_k = std::numeric_limits<std::int32_t>::max() / (255 * 128);

void check_params(const linear_params& p) {
    constexpr const char* fn = "linear";
    if (p.k < 1 || p.n < 1)
        fail(status::invalid_argument,
             fmt::format("{}: params k = {} and n = {} must both be ≥ 1", fn, p.k, p.n));
    std::int64_t weights = 0;
    if (__builtin_mul_overflow(p.k, p.n, &weights) || weights > (std::int64_t(1) << 40))
        fail(status::invalid_argument,
             fmt::format("{}: params k = {} and n = {} describe more than 2^40 weights", fn, p.k,
                         p.n));
    if (p.type != gemm_type::f32 && p.type != gemm_type::bf16 && p.type != gemm_type::int8)
        fail(status::invalid_argument,
             fmt::format("{}: params.type {} is not a gemm_type", fn, int(p.type)));
    if (p.layout != weight_layout::k_by_n && p.layout != weight_layout::n_by_k)
        fail(status::invalid_argument,
             fmt::format("{}: params.layout {} is not a weight_layout", fn, int(p.layout)));
    if (p.type != gemm_type::int8) return;
    if (p.k > max_int8_k)
        fail(status::unsupported,
             fmt::format("{}: int8 sums over k = {} could overflow s32 (at most {})", fn, p.k,
                         max_int8_k));
    const int a = int(p.activations);
    if (a < 0 || a > int(act_quant::dynamic_per_row))
        fail(status::invalid_argument,
             fmt::format("{}: params.activations {} is not an act_quant", fn, a));
    if (p.activations == act_quant::static_per_tensor) {
        if (!(p.act_scale > 0.0f) || !std::isfinite(p.act_scale))
            fail(status::invalid_argument,
                 fmt::format("{}: params.act_scale = {} must be finite and > 0", fn, p.act_scale));
        const int zmax = p.reduce_range ? 127 : 255;
        if (p.act_zero_point < 0 || p.act_zero_point > zmax)
            fail(status::invalid_argument,
                 fmt::format("{}: params.act_zero_point = {} is outside [0, {}] ({})", fn,
                             p.act_zero_point, zmax, p.reduce_range ? "reduce_range" : "u8"));
    }
}

void check_size(std::size_t got, std::int64_t want, const char* what) {
    if (got != std::size_t(want))
        fail(status::shape_mismatch,
             fmt::format("linear: {} has {} elements, expected {}", what, got, want));
}

std::unique_ptr<linear::impl> make_impl(const linear_params& p, std::span<const float> bias) {
    check_params(p);
    if (!bias.empty()) check_size(bias.size(), p.n, "bias (N values)");
    auto d = std::make_unique<linear::impl>();
    d->p = p;
    d->bias.assign(bias.begin(), bias.end());
    return d;
}

// int8 setup common to both constructors, from quantized weights in `layout`.
void setup_int8(linear::impl& d, const std::int8_t* q, weight_layout layout) {
    d.src_type = dt::u8;
    // reduce_range: |q_a| ≤ 127, |q_w| ≤ 128, pairs ≤ 32512: never saturates, never splits.
    if (d.p.exact && !d.p.reduce_range && int8_pairs_saturate()) {
        const std::size_t count = std::size_t(d.p.k * d.p.n);
        d.split = std::any_of(q, q + count, [](std::int8_t v) { return v > 64 || v < -64; });
    }
    d.fused_int8 = d.p.activations == act_quant::static_per_tensor && !d.split;
    if (d.fused_int8) {
        d.dst_type = dt::f32;
        d.out_scales.resize(std::size_t(d.p.n));
        for (std::size_t j = 0; j < d.out_scales.size(); ++j)
            d.out_scales[j] = d.p.act_scale * d.w_scales[j];
        if (!d.bias.empty()) {
            d.bias_fused.resize(d.bias.size());
            for (std::size_t j = 0; j < d.bias.size(); ++j)
                d.bias_fused[j] = d.bias[j] / d.out_scales[j];
        }
    } else {
        d.dst_type = dt::s32;
        d.colsum = detail::channel_sums(q, d.p.k, d.p.n, layout);
    }
    d.p.layout = layout;
    d.load_weights(q, dt::s8);
}

} // namespace

linear::linear(const linear_params& params, std::span<const float> weights,
               std::span<const float> bias)
    : impl_(make_impl(params, bias)) {
    auto& d = *impl_;
    check_size(weights.size(), params.k * params.n, "weights (K·N values)");
    switch (params.type) {
    case gemm_type::f32: d.load_weights(weights.data(), dt::f32); break;
    case gemm_type::bf16: {
        std::vector<bfloat16> w16(weights.size());
        convert(weights, std::span<bfloat16>(w16));
        d.emulate_bf16 = !native_bf16();
        if (!d.emulate_bf16) {
            d.src_type = dt::bf16;
            d.load_weights(w16.data(), dt::bf16);
        } else {
            std::vector<float> rounded(w16.size());
            convert(std::span<const bfloat16>(w16), std::span<float>(rounded));
            d.load_weights(rounded.data(), dt::f32);
        }
        break;
    }
    case gemm_type::int8: {
        auto q = detail::quantize_weights(weights, params.k, params.n, params.layout);
        d.w_scales = std::move(q.scales);
        setup_int8(d, q.q.data(), weight_layout::n_by_k);
        d.p.layout = params.layout; // report what the caller gave
        break;
    }
    }
}

linear::linear(const linear_params& params, std::span<const std::int8_t> weights,
               std::span<const float> weight_scales, std::span<const float> bias)
    : impl_(make_impl(params, bias)) {
    auto& d = *impl_;
    if (params.type != gemm_type::int8)
        fail(status::dtype_mismatch,
             "linear: int8 weights given but params.type is not gemm_type::int8");
    check_size(weights.size(), params.k * params.n, "weights (K·N values)");
    check_size(weight_scales.size(), params.n, "weight_scales (N values)");
    for (std::size_t j = 0; j < weight_scales.size(); ++j)
        if (!(weight_scales[j] > 0.0f) || !std::isfinite(weight_scales[j]))
            fail(status::invalid_argument,
                 fmt::format("linear: weight_scales[{}] = {} must be finite and > 0", j,
                             weight_scales[j]));
    d.w_scales.assign(weight_scales.begin(), weight_scales.end());
    setup_int8(d, weights.data(), params.layout);
}

linear::~linear() = default;
linear::linear(linear&&) noexcept = default;
linear& linear::operator=(linear&&) noexcept = default;

const linear_params& linear::params() const noexcept { return impl_->p; }
std::span<const float> linear::weight_scales() const noexcept { return impl_->w_scales; }

bool linear::splits_activations() const noexcept { return impl_->split; }

std::size_t linear::cached_shapes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->cache.size();
}

std::string linear::implementation(std::int64_t m) const {
    detail::check_dim(m, "linear::implementation", "m");
    return impl_->get(onednn::sync_threads(), std::max<std::int64_t>(m, 1))->name;
}

void linear::run(const float* src, float* dst, std::int64_t m) const {
    constexpr const char* fn = "linear::run";
    detail::check_dim(m, fn, "m");
    detail::check_buffer(src, m * impl_->p.k, fn, "src");
    detail::check_buffer(dst, m * impl_->p.n, fn, "dst");
    impl_->run(src, dtype::f32, dst, m);
}

void linear::run(const_tensor_view src, tensor_view dst) const {
    constexpr const char* fn = "linear::run";
    const auto& p = impl_->p;
    const bool u8_ok = p.type == gemm_type::int8 && p.activations == act_quant::static_per_tensor;
    if (src.type() != dtype::f32 && !(u8_ok && src.type() == dtype::u8))
        fail(status::dtype_mismatch,
             fmt::format("{}: src is {}; expected f32{}", fn, name_of(src.type()),
                         u8_ok ? " or u8 (quantized with act_scale, act_zero_point)" : ""));
    if (dst.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: dst is {}; expected f32", fn, name_of(dst.type())));
    if (src.rank() != 2 || dst.rank() != 2)
        fail(status::shape_mismatch,
             fmt::format("{}: src {} and dst {} must both be rank 2 ([M, K], [M, N])", fn,
                         src.dims().to_string(), dst.dims().to_string()));
    if (src.dims()[1] != p.k)
        fail(status::shape_mismatch, fmt::format("{}: src is {} but the layer has K = {}", fn,
                                                 src.dims().to_string(), p.k));
    if (dst.dims()[0] != src.dims()[0] || dst.dims()[1] != p.n)
        fail(status::shape_mismatch,
             fmt::format("{}: dst is {} but src {} needs [{}, {}]", fn, dst.dims().to_string(),
                         src.dims().to_string(), src.dims()[0], p.n));
    if (!src.is_contiguous() || !dst.is_contiguous())
        fail(status::invalid_argument, fmt::format("{}: src and dst must be contiguous", fn));
    if (src.numel() > 0 && src.data() == nullptr)
        fail(status::invalid_argument, fmt::format("{}: src data is null", fn));
    impl_->run(src.data(), src.type(), static_cast<float*>(dst.data()), src.dims()[0]);
}

} // namespace hone::kernels
