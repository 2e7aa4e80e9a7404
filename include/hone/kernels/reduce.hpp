// hone/kernels/reduce.hpp — min/max and abs-max reductions of f32 data (SIMD, runtime dispatch).
//
// These feed quantization: the range of a tensor, of each channel or of each group gives the
// scale and zero point (hone/kernels/quantize.hpp, choose_qparams). Results are exact, so every
// SIMD tier returns exactly the bits of the scalar reference, whatever the thread count.
//
// Value rules, identical on every tier:
//  - NaN: if any element of a reduced set is NaN, that set's result is NaN (min and max both,
//    or the abs-max), always the canonical quiet NaN 0x7fc00000. Callers detect bad data with
//    std::isnan on the result.
//  - Signed zeros: -0 orders below +0, so min{+0, -0} = -0 and max{+0, -0} = +0. abs_max is
//    never negative (|-0| = +0).
//  - ±inf take part like any other value.
//  - An empty set gives the identities: min = +inf, max = -inf, abs_max = +0.
//
// Granularity (which elements share one result) follows ONNX QuantizeLinear, so a result
// tensor has exactly the shape quantize_linear expects for its scale:
//  - per_tensor: one result, shape [] (rank 0);
//  - per_channel along `axis`: one result per index of that axis, shape [dims[axis]];
//  - per_group along `axis` with `group_size` B: groups of B consecutive indices of that axis,
//    shape = dims with dims[axis] replaced by dims[axis] / B. B must divide dims[axis].
// For a row-major matrix [rows, cols]: per row = per_channel axis 0, per column = per_channel
// axis 1, groups of g consecutive elements of each row = per_group axis 1, group_size g. The
// span functions below are those cases, spelled out.
//
// Errors (hone::error): dtype_mismatch (input or result not f32), shape_mismatch (result shape
// or size wrong; the message gives the expected shape), invalid_argument (axis outside
// [-rank, rank), group_size < 1 for per_group, group_size not dividing the axis, a granularity
// value that is not one of the enum).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>

namespace hone::kernels {

/// Which elements share one reduction result (and one scale / zero point).
enum class granularity : int {
    per_tensor = 0,  ///< the whole tensor
    per_channel = 1, ///< each index of `axis` (ONNX per-axis)
    per_group = 2,   ///< each run of `group_size` consecutive indices of `axis` (ONNX blocked)
};

/// Granularity plus its axis and group size. axis may be negative (counts from the end, as
/// ONNX); it and group_size are ignored for per_tensor, group_size is ignored for per_channel.
struct quant_axis {
    granularity kind = granularity::per_tensor;
    int axis = 0;
    std::int64_t group_size = 0;
};

/// min and max of a set.
struct value_range {
    float min = 0.0f;
    float max = 0.0f;
};

/// The shape of a result (and of the matching scale / zero point) for an input of shape
/// `dims`, as described above. Validates axis and group size.
HONE_EXPORT shape reduced_shape(const shape& dims, const quant_axis& g);

/// min and max of `src` (f32, any strides) per `g`, into `min` and `max` (f32, contiguous, of
/// shape reduced_shape(src.dims(), g)).
HONE_EXPORT void min_max(const_tensor_view src, const quant_axis& g, tensor_view min,
                         tensor_view max);
/// max |x| of `src` per `g`, into `dst` (as min_max).
HONE_EXPORT void abs_max(const_tensor_view src, const quant_axis& g, tensor_view dst);

// ---- span forms: the whole span, or a row-major matrix [rows, cols] (src.size() must be
// rows·cols; every count is checked) ------------------------------------------------------

HONE_EXPORT value_range min_max(std::span<const float> src);
HONE_EXPORT float abs_max(std::span<const float> src);

/// Per row: min/max have `rows` entries.
HONE_EXPORT void min_max_rows(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                              std::span<float> min, std::span<float> max);
HONE_EXPORT void abs_max_rows(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                              std::span<float> dst);
/// Per column: min/max have `cols` entries.
HONE_EXPORT void min_max_cols(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                              std::span<float> min, std::span<float> max);
HONE_EXPORT void abs_max_cols(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                              std::span<float> dst);
/// Per group of `group` consecutive elements of each row (group must divide cols): results are
/// a row-major [rows, cols / group] matrix.
HONE_EXPORT void min_max_groups(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                                std::int64_t group, std::span<float> min, std::span<float> max);
HONE_EXPORT void abs_max_groups(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                                std::int64_t group, std::span<float> dst);

} // namespace hone::kernels
