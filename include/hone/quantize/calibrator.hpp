// hone/quantize/calibrator.hpp — static activation ranges (scale, zero point) from calibration
// batches, streamed with bounded memory.
//
// A calibrator is configured once (method, granularity, target type and scheme), then fed any
// number of batches with observe(); result() turns what it saw into the scale and zero point a
// static W8A8 layer uses (hone::kernels::linear with act_quant::static_per_tensor, or
// hone::kernels::quantize_linear). Nothing but a fixed-size summary of the data is kept.
//
// Methods (C ABI: hone_calib_method):
//  - min_max:        the exact min and max of everything observed (hone::kernels::min_max).
//                    Order-independent: any batch split and any thread count give equal bits.
//  - moving_average: per batch min/max, averaged with momentum m: r ← r + m·(r_batch − r), the
//                    first batch taken as is (torch.ao MovingAverageMinMaxObserver with
//                    averaging_constant = m, NNCF's moving-average). Depends on the batch split.
//  - percentile:     the p-th percentile of the data (affine: the (100 − p)-th and p-th of x;
//                    symmetric: the p-th of |x|), read from the histogram below with linear
//                    interpolation inside a bin, then clamped to the exact min/max. Error bound:
//                    at most one bin width, R / bins ≤ 2·max|x| / bins, from the exact percentile.
//  - entropy:        TensorRT's KL-divergence calibration: for every candidate threshold i
//                    (bin edge, from `levels` bins up to the last non-empty bin) the reference
//                    distribution P = hist[0, i) with the clipped mass added to the last bin, the
//                    quantized Q = hist[0, i) merged into `levels` chunks and expanded back over
//                    each chunk's non-empty bins; both smoothed (ε ≤ 1e-4 moved onto empty
//                    bins, as MXNet); the threshold minimising KL(P‖Q) wins. levels = number of
//                    quantized values on the clipped side: 128 for i8 symmetric (|x| histogram),
//                    256 for u8 affine on one-signed data (64 / 128 with reduce_range). Two
//                    deliberate differences from MXNet's reference: chunk j covers bins
//                    [j·len/L, (j+1)·len/L) (MXNet gives the whole remainder to the last chunk,
//                    which distorts Q when len/L is small), and exact zeros are left out of P
//                    and Q — every grid represents 0 exactly, and the spike of ReLU zeros in bin
//                    0 otherwise dominates the divergence (on the MLP's fc2 input it drove the
//                    threshold to 3.96 instead of 8.34 and the W8A8 SQNR to 23 dB instead of 45).
//  - mse:            the range minimising the quantize-dequantize MSE estimated from the
//                    histogram (each bin's count at its centre, quantized with the candidate's
//                    actual scale and zero point, clipping included); exhaustive over every
//                    candidate bin edge for one-sided ranges.
//  - auto_select:    computes the min_max, percentile, entropy and mse candidates from one
//                    histogram, then needs a second pass over the same calibration batches
//                    (score()) in which it measures each candidate's error exactly and picks,
//                    per channel (per tensor for per-tensor granularity), the candidate with the
//                    least error. min_max is a candidate and ties go to it, so the chosen
//                    ranges are by construction never worse than min_max on the scored data.
//                    The error is, without a consumer: the quantize-dequantize squared error of
//                    the tensor itself, Σ (x − qdq(x))²; with a consumer (set_consumer: the next
//                    layer's reference weights W [N, K] and the weights it will run with Ŵ,
//                    e.g. RTN-dequantized), the layer-output squared error Σ ‖x·Wᵀ − qdq(x)·Ŵᵀ‖²
//                    (bias cancels), evaluated per tensor (the layer output couples channels).
//                    The products are computed by a fixed-order kernel, so scores (and the
//                    choice) are bitwise identical at any thread count; a different batch split
//                    of the scoring pass changes only the order of the final double sums.
//
// Affine signed data (min < 0 < max) for entropy and mse: a two-sided greedy search that
// starts from the full range and shrinks, one step at a time (step = max(1, width / 256)
// bins), whichever end lowers the cost more, keeping the best range seen, until fewer than
// `levels` bins remain (as torch's HistogramObserver search).
//
// The histogram (bounded memory, exact, order-independent): per channel, 2·bins counts (u64)
// over [−R, R] (bins for x ≥ 0, bins for x < 0 by |x|), bin j of a side covering
// [j·R/bins, (j+1)·R/bins). R is a power of two: the smallest 2^e ≥ max|x| seen so far. When a
// batch needs a larger R, every side is re-binned by merging adjacent pairs of bins once per
// doubling — an exact operation, because with R and bins powers of two the bin of |x| at 2R is
// exactly half its bin at R. So the final histogram depends only on the multiset of values
// observed: any batch split, any order, any thread count give identical counts. Resolution: the
// data spans more than half of [0, R], so at least bins / 2 bins cover it. Memory: 16·bins bytes
// per channel (32 KiB for 2048 bins), whatever the number of batches.
//
// Zero point and scale (kernel conventions, hone/kernels/quantize.hpp and gemm.hpp):
//  - u8 affine: scale = (hi − lo) / 255, zero point in [0, 255], kernels::choose_qparams;
//  - i8 symmetric: scale = max(|lo|, |hi|) / 127, zero point 0, kernels::choose_qparams;
//  - reduce_range (7-bit activations, linear_params::reduce_range): u8 uses [0, 127] —
//    scale = (hi − lo) / 127, zero point in [0, 127] — and i8 uses [−64, 63] (symmetric:
//    scale = a / 63, zero point 0). The same formulas with qmin/qmax replaced.
//  Any pair (type ∈ {u8, i8}, scheme ∈ {affine, symmetric}) is accepted.
//
// Granularity: per_tensor, or per_channel along `axis` (negative counts from the end) — one
// range per index of that axis, result shape [dims[axis]] (kernels::reduced_shape). per_group
// is refused. Every batch must have the rank, and for per_channel the channel count, of the first.
//
// Errors (hone::error), every message starting with the calibrator's `name`: invalid_argument
// for NaN or ±inf in a batch (naming the channel), a percentile outside (0, 100], momentum
// outside (0, 1], bins not a power of two in [16, 65536], an unknown method/type/scheme,
// per_group, result() before any non-empty batch, score() for a method other than auto_select
// or before observe(), result() of auto_select before score(); out_of_range / invalid_argument
// for an axis outside the rank; shape_mismatch for a batch whose rank or channel count differs,
// or consumer weights whose K differs from the channel count of per-tensor data's last axis;
// dtype_mismatch for a batch that is not f32. Empty batches are accepted and change nothing.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/kernels/quantize.hpp"
#include "hone/kernels/reduce.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hone {

/// How a calibrator turns observations into a range (see the file comment).
enum class calib_method : int {
    min_max = 0,
    moving_average = 1,
    percentile = 2,
    entropy = 3,
    mse = 4,
    auto_select = 5,
};

/// "min_max", "moving_average", "percentile", "entropy", "mse", "auto"; "unknown" otherwise.
HONE_EXPORT const char* calib_method_name(calib_method m) noexcept;

struct calibrator_params {
    calib_method method = calib_method::min_max;
    /// per_tensor or per_channel (axis); per_group is refused.
    kernels::quant_axis granularity{};
    dtype type = dtype::u8; ///< u8 or i8
    kernels::quant_scheme scheme = kernels::quant_scheme::affine;
    bool reduce_range = false; ///< 7-bit activations (see the file comment)
    float momentum = 0.01f;    ///< moving_average, in (0, 1]
    double percentile = 99.99; ///< percentile (and auto_select's percentile candidate), (0, 100]
    std::int64_t bins = 2048;  ///< histogram bins per sign, a power of two in [16, 65536]
    std::string name = "activation"; ///< names the tensor in error messages
};

/// The calibrated range, scale and zero point of every channel (one for per-tensor).
struct calib_result {
    std::vector<float> min, max;          ///< the chosen ranges (before widening to include 0)
    std::vector<float> scale;             ///< > 0, finite
    std::vector<std::int32_t> zero_point; ///< in the type's (reduced) range
    std::vector<calib_method> chosen;     ///< the method behind each range (auto_select picks)
    /// auto_select only: the scored squared error of each candidate, [channel][candidate] in the
    /// order min_max, percentile, entropy, mse (one row for per-tensor or a consumer).
    std::vector<std::vector<double>> candidate_error;
    /// The per-tensor parameters (channel 0), for kernels::linear's act_scale / act_zero_point.
    kernels::qparams qparams() const { return {scale.at(0), zero_point.at(0)}; }
};

class HONE_EXPORT calibrator {
public:
    /// Validates params (throws as listed in the file comment).
    explicit calibrator(const calibrator_params& params);
    ~calibrator();
    calibrator(calibrator&&) noexcept;
    calibrator& operator=(calibrator&&) noexcept;
    calibrator(const calibrator&) = delete;
    calibrator& operator=(const calibrator&) = delete;

    /// Adds a batch (f32, any shape and strides). Parallel over channels / chunks; the state it
    /// leaves does not depend on the thread count.
    void observe(const_tensor_view batch);
    /// auto_select: the consumer layer, so that candidates are scored by the layer-output error.
    /// weights: reference f32 [N, K], K = the size of the batch's last axis; deployed: the
    /// weights the layer will run with (e.g. dequantized int8), same shape, or empty = weights.
    /// Per-tensor granularity only. Call before score().
    void set_consumer(const_tensor_view weights, std::span<const float> deployed = {});
    /// auto_select, second pass: scores every candidate on a calibration batch (the same
    /// batches as observe(), in any split). The first call freezes the histogram.
    void score(const_tensor_view batch);
    /// The ranges and quantization parameters; may be called repeatedly.
    calib_result result() const;

    const calibrator_params& params() const noexcept;
    /// Channels seen so far (0 before the first batch; 1 for per-tensor).
    std::int64_t channels() const noexcept;
    /// Values observed so far (over all channels).
    std::int64_t count() const noexcept;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// Scale and zero point for the range [lo, hi] under the calibrator conventions (type u8/i8,
/// scheme, reduce_range; see the file comment). Throws as kernels::choose_qparams.
HONE_EXPORT kernels::qparams calib_qparams(float lo, float hi, dtype type,
                                           kernels::quant_scheme scheme, bool reduce_range);

/// Quantize-dequantize of one value with p on the integer grid [qmin, qmax] of (type,
/// reduce_range): (clamp(round_half_even(x / scale) + zp, qmin, qmax) − zp) · scale.
HONE_EXPORT float calib_fake_quant(float x, kernels::qparams p, dtype type, bool reduce_range);

} // namespace hone
