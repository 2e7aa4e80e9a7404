// The kmeans_dp family for one SIMD tier: a row's columns a whole vector of doubles per step
// (the arrays are padded; lanes past the last column count as +inf), a running minimum and its
// first column per lane, then the leftmost column among the lanes holding the overall minimum.
// Each entry is the reference's expression, operation for operation (the family's files are
// compiled with -ffp-contract=off, so no product is fused into the subtraction).
#pragma once

#include "kmeans_dp.hpp"

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <limits>

namespace hone::kernels::simd {

template <class Arch> struct kmeans_dp_kernels {
    using f64 = xsimd::batch<double, Arch>;
    static constexpr std::size_t W = f64::size;
    alignas(64) static constexpr double iota[8] = {0, 1, 2, 3, 4, 5, 6, 7};

    /// The smallest lane (no lane is NaN).
    static double hmin(__m256d v) {
        __m256d m = _mm256_min_pd(v, _mm256_permute2f128_pd(v, v, 1));
        m = _mm256_min_pd(m, _mm256_permute_pd(m, 5));
        return _mm256_cvtsd_f64(m);
    }
#ifdef __AVX512F__
    static double hmin(__m512d v) { return _mm512_reduce_min_pd(v); }
#endif

    template <bool Unit>
    static std::int64_t scan(const kmeans_dp_columns& c, std::int64_t j, std::int64_t a,
                             std::int64_t b, double& best_value) {
        constexpr double inf_v = std::numeric_limits<double>::infinity();
        const double* p1 = c.p1.data();
        const double* r = c.r.data();
        const double* pw = Unit ? nullptr : c.pw.data();
        const double* rv = Unit ? c.rv.data() + (c.n - 1 - j) : nullptr;
        const f64 inf(inf_v), q1(p1[j + 1]), q2(c.p2.data()[j + 1]), qw(Unit ? 0.0 : pw[j + 1]),
            last(static_cast<double>(b)), step(static_cast<double>(W));
        f64 column = f64(static_cast<double>(a)) + f64::load_aligned(iota), vmin = inf, vidx(0.0);
        for (std::int64_t i = a; i <= b; i += std::int64_t(W)) {
            const f64 s = q1 - f64::load_unaligned(p1 + i);
            const f64 base = f64::load_unaligned(r + i) + q2;
            f64 v;
            if constexpr (Unit)
                v = base - (s * s) * f64::load_unaligned(rv + i);
            else
                v = base - (s * s) / (qw - f64::load_unaligned(pw + i));
            if (i + std::int64_t(W) - 1 > b) v = xsimd::select(column > last, inf, v);
            const auto lower = v < vmin; // false for NaN: never chosen
            vidx = xsimd::select(lower, column, vidx);
            vmin = xsimd::select(lower, v, vmin);
            column += step;
        }
        const double m = hmin(vmin);
        if (!(m < inf_v)) {
            best_value = inf_v;
            return a;
        }
        // The leftmost column among the lanes holding the minimum; its value is m, except that
        // lanes holding −0 and +0 compare equal: then the entry of that column, recomputed.
        const auto at = std::int64_t(hmin(xsimd::select(vmin == f64(m), vidx, inf)));
        best_value = m;
        if (m == 0.0) kmeans_dp_scan<Unit>(c, j, at, at, best_value);
        return at;
    }

    template <bool Unit>
    static std::size_t rows_of(const kmeans_dp_columns& c, const kmeans_dp_row* rows,
                               std::size_t count, double ub, double* cost, std::uint32_t* arg) {
        return kmeans_dp_rows(rows, count, ub, cost, arg, [&](const kmeans_dp_row& row, double& v) {
            // (A row of one or two columns is not worth a vector.)
            return row.last - row.first >= 2
                       ? scan<Unit>(c, row.j, row.first, row.last, v)
                       : kmeans_dp_scan<Unit>(c, row.j, row.first, row.last, v);
        });
    }

    static std::size_t row_minima(const kmeans_dp_columns& c, const kmeans_dp_row* rows,
                                  std::size_t count, double ub, double* cost, std::uint32_t* arg) {
        return c.pw.empty() ? rows_of<true>(c, rows, count, ub, cost, arg)
                            : rows_of<false>(c, rows, count, ub, cost, arg);
    }

    static constexpr kmeans_dp_table table() { return {row_minima}; }
};

} // namespace hone::kernels::simd
