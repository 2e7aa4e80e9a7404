// The kmeans_dp family for one SIMD tier: a row's columns a whole vector of doubles per step
// (the arrays are padded; lanes past the last column count as +inf), a running minimum and its
// first column per lane, then the leftmost column among the lanes holding the overall minimum.
// Each entry is the reference's expression, operation for operation (the family's files are
// compiled with -ffp-contract=off, so no product is fused into the subtraction).
#pragma once

#include "kmeans_dp.hpp"

#include <xsimd/xsimd.hpp>

#include <limits>

namespace hone::kernels::simd {

template <class Arch> struct kmeans_dp_kernels {
    using f64 = xsimd::batch<double, Arch>;
    static constexpr std::size_t W = f64::size;

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
        alignas(64) double lane[W];
        for (std::size_t l = 0; l < W; ++l)
            lane[l] = double(a) + double(l);
        f64 column = f64::load_aligned(lane), vmin = inf, vidx(0.0);
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
        alignas(64) double mins[W], idx[W];
        vmin.store_aligned(mins);
        vidx.store_aligned(idx);
        double bv = inf_v, bi = 0;
        for (std::size_t l = 0; l < W; ++l)
            if (mins[l] < bv || (mins[l] == bv && mins[l] < inf_v && idx[l] < bi)) {
                bv = mins[l];
                bi = idx[l];
            }
        best_value = bv;
        return bv < inf_v ? std::int64_t(bi) : a;
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
