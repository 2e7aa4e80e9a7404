// The cluster family for one SIMD tier. Assignment counts the f32 midpoint thresholds below
// each value with one compare per centroid pair; a value exactly on a threshold is settled by
// the exact scalar test, so the result equals the reference bit for bit.
#pragma once

#include "../sparsity/lanes.hpp"
#include "cluster.hpp"

namespace hone::kernels::simd {

template <class Arch> struct cluster_kernels {
    using f32 = xsimd::batch<float, Arch>;
    using i32 = xsimd::batch<std::int32_t, Arch>;
    using L = lanes<Arch>;
    static constexpr std::size_t W = f32::size;

    static void assign(const float* x, std::size_t n, const float* c, const float* t, std::size_t k,
                       std::uint8_t* idx) {
        std::size_t i = 0;
        for (; i + W <= n; i += W) {
            const f32 v = f32::load_unaligned(x + i);
            const f32 ones = xsimd::bitwise_cast<f32>(i32(-1));
            i32 count(0);
            auto on = v != v; // all false (x holds no NaN)
            for (std::size_t j = 0; j + 1 < k; ++j) {
                const f32 tj(t[j]);
                // A true lane is all ones, i.e. −1 as an integer.
                count -= xsimd::bitwise_cast<i32>(xsimd::select(v > tj, ones, f32(0.0f)));
                on = on || (v == tj);
            }
            L::store_u8(idx + i, count);
            if (xsimd::any(on)) {
                std::uint32_t lanes_on = L::bits(on);
                while (lanes_on) {
                    const int lane = __builtin_ctz(lanes_on);
                    lanes_on &= lanes_on - 1;
                    idx[i + lane] = ref::nearest(x[i + lane], c, k);
                }
            }
        }
        ref::assign(x + i, n - i, c, t, k, idx + i);
    }

    static std::size_t first_invalid(const std::uint8_t* idx, std::size_t n, std::size_t k) {
        const i32 limit(static_cast<std::int32_t>(k));
        std::size_t i = 0;
        for (; i + W <= n; i += W)
            if (xsimd::any(L::load_u8(idx + i) >= limit))
                return i + ref::first_invalid(idx + i, W, k);
        return i + ref::first_invalid(idx + i, n - i, k);
    }

    static void lookup(const std::uint8_t* idx, std::size_t n, const float* codebook, float* dst) {
        std::size_t i = 0;
        for (; i + W <= n; i += W)
            f32::gather(codebook, L::load_u8(idx + i)).store_unaligned(dst + i);
        ref::lookup(idx + i, n - i, codebook, dst + i);
    }

    static constexpr cluster_table table() { return {assign, first_invalid, lookup}; }
};

} // namespace hone::kernels::simd
