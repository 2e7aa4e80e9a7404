// Internal helpers of the pruner: weights as [rows, K] matrices, masks, NaN checks, naming.
#pragma once

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone::prune_detail {

/// A weight tensor read as a row-major [rows, cols] matrix (rows = dims[0]).
struct matrix {
    float* data = nullptr;
    std::int64_t rows = 0, cols = 0;
    std::size_t size() const noexcept { return std::size_t(rows) * std::size_t(cols); }
    std::span<float> span() const noexcept { return {data, size()}; }
};

inline matrix as_matrix(const_tensor_view w, const char* fn, std::string_view name) {
    if (w.data() == nullptr && w.numel() != 0)
        fail(status::invalid_argument, fmt::format("{}: '{}' has no data", fn, name));
    if (w.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: '{}' must be f32, not {}", fn, name, name_of(w.type())));
    if (!w.is_contiguous())
        fail(status::invalid_argument, fmt::format("{}: '{}' must be contiguous", fn, name));
    if (w.rank() == 0)
        fail(status::invalid_argument,
             fmt::format("{}: '{}' is a scalar; weights need rank ≥ 1", fn, name));
    matrix m;
    m.data = const_cast<float*>(static_cast<const float*>(w.data()));
    m.rows = w.rank() == 1 ? 1 : w.dims()[0];
    m.cols = m.rows == 0 ? 0 : w.numel() / m.rows;
    return m;
}

/// The mask bytes: the caller's mask (checked against the weights' shape) or a scratch buffer.
inline std::span<std::uint8_t> mask_bytes(tensor_view mask, const shape& want,
                                          std::vector<std::uint8_t>& scratch, const char* fn,
                                          std::string_view name) {
    if (mask.data() == nullptr && mask.rank() == 0) { // no mask given: a default view
        scratch.assign(std::size_t(want.numel()), 0);
        return scratch;
    }
    if (mask.type() != dtype::u8 && mask.type() != dtype::boolean)
        fail(status::dtype_mismatch, fmt::format("{}: the mask of '{}' must be u8 or bool, not {}",
                                                 fn, name, name_of(mask.type())));
    if (!(mask.dims() == want))
        fail(status::shape_mismatch,
             fmt::format("{}: the mask of '{}' has shape {}, the weights {}", fn, name,
                         mask.dims().to_string(), want.to_string()));
    if (!mask.is_contiguous())
        fail(status::invalid_argument,
             fmt::format("{}: the mask of '{}' must be contiguous", fn, name));
    return {static_cast<std::uint8_t*>(mask.data()), std::size_t(mask.numel())};
}

/// Throws invalid_argument naming the first NaN as (row, column) of the [rows, cols] matrix.
inline void check_no_nan(const matrix& w, const char* fn, std::string_view name) {
    const float* p = w.data;
    const std::size_t n = w.size();
    for (std::size_t i = 0; i < n; ++i)
        if (std::isnan(p[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: '{}' has a NaN weight at row {}, column {}; NaN weights cannot "
                             "be ranked",
                             fn, name, i / std::size_t(w.cols), i % std::size_t(w.cols)));
}

/// Runs body; a hone::error it throws is re-thrown prefixed with "fn: 'name': ".
template <class Fn> decltype(auto) naming(const char* fn, std::string_view name, Fn&& body) {
    try {
        return body();
    } catch (const hone::error& e) {
        throw hone::error(e.code(), fmt::format("{}: '{}': {}", fn, name, e.what()));
    }
}

/// The smallest |w| among kept entries (+inf when none).
inline float weakest_kept(std::span<const float> w, std::span<const std::uint8_t> mask) {
    float t = INFINITY;
    for (std::size_t i = 0; i < w.size(); ++i)
        if (mask[i] && std::fabs(w[i]) < t) t = std::fabs(w[i]);
    return t;
}

inline std::int64_t count_pruned(std::span<const std::uint8_t> mask) {
    std::int64_t z = 0;
    for (const auto b : mask)
        z += b == 0;
    return z;
}

} // namespace hone::prune_detail
