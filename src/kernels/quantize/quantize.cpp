// Public entry of the quantize family: ONNX shape rules, argument checks, and the parallel walk
// over chunks of elements. Every element is computed independently, so results do not depend on
// the thread count; chunks start at even elements, so no two threads share a packed byte.
#include "hone/kernels/quantize.hpp"

#include "../reduce/axis_layout.hpp"
#include "hone/core/threads.hpp"
#include "quantize.hpp"

#include <array>
#include <fmt/format.h>
#include <vector>

namespace hone::kernels {

const dispatch<quantize_table>& quantize_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<quantize_table> d{&quantize_ref, &quantize_avx2, &quantize_avx512};
#else
    static const dispatch<quantize_table> d{&quantize_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

constexpr std::int64_t chunk = 1 << 14; // elements per task; even
constexpr std::int64_t parallel_threshold = 1 << 16;

bool is_quantized(dtype t) {
    return t == dtype::i8 || t == dtype::u8 || t == dtype::i4 || t == dtype::u4;
}

/// Per-element parameters, flattened and contiguous.
struct params {
    axis_layout layout;
    std::vector<float> scale;
    std::vector<float> zero_point;
};

/// Granularity from the scale's shape, as ONNX.
quant_axis resolve_granularity(const shape& x, const shape& s, int axis, std::int64_t block,
                               const char* where) {
    if (block < 0)
        fail(status::invalid_argument, fmt::format("{}: block_size {} must be ≥ 0", where, block));
    if (block == 0) {
        if (s.numel() == 1 && s.rank() <= 1) return {granularity::per_tensor, 0, 0};
        const int a = normalize_axis(axis, x.rank(), where);
        if (s.rank() != 1 || s[0] != x[a])
            fail(status::shape_mismatch,
                 fmt::format("{}: scale has shape {}; for input shape {} it must have one element "
                             "(per tensor) or shape [{}] (per axis {})",
                             where, s.to_string(), x.to_string(), x[a], a));
        return {granularity::per_channel, a, 0};
    }
    const quant_axis g{granularity::per_group, normalize_axis(axis, x.rank(), where), block};
    const shape expected = reduced_shape(x, g); // checks that block divides the axis
    if (!(s == expected))
        fail(status::shape_mismatch,
             fmt::format("{}: scale has shape {}; blocked (axis {}, block_size {}) on input shape "
                         "{} needs {}",
                         where, s.to_string(), g.axis, block, x.to_string(), expected.to_string()));
    return g;
}

std::vector<float> read_scale(const_tensor_view s, const char* where) {
    if (s.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: scale is {}, must be f32", where, name_of(s.type())));
    const tensor c = tensor::copy_of(s);
    const auto v = c.span<float>();
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!(v[i] > 0.0f) || !std::isfinite(v[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: scale[{}] = {} must be finite and > 0", where, i, v[i]));
    return {v.begin(), v.end()};
}

/// Integer values of a small i8/u8/i4/u4 tensor, as floats.
std::vector<float> read_integers(const_tensor_view t) {
    const auto n = static_cast<std::size_t>(t.numel());
    std::vector<std::uint8_t> bytes(n);
    if (is_packed(t.type())) {
        quantize_ref.unpack_nibbles(static_cast<const std::uint8_t*>(t.data()), n,
                                    t.type() == dtype::i4, bytes.data());
    } else {
        const tensor c = tensor::copy_of(t);
        const auto* p = static_cast<const std::uint8_t*>(c.data());
        bytes.assign(p, p + n);
    }
    std::vector<float> out(n);
    const bool is_signed = is_signed_integer(t.type());
    for (std::size_t i = 0; i < n; ++i)
        out[i] = is_signed ? static_cast<float>(static_cast<std::int8_t>(bytes[i]))
                           : static_cast<float>(bytes[i]);
    return out;
}

params read_params(const_tensor_view x, const quant_params& p, dtype quantized, const char* where) {
    params out;
    const quant_axis g = resolve_granularity(x.dims(), p.scale.dims(), p.axis, p.block_size, where);
    out.layout = make_axis_layout(x.dims(), g, where);
    out.scale = read_scale(p.scale, where);
    if (p.zero_point) {
        const auto& z = *p.zero_point;
        if (z.type() != quantized)
            fail(status::dtype_mismatch,
                 fmt::format("{}: zero point is {}, must be {} like the quantized tensor", where,
                             name_of(z.type()), name_of(quantized)));
        const bool both_single =
            g.kind == granularity::per_tensor && z.numel() == 1 && z.rank() <= 1;
        if (!(z.dims() == p.scale.dims()) && !both_single)
            fail(status::shape_mismatch,
                 fmt::format("{}: zero point has shape {}, scale {}; they must be equal", where,
                             z.dims().to_string(), p.scale.dims().to_string()));
        out.zero_point = read_integers(z);
    } else {
        out.zero_point.assign(out.scale.size(), 0.0f);
    }
    return out;
}

void run_quantize(const float* x, const params& p, dtype type, std::uint8_t* y) {
    const auto& k = quantize_kernels().pick();
    const quant_range r = quant_range_of(type);
    const float lo = static_cast<float>(r.min), hi = static_cast<float>(r.max);
    const bool packed = is_packed(type);
    const std::int64_t n = p.layout.numel, chunks = (n + chunk - 1) / chunk;
    const int threads = num_threads();
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= parallel_threshold)
    for (std::int64_t c = 0; c < chunks; ++c) {
        const std::int64_t begin = c * chunk, end = std::min(n, begin + chunk);
        std::array<std::uint8_t, chunk> tmp;
        std::uint8_t* out = packed ? tmp.data() : y + begin;
        for_each_segment(p.layout, begin, end,
                         [&](std::int64_t pos, std::int64_t len, std::int64_t i, bool vec) {
                             const auto m = static_cast<std::size_t>(len);
                             if (vec)
                                 k.quantize_vec(x + pos, m, &p.scale[i], &p.zero_point[i], lo, hi,
                                                out + (pos - begin));
                             else
                                 k.quantize(x + pos, m, p.scale[i], p.zero_point[i], lo, hi,
                                            out + (pos - begin));
                         });
        if (packed)
            k.pack_nibbles(tmp.data(), static_cast<std::size_t>(end - begin), y + begin / 2);
    }
}

void run_dequantize(const std::uint8_t* x, const params& p, dtype type, float* y) {
    const auto& k = quantize_kernels().pick();
    const bool packed = is_packed(type), is_signed = is_signed_integer(type);
    const auto deq = is_signed ? k.dequantize_s8 : k.dequantize_u8;
    const auto deq_vec = is_signed ? k.dequantize_s8_vec : k.dequantize_u8_vec;
    const std::int64_t n = p.layout.numel, chunks = (n + chunk - 1) / chunk;
    const int threads = num_threads();
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= parallel_threshold)
    for (std::int64_t c = 0; c < chunks; ++c) {
        const std::int64_t begin = c * chunk, end = std::min(n, begin + chunk);
        std::array<std::uint8_t, chunk> tmp;
        const std::uint8_t* in = x + begin;
        if (packed) {
            k.unpack_nibbles(x + begin / 2, static_cast<std::size_t>(end - begin), is_signed,
                             tmp.data());
            in = tmp.data();
        }
        for_each_segment(p.layout, begin, end,
                         [&](std::int64_t pos, std::int64_t len, std::int64_t i, bool vec) {
                             const auto m = static_cast<std::size_t>(len);
                             if (vec)
                                 deq_vec(in + (pos - begin), m, &p.scale[i], &p.zero_point[i],
                                         y + pos);
                             else
                                 deq(in + (pos - begin), m, p.scale[i], p.zero_point[i], y + pos);
                         });
    }
}

void check_same_shape(const_tensor_view x, const_tensor_view y, const char* where) {
    if (!(x.dims() == y.dims()))
        fail(status::shape_mismatch, fmt::format("{}: input has shape {}, output {}", where,
                                                 x.dims().to_string(), y.dims().to_string()));
}

void check_scalar(float scale, std::int32_t zero_point, dtype type, const char* where) {
    if (!(scale > 0.0f) || !std::isfinite(scale))
        fail(status::invalid_argument,
             fmt::format("{}: scale {} must be finite and > 0", where, scale));
    const quant_range r = quant_range_of(type);
    if (zero_point < r.min || zero_point > r.max)
        fail(status::invalid_argument,
             fmt::format("{}: zero point {} is outside the {} range [{}, {}]", where, zero_point,
                         name_of(type), r.min, r.max));
}

params scalar_params(std::size_t n, float scale, std::int32_t zero_point, dtype type,
                     const char* where) {
    check_scalar(scale, zero_point, type, where);
    params p;
    p.layout.numel = static_cast<std::int64_t>(n);
    p.layout.inner = p.layout.numel;
    p.scale = {scale};
    p.zero_point = {static_cast<float>(zero_point)};
    return p;
}

// The span forms below parallel_threshold: the per-tensor kernel called directly (what
// run_quantize / run_dequantize would call for one segment), without building a params or
// entering an OpenMP region — callers quantize small blocks in their own loops.
void quantize_span(const float* x, std::size_t n, float scale, std::int32_t zero_point, dtype type,
                   std::uint8_t* y) {
    if (static_cast<std::int64_t>(n) >= parallel_threshold)
        return run_quantize(x, scalar_params(n, scale, zero_point, type, "quantize"), type, y);
    check_scalar(scale, zero_point, type, "quantize");
    const quant_range r = quant_range_of(type);
    quantize_kernels().pick().quantize(x, n, scale, static_cast<float>(zero_point),
                                       static_cast<float>(r.min), static_cast<float>(r.max), y);
}

void dequantize_span(const std::uint8_t* x, std::size_t n, float scale, std::int32_t zero_point,
                     dtype type, float* y) {
    if (static_cast<std::int64_t>(n) >= parallel_threshold)
        return run_dequantize(x, scalar_params(n, scale, zero_point, type, "dequantize"), type, y);
    check_scalar(scale, zero_point, type, "dequantize");
    const auto& k = quantize_kernels().pick();
    (type == dtype::i8 ? k.dequantize_s8 : k.dequantize_u8)(x, n, scale,
                                                            static_cast<float>(zero_point), y);
}

void check_sizes(std::size_t src, std::size_t dst, const char* where) {
    if (src != dst)
        fail(status::shape_mismatch,
             fmt::format("{}: source has {} elements, destination {}", where, src, dst));
}

} // namespace

quant_range quant_range_of(dtype type) {
    switch (type) {
    case dtype::i8: return {-128, 127};
    case dtype::u8: return {0, 255};
    case dtype::i4: return {-8, 7};
    case dtype::u4: return {0, 15};
    default: break;
    }
    fail(status::dtype_mismatch,
         fmt::format("{} is not a quantized type (i8, u8, i4, u4)", name_of(type)));
}

void quantize_linear(const_tensor_view x, const quant_params& p, tensor_view y) {
    constexpr const char* where = "quantize_linear";
    if (x.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: input is {}, must be f32", where, name_of(x.type())));
    if (!is_quantized(y.type()))
        fail(status::dtype_mismatch,
             fmt::format("{}: output is {}, must be i8, u8, i4 or u4", where, name_of(y.type())));
    check_same_shape(x, y, where);
    const params prm = read_params(x, p, y.type(), where);
    std::optional<tensor> x_copy, y_tmp;
    const float* src = static_cast<const float*>(x.data());
    if (!x.is_contiguous()) {
        x_copy.emplace(tensor::copy_of(x));
        src = static_cast<const float*>(x_copy->data());
    }
    if (y.is_contiguous()) {
        run_quantize(src, prm, y.type(), static_cast<std::uint8_t*>(y.data()));
    } else { // strided i8/u8 (packed views are always contiguous)
        y_tmp.emplace(y.type(), y.dims());
        run_quantize(src, prm, y.type(), static_cast<std::uint8_t*>(y_tmp->data()));
        copy(y_tmp->view(), y);
    }
}

void dequantize_linear(const_tensor_view x, const quant_params& p, tensor_view y) {
    constexpr const char* where = "dequantize_linear";
    if (!is_quantized(x.type()))
        fail(status::dtype_mismatch,
             fmt::format("{}: input is {}, must be i8, u8, i4 or u4", where, name_of(x.type())));
    if (y.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: output is {}, must be f32", where, name_of(y.type())));
    check_same_shape(x, y, where);
    const params prm = read_params(x, p, x.type(), where);
    std::optional<tensor> x_copy, y_tmp;
    const auto* src = static_cast<const std::uint8_t*>(x.data());
    if (!x.is_contiguous()) {
        x_copy.emplace(tensor::copy_of(x));
        src = static_cast<const std::uint8_t*>(x_copy->data());
    }
    if (y.is_contiguous()) {
        run_dequantize(src, prm, x.type(), static_cast<float*>(y.data()));
    } else {
        y_tmp.emplace(dtype::f32, y.dims());
        run_dequantize(src, prm, x.type(), static_cast<float*>(y_tmp->data()));
        copy(y_tmp->view(), y);
    }
}

void quantize(std::span<const float> src, float scale, std::int32_t zero_point,
              std::span<std::int8_t> dst) {
    check_sizes(src.size(), dst.size(), "quantize");
    quantize_span(src.data(), src.size(), scale, zero_point, dtype::i8,
                  reinterpret_cast<std::uint8_t*>(dst.data()));
}

void quantize(std::span<const float> src, float scale, std::int32_t zero_point,
              std::span<std::uint8_t> dst) {
    check_sizes(src.size(), dst.size(), "quantize");
    quantize_span(src.data(), src.size(), scale, zero_point, dtype::u8, dst.data());
}

void dequantize(std::span<const std::int8_t> src, float scale, std::int32_t zero_point,
                std::span<float> dst) {
    check_sizes(src.size(), dst.size(), "dequantize");
    dequantize_span(reinterpret_cast<const std::uint8_t*>(src.data()), src.size(), scale,
                    zero_point, dtype::i8, dst.data());
}

void dequantize(std::span<const std::uint8_t> src, float scale, std::int32_t zero_point,
                std::span<float> dst) {
    check_sizes(src.size(), dst.size(), "dequantize");
    dequantize_span(src.data(), src.size(), scale, zero_point, dtype::u8, dst.data());
}

} // namespace hone::kernels
