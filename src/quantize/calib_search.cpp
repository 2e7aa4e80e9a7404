// Range searches over calibration histograms: percentile, KL entropy (TensorRT), MSE.
#include "calib_search.hpp"

#include "hone/core/threads.hpp"
#include "hone/quantize/calibrator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace hone::calib_detail {

double percentile_of(std::span<const double> h, double edge0, double w, double q,
                     std::size_t zero_bin, double zeros) {
    double total = 0;
    for (double v : h)
        total += v;
    if (total <= 0) return edge0;
    const double target = q * total;
    double cum = 0;
    for (std::size_t k = 0; k < h.size(); ++k) {
        double mass = h[k];
        if (k == zero_bin && zeros > 0) {
            if (cum + zeros >= target) return edge0 + static_cast<double>(k) * w; // exactly 0
            cum += zeros;
            mass -= zeros;
        }
        if (mass > 0 && cum + mass >= target) {
            const double frac = std::clamp((target - cum) / mass, 0.0, 1.0);
            return edge0 + (static_cast<double>(k) + frac) * w;
        }
        cum += mass;
    }
    return edge0 + static_cast<double>(h.size()) * w;
}

namespace {

// MXNet's _smooth_distribution: moves eps onto empty bins, taken evenly from the others.
// Returns false when every bin is empty.
bool smooth(std::vector<double>& p) {
    std::size_t zeros = 0;
    double min_nz = std::numeric_limits<double>::infinity();
    for (double v : p) {
        if (v == 0)
            ++zeros;
        else
            min_nz = std::min(min_nz, v);
    }
    const std::size_t nonzeros = p.size() - zeros;
    if (nonzeros == 0) return false;
    if (zeros == 0) return true;
    double eps = 1e-4;
    // keep every bin positive: eps1 must stay below the smallest non-empty bin
    const double limit = 0.5 * min_nz * static_cast<double>(nonzeros) / static_cast<double>(zeros);
    eps = std::min(eps, limit);
    const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
    for (double& v : p)
        v = v == 0 ? eps : v - eps1;
    return true;
}

} // namespace

double kl_cost(std::span<const double> h, std::int64_t l, std::int64_t r, std::int64_t levels) {
    const std::int64_t len = r - l;
    if (len < levels || len <= 0) return std::numeric_limits<double>::infinity();
    std::vector<double> p(h.begin() + l, h.begin() + r);
    double left = 0, right = 0;
    for (std::int64_t k = 0; k < l; ++k)
        left += h[static_cast<std::size_t>(k)];
    for (std::size_t k = static_cast<std::size_t>(r); k < h.size(); ++k)
        right += h[k];
    p.front() += left;
    p.back() += right;

    std::vector<double> q(static_cast<std::size_t>(len), 0.0);
    // chunk j covers [j·len/L, (j+1)·len/L): sizes differ by at most one bin (MXNet puts the
    // whole remainder into the last chunk, which distorts Q when len / L is small)
    for (std::int64_t j = 0; j < levels; ++j) {
        const std::int64_t start = j * len / levels;
        const std::int64_t stop = (j + 1) * len / levels;
        double sum = 0;
        std::int64_t nonzero = 0;
        for (std::int64_t k = start; k < stop; ++k) {
            sum += h[static_cast<std::size_t>(l + k)];
            if (p[static_cast<std::size_t>(k)] != 0) ++nonzero;
        }
        if (nonzero == 0) continue;
        const double each = sum / static_cast<double>(nonzero);
        for (std::int64_t k = start; k < stop; ++k)
            if (p[static_cast<std::size_t>(k)] != 0) q[static_cast<std::size_t>(k)] = each;
    }
    if (!smooth(p) || !smooth(q)) return std::numeric_limits<double>::infinity();
    double sp = 0, sq = 0;
    for (std::size_t k = 0; k < p.size(); ++k) {
        sp += p[k];
        sq += q[k];
    }
    double kl = 0;
    for (std::size_t k = 0; k < p.size(); ++k) {
        const double pk = p[k] / sp, qk = q[k] / sq;
        if (pk > 0) kl += pk * std::log(pk / qk);
    }
    return kl;
}

double mse_cost(std::span<const double> h, double edge0, double w, float lo, float hi,
                const grid& g) {
    const kernels::qparams qp = calib_qparams(lo, hi, g.type, g.scheme, g.reduce_range);
    double cost = 0;
    for (std::size_t k = 0; k < h.size(); ++k) {
        if (h[k] == 0) continue;
        const double c = edge0 + (static_cast<double>(k) + 0.5) * w;
        const double d = static_cast<double>(
                             calib_fake_quant(static_cast<float>(c), qp, g.type, g.reduce_range)) -
                         c;
        cost += h[k] * d * d;
    }
    return cost;
}

std::int64_t search_one_sided(std::span<const double> h, double w, criterion c, std::int64_t levels,
                              const grid& g, bool symmetric_range) {
    std::int64_t last = -1;
    for (std::size_t k = 0; k < h.size(); ++k)
        if (h[k] > 0) last = static_cast<std::int64_t>(k);
    const std::int64_t full = last + 1;
    if (full <= 0) return 0;
    const std::int64_t first = c == criterion::entropy ? std::min(levels, full) : 1;
    std::int64_t best = full;
    double best_cost = std::numeric_limits<double>::infinity();
    for (std::int64_t r = first; r <= full; ++r) {
        double cost;
        if (c == criterion::entropy) {
            cost = kl_cost(h, 0, r, std::min(levels, r));
        } else {
            const float t = static_cast<float>(static_cast<double>(r) * w);
            cost = mse_cost(h, 0.0, w, symmetric_range ? -t : 0.0f, t, g);
        }
        if (cost < best_cost) { // first (smallest) r wins ties
            best_cost = cost;
            best = r;
        }
    }
    return best;
}

void search_two_sided(std::span<const double> h, double edge0, double w, std::int64_t zero,
                      criterion c, std::int64_t levels, const grid& g, std::int64_t& best_l,
                      std::int64_t& best_r) {
    std::int64_t l = 0, r = static_cast<std::int64_t>(h.size());
    while (l < zero && h[static_cast<std::size_t>(l)] == 0)
        ++l;
    while (r > zero && h[static_cast<std::size_t>(r - 1)] == 0)
        --r;
    auto cost = [&](std::int64_t a, std::int64_t b) {
        if (c == criterion::entropy) return kl_cost(h, a, b, levels);
        return mse_cost(h, edge0, w, static_cast<float>(edge0 + static_cast<double>(a) * w),
                        static_cast<float>(edge0 + static_cast<double>(b) * w), g);
    };
    best_l = l;
    best_r = r;
    double best_cost = cost(l, r);
    const std::int64_t step = std::max<std::int64_t>(1, (r - l) / 256);
    const std::int64_t min_width = c == criterion::entropy ? levels : 2 * step;
    while (r - l - step >= min_width) {
        const bool can_left = l + step <= zero, can_right = r - step >= zero;
        if (!can_left && !can_right) break;
        const double cl = can_left ? cost(l + step, r) : std::numeric_limits<double>::infinity();
        const double cr = can_right ? cost(l, r - step) : std::numeric_limits<double>::infinity();
        if (cl <= cr)
            l += step;
        else
            r -= step;
        const double cur = std::min(cl, cr);
        if (cur < best_cost) {
            best_cost = cur;
            best_l = l;
            best_r = r;
        }
    }
}

void matmul_nt_fixed(const float* x, const float* w, float* y, std::int64_t m, std::int64_t k,
                     std::int64_t n) {
#pragma omp parallel for num_threads(std::max(1, num_threads())) schedule(static)
    for (std::int64_t i = 0; i < m; ++i) {
        const float* xr = x + i * k;
        for (std::int64_t o = 0; o < n; ++o) {
            const float* wr = w + o * k;
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            std::int64_t j = 0;
            for (; j + 8 <= k; j += 8)
                for (int t = 0; t < 8; ++t)
                    acc[t] += xr[j + t] * wr[j + t];
            for (; j < k; ++j)
                acc[0] += xr[j] * wr[j];
            y[i * n + o] =
                ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        }
    }
}

} // namespace hone::calib_detail
