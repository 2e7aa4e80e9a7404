// The sparsity family for one SIMD tier. Included by sparsity_avx2.cpp / sparsity_avx512.cpp,
// each compiled with its tier's flags; Arch is the xsimd architecture of that tier.
//
// Keys are handled as signed 32-bit integers (signed_key): |x| bits − 2³¹ for magnitude, ±|x|
// bits for value, so one signed compare orders them and -0 equals +0.
#pragma once

#include "lanes.hpp"
#include "sparsity.hpp"

#include <utility>
#include <vector>

namespace hone::kernels::simd {

template <class Arch> struct sparsity_kernels {
    using f32 = xsimd::batch<float, Arch>;
    using i32 = xsimd::batch<std::int32_t, Arch>;
    using u32 = xsimd::batch<std::uint32_t, Arch>;
    using L = lanes<Arch>;
    static constexpr std::size_t W = f32::size;

    static i32 skey(f32 x, score_kind kind) {
        const i32 bits = xsimd::bitwise_cast<i32>(x);
        const i32 m = bits & i32(0x7fffffff);
        if (kind == score_kind::magnitude) return m ^ i32(INT32_MIN);
        return xsimd::select(bits < i32(0), -m, m);
    }

    static std::size_t find_nan(const float* x, std::size_t n) {
        std::size_t i = 0;
        for (; i + W <= n; i += W) {
            const f32 v = f32::load_unaligned(x + i);
            if (!xsimd::all(v == v)) return i + ref::find_nan(x + i, W);
        }
        return i + ref::find_nan(x + i, n - i);
    }

    // Radix select on the unsigned keys: a histogram of the high 16 bits over everything, then
    // one of the low 16 bits over the entries in the chosen high bin.
    static void select(const float* x, std::size_t n, std::size_t k, score_kind kind,
                       std::uint32_t* key, std::size_t* greater) {
        std::vector<std::uint64_t> hist(65536);
        histogram(x, n, kind, hist, [](std::uint32_t v) { return v >> 16; });
        std::size_t above = 0;
        const std::uint32_t hi = pick_bin(hist, k, above);
        std::fill(hist.begin(), hist.end(), 0);
        high_bin_histogram(x, n, kind, hi, hist);
        std::size_t above_lo = 0;
        const std::uint32_t lo = pick_bin(hist, k - above, above_lo);
        *key = hi << 16 | lo;
        *greater = above + above_lo;
    }

    // Bin b such that the entries in bins above it number fewer than k and with it at least k.
    static std::uint32_t pick_bin(const std::vector<std::uint64_t>& hist, std::size_t k,
                                  std::size_t& above) {
        std::size_t cum = 0;
        for (std::uint32_t b = 65535;; --b) {
            if (cum + hist[b] >= k) {
                above = cum;
                return b;
            }
            cum += hist[b];
        }
    }

    template <class Bin>
    static void histogram(const float* x, std::size_t n, score_kind kind,
                          std::vector<std::uint64_t>& total, Bin bin) {
        // 32-bit counters stay in L2; flushed before they can overflow.
        std::vector<std::uint32_t> h(65536);
        constexpr std::size_t chunk = std::size_t(1) << 31;
        for (std::size_t begin = 0; begin < n; begin += chunk) {
            const std::size_t end = std::min(n, begin + chunk);
            std::fill(h.begin(), h.end(), 0u);
            if (kind == score_kind::magnitude)
                for (std::size_t i = begin; i < end; ++i)
                    ++h[bin(score_key(x[i], score_kind::magnitude))];
            else
                for (std::size_t i = begin; i < end; ++i)
                    ++h[bin(score_key(x[i], score_kind::value))];
            for (std::size_t b = 0; b < 65536; ++b)
                total[b] += h[b];
        }
    }

    // Low-16-bit histogram of the entries whose high 16 key bits equal hi; SIMD skips the rest.
    static void high_bin_histogram(const float* x, std::size_t n, score_kind kind, std::uint32_t hi,
                                   std::vector<std::uint64_t>& hist) {
        const u32 want(hi);
        std::size_t i = 0;
        for (; i + W <= n; i += W) {
            const u32 keys =
                xsimd::bitwise_cast<u32>(skey(f32::load_unaligned(x + i), kind) ^ i32(INT32_MIN));
            std::uint32_t hits = L::bits((keys >> 16) == want);
            while (hits) {
                const int lane = __builtin_ctz(hits);
                hits &= hits - 1;
                ++hist[score_key(x[i + lane], kind) & 0xffffu];
            }
        }
        for (; i < n; ++i) {
            const std::uint32_t v = score_key(x[i], kind);
            if (v >> 16 == hi) ++hist[v & 0xffffu];
        }
    }

    static std::size_t mask_from_key(const float* x, std::size_t n, score_kind kind,
                                     std::uint32_t t, std::size_t ties, std::uint8_t* mask) {
        const i32 st(static_cast<std::int32_t>(t ^ 0x80000000u));
        std::size_t tied = 0;
        std::size_t i = 0;
        for (; i + W <= n; i += W) {
            const i32 s = skey(f32::load_unaligned(x + i), kind);
            std::uint32_t keep = L::bits(s > st);
            std::uint32_t eq = L::bits(s == st);
            tied += std::size_t(__builtin_popcount(eq));
            while (eq && ties > 0) { // ties go to the lowest indices first
                keep |= eq & (0u - eq);
                eq &= eq - 1;
                --ties;
            }
            store_01(mask + i, keep, W);
        }
        return tied + ref::mask_from_key(x + i, n - i, kind, t, ties, mask + i);
    }

    // ---- N:M ---------------------------------------------------------------------------------

    // Lane i of a rotation by S inside groups of M lanes reads lane (i+S) mod M of its group.
    template <unsigned M, unsigned S> struct rotation {
        static constexpr std::uint32_t get(std::size_t i, std::size_t) {
            return std::uint32_t((i & ~std::size_t(M - 1)) | ((i + S) & (M - 1)));
        }
    };
    // 1 on lanes whose rotated partner has a lower index (it wrapped around the group).
    template <unsigned M, unsigned S> struct wrapped {
        static constexpr std::uint32_t get(std::size_t i, std::size_t) {
            return (i & (M - 1)) + S >= M ? 1u : 0u;
        }
    };

    template <unsigned M, unsigned S> static i32 outranks(i32 k) {
        const i32 partner = xsimd::bitwise_cast<i32>(xsimd::swizzle(
            xsimd::bitwise_cast<u32>(k), xsimd::make_batch_constant<u32, rotation<M, S>>()));
        const i32 wrap =
            xsimd::bitwise_cast<i32>(u32(xsimd::make_batch_constant<u32, wrapped<M, S>>()));
        // partner > k, or partner == k with a lower index.
        const auto wins = (partner > k) || ((partner == k) && (wrap != i32(0)));
        return xsimd::select(wins, i32(1), i32(0));
    }

    // Groups of M ∈ {2, 4, 8} lie inside one register: rank by in-register rotations.
    template <unsigned M, unsigned... S>
    static void nm_rotate(const float* x, std::size_t groups, int n, score_kind kind,
                          std::uint8_t* mask, std::integer_sequence<unsigned, S...>) {
        const std::size_t total = groups * M;
        std::size_t i = 0;
        for (; i + W <= total; i += W) {
            const i32 k = skey(f32::load_unaligned(x + i), kind);
            const i32 rank = (i32(0) + ... + outranks<M, S + 1>(k));
            store_01(mask + i, L::bits(rank < i32(n)), W);
        }
        ref::nm_mask(x + i, (total - i) / M, n, int(M), kind, mask + i);
    }

    // Any M: W groups at a time, transposed so that lane g holds group g.
    static void nm_transposed(const float* x, std::size_t groups, int n, int m, score_kind kind,
                              std::uint8_t* mask) {
        alignas(64) std::int32_t column[W];
        i32 k[32];
        std::size_t g = 0;
        for (; g + W <= groups; g += W) {
            const float* base = x + g * std::size_t(m);
            for (int r = 0; r < m; ++r) {
                for (std::size_t lane = 0; lane < W; ++lane)
                    column[lane] = signed_key(base[lane * std::size_t(m) + std::size_t(r)], kind);
                k[r] = i32::load_aligned(column);
            }
            std::uint8_t* out = mask + g * std::size_t(m);
            for (int j = 0; j < m; ++j) {
                i32 rank(0);
                for (int i = 0; i < j; ++i)
                    rank += xsimd::select(k[i] >= k[j], i32(1), i32(0));
                for (int i = j + 1; i < m; ++i)
                    rank += xsimd::select(k[i] > k[j], i32(1), i32(0));
                const std::uint32_t keep = L::bits(rank < i32(n));
                for (std::size_t lane = 0; lane < W; ++lane)
                    out[lane * std::size_t(m) + std::size_t(j)] = (keep >> lane) & 1u;
            }
        }
        ref::nm_mask(x + g * std::size_t(m), groups - g, n, m, kind, mask + g * std::size_t(m));
    }

    static void nm_mask(const float* x, std::size_t groups, int n, int m, score_kind kind,
                        std::uint8_t* mask) {
        switch (m) {
        case 2:
            return nm_rotate<2>(x, groups, n, kind, mask,
                                std::make_integer_sequence<unsigned, 1>());
        case 4:
            return nm_rotate<4>(x, groups, n, kind, mask,
                                std::make_integer_sequence<unsigned, 3>());
        case 8:
            return nm_rotate<8>(x, groups, n, kind, mask,
                                std::make_integer_sequence<unsigned, 7>());
        default: return nm_transposed(x, groups, n, m, kind, mask);
        }
    }

    static void apply_mask(const float* src, const std::uint8_t* mask, float* dst, std::size_t n) {
        std::size_t i = 0;
        for (; i + W <= n; i += W) {
            const i32 keep = xsimd::select(L::load_u8(mask + i) != i32(0), i32(-1), i32(0));
            const i32 bits = xsimd::bitwise_cast<i32>(f32::load_unaligned(src + i)) & keep;
            xsimd::bitwise_cast<f32>(bits).store_unaligned(dst + i);
        }
        ref::apply_mask(src + i, mask + i, dst + i, n - i);
    }

    static constexpr sparsity_table table() {
        return {find_nan, select, mask_from_key, nm_mask, apply_mask};
    }
};

} // namespace hone::kernels::simd
