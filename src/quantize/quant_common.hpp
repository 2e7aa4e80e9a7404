// Internal helpers of the weight quantizer: b-bit scale/zero-point choice, the scalar
// quantization formula, and group indexing. Not part of the public API.
#pragma once

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"
#include "hone/quantize/quant_spec.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone::detail {

/// Round half to even in the current (default: to nearest) mode, as the kernel layer does.
inline float round_half_even(float x) noexcept { return std::nearbyint(x); }

struct group_params {
    float scale = 1.0f;
    std::int32_t zero_point = 0;
};

/// Scale and zero point of the b-bit range for values in [lo, hi] (both finite), the formulas
/// of kernels::choose_qparams (see quant_spec.hpp); the scale is rounded to f16 when the spec
/// asks (and stays > 0 and finite, else invalid_argument naming `what`).
group_params choose_params(float lo, float hi, const quant_spec& spec, std::string_view what);

/// q = clamp(round_half_even(x / scale) + zp, qmin, qmax); NaN → zp (never reached: inputs are
/// checked finite). `clipped` is set when the unclamped value was outside the range.
inline std::int32_t quantize_value(float x, float scale, std::int32_t zp, std::int32_t qmin,
                                   std::int32_t qmax, bool* clipped = nullptr) noexcept {
    float r = round_half_even(x / scale) + static_cast<float>(zp);
    bool clip = false;
    if (!(r >= static_cast<float>(qmin))) {
        clip = !std::isnan(r);
        r = std::isnan(r) ? static_cast<float>(zp) : static_cast<float>(qmin);
    } else if (r > static_cast<float>(qmax)) {
        clip = true;
        r = static_cast<float>(qmax);
    }
    if (clipped) *clipped = clip;
    return static_cast<std::int32_t>(r);
}

inline float dequantize_value(std::int32_t q, float scale, std::int32_t zp) noexcept {
    return static_cast<float>(q - zp) * scale;
}

/// Maps flat element indices of a tensor to its scale group under a validated spec.
struct group_map {
    std::int64_t groups = 1;
    int kind = 0; // 0 tensor, 1 channel, 2 group
    std::int64_t inner = 1, axis_dim = 1, block = 1;
    group_map(const quant_spec& spec, const shape& dims, int axis);
    std::int64_t operator()(std::int64_t i) const noexcept {
        if (kind == 0) return 0;
        const std::int64_t a = (i / inner) % axis_dim;
        if (kind == 1) return a;
        const std::int64_t outer = i / (inner * axis_dim);
        return (outer * (axis_dim / block) + a / block) * inner + i % inner;
    }
};

/// Index of the first NaN or ±inf in v, or v.size() when every value is finite (a vectorised
/// scan, then a search only when something was found). The quantize area's one non-finite check:
/// callers name the value in their own message.
template <class T> std::size_t first_non_finite(std::span<const T> v) noexcept {
    bool finite = true;
    const T* p = v.data();
    const std::size_t n = v.size();
#pragma omp simd reduction(&& : finite)
    for (std::size_t i = 0; i < n; ++i)
        finite = finite && std::isfinite(p[i]);
    if (finite) return n;
    std::size_t i = 0;
    while (std::isfinite(p[i]))
        ++i;
    return i;
}

/// The f32 elements of x (any strides) in row-major order; throws invalid_argument naming
/// `what` and the index when one is NaN or infinite, dtype_mismatch when x is not f32.
std::vector<float> gather_finite(const_tensor_view x, std::string_view what);

/// The same without a copy when x is contiguous: a span of x's own elements (checked finite),
/// else of `storage` (filled by gather_finite).
std::span<const float> finite_values(const_tensor_view x, std::string_view what,
                                     std::vector<float>& storage);

} // namespace hone::detail

#include "hone/quantize/gptq.hpp"
#include "hone/quantize/quantized_tensor.hpp"

namespace hone::detail {

/// Min/max parameters of one group of values.
group_params minmax_params(std::span<const float> values, const quant_spec& spec,
                           std::string_view what);

/// Clip-search parameters of one group of values (see clip_search_config).
group_params clip_params(std::span<const float> values, const quant_spec& spec,
                         const clip_search_config& clip, std::string_view what);

/// Parameters of every group of `values` (row-major elements of a tensor of shape dims under
/// a validated spec with normalised axis), by min/max or, when clip is not null, clip search.
/// Groups are processed in parallel; results do not depend on the thread count.
std::vector<group_params> choose_all(std::span<const float> values, const quant_spec& spec,
                                     const group_map& map, const clip_search_config* clip,
                                     std::string_view what);

/// Quantizes `values` with per-group parameters into a quantized_tensor (kernel
/// quantize_linear for 8 and 4 bits, the same formula clamped to the b-bit range otherwise).
quantized_tensor pack(std::span<const float> values, const shape& dims, const quant_spec& spec,
                      int axis, std::span<const group_params> params, std::string_view what);

/// Validates a clip_search_config; throws invalid_argument naming `what`.
void validate(const clip_search_config& clip, std::string_view what);

/// y [m, n] = x [m, k] · wᵀ (w [n, k]; all f32 row-major): fixed chunks of 64 rows in parallel,
/// each one single-thread oneDNN product, so the bytes do not depend on the thread count (a
/// product oneDNN runs on several threads may split its reduction: its AVX2 kernels do at long
/// K). For AWQ's search and the report's output figures.
void matmul_rows(const float* x, const float* w, float* y, std::int64_t m, std::int64_t k,
                 std::int64_t n);

} // namespace hone::detail
