// int4_quantize / int4_pack / int4_copy: f32 weights → the plain int4 group-wise packed form.
#include "../quantize/quantize.hpp"
#include "hone/core/half.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/weight_only.hpp"
#include "weight_only.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace hone::kernels {

int4_matrix checked_int4(const int4_weights_view& w, const char* fn); // weight_only.cpp

namespace {

/// Per-group parameters as the kernels will read them: the f32 value of each scale, the
/// stored scale (f32 or f16) and the zero point (0…15; unused for symmetric).
struct group_params {
    std::vector<float> scale;
    std::vector<std::uint16_t> scale_f16;
    std::vector<std::uint8_t> zero_point;
};

/// src as a contiguous f32 [N, K] (copied when strided); checks dtype, rank and group size.
tensor contiguous_f32(const_tensor_view src, std::int64_t g, const char* fn) {
    if (src.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: src must be f32, got {}", fn, name_of(src.type())));
    if (src.rank() != 2)
        fail(status::shape_mismatch,
             fmt::format("{}: src must be [N, K], got {}", fn, src.dims().to_string()));
    if (g < 2 || g % 2 != 0)
        fail(status::invalid_argument,
             fmt::format("{}: group_size {} must be even and at least 2", fn, g));
    if (src.dims()[1] % g != 0)
        fail(status::invalid_argument,
             fmt::format("{}: group_size {} does not divide K = {}", fn, g, src.dims()[1]));
    if (src.data() == nullptr && src.numel() > 0)
        fail(status::invalid_argument, fmt::format("{}: src has a null buffer", fn));
    return tensor::copy_of(src);
}

void check_finite(const float* w, std::int64_t n, std::int64_t k, const char* fn) {
    for (std::int64_t i = 0; i < n * k; ++i)
        if (!std::isfinite(w[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: weight [{}, {}] is {}, not finite", fn, i / k, i % k, w[i]));
}

void set_nibble(std::uint8_t* p, std::int64_t i, int v) noexcept {
    p[i >> 1] = static_cast<std::uint8_t>(p[i >> 1] | ((v & 0xf) << ((i & 1) * 4)));
}

/// q = clamp(round_half_even(w / s) + zp, qmin, qmax), packed; scales and zero points stored.
int4_weights encode(const float* w, std::int64_t n, std::int64_t k, std::int64_t g, bool symmetric,
                    dtype scale_type, const group_params& p) {
    const std::int64_t groups = k / g;
    int4_weights out{tensor(symmetric ? dtype::i4 : dtype::u4, {n, k}),
                     tensor(scale_type, {n, groups}),
                     symmetric ? tensor(dtype::u4, {0}) : tensor(dtype::u4, {n, groups}), g};
    auto* q = static_cast<std::uint8_t*>(out.weights.data());
    const float qmin = symmetric ? -8.0f : 0.0f, qmax = symmetric ? 7.0f : 15.0f;
#pragma omp parallel for schedule(static) num_threads(num_threads())
    for (std::int64_t r = 0; r < n; ++r) // rows are K/2 whole bytes: no two threads share one
        for (std::int64_t j = 0; j < groups; ++j) {
            const float s = p.scale[r * groups + j];
            const float zp = symmetric ? 0.0f : float(p.zero_point[r * groups + j]);
            for (std::int64_t c = j * g; c < (j + 1) * g; ++c) {
                const float v =
                    std::clamp(quantize_rules::round_half_even(w[r * k + c] / s) + zp, qmin, qmax);
                set_nibble(q, r * k + c, static_cast<int>(v));
            }
        }
    if (scale_type == dtype::f16)
        std::memcpy(out.scales.data(), p.scale_f16.data(), p.scale_f16.size() * 2);
    else
        std::memcpy(out.scales.data(), p.scale.data(), p.scale.size() * 4);
    if (!symmetric)
        for (std::int64_t i = 0; i < n * groups; ++i)
            set_nibble(static_cast<std::uint8_t*>(out.zero_points.data()), i, p.zero_point[i]);
    return out;
}

} // namespace

int4_weights int4_quantize(const_tensor_view src, const int4_config& config) {
    constexpr const char* fn = "int4_quantize";
    const std::int64_t g = config.group_size;
    const tensor w = contiguous_f32(src, g, fn);
    if (config.scale_type != dtype::f32 && config.scale_type != dtype::f16)
        fail(status::dtype_mismatch, fmt::format("{}: scale_type must be f32 or f16, got {}", fn,
                                                 name_of(config.scale_type)));
    const std::int64_t n = w.dims()[0], k = w.dims()[1], groups = k / g;
    const float* data = static_cast<const float*>(w.data());
    check_finite(data, n, k, fn);
    group_params p;
    p.scale.resize(std::size_t(n * groups));
    p.scale_f16.resize(config.scale_type == dtype::f16 ? p.scale.size() : 0);
    p.zero_point.resize(config.symmetric ? 0 : p.scale.size());
    for (std::int64_t i = 0; i < n * groups; ++i) {
        const float* gw = data + (i / groups) * k + (i % groups) * g;
        const auto [lo_it, hi_it] = std::minmax_element(gw, gw + g);
        const float lo = std::min(*lo_it, 0.0f), hi = std::max(*hi_it, 0.0f);
        float s = config.symmetric ? std::max(-lo, hi) / 7.0f : (hi - lo) / 15.0f;
        if (!(s > 0.0f)) s = 1.0f; // an all-zero group
        if (!std::isfinite(s))
            fail(status::invalid_argument,
                 fmt::format("{}: the scale of row {} group {} overflows f32", fn, i / groups,
                             i % groups));
        if (config.scale_type == dtype::f16) {
            const half h = to_half(s);
            s = to_float(h);
            if (!(s > 0.0f) || !std::isfinite(s))
                fail(status::invalid_argument,
                     fmt::format("{}: the scale of row {} group {} ({}) is outside the f16 range; "
                                 "use f32 scales",
                                 fn, i / groups, i % groups, std::max(-lo, hi) / 7.0f));
            p.scale_f16[std::size_t(i)] = h.bits;
        }
        p.scale[std::size_t(i)] = s;
        if (!config.symmetric)
            p.zero_point[std::size_t(i)] = static_cast<std::uint8_t>(
                std::clamp(quantize_rules::round_half_even(-lo / s), 0.0f, 15.0f));
    }
    return encode(data, n, k, g, config.symmetric, config.scale_type, p);
}

int4_weights int4_pack(const_tensor_view src, const_tensor_view scales,
                       const_tensor_view zero_points, std::int64_t group_size) {
    constexpr const char* fn = "int4_pack";
    const tensor w = contiguous_f32(src, group_size, fn);
    const std::int64_t n = w.dims()[0], k = w.dims()[1], groups = k / group_size;
    check_finite(static_cast<const float*>(w.data()), n, k, fn);
    const shape want{n, groups};
    if (scales.type() != dtype::f32 && scales.type() != dtype::f16)
        fail(status::dtype_mismatch,
             fmt::format("{}: scales must be f32 or f16, got {}", fn, name_of(scales.type())));
    if (scales.dims() != want)
        fail(status::shape_mismatch,
             fmt::format("{}: scales must be [N, K/group_size] = {}, got {}", fn, want.to_string(),
                         scales.dims().to_string()));
    if (scales.data() == nullptr && scales.numel() > 0)
        fail(status::invalid_argument, fmt::format("{}: scales have a null buffer", fn));
    const bool symmetric = zero_points.data() == nullptr && zero_points.rank() == 0;
    if (!symmetric) {
        if (zero_points.data() == nullptr && zero_points.numel() > 0)
            fail(status::invalid_argument, fmt::format("{}: zero_points have a null buffer", fn));
        if (zero_points.type() != dtype::u4 && zero_points.type() != dtype::u8)
            fail(status::dtype_mismatch, fmt::format("{}: zero_points must be u4 or u8, got {}", fn,
                                                     name_of(zero_points.type())));
        if (zero_points.dims() != want)
            fail(status::shape_mismatch,
                 fmt::format("{}: zero_points must be [N, K/group_size] = {}, got {}", fn,
                             want.to_string(), zero_points.dims().to_string()));
    }
    const tensor s = tensor::copy_of(scales);
    group_params p;
    p.scale.resize(std::size_t(n * groups));
    if (scales.type() == dtype::f16) {
        const auto bits = s.span<half>();
        for (std::size_t i = 0; i < bits.size(); ++i) {
            p.scale_f16.push_back(bits[i].bits);
            p.scale[i] = to_float(bits[i]);
        }
    } else {
        std::ranges::copy(s.span<float>(), p.scale.begin());
    }
    for (std::size_t i = 0; i < p.scale.size(); ++i)
        if (!(p.scale[i] > 0.0f) || !std::isfinite(p.scale[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: scale [{}, {}] is {}; scales must be positive and finite", fn,
                             std::int64_t(i) / groups, std::int64_t(i) % groups, p.scale[i]));
    if (!symmetric) {
        p.zero_point.resize(p.scale.size());
        const auto* z = static_cast<const std::uint8_t*>(zero_points.data());
        const tensor zc = zero_points.type() == dtype::u8 ? tensor::copy_of(zero_points) : tensor();
        for (std::int64_t i = 0; i < n * groups; ++i) {
            const int v = zero_points.type() == dtype::u4
                              ? nibble(z, i)
                              : static_cast<const std::uint8_t*>(zc.data())[i];
            if (v > 15)
                fail(status::invalid_argument,
                     fmt::format("{}: zero point [{}, {}] is {}, outside 0…15", fn, i / groups,
                                 i % groups, v));
            p.zero_point[std::size_t(i)] = static_cast<std::uint8_t>(v);
        }
    }
    return encode(static_cast<const float*>(w.data()), n, k, group_size, symmetric, scales.type(),
                  p);
}

int4_weights int4_copy(const int4_weights_view& w) {
    const int4_matrix m = checked_int4(w, "int4_copy");
    auto clone = [](const const_tensor_view& v) {
        tensor t(v.type(), v.dims());
        if (t.nbytes() > 0) std::memcpy(t.data(), v.data(), t.nbytes());
        return t;
    };
    int4_weights out{clone(w.weights), clone(w.scales), tensor(dtype::u4, {0}), m.group_size};
    if (m.zero_points) out.zero_points = clone(w.zero_points);
    return out;
}

} // namespace hone::kernels
