// Internal: range searches over a calibration histogram (percentile, KL entropy, MSE).
// A histogram here is a run of bin counts h[0, n) (doubles), bin k covering
// [edge0 + k·w, edge0 + (k+1)·w). Ranges are expressed as bin edges [l, r), l < r.
#pragma once

#include "hone/core/dtype.hpp"
#include "hone/kernels/quantize.hpp"

#include <cstdint>
#include <span>

namespace hone::calib_detail {

struct grid {
    dtype type = dtype::u8;
    kernels::quant_scheme scheme = kernels::quant_scheme::affine;
    bool reduce_range = false;
};

/// The value at fraction q ∈ [0, 1] of the mass, linear inside the bin. `zeros` of the counts
/// of bin `zero_bin` (whose left edge is 0) are exact zeros, an atom at its left edge.
double percentile_of(std::span<const double> h, double edge0, double w, double q,
                     std::size_t zero_bin = 0, double zeros = 0);

/// KL(P‖Q) of the TensorRT/MXNet entropy calibration for the slice [l, r) quantized to
/// `levels` chunks; +inf when the slice is narrower than `levels` bins or degenerate.
double kl_cost(std::span<const double> h, std::int64_t l, std::int64_t r, std::int64_t levels);

/// Estimated quantize-dequantize squared error of all the histogram's mass (bin centres) with
/// the parameters of the real range [lo, hi].
double mse_cost(std::span<const double> h, double edge0, double w, float lo, float hi,
                const grid& g);

enum class criterion { entropy, mse };

/// One-sided search: l fixed at 0, r over every bin edge from `min_r` to the last non-empty bin
/// + 1. The histogram is of values ≥ 0 (edge0 = 0). `range_of(r)` maps an edge to the real
/// range [lo, hi] for the MSE cost. Returns the best r.
std::int64_t search_one_sided(std::span<const double> h, double w, criterion c, std::int64_t levels,
                              const grid& g, bool symmetric_range);

/// Two-sided greedy search on a signed histogram (edge0 < 0 < edge0 + n·w, zero at bin edge
/// `zero`): returns the best [l, r) with l ≤ zero ≤ r.
void search_two_sided(std::span<const double> h, double edge0, double w, std::int64_t zero,
                      criterion c, std::int64_t levels, const grid& g, std::int64_t& best_l,
                      std::int64_t& best_r);

/// y[m, n] = x[m, k]·w[n, k]ᵀ with a fixed summation order (8 interleaved f32 partial sums,
/// then combined in a fixed tree), parallel over rows: bitwise identical at any thread count
/// (oneDNN's matmul may change its reduction order with the thread count). For scoring.
void matmul_nt_fixed(const float* x, const float* w, float* y, std::int64_t m, std::int64_t k,
                     std::int64_t n);

} // namespace hone::calib_detail
