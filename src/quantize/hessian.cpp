// Hessian preparation for GPTQ / SparseGPT (see hessian.hpp for the method).
#define EIGEN_DONT_PARALLELIZE // hone runs its own OpenMP loops over tiles (deterministic)
#include "hessian.hpp"

#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <string>

namespace hone::detail {
namespace {

using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using index = Eigen::Index;
constexpr index tile = 128;

[[noreturn]] void bad(std::string_view what, const std::string& message) {
    fail(status::invalid_argument,
         "prepare_hessian: Hessian of '" + std::string(what) + "' " + message);
}

/// In-place blocked lower Cholesky of the symmetric matrix a (lower triangle read); the upper
/// triangle is set to 0. Returns the first failing pivot, or -1 on success.
index blocked_cholesky(matrix& a) {
    const index n = a.rows();
    const int threads = hone::num_threads();
    for (index j0 = 0; j0 < n; j0 += tile) {
        const index jb = std::min(tile, n - j0);
        {
            Eigen::LLT<matrix> llt(a.block(j0, j0, jb, jb));
            if (llt.info() != Eigen::Success) {
                for (index i = 0; i < jb; ++i) // find the pivot that failed, for the message
                    if (!(llt.matrixLLT()(i, i) > 0)) return j0 + i;
                return j0;
            }
            a.block(j0, j0, jb, jb) = llt.matrixL();
            for (index i = 0; i < jb; ++i) {
                if (!std::isfinite(a(j0 + i, j0 + i)) || !(a(j0 + i, j0 + i) > 0)) return j0 + i;
            }
        }
        const index r0 = j0 + jb, rest = n - r0;
        if (rest <= 0) break;
        const matrix lt = a.block(j0, j0, jb, jb).transpose();
        const index tiles = (rest + tile - 1) / tile;
        // Panel: A21 ← A21 · L11⁻ᵀ, one row tile per iteration.
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (tiles > 1)
        for (index t = 0; t < tiles; ++t) {
            const index i0 = r0 + t * tile, ib = std::min(tile, n - i0);
            auto blk = a.block(i0, j0, ib, jb);
            lt.triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(blk);
        }
        // Trailing update of the lower triangle: A22[I, K] -= A21[I] · A21[K]ᵀ, K ≤ I.
        const index pairs = tiles * (tiles + 1) / 2;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (pairs > 1)
        for (index p = 0; p < pairs; ++p) {
            index ti = static_cast<index>((std::sqrt(8.0 * double(p) + 1.0) - 1.0) / 2.0);
            while (ti * (ti + 1) / 2 > p)
                --ti;
            while ((ti + 1) * (ti + 2) / 2 <= p)
                ++ti;
            const index tk = p - ti * (ti + 1) / 2;
            const index i0 = r0 + ti * tile, ib = std::min(tile, n - i0);
            const index k0 = r0 + tk * tile, kb = std::min(tile, n - k0);
            a.block(i0, k0, ib, kb).noalias() -=
                a.block(i0, j0, ib, jb) * a.block(k0, j0, kb, jb).transpose();
        }
    }
    a.triangularView<Eigen::StrictlyUpper>().setZero();
    return -1;
}

/// X = L⁻¹ for lower-triangular L, block column by block column (each independent).
matrix lower_inverse(const matrix& l) {
    const index n = l.rows();
    matrix x = matrix::Zero(n, n);
    const index cols = (n + tile - 1) / tile;
    const int threads = hone::num_threads();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (cols > 1)
    for (index c = 0; c < cols; ++c) {
        const index j0 = c * tile, jb = std::min(tile, n - j0);
        auto xjj = x.block(j0, j0, jb, jb);
        xjj.setIdentity();
        l.block(j0, j0, jb, jb).triangularView<Eigen::Lower>().solveInPlace(xjj);
        for (index i0 = j0 + jb; i0 < n; i0 += tile) {
            const index ib = std::min(tile, n - i0);
            matrix s = -(l.block(i0, j0, ib, i0 - j0) * x.block(j0, j0, i0 - j0, jb));
            l.block(i0, i0, ib, ib).triangularView<Eigen::Lower>().solveInPlace(s);
            x.block(i0, j0, ib, jb) = s;
        }
    }
    return x;
}

} // namespace

std::vector<double> inverse_cholesky_upper_f64(const_tensor_view h, double damp_fraction,
                                               std::span<const std::int64_t> order,
                                               std::string_view what,
                                               std::vector<std::uint8_t>& dead) {
    if (h.type() != dtype::f32) bad(what, "must be f32");
    if (h.rank() != 2)
        bad(what, "must be a k×k matrix (rank 2), got rank " + std::to_string(h.rank()));
    const std::int64_t k = h.dims()[0];
    if (h.dims()[1] != k)
        bad(what, "is not square: " + std::to_string(k) + "×" + std::to_string(h.dims()[1]));
    if (k == 0) bad(what, "is empty (0×0)");
    if (!std::isfinite(damp_fraction) || damp_fraction < 0)
        bad(what, "has a dampening fraction that is negative or not finite (" +
                      std::to_string(damp_fraction) + ")");
    std::vector<std::int64_t> perm(static_cast<std::size_t>(k));
    if (order.empty()) {
        for (std::int64_t i = 0; i < k; ++i)
            perm[std::size_t(i)] = i;
    } else {
        if (static_cast<std::int64_t>(order.size()) != k)
            bad(what, "has an order of " + std::to_string(order.size()) + " entries, expected " +
                          std::to_string(k));
        std::vector<std::uint8_t> seen(static_cast<std::size_t>(k), 0);
        for (std::size_t i = 0; i < order.size(); ++i) {
            const std::int64_t o = order[i];
            if (o < 0 || o >= k || seen[std::size_t(o)])
                bad(what, "has an order that is not a permutation of 0…" + std::to_string(k - 1) +
                              " (entry " + std::to_string(i) + " = " + std::to_string(o) + ")");
            seen[std::size_t(o)] = 1;
            perm[i] = o;
        }
    }
    const auto* base = static_cast<const float*>(h.data());
    const std::int64_t s0 = h.stride(0), s1 = h.stride(1);
    auto at = [&](std::int64_t r, std::int64_t c) { return double(base[r * s0 + c * s1]); };
    for (std::int64_t r = 0; r < k; ++r)
        for (std::int64_t c = 0; c < k; ++c)
            if (!std::isfinite(at(r, c)))
                bad(what,
                    "is not finite at [" + std::to_string(r) + ", " + std::to_string(c) + "]");
    dead.assign(static_cast<std::size_t>(k), 0);
    std::vector<double> diag(static_cast<std::size_t>(k));
    double mean = 0;
    for (std::int64_t i = 0; i < k; ++i) {
        double d = at(i, i);
        if (d == 0) {
            dead[std::size_t(i)] = 1;
            d = 1;
        }
        diag[std::size_t(i)] = d;
        mean += d;
    }
    mean /= double(k);
    const double damp = damp_fraction * mean;
    // A = J · Hp · J, symmetrised: A(i, j) = (H[a, b] + H[b, a]) / 2, a = perm[k-1-i], b = ….
    matrix a(k, k);
    for (std::int64_t j = 0; j < k; ++j) {
        const std::int64_t cb = perm[std::size_t(k - 1 - j)];
        for (std::int64_t i = j; i < k; ++i) {
            const std::int64_t ra = perm[std::size_t(k - 1 - i)];
            a(i, j) = i == j ? diag[std::size_t(ra)] + damp : 0.5 * (at(ra, cb) + at(cb, ra));
        }
    }
    const index failed = blocked_cholesky(a);
    if (failed >= 0) {
        const std::int64_t input = perm[std::size_t(k - 1 - failed)];
        bad(what, "is not positive definite even after dampening by " +
                      std::to_string(damp_fraction) + "·mean(diag H) (Cholesky failed at input " +
                      std::to_string(input) +
                      "; raise the dampening or check the calibration inputs)");
    }
    const matrix x = lower_inverse(a);
    std::vector<double> u(static_cast<std::size_t>(k * k));
    for (std::int64_t i = 0; i < k; ++i) {
        double* row = u.data() + i * k;
        for (std::int64_t j = i; j < k; ++j) {
            const double v = x(k - 1 - i, k - 1 - j);
            if (!std::isfinite(v))
                bad(what, "is too ill-conditioned: its inverse is not finite (raise the "
                          "dampening)");
            row[j] = v;
        }
    }
    return u;
}

prepared_hessian prepare_hessian(const_tensor_view h, double damp_fraction,
                                 std::span<const std::int64_t> order, std::string_view what) {
    prepared_hessian out;
    const std::vector<double> u =
        inverse_cholesky_upper_f64(h, damp_fraction, order, what, out.dead);
    out.k = h.dims()[0];
    out.inverse_cholesky_upper.resize(u.size());
    for (std::size_t i = 0; i < u.size(); ++i)
        out.inverse_cholesky_upper[i] = float(u[i]);
    return out;
}

} // namespace hone::detail
