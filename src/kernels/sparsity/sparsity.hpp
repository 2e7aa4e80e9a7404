// Internal: the sparsity kernel family's per-tier tables and the key encoding they share.
#pragma once

#include "../dispatch.hpp"
#include "hone/kernels/sparsity.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>

namespace hone::kernels {

/// Order-preserving unsigned key of a non-NaN score: a > b as reals ⇔ key(a) > key(b).
/// magnitude: the bits of |x|. value: with m = bits of |x|, the signed integer (x < 0 ? −m : m)
/// with its sign bit flipped, so -0 and +0 share the key 0x80000000.
inline std::uint32_t score_key(float x, score_kind kind) noexcept {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
    const std::uint32_t m = bits & 0x7fffffffu;
    if (kind == score_kind::magnitude) return m;
    return ((bits & 0x80000000u) ? 0u - m : m) ^ 0x80000000u;
}

/// The key as a signed integer (key − 2³¹): signed comparisons order it as score_key does.
inline std::int32_t signed_key(float x, score_kind kind) noexcept {
    return static_cast<std::int32_t>(score_key(x, kind) ^ 0x80000000u);
}

/// The score a key stands for (inverse of score_key; zero decodes to +0).
inline float key_score(std::uint32_t key, score_kind kind) noexcept {
    if (kind == score_kind::magnitude) return std::bit_cast<float>(key);
    const std::uint32_t s = key ^ 0x80000000u; // two's complement of ±m
    if (s & 0x80000000u) return std::bit_cast<float>(0x80000000u | (0u - s));
    return std::bit_cast<float>(s);
}

struct sparsity_table {
    /// Index of the first NaN in x[0, n), or n when there is none.
    std::size_t (*find_nan)(const float* x, std::size_t n);
    /// The k-th largest key of x[0, n) (1 ≤ k ≤ n, no NaN) and how many keys are greater.
    void (*select)(const float* x, std::size_t n, std::size_t k, score_kind kind,
                   std::uint32_t* key, std::size_t* greater);
    /// mask[i] = 1 where key(x[i]) > t, and for the first `ties` entries with key == t; else 0.
    /// Returns how many entries have key == t.
    std::size_t (*mask_from_key)(const float* x, std::size_t n, score_kind kind, std::uint32_t t,
                                 std::size_t ties, std::uint8_t* mask);
    /// N:M mask over `groups` consecutive groups of m entries (1 ≤ n < m ≤ 32, no NaN).
    void (*nm_mask)(const float* x, std::size_t groups, int n, int m, score_kind kind,
                    std::uint8_t* mask);
    /// dst[i] = mask[i] ? src[i] : +0 (dst may equal src).
    void (*apply_mask)(const float* src, const std::uint8_t* mask, float* dst, std::size_t n);
};

extern const sparsity_table sparsity_ref;
extern const sparsity_table sparsity_avx2;
extern const sparsity_table sparsity_avx512;

const dispatch<sparsity_table>& sparsity_kernels() noexcept;

namespace ref {
// Scalar pieces the SIMD tiers reuse for their tails.
std::size_t find_nan(const float* x, std::size_t n);
std::size_t mask_from_key(const float* x, std::size_t n, score_kind kind, std::uint32_t t,
                          std::size_t ties, std::uint8_t* mask);
void nm_mask(const float* x, std::size_t groups, int n, int m, score_kind kind, std::uint8_t* mask);
void apply_mask(const float* src, const std::uint8_t* mask, float* dst, std::size_t n);
} // namespace ref

} // namespace hone::kernels
