// Hessian preparation for GPTQ / SparseGPT (see hessian.hpp for the method).
//
// Implementation: the matrix is held in square tiles of `tile` floats (each tile contiguous,
// row-major), so every block operation is one contiguous f32 product through
// kernels::matmul_f32 (oneDNN). Diagonal tiles are factorised and inverted in double (Eigen).
// Tile products are distributed over hone's OpenMP threads; each runs on its thread alone (a
// single-thread oneDNN primitive, also in the loops that stay serial: single_thread_scope),
// and the partition into tiles does not depend on the thread count — so the bytes of U do not
// either.
#define EIGEN_DONT_PARALLELIZE
#include "hessian.hpp"

#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/gemm.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <string>

namespace hone::detail {
namespace {

using dmatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using kernels::weight_layout;
constexpr std::int64_t tile = 256;

[[noreturn]] void bad(std::string_view what, const std::string& message) {
    fail(status::invalid_argument,
         "prepare_hessian: Hessian of '" + std::string(what) + "' " + message);
}

/// A square matrix of nt×nt tiles, each tile×tile floats, contiguous, row-major.
struct tiled {
    std::int64_t nt = 0;
    std::vector<float> data;
    explicit tiled(std::int64_t tiles)
        : nt(tiles), data(static_cast<std::size_t>(tiles * tiles * tile * tile), 0.0f) {}
    float* at(std::int64_t i, std::int64_t j) { return data.data() + (i * nt + j) * tile * tile; }
    float& operator()(std::int64_t r, std::int64_t c) {
        return at(r / tile, c / tile)[(r % tile) * tile + c % tile];
    }
};

/// c −= a · b (b: k_by_n) or a · bᵀ (b: n_by_k); all tile×tile; `scratch` a tile.
void sub_product(const float* a, const float* b, float* c, weight_layout layout, float* scratch) {
    kernels::matmul_f32(a, b, scratch, tile, tile, tile, layout, nullptr);
#pragma omp simd
    for (std::int64_t i = 0; i < tile * tile; ++i)
        c[i] -= scratch[i];
}

/// In place: the lower Cholesky factor of the tiled symmetric matrix (lower tiles read), and
/// the inverses of its diagonal tiles. Returns the first failing row, or −1.
std::int64_t tiled_cholesky(tiled& a, std::vector<std::vector<float>>& diag_inverse) {
    const std::int64_t nt = a.nt;
    const int threads = hone::num_threads();
    diag_inverse.assign(static_cast<std::size_t>(nt), {});
    for (std::int64_t kk = 0; kk < nt; ++kk) {
        float* d = a.at(kk, kk);
        dmatrix m(tile, tile);
        for (std::int64_t i = 0; i < tile * tile; ++i)
            m.data()[i] = d[i];
        Eigen::LLT<dmatrix> llt(m);
        if (llt.info() != Eigen::Success) {
            for (std::int64_t i = 0; i < tile; ++i)
                if (!(llt.matrixLLT()(i, i) > 0)) return kk * tile + i;
            return kk * tile;
        }
        const dmatrix l = llt.matrixL();
        for (std::int64_t i = 0; i < tile; ++i)
            if (!(l(i, i) > 0) || !std::isfinite(l(i, i))) return kk * tile + i;
        dmatrix li = dmatrix::Identity(tile, tile);
        l.triangularView<Eigen::Lower>().solveInPlace(li);
        auto& inv = diag_inverse[std::size_t(kk)];
        inv.resize(std::size_t(tile * tile));
        for (std::int64_t i = 0; i < tile * tile; ++i) {
            d[i] = float(l.data()[i]);
            inv[std::size_t(i)] = float(li.data()[i]);
        }
        const std::int64_t below = nt - kk - 1;
        // Panel: A(i, kk) ← A(i, kk) · L(kk, kk)⁻ᵀ.
#pragma omp parallel num_threads(threads) if (below > 1)
        {
            std::vector<float> scratch(static_cast<std::size_t>(tile * tile));
#pragma omp for schedule(dynamic, 1)
            for (std::int64_t i = kk + 1; i < nt; ++i) {
                kernels::matmul_f32(a.at(i, kk), inv.data(), scratch.data(), tile, tile, tile,
                                    weight_layout::n_by_k, nullptr);
                std::copy(scratch.begin(), scratch.end(), a.at(i, kk));
            }
        }
        // Trailing lower tiles: A(i, j) −= A(i, kk) · A(j, kk)ᵀ, kk < j ≤ i.
        const std::int64_t pairs = below * (below + 1) / 2;
#pragma omp parallel num_threads(threads) if (pairs > 1)
        {
            std::vector<float> scratch(static_cast<std::size_t>(tile * tile));
#pragma omp for schedule(dynamic, 1)
            for (std::int64_t p = 0; p < pairs; ++p) {
                std::int64_t ti = std::int64_t((std::sqrt(8.0 * double(p) + 1.0) - 1.0) / 2.0);
                while (ti * (ti + 1) / 2 > p)
                    --ti;
                while ((ti + 1) * (ti + 2) / 2 <= p)
                    ++ti;
                const std::int64_t tj = p - ti * (ti + 1) / 2;
                const std::int64_t i = kk + 1 + ti, j = kk + 1 + tj;
                sub_product(a.at(i, kk), a.at(j, kk), a.at(i, j), weight_layout::n_by_k,
                            scratch.data());
            }
        }
    }
    return -1;
}

/// X = L⁻¹ (lower, tiled), block column by block column (independent):
/// X(j, j) = L(j, j)⁻¹; X(i, j) = −L(i, i)⁻¹ · Σ_{m=j}^{i−1} L(i, m) · X(m, j).
tiled tiled_lower_inverse(tiled& l, const std::vector<std::vector<float>>& diag_inverse) {
    const std::int64_t nt = l.nt;
    tiled x(nt);
    const int threads = hone::num_threads();
#pragma omp parallel num_threads(threads) if (nt > 1)
    {
        std::vector<float> s(static_cast<std::size_t>(tile * tile)),
            scratch(static_cast<std::size_t>(tile * tile));
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t j = 0; j < nt; ++j) {
            const auto& dj = diag_inverse[std::size_t(j)];
            std::copy(dj.begin(), dj.end(), x.at(j, j));
            for (std::int64_t i = j + 1; i < nt; ++i) {
                // s = −Σ L(i, m)·X(m, j)
                std::fill(s.begin(), s.end(), 0.0f);
                for (std::int64_t m = j; m < i; ++m)
                    sub_product(l.at(i, m), x.at(m, j), s.data(), weight_layout::k_by_n,
                                scratch.data());
                kernels::matmul_f32(diag_inverse[std::size_t(i)].data(), s.data(), x.at(i, j), tile,
                                    tile, tile, weight_layout::k_by_n, nullptr);
            }
        }
    }
    return x;
}

} // namespace

prepared_hessian prepare_hessian(const_tensor_view h, double damp_fraction,
                                 std::span<const std::int64_t> order, std::string_view what) {
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
    // A contiguous copy of H, checked finite.
    std::vector<float> hc(static_cast<std::size_t>(k * k));
    {
        const auto* base = static_cast<const float*>(h.data());
        const std::int64_t s0 = h.stride(0), s1 = h.stride(1);
        for (std::int64_t r = 0; r < k; ++r)
            for (std::int64_t c = 0; c < k; ++c) {
                const float v = base[r * s0 + c * s1];
                if (!std::isfinite(v))
                    bad(what,
                        "is not finite at [" + std::to_string(r) + ", " + std::to_string(c) + "]");
                hc[std::size_t(r * k + c)] = v;
            }
    }
    prepared_hessian out;
    out.k = k;
    out.dead.assign(static_cast<std::size_t>(k), 0);
    std::vector<double> diag(static_cast<std::size_t>(k));
    double mean = 0;
    for (std::int64_t i = 0; i < k; ++i) {
        double d = hc[std::size_t(i * k + i)];
        if (d == 0) {
            out.dead[std::size_t(i)] = 1;
            d = 1;
        }
        diag[std::size_t(i)] = d;
        mean += d;
    }
    mean /= double(k);
    const double damp = damp_fraction * mean;
    // A = J·Hp·J (symmetrised), padded to whole tiles with the identity.
    const std::int64_t nt = (k + tile - 1) / tile;
    tiled a(nt);
    for (std::int64_t i = 0; i < k; ++i) {
        const std::int64_t ra = perm[std::size_t(k - 1 - i)];
        for (std::int64_t j = 0; j <= i; ++j) {
            const std::int64_t cb = perm[std::size_t(k - 1 - j)];
            a(i, j) = i == j ? float(diag[std::size_t(ra)] + damp)
                             : 0.5f * (hc[std::size_t(ra * k + cb)] + hc[std::size_t(cb * k + ra)]);
        }
    }
    for (std::int64_t i = k; i < nt * tile; ++i)
        a(i, i) = 1.0f;
    hc.clear();
    hc.shrink_to_fit();
    // Every tile product on one thread (serial loops too): bytes independent of the count.
    const kernels::single_thread_scope one_thread;
    std::vector<std::vector<float>> diag_inverse;
    const std::int64_t failed = tiled_cholesky(a, diag_inverse);
    if (failed >= 0) {
        const std::int64_t input = failed < k ? perm[std::size_t(k - 1 - failed)] : failed;
        bad(what, "is not positive definite even after dampening by " +
                      std::to_string(damp_fraction) + "·mean(diag H) (Cholesky failed at input " +
                      std::to_string(input) +
                      "; raise the dampening or check the calibration inputs)");
    }
    tiled x = tiled_lower_inverse(a, diag_inverse);
    out.inverse_cholesky_upper.assign(static_cast<std::size_t>(k * k), 0.0f);
    for (std::int64_t i = 0; i < k; ++i) {
        float* row = out.inverse_cholesky_upper.data() + i * k;
        for (std::int64_t j = i; j < k; ++j) {
            const float v = x(k - 1 - i, k - 1 - j);
            if (!std::isfinite(v))
                bad(what, "is too ill-conditioned: its inverse is not finite (raise the "
                          "dampening)");
            row[j] = v;
        }
    }
    return out;
}

} // namespace hone::detail
