// hone/kernels/gguf_blocks.hpp — llama.cpp's GGUF block quantization formats Q8_0, Q4_0 and Q4_K:
// f32 rows → the exact bytes a GGUF tensor of that type holds, and back.
//
// Layout. A GGUF tensor is a sequence of rows; a row is ggml's ne[0] axis, which is the last
// (contiguous) axis of a hone tensor: an nn.Linear weight [N, K] is N rows of K weights. Each
// row is cut into blocks of B consecutive weights; each block is one fixed-size record; records
// follow each other with no padding, row after row (row r starts at byte r·(K/B)·bytes). K must
// be a multiple of B. Multi-byte fields are little-endian; `half` is IEEE binary16 (hone::half).
// The records are ggml's block_q8_0, block_q4_0 and block_q4_K, byte for byte; the enum values
// below are ggml's type ids (the `type` field of a GGUF tensor info).
//
//   Q8_0 (ggml type 8): B = 32, 34 bytes            w[i] = d · qs[i]
//     byte 0     2                                                   34
//          +-----+---------------------------------------------------+
//          | d   | qs[0] qs[1] ... qs[31]       int8, one per weight |
//          +-----+---------------------------------------------------+
//
//   Q4_0 (ggml type 2): B = 32, 18 bytes            w[i] = d · q[i],  q ∈ −8…7
//     byte 0     2                               18
//          +-----+--------------------------------+
//          | d   | qs[0] ... qs[15]      uint8    |   qs[j] = (q[j] + 8) | (q[j + 16] + 8) << 4
//          +-----+--------------------------------+   (low nibbles: weights 0…15, high: 16…31)
//
//   Q4_K (ggml type 12): B = 256, a super-block of 8 sub-blocks of 32 weights, 144 bytes
//     byte 0     2      4               16                                   144
//          +-----+------+----------------+------------------------------------+
//          | d   | dmin | scales[12]     | qs[0] ... qs[127]     uint8        |
//          +-----+------+----------------+------------------------------------+
//     Sub-block j (weights 32j … 32j+31) has a 6-bit scale sc[j] and a 6-bit min m[j], packed:
//       scales[k],   k = 0…3:  bits 0-5 = sc[k],            bits 6-7 = sc[k + 4] >> 4
//       scales[4+k], k = 0…3:  bits 0-5 = m[k],             bits 6-7 = m[k + 4] >> 4
//       scales[8+k], k = 0…3:  bits 0-3 = sc[k + 4] & 15,   bits 4-7 = m[k + 4] & 15
//     (ggml's get_scale_min_k4). The 4-bit q come in 4 chunks c = 0…3 of 64 weights, each
//     chunk in 32 bytes qs[32c … 32c+31]: for l = 0…31,
//       w[64c + l]      = d·sc[2c]     · (qs[32c + l] & 15) − dmin·m[2c]
//       w[64c + 32 + l] = d·sc[2c + 1] · (qs[32c + l] >> 4) − dmin·m[2c + 1]
//
// Dequantization (the formulas above, as ggml's dequantize_row_* computes them, in f32): d·q,
// d·sc, dmin·m and d·sc·q are exact in f32 (an 11-bit half significand times at most 10 more
// bits), so Q8_0 and Q4_0 are exact and Q4_K rounds once (the final subtraction): the result is
// the same with or without fused multiply-add, on every compiler, and equal to ggml's. Any
// bytes decode, except that a scale that is inf or NaN is refused (format_error naming row and
// block) instead of decoding to inf/NaN.
//
// Quantization. Rows are independent: they are spread over hone::num_threads() OpenMP threads
// and each is computed by one thread in a fixed order, so the bytes do not depend on the thread
// count (they may differ between builds whose compilers contract a·b + c differently). Every
// scale is rounded to f16 *before* the q are chosen, and q = clamp(round(x / d)) with that
// stored d (round = to nearest, ties to even), so the q are the best ones for the stored scale.
// (ggml's reference rounds with the unrounded f32 scale, so its bytes can differ from these in
// the last step of a q; both are valid files for any reader.) An all-zero block stores d = 0
// and q = 0 (Q4_0 bytes 0x88) and dequantizes to exact zeros.
//   Q8_0: d = max|x| / 127; q = clamp(round(x / d), −127, 127). |x − w| ≤ d/2 for every weight
//     (d the stored scale; for blocks whose max|x| < 127·2⁻¹⁴, where d is an f16 subnormal,
//     add 127·2⁻²⁵). importance is validated but not used (as llama.cpp: RTN is near optimal).
//   Q4_0 without importance (ggml's RTN): m = the weight of largest magnitude (first on ties),
//     d = m / −8, so m maps to q = −8; q = clamp(round(x / d), −8, 7). |x − w| ≤ |d|/2 except
//     for weights of the sign opposite to m with |x| > 7.5·|d|, which clamp to 7: ≤ |d|·(1 + 2⁻⁸).
//   Q4_0 with importance: minimises E = Σ vᵢ (xᵢ − wᵢ)² per block (vᵢ the per-weight weights
//     below, wᵢ the dequantized weights). Candidates q = clamp(round(t·x), −8, 7) for t ∈
//     {−(8 + k/10)/m, (7 + k/10)/m : k = −9…9} are ranked by their least-squares gain
//     (Σ v x q)² / Σ v q²; the best one's least-squares d = Σ v x q / Σ v q² is rounded to f16,
//     the q are re-chosen for it, and it replaces RTN if its E, measured exactly as
//     dequantization computes the weights, is smaller; then refined (least squares on the
//     current q, f16, re-chosen q) while E decreases. So E is never larger than RTN's.
//     vᵢ = importance[col] · sqrt(σ² + xᵢ²), σ² = mean of x² over the row (as llama.cpp's
//     quantize_row_q4_0_impl).
//   Q4_K: per sub-block, an asymmetric fit x ≈ s·q − m, q ∈ 0…15, s > 0, m ≥ 0 (the min is
//     clamped to ≤ 0 as in ggml): for t = (15 + k/10)/(max − min(min x, 0)), k = −10…10, q =
//     clamp(round(t·(x − min)), 0, 15) and the weighted least-squares (s, m) (m = 0 and s refit
//     when the fitted min would be positive); the best by E (the plain min/max fit when none is
//     better), then refined (re-chosen q and refit) while E decreases. Then d = max s / 63 and
//     dmin = max m / 63 (f16), sc = round(s / d) and m = round(m / dmin) in 0…63, each
//     sub-block's (sc, m) moved within ±1 when that lowers E measured exactly as dequantized,
//     and every q re-chosen for the final (d·sc, dmin·m). vᵢ: with importance,
//     importance[col] · sqrt(σ² + xᵢ²), σ² = 2·mean of x² over the super-block (as llama.cpp's
//     quantize_row_q4_K_impl); without, sqrt(mean of x² over the sub-block) + |xᵢ| (as
//     llama.cpp's quantize_row_q4_K_ref).
//   importance is llama.cpp's imatrix entry for this tensor: one non-negative weight per column
//   (the mean squared activation of that input), or empty.
//   Measured on N(0, 1) rows of 4096 (tests/kernels/test_gguf_blocks.cpp), RMSE / RMS: Q8_0
//   0.0053, Q4_0 0.086, Q4_K 0.071 (llama.cpp's reference algorithms, re-implemented for the
//   comparison: Q4_0 0.086, Q4_K 0.071). With an importance that weights every 37th column
//   100×, the importance-weighted RMSE falls from 0.085 to 0.056 (Q4_0; llama.cpp 0.058) and
//   from 0.071 to 0.040 (Q4_K).
//
// Limits. |x| ≤ gguf_max_abs(type) (2²² for Q8_0, 2¹⁸ for Q4_0, 2²⁰ for Q4_K), so that no f16
// scale can overflow; larger or non-finite weights are refused, naming row and column.
//
// Errors (hone::error, messages name the function and the argument): invalid_argument (unknown
// type, row length not a multiple of B, non-contiguous view or null buffer, importance entries
// negative or not finite, weights not finite or beyond gguf_max_abs), shape_mismatch (src/dst
// byte counts or importance length that do not agree with the shape; a rank-0 view),
// dtype_mismatch (a view that is not f32), format_error (dequantizing a non-finite scale; dst
// is then partly written). Quantization checks everything before it writes a byte of dst.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/half.hpp"
#include "hone/core/tensor.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace hone::kernels {

/// GGUF block formats hone writes and reads; the values are ggml's type ids (enum ggml_type).
enum class gguf_block_type : std::uint32_t {
    q4_0 = 2,  ///< GGML_TYPE_Q4_0
    q8_0 = 8,  ///< GGML_TYPE_Q8_0
    q4_k = 12, ///< GGML_TYPE_Q4_K
};

/// Weights per block: 32, 32, 256 (0 for a value that is not a gguf_block_type).
constexpr std::int64_t gguf_block_size(gguf_block_type t) noexcept {
    switch (t) {
    case gguf_block_type::q8_0: return 32;
    case gguf_block_type::q4_0: return 32;
    case gguf_block_type::q4_k: return 256;
    }
    return 0;
}

/// Bytes per block: 34, 18, 144 (0 for a value that is not a gguf_block_type).
constexpr std::size_t gguf_block_bytes(gguf_block_type t) noexcept {
    switch (t) {
    case gguf_block_type::q8_0: return 34;
    case gguf_block_type::q4_0: return 18;
    case gguf_block_type::q4_k: return 144;
    }
    return 0;
}

/// Largest |x| quantize_gguf_rows accepts: 2²², 2¹⁸, 2²⁰ (so that no f16 scale overflows).
constexpr float gguf_max_abs(gguf_block_type t) noexcept {
    switch (t) {
    case gguf_block_type::q8_0: return 4194304.0f;
    case gguf_block_type::q4_0: return 262144.0f;
    case gguf_block_type::q4_k: return 1048576.0f;
    }
    return 0.0f;
}

/// ggml's name: "Q8_0", "Q4_0", "Q4_K"; "unknown" otherwise.
constexpr std::string_view name_of(gguf_block_type t) noexcept {
    switch (t) {
    case gguf_block_type::q8_0: return "Q8_0";
    case gguf_block_type::q4_0: return "Q4_0";
    case gguf_block_type::q4_k: return "Q4_K";
    }
    return "unknown";
}

/// ggml's block_q8_0.
struct block_q8_0 {
    half d;                         ///< scale
    std::array<std::int8_t, 32> qs; ///< one q per weight
};

/// ggml's block_q4_0.
struct block_q4_0 {
    half d;                          ///< scale
    std::array<std::uint8_t, 16> qs; ///< byte j: q[j] + 8 (low nibble), q[j + 16] + 8 (high)
};

/// ggml's block_q4_K.
struct block_q4_k {
    half d;                              ///< super-block scale of the 6-bit scales
    half dmin;                           ///< super-block scale of the 6-bit mins
    std::array<std::uint8_t, 12> scales; ///< 8 scales and 8 mins, 6 bits each (see the top)
    std::array<std::uint8_t, 128> qs;    ///< 4-bit q, in 4 chunks of 64 weights (see the top)
};

static_assert(sizeof(block_q8_0) == 34 && offsetof(block_q8_0, qs) == 2);
static_assert(sizeof(block_q4_0) == 18 && offsetof(block_q4_0, qs) == 2);
static_assert(sizeof(block_q4_k) == 144 && offsetof(block_q4_k, dmin) == 2 &&
              offsetof(block_q4_k, scales) == 4 && offsetof(block_q4_k, qs) == 16);
static_assert(gguf_block_bytes(gguf_block_type::q8_0) == sizeof(block_q8_0) &&
              gguf_block_bytes(gguf_block_type::q4_0) == sizeof(block_q4_0) &&
              gguf_block_bytes(gguf_block_type::q4_k) == sizeof(block_q4_k));

/// Sub-block j's 6-bit (scale, min) from a Q4_K scales array (ggml's get_scale_min_k4).
constexpr std::array<std::uint8_t, 2> q4_k_scale_min(const std::array<std::uint8_t, 12>& s,
                                                     int j) noexcept {
    if (j < 4)
        return {static_cast<std::uint8_t>(s[j] & 63), static_cast<std::uint8_t>(s[j + 4] & 63)};
    return {static_cast<std::uint8_t>((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4)),
            static_cast<std::uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4))};
}

/// Bytes of one row of `cols` weights: cols / B · block bytes. Throws invalid_argument for an
/// unknown type, a negative cols or one that is not a multiple of B.
HONE_EXPORT std::size_t gguf_row_bytes(gguf_block_type type, std::int64_t cols);

/// Quantizes src (f32, contiguous, rank ≥ 1: the last axis is the row, all leading axes are
/// rows) into dst, which must hold exactly rows · gguf_row_bytes(type, cols) bytes.
/// importance: empty, or cols non-negative finite weights (see the top).
HONE_EXPORT void quantize_gguf_rows(gguf_block_type type, const_tensor_view src,
                                    std::span<const float> importance, std::span<std::byte> dst);

/// Dequantizes src (rows · gguf_row_bytes(type, cols) bytes) into dst (f32, contiguous, rank
/// ≥ 1, shaped as the tensor was when quantized).
HONE_EXPORT void dequantize_gguf_rows(gguf_block_type type, std::span<const std::byte> src,
                                      tensor_view dst);

/// One row: src.size() weights (a multiple of B) into gguf_row_bytes(type, src.size()) bytes.
HONE_EXPORT void quantize_gguf_row(gguf_block_type type, std::span<const float> src,
                                   std::span<const float> importance, std::span<std::byte> dst);

/// One row: src (gguf_row_bytes(type, dst.size()) bytes) into dst.size() weights.
HONE_EXPORT void dequantize_gguf_row(gguf_block_type type, std::span<const std::byte> src,
                                     std::span<float> dst);

} // namespace hone::kernels
