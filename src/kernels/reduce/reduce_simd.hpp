// The reduce family for one SIMD tier. Included by reduce_avx2.cpp / reduce_avx512.cpp, each
// compiled with its tier's flags; Arch is the xsimd architecture of that tier.
//
// min/max are exact, so only two things can make a tier differ from the reference: signed
// zeros (x86 min/max return their second operand on equality) and NaN. Signed zeros: OR of
// min(a, b) and min(b, a) gives -0 when either is -0; AND of the two max gives +0 when either is
// +0. NaN: tracked in a separate mask and replaced by the canonical NaN at the end.
#pragma once

#include "reduce.hpp"

#include <bit>
#include <cstdint>
#include <xsimd/xsimd.hpp>

namespace hone::kernels::simd {

template <class Arch> struct reduce_kernels {
    using f32 = xsimd::batch<float, Arch>;
    using i32 = xsimd::batch<std::int32_t, Arch>;
    static constexpr std::size_t width = f32::size;

    static f32 min_signed(f32 a, f32 b) { return xsimd::min(a, b) | xsimd::min(b, a); }
    static f32 max_signed(f32 a, f32 b) { return xsimd::max(a, b) & xsimd::max(b, a); }
    static i32 abs_bits(f32 x) { return xsimd::bitwise_cast<i32>(x) & i32(0x7fffffff); }

    static void min_max(const float* src, std::size_t n, float* min, float* max) {
        using namespace reduce_rules;
        float lo = inf, hi = -inf;
        bool any_nan = false;
        std::size_t i = 0;
        if (n >= width) {
            f32 vlo(inf), vhi(-inf);
            auto nan_mask = f32(0.0f) != f32(0.0f);
            for (; i + width <= n; i += width) {
                const f32 x = f32::load_unaligned(src + i);
                nan_mask = nan_mask | xsimd::isnan(x);
                vlo = min_signed(vlo, x);
                vhi = max_signed(vhi, x);
            }
            any_nan = xsimd::any(nan_mask);
            alignas(64) float l[width], h[width];
            vlo.store_aligned(l);
            vhi.store_aligned(h);
            for (std::size_t k = 0; k < width; ++k) {
                lo = min2(lo, l[k]);
                hi = max2(hi, h[k]);
            }
        }
        float tail_lo, tail_hi;
        reduce_ref.min_max(src + i, n - i, &tail_lo, &tail_hi);
        if (any_nan || std::isnan(tail_lo)) {
            *min = *max = nan;
            return;
        }
        *min = min2(lo, tail_lo);
        *max = max2(hi, tail_hi);
    }

    // |x| compared as integers: the order of non-negative floats, with NaN above +inf.
    static float abs_max(const float* src, std::size_t n) {
        std::int32_t best = 0;
        std::size_t i = 0;
        if (n >= width) {
            i32 v(0);
            for (; i + width <= n; i += width)
                v = xsimd::max(v, abs_bits(f32::load_unaligned(src + i)));
            alignas(64) std::int32_t lanes[width];
            v.store_aligned(lanes);
            for (std::size_t k = 0; k < width; ++k)
                best = lanes[k] > best ? lanes[k] : best;
        }
        const float tail = reduce_ref.abs_max(src + i, n - i);
        if (best > 0x7f800000 || std::isnan(tail)) return reduce_rules::nan;
        const float head = std::bit_cast<float>(best);
        return tail > head ? tail : head;
    }

    static void min_max_accumulate(const float* row, std::size_t n, float* min, float* max) {
        const f32 qnan(reduce_rules::nan);
        std::size_t j = 0;
        for (; j + width <= n; j += width) {
            const f32 x = f32::load_unaligned(row + j);
            const f32 lo = f32::load_unaligned(min + j);
            const f32 hi = f32::load_unaligned(max + j);
            const auto bad = xsimd::isnan(x) | xsimd::isnan(lo) | xsimd::isnan(hi);
            xsimd::select(bad, qnan, min_signed(lo, x)).store_unaligned(min + j);
            xsimd::select(bad, qnan, max_signed(hi, x)).store_unaligned(max + j);
        }
        reduce_ref.min_max_accumulate(row + j, n - j, min + j, max + j);
    }

    static void abs_max_accumulate(const float* row, std::size_t n, float* amax) {
        const i32 inf_bits(0x7f800000), qnan_bits(0x7fc00000);
        std::size_t j = 0;
        for (; j + width <= n; j += width) {
            const i32 a = abs_bits(f32::load_unaligned(row + j));
            const i32 m = xsimd::bitwise_cast<i32>(f32::load_unaligned(amax + j));
            // amax[j] is never negative here (starts at +0), so integer max orders it right.
            const i32 r = xsimd::max(a, m);
            xsimd::bitwise_cast<f32>(xsimd::select(r > inf_bits, qnan_bits, r))
                .store_unaligned(amax + j);
        }
        reduce_ref.abs_max_accumulate(row + j, n - j, amax + j);
    }

    static constexpr reduce_table table = {min_max, abs_max, min_max_accumulate,
                                           abs_max_accumulate};
};

} // namespace hone::kernels::simd
