// ONNX's integer operators: DynamicQuantizeLinear, MatMulInteger, ConvInteger (ops.hpp).
// Exact in integers, in a fixed order per output (the same bytes at any thread count). ConvInteger
// gathers windows into int16 tiles and takes four dot products per pass (vectorized int16 madds).
#include "common.hpp"

#include "hone/kernels/quantize.hpp"

#include <algorithm>
#include <cmath>

namespace hone::ops {

namespace {

// Integer values of a u8 / i8 tensor (any strides), row-major.
std::vector<std::int32_t> int8_values(const_tensor_view v, const char* op, const char* what) {
    if (v.type() != dtype::u8 && v.type() != dtype::i8)
        fail(status::dtype_mismatch,
             fmt::format("{}: input '{}' is {}, expected u8 or i8", op, what, name_of(v.type())));
    const auto c = tensor::copy_of(v);
    std::vector<std::int32_t> out(static_cast<std::size_t>(c.numel()));
    if (c.type() == dtype::u8)
        std::copy(c.span<const std::uint8_t>().begin(), c.span<const std::uint8_t>().end(),
                  out.begin());
    else
        std::copy(c.span<const std::int8_t>().begin(), c.span<const std::int8_t>().end(),
                  out.begin());
    return out;
}

// A zero point: absent → {0}; else of `type`, with 1 value or `count` values (rank ≤ 1, or
// [1, count] when per column is allowed).
std::vector<std::int32_t> zero_points(optional_view zp, dtype type, std::int64_t count,
                                      const char* op, const char* what) {
    if (!zp) return {0};
    if (zp->type() != type)
        fail(status::dtype_mismatch, fmt::format("{}: '{}' is {}, but its data is {}", op, what,
                                                 name_of(zp->type()), name_of(type)));
    const auto n = zp->numel();
    if (!(n == 1 || (count > 1 && n == count && zp->rank() <= 2)) ||
        (zp->rank() == 2 && zp->dims()[0] != 1) || zp->rank() > 2)
        fail(status::shape_mismatch,
             fmt::format("{}: '{}' has shape {}; expected a scalar{}", op, what,
                         zp->dims().to_string(),
                         count > 1 ? fmt::format(" or {} values", count) : std::string()));
    return int8_values(*zp, op, what);
}

// v − zero_point as int16 (v u8 or i8, any strides), row-major.
std::vector<std::int16_t> centered_values(const_tensor_view v, std::int32_t zero_point,
                                          const char* op, const char* what) {
    if (v.type() != dtype::u8 && v.type() != dtype::i8)
        fail(status::dtype_mismatch,
             fmt::format("{}: input '{}' is {}, expected u8 or i8", op, what, name_of(v.type())));
    const auto c = tensor::copy_of(v);
    std::vector<std::int16_t> out(static_cast<std::size_t>(c.numel()));
    const auto center = [zero_point](auto e) { return static_cast<std::int16_t>(e - zero_point); };
    if (c.type() == dtype::u8)
        std::transform(c.span<const std::uint8_t>().begin(), c.span<const std::uint8_t>().end(),
                       out.begin(), center);
    else
        std::transform(c.span<const std::int8_t>().begin(), c.span<const std::int8_t>().end(),
                       out.begin(), center);
    return out;
}

} // namespace

std::vector<tensor> dynamic_quantize_linear(const_tensor_view x) {
    const char* op = "ops::dynamic_quantize_linear";
    detail::require_f32(x, op, "x");
    const detail::contiguous_f32 xs(x);
    const auto n = x.numel();
    float lo = 0.0f, hi = 0.0f;
    bool nan = false;
    for (std::int64_t i = 0; i < n; ++i) {
        const float v = xs.data[i];
        nan |= std::isnan(v);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    if (nan) fail(status::invalid_argument, fmt::format("{}: x holds NaN", op));
    float scale = (hi - lo) / 255.0f;
    if (!(scale > 0) || !std::isfinite(scale)) scale = 1.0f;
    const float zpf = std::nearbyint(std::clamp(-lo / scale, 0.0f, 255.0f));
    tensor s(dtype::f32, shape{}), z(dtype::u8, shape{}), y(dtype::u8, x.dims());
    s.span<float>()[0] = scale;
    z.span<std::uint8_t>()[0] = static_cast<std::uint8_t>(zpf);
    kernels::quant_params p;
    p.scale = s.view();
    p.zero_point = const_tensor_view(z.view());
    kernels::quantize_linear(x, p, y.view());
    std::vector<tensor> out;
    out.push_back(std::move(y));
    out.push_back(std::move(s));
    out.push_back(std::move(z));
    return out;
}

integer_matrix prepare_integer_matrix(const_tensor_view b, optional_view b_zero_point) {
    const char* op = "ops::matmul_integer";
    if (b.rank() != 2)
        fail(status::unsupported, fmt::format("{}: B has shape {}; only a 2-D B is supported", op,
                                              b.dims().to_string()));
    integer_matrix m;
    m.k = b.dims()[0];
    m.n = b.dims()[1];
    const auto bv = int8_values(b, op, "B");
    const auto bz = zero_points(b_zero_point, b.type(), m.n, op, "b_zero_point");
    // Transposed to [N, K] so a dot product reads contiguous memory (the compiler vectorizes it).
    m.values.resize(static_cast<std::size_t>(m.k * m.n));
    for (std::int64_t i = 0; i < m.k; ++i)
        for (std::int64_t c = 0; c < m.n; ++c)
            m.values[static_cast<std::size_t>(c * m.k + i)] =
                static_cast<std::int16_t>(bv[static_cast<std::size_t>(i * m.n + c)] -
                                          bz[bz.size() == 1 ? 0 : static_cast<std::size_t>(c)]);
    return m;
}

tensor matmul_integer(const_tensor_view a, const integer_matrix& b, optional_view a_zero_point) {
    const char* op = "ops::matmul_integer";
    if (a.rank() < 1) fail(status::shape_mismatch, fmt::format("{}: A is a scalar", op));
    const auto k = a.dims()[a.rank() - 1], nn = b.n;
    if (b.k != k)
        fail(status::shape_mismatch, fmt::format("{}: A {} and B [{}, {}] disagree on K", op,
                                                 a.dims().to_string(), b.k, b.n));
    const auto av = int8_values(a, op, "A");
    const auto az = zero_points(a_zero_point, a.type(), 1, op, "a_zero_point");
    std::vector<std::int64_t> dims(a.dims().dims().begin(), a.dims().dims().end());
    dims.back() = nn;
    tensor y(dtype::i32, shape(std::span<const std::int64_t>(dims)));
    const std::int64_t rows = k == 0 ? y.numel() / std::max<std::int64_t>(nn, 1)
                                     : static_cast<std::int64_t>(av.size()) / k;
    auto* yp = static_cast<std::int32_t*>(y.data());
    // a − a_zp and b − b_zp fit int16 ([-255, 255]); ≤ 4096 products (|p| ≤ 65025) fit an int32
    // partial sum exactly; the total is exact in int64. One thread per output element, fixed order.
    std::vector<std::int16_t> at(av.size());
    for (std::size_t i = 0; i < av.size(); ++i)
        at[i] = static_cast<std::int16_t>(av[i] - az[0]);
    const int threads = detail::threads_for(rows * nn * std::max<std::int64_t>(k, 1));
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t idx = 0; idx < rows * nn; ++idx) {
        const auto r = idx / nn, c = idx % nn;
        const std::int16_t* x = at.data() + r * k;
        const std::int16_t* w = b.values.data() + c * k;
        std::int64_t acc = 0;
        for (std::int64_t i0 = 0; i0 < k; i0 += 4096) {
            std::int32_t part = 0;
            const auto i1 = std::min(k, i0 + 4096);
#pragma omp simd reduction(+ : part)
            for (std::int64_t i = i0; i < i1; ++i)
                part += std::int32_t(x[i]) * std::int32_t(w[i]);
            acc += part;
        }
        yp[idx] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc));
    }
    return y;
}

tensor matmul_integer(const_tensor_view a, const_tensor_view b, optional_view a_zero_point,
                      optional_view b_zero_point) {
    if (a.rank() < 1) fail(status::shape_mismatch, "ops::matmul_integer: A is a scalar");
    return matmul_integer(a, prepare_integer_matrix(b, b_zero_point), a_zero_point);
}

namespace {

// Σ_i a[i]·w_j[i] for four weight rows at once (a read once for four outputs), exact: int32
// partial sums over ≤ 4096 products (|p| ≤ 65025), totals in int64, wrapped to int32 as ONNX's
// int32 output does.
void dot4(const std::int16_t* a, const std::int16_t* w, std::int64_t k, std::int64_t count,
          std::int64_t w_stride, std::int32_t* out, std::int64_t out_stride) {
    std::int64_t j = 0;
    for (; j + 4 <= count; j += 4) {
        const std::int16_t *w0 = w + j * w_stride, *w1 = w0 + w_stride, *w2 = w1 + w_stride,
                           *w3 = w2 + w_stride;
        std::int64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (std::int64_t i0 = 0; i0 < k; i0 += 4096) {
            const auto i1 = std::min(k, i0 + 4096);
            std::int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
            for (std::int64_t i = i0; i < i1; ++i) {
                const std::int32_t x = a[i];
                s0 += x * w0[i];
                s1 += x * w1[i];
                s2 += x * w2[i];
                s3 += x * w3[i];
            }
            t0 += s0, t1 += s1, t2 += s2, t3 += s3;
        }
        const std::int64_t t[4] = {t0, t1, t2, t3};
        for (int q = 0; q < 4; ++q)
            out[(j + q) * out_stride] = static_cast<std::int32_t>(static_cast<std::uint32_t>(t[q]));
    }
    for (; j < count; ++j) {
        const std::int16_t* wj = w + j * w_stride;
        std::int64_t t = 0;
        for (std::int64_t i0 = 0; i0 < k; i0 += 4096) {
            const auto i1 = std::min(k, i0 + 4096);
            std::int32_t s = 0;
#pragma omp simd reduction(+ : s)
            for (std::int64_t i = i0; i < i1; ++i)
                s += std::int32_t(a[i]) * wj[i];
            t += s;
        }
        out[j * out_stride] = static_cast<std::int32_t>(static_cast<std::uint32_t>(t));
    }
}

} // namespace

tensor conv_integer(const_tensor_view x, const_tensor_view w, optional_view x_zero_point,
                    optional_view w_zero_point, const conv_params& params) {
    const char* op = "ops::conv_integer";
    if (w.rank() < 3 || w.rank() > 5 || x.rank() != w.rank())
        fail(status::shape_mismatch,
             fmt::format("{}: X {} and W {} must both be [.., .., 1 to 3 spatial dims]", op,
                         x.dims().to_string(), w.dims().to_string()));
    const auto group = params.group;
    if (group < 1)
        fail(status::invalid_argument, fmt::format("{}: group {} must be ≥ 1", op, group));
    const auto batch = x.dims()[0], c = x.dims()[1], m = w.dims()[0], cg = w.dims()[1];
    if (c != cg * group || m % group != 0)
        fail(status::shape_mismatch,
             fmt::format("{}: X {} has {} channels; W {} with group {} expects {} (and M divisible "
                         "by group)",
                         op, x.dims().to_string(), c, w.dims().to_string(), group, cg * group));
    const std::vector<std::int64_t> kernel(w.dims().dims().begin() + 2, w.dims().dims().end());
    const auto r =
        detail::resolve_spatial(x.dims().dims().subspan(2), kernel, params.spatial, false, op);
    const auto xz = zero_points(x_zero_point, x.type(), 1, op, "x_zero_point")[0];
    const auto wz = zero_points(w_zero_point, w.type(), m, op, "w_zero_point");
    const auto xc = centered_values(x, xz, op, "X"); // x − x_zp
    const auto wv = int8_values(w, op, "W");
    std::vector<std::int64_t> out_dims{batch, m};
    std::array<std::int64_t, 3> in{1, 1, 1}, ker{1, 1, 1}, st{1, 1, 1}, dil{1, 1, 1}, pb{0, 0, 0},
        out{1, 1, 1};
    for (std::size_t i = 0; i < r.k; ++i) {
        out_dims.push_back(r.out[i]);
        in[i] = r.in[i], ker[i] = r.kernel[i], st[i] = r.stride[i], dil[i] = r.dilation[i];
        pb[i] = r.pad_begin[i], out[i] = r.out[i];
    }
    tensor y(dtype::i32, shape(std::span<const std::int64_t>(out_dims)));
    auto* yp = static_cast<std::int32_t*>(y.data());
    const auto in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    const auto ksize = ker[0] * ker[1] * ker[2];
    const auto kk = cg * ksize; // reduction length of one output
    const auto mg = m / group;
    if (y.numel() == 0) return y;

    // Weights w − w_zp as int16 rows [M, cg·ksize] (the layout of W itself).
    std::vector<std::int16_t> wc(wv.size());
    for (std::int64_t oc = 0; oc < m; ++oc)
        for (std::int64_t i = 0; i < kk; ++i)
            wc[static_cast<std::size_t>(oc * kk + i)] =
                static_cast<std::int16_t>(wv[static_cast<std::size_t>(oc * kk + i)] -
                                          wz[wz.size() == 1 ? 0 : static_cast<std::size_t>(oc)]);

    // Work in tiles of up to 64 output positions of one image and group: each tile gathers its
    // windows (x − x_zp, 0 for padding) into a [tile, cg·ksize] block, then takes dot products
    // with the group's weight rows. Every output is one exact integer sum in a fixed order, so
    // the result does not depend on the thread count.
    constexpr std::int64_t tile = 64;
    const auto tiles = (out_plane + tile - 1) / tile;
    const auto tasks = batch * group * tiles;
    const int threads = detail::threads_for(y.numel() * kk);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        std::vector<std::int16_t> cols(static_cast<std::size_t>(tile * kk));
#pragma omp for schedule(static)
        for (std::int64_t task = 0; task < tasks; ++task) {
            const auto t = task % tiles, g = (task / tiles) % group, nb = task / (tiles * group);
            const auto p0 = t * tile, p1 = std::min(out_plane, p0 + tile);
            for (std::int64_t pos = p0; pos < p1; ++pos) {
                const std::int64_t o0 = pos / (out[1] * out[2]), o1 = (pos / out[2]) % out[1],
                                   o2 = pos % out[2];
                std::int16_t* col = cols.data() + (pos - p0) * kk;
                for (std::int64_t ci = 0; ci < cg; ++ci) {
                    const auto xbase = (nb * c + g * cg + ci) * in_plane;
                    for (std::int64_t k0 = 0; k0 < ker[0]; ++k0) {
                        const auto i0 = o0 * st[0] - pb[0] + k0 * dil[0];
                        for (std::int64_t k1 = 0; k1 < ker[1]; ++k1) {
                            const auto i1 = o1 * st[1] - pb[1] + k1 * dil[1];
                            for (std::int64_t k2 = 0; k2 < ker[2]; ++k2) {
                                const auto i2 = o2 * st[2] - pb[2] + k2 * dil[2];
                                const bool inside = i0 >= 0 && i0 < in[0] && i1 >= 0 &&
                                                    i1 < in[1] && i2 >= 0 && i2 < in[2];
                                *col++ = inside ? xc[static_cast<std::size_t>(
                                                      xbase + (i0 * in[1] + i1) * in[2] + i2)]
                                                : std::int16_t(0);
                            }
                        }
                    }
                }
            }
            for (std::int64_t pos = p0; pos < p1; ++pos)
                dot4(cols.data() + (pos - p0) * kk, wc.data() + g * mg * kk, kk, mg, kk,
                     yp + (nb * m + g * mg) * out_plane + pos, out_plane);
        }
    }
    return y;
}

} // namespace hone::ops
