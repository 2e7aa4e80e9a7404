// C ABI of the sparsity, clustering, norms and palettized kernels (hone.h section "kernels:
// sparsity, clustering, norms"). Handles are read through the public tensor accessors.
#include "guard.hpp"
#include "hone/kernels/cluster.hpp"
#include "hone/kernels/norms.hpp"
#include "hone/kernels/palettized.hpp"
#include "hone/kernels/sparsity.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace {

using hone::capi::guarded;
using hone::capi::require;

static_assert(HONE_SCORE_VALUE == static_cast<int>(hone::kernels::score_kind::value));
static_assert(HONE_NORM_L1 == static_cast<int>(hone::kernels::norm::l1));

// The view behind a handle, rebuilt (and re-checked) from the public accessors.
using hone::capi::view_of;

hone::kernels::score_kind checked_kind(const hone_score_kind& kind, const char* fn) {
    const long long raw = hone::capi::raw_enum(kind);
    if (raw != HONE_SCORE_MAGNITUDE && raw != HONE_SCORE_VALUE)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: {} is not a hone_score_kind", fn, raw));
    return static_cast<hone::kernels::score_kind>(raw);
}

hone::kernels::norm checked_norm(const hone_norm& n, const char* fn) {
    const long long raw = hone::capi::raw_enum(n);
    if (raw < HONE_NORM_SUM_SQUARES || raw > HONE_NORM_L1)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: {} is not a hone_norm", fn, raw));
    return static_cast<hone::kernels::norm>(raw);
}

using hone::capi::named;

std::span<const std::uint8_t> u8_matrix(const hone::tensor_view& v, const char* fn,
                                        const char* what) {
    if (v.type() != hone::dtype::u8 || v.rank() != 2 || !v.is_contiguous())
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: {} must be a contiguous u8 [rows, ...] matrix (it is {} {})",
                               fn, what, hone::name_of(v.type()), v.dims().to_string()));
    return {static_cast<const std::uint8_t*>(v.data()), std::size_t(v.numel())};
}

hone::kernels::palettized_matrix palettized(const hone_palettized_params* p,
                                            const hone::tensor_view& packed,
                                            const hone::tensor_view& codebooks, const char* fn) {
    require(p, fn, "params");
    hone::capi::check_struct_size(p->struct_size, sizeof(hone_palettized_params), fn,
                                  "hone_palettized_params");
    const auto idx = u8_matrix(packed, fn, "packed");
    if ((codebooks.type() != hone::dtype::f32 && codebooks.type() != hone::dtype::f16) ||
        !codebooks.is_contiguous())
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: codebooks must be contiguous f32 or f16 (it is {})", fn,
                               hone::name_of(codebooks.type())));
    const std::size_t bytes =
        std::size_t(codebooks.numel()) * (codebooks.type() == hone::dtype::f32 ? 4u : 2u);
    hone::kernels::palettized_matrix w{packed.dims()[0],
                                       p->cols,
                                       p->bits,
                                       p->rows_per_group,
                                       codebooks.type(),
                                       idx,
                                       {static_cast<const std::byte*>(codebooks.data()), bytes}};
    named(fn, [&] {
        w.validate();
        if (std::size_t(packed.dims()[1]) != hone::kernels::packed_row_bytes(w.cols, w.bits))
            hone::fail(hone::status::shape_mismatch,
                       fmt::format("packed rows have {} bytes; {} columns of {} bits need {}",
                                   packed.dims()[1], w.cols, w.bits,
                                   hone::kernels::packed_row_bytes(w.cols, w.bits)));
    });
    return w;
}

std::span<float> f32_span(const hone::tensor_view& v, const char* fn, const char* what) {
    if (v.type() != hone::dtype::f32 || !v.is_contiguous())
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: {} must be contiguous f32 (it is {})", fn, what,
                               hone::name_of(v.type())));
    return {static_cast<float*>(v.data()), std::size_t(v.numel())};
}

} // namespace

extern "C" {

HONE_API hone_status hone_topk_mask(const hone_tensor* scores, int64_t keep, hone_score_kind kind,
                                    hone_tensor* mask, float* threshold) {
    return guarded([&] {
        constexpr const char* fn = "hone_topk_mask";
        const auto k = checked_kind(kind, fn);
        const auto s = view_of(scores, fn, "scores");
        const auto m = view_of(mask, fn, "mask");
        hone::kernels::topk_result r;
        named(fn, [&] { r = hone::kernels::topk_mask(s, keep, k, m); });
        if (threshold) *threshold = r.threshold;
    });
}

HONE_API hone_status hone_nm_mask(const hone_tensor* scores, int n, int m, hone_score_kind kind,
                                  hone_tensor* mask) {
    return guarded([&] {
        constexpr const char* fn = "hone_nm_mask";
        const auto k = checked_kind(kind, fn);
        const auto s = view_of(scores, fn, "scores");
        const auto out = view_of(mask, fn, "mask");
        named(fn, [&] { hone::kernels::nm_mask(s, n, m, k, out); });
    });
}

HONE_API hone_status hone_apply_mask(const hone_tensor* src, const hone_tensor* mask,
                                     hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_apply_mask";
        const auto s = view_of(src, fn, "src");
        const auto m = view_of(mask, fn, "mask");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { hone::kernels::apply_mask(s, m, d); });
    });
}

HONE_API hone_status hone_nearest_centroid(const hone_tensor* values, const hone_tensor* centroids,
                                           hone_tensor* indices) {
    return guarded([&] {
        constexpr const char* fn = "hone_nearest_centroid";
        const auto v = view_of(values, fn, "values");
        const auto c = view_of(centroids, fn, "centroids");
        const auto i = view_of(indices, fn, "indices");
        named(fn, [&] { hone::kernels::nearest_centroid(v, c, i); });
    });
}

HONE_API hone_status hone_codebook_lookup(const hone_tensor* indices, const hone_tensor* codebook,
                                          hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_codebook_lookup";
        const auto i = view_of(indices, fn, "indices");
        const auto c = view_of(codebook, fn, "codebook");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { hone::kernels::codebook_lookup(i, c, d); });
    });
}

HONE_API hone_status hone_row_norms(const hone_tensor* src, hone_norm norm, hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_row_norms";
        const auto k = checked_norm(norm, fn);
        const auto s = view_of(src, fn, "src");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { hone::kernels::row_norms(s, k, d); });
    });
}

HONE_API hone_status hone_col_norms(const hone_tensor* src, hone_norm norm, hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_col_norms";
        const auto k = checked_norm(norm, fn);
        const auto s = view_of(src, fn, "src");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { hone::kernels::col_norms(s, k, d); });
    });
}

HONE_API hone_status hone_palettized_params_init(hone_palettized_params* params) {
    return guarded([&] {
        *require(params, "hone_palettized_params_init", "params") =
            hone_palettized_params{sizeof(hone_palettized_params), 4, 0, 0};
    });
}

HONE_API hone_status hone_packed_row_bytes(int64_t cols, int bits, size_t* out) {
    return guarded([&] {
        require(out, "hone_packed_row_bytes", "out");
        std::size_t n = 0;
        named("hone_packed_row_bytes", [&] { n = hone::kernels::packed_row_bytes(cols, bits); });
        *out = n;
    });
}

HONE_API hone_status hone_pack_indices(const hone_tensor* indices, int bits, hone_tensor* packed) {
    return guarded([&] {
        constexpr const char* fn = "hone_pack_indices";
        const auto iv = view_of(indices, fn, "indices");
        const auto pv = view_of(packed, fn, "packed");
        const auto i = u8_matrix(iv, fn, "indices");
        const auto p = u8_matrix(pv, fn, "packed");
        if (iv.dims()[0] != pv.dims()[0])
            hone::fail(
                hone::status::shape_mismatch,
                fmt::format("{}: indices have {} rows, packed {}", fn, iv.dims()[0], pv.dims()[0]));
        named(fn, [&] {
            hone::kernels::pack_indices(i, iv.dims()[0], iv.dims()[1], bits,
                                        {const_cast<std::uint8_t*>(p.data()), p.size()});
        });
    });
}

HONE_API hone_status hone_unpack_indices(const hone_tensor* packed, int bits,
                                         hone_tensor* indices) {
    return guarded([&] {
        constexpr const char* fn = "hone_unpack_indices";
        const auto pv = view_of(packed, fn, "packed");
        const auto iv = view_of(indices, fn, "indices");
        const auto p = u8_matrix(pv, fn, "packed");
        const auto i = u8_matrix(iv, fn, "indices");
        if (iv.dims()[0] != pv.dims()[0])
            hone::fail(
                hone::status::shape_mismatch,
                fmt::format("{}: indices have {} rows, packed {}", fn, iv.dims()[0], pv.dims()[0]));
        named(fn, [&] {
            hone::kernels::unpack_indices(p, iv.dims()[0], iv.dims()[1], bits,
                                          {const_cast<std::uint8_t*>(i.data()), i.size()});
        });
    });
}

HONE_API hone_status hone_palettized_decode(const hone_palettized_params* params,
                                            const hone_tensor* packed, const hone_tensor* codebooks,
                                            hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_palettized_decode";
        const auto pv = view_of(packed, fn, "packed");
        const auto cv = view_of(codebooks, fn, "codebooks");
        const auto dv = view_of(dst, fn, "dst");
        const auto w = palettized(params, pv, cv, fn);
        const auto d = f32_span(dv, fn, "dst");
        if (dv.rank() != 2 || dv.dims()[0] != w.rows || dv.dims()[1] != w.cols)
            hone::fail(hone::status::shape_mismatch,
                       fmt::format("{}: dst must be [{}, {}], not {}", fn, w.rows, w.cols,
                                   dv.dims().to_string()));
        named(fn, [&] { hone::kernels::palettized_decode(w, d); });
    });
}

HONE_API hone_status hone_palettized_matmul(const hone_palettized_params* params,
                                            const hone_tensor* packed, const hone_tensor* codebooks,
                                            const hone_tensor* x, const hone_tensor* bias,
                                            hone_tensor* y) {
    return guarded([&] {
        constexpr const char* fn = "hone_palettized_matmul";
        const auto pv = view_of(packed, fn, "packed");
        const auto cv = view_of(codebooks, fn, "codebooks");
        const auto xv = view_of(x, fn, "x");
        const auto yv = view_of(y, fn, "y");
        const auto w = palettized(params, pv, cv, fn);
        const auto xs = f32_span(xv, fn, "x");
        const auto ys = f32_span(yv, fn, "y");
        std::span<const float> bs;
        if (bias) bs = f32_span(view_of(bias, fn, "bias"), fn, "bias");
        if (xv.rank() < 1 || xv.rank() > 2 || xv.dims()[xv.rank() - 1] != w.cols)
            hone::fail(hone::status::shape_mismatch,
                       fmt::format("{}: x must be [M, {}] or [{}], not {}", fn, w.cols, w.cols,
                                   xv.dims().to_string()));
        const std::int64_t m = xv.rank() == 2 ? xv.dims()[0] : 1;
        const bool y_ok = xv.rank() == 2
                              ? (yv.rank() == 2 && yv.dims()[0] == m && yv.dims()[1] == w.rows)
                              : (yv.rank() == 1 && yv.dims()[0] == w.rows);
        if (!y_ok)
            hone::fail(hone::status::shape_mismatch,
                       fmt::format("{}: y must be {} for x {}, not {}", fn,
                                   xv.rank() == 2 ? fmt::format("[{}, {}]", m, w.rows)
                                                  : fmt::format("[{}]", w.rows),
                                   xv.dims().to_string(), yv.dims().to_string()));
        named(fn, [&] { hone::kernels::palettized_matmul(w, xs, m, ys, bs); });
    });
}

} // extern "C"
