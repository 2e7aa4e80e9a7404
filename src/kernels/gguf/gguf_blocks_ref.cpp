// Scalar reference of the GGUF block formats (include/hone/kernels/gguf_blocks.hpp is the
// specification). It is the only tier: quantization is bound by the scale search, and
// dequantization by memory.
#include "gguf_blocks.hpp"

#include "hone/core/half.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

static_assert(std::endian::native == std::endian::little,
              "the GGUF block records are little-endian and are copied as they are in memory");

namespace hone::kernels::gguf_ref {

namespace {

/// Round to nearest, ties to even: adding 1.5·2^23 puts the integer part in the low mantissa
/// bits. Exact for |v| < 2^22; a larger finite v comes back with its sign and a magnitude above
/// 2^21, which the clamp after it (every use has one) maps to the right bound. Needs the default
/// rounding mode and no -ffast-math, as the rest of hone.
inline float round_ne(float v) noexcept {
    constexpr float magic = 12582912.0f;
    return (v + magic) - magic;
}

/// clamp on values (not std::clamp's references), so that loops of it vectorize.
inline float clampf(float v, float lo, float hi) noexcept {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/// clamp(round(v), lo, hi) for integral lo, hi (= round(clamp(v, lo, hi))). Rounding first
/// keeps the loops of it free of branches, so compilers vectorize them.
inline float round_clamp(float v, float lo, float hi) noexcept {
    return clampf(round_ne(v), lo, hi);
}

/// f32 → f16 for a stored scale, saturated to the largest finite half (inputs within
/// gguf_max_abs never reach it; the guard keeps every stored scale finite regardless).
inline half scale_half(float v) noexcept {
    half h = to_half(v);
    if (!std::isfinite(to_float(h))) h = to_half(std::copysign(65504.0f, v));
    return h;
}

using vec32 = std::array<float, 32>;

/// Σ a[i] in a fixed pairwise order. Each level is elementwise, so compilers vectorize it
/// without reassociating anything: the same sum on every build.
inline float tree_sum(vec32 a) noexcept {
    for (std::size_t i = 0; i < 16; ++i)
        a[i] += a[i + 16];
    for (std::size_t i = 0; i < 8; ++i)
        a[i] += a[i + 8];
    for (std::size_t i = 0; i < 4; ++i)
        a[i] += a[i + 4];
    return (a[0] + a[2]) + (a[1] + a[3]);
}

// ---------------------------------------------------------------------------------------------
// Q8_0

void quantize_block_q8_0(const float* x, block_q8_0& blk) noexcept {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i)
        amax = std::max(amax, std::fabs(x[i]));
    blk.d = scale_half(amax / 127.0f);
    const float d = to_float(blk.d);
    vec32 q{};
    if (d > 0.0f)
        for (std::size_t i = 0; i < 32; ++i)
            q[i] = round_clamp(x[i] / d, -127.0f, 127.0f);
    for (std::size_t i = 0; i < 32; ++i)
        blk.qs[i] = static_cast<std::int8_t>(q[i]);
}

// ---------------------------------------------------------------------------------------------
// Q4_0 (q are kept as integral floats until they are packed)

/// q = clamp(round(x / d), −8, 7) for the stored scale d (all 0 when d = 0); returns
/// E = Σ w (x − d·q)², d·q computed as dequantization does (exact in f32).
float choose_q4_0(const vec32& x, const vec32& w, float d, vec32& q) noexcept {
    q.fill(0.0f);
    if (d != 0.0f)
        for (std::size_t i = 0; i < 32; ++i)
            q[i] = round_clamp(x[i] / d, -8.0f, 7.0f);
    vec32 e;
    for (std::size_t i = 0; i < 32; ++i) {
        const float r = x[i] - d * q[i];
        e[i] = w[i] * r * r;
    }
    return tree_sum(e);
}

/// Weighted least-squares scale Σ w x q / Σ w q² of given q (wx = w·x); 0 when Σ w q² = 0.
float lsq_scale_q4_0(const vec32& wx, const vec32& w, const vec32& q) noexcept {
    vec32 a, b;
    for (std::size_t i = 0; i < 32; ++i) {
        a[i] = wx[i] * q[i];
        b[i] = w[i] * q[i] * q[i];
    }
    const float sb = tree_sum(b);
    return sb > 0.0f ? tree_sum(a) / sb : 0.0f;
}

void quantize_block_q4_0(const float* xp, const float* wp, block_q4_0& blk) noexcept {
    vec32 x;
    std::copy(xp, xp + 32, x.begin());
    float amax = 0.0f, m = 0.0f;
    for (std::size_t i = 0; i < 32; ++i)
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            m = x[i];
        }
    half dh = scale_half(amax > 0.0f ? m / -8.0f : 0.0f); // +0, not ggml's −0, for a zero block
    vec32 q{};
    if (wp == nullptr || amax == 0.0f) {
        const float d = to_float(dh);
        if (d != 0.0f)
            for (std::size_t i = 0; i < 32; ++i)
                q[i] = round_clamp(x[i] / d, -8.0f, 7.0f);
    } else {
        vec32 w, wx, qc;
        std::copy(wp, wp + 32, w.begin());
        for (std::size_t i = 0; i < 32; ++i)
            wx[i] = w[i] * x[i];
        float best = choose_q4_0(x, w, to_float(dh), q);
        // Tries the stored scale of d_wanted; keeps it (and its q) when E is smaller.
        auto consider = [&](float d_wanted) {
            if (!std::isfinite(d_wanted)) return false; // sums overflowed: extreme importance
            const half h = scale_half(d_wanted);
            const float d = to_float(h);
            if (d == 0.0f) return false;
            const float e = choose_q4_0(x, w, d, qc);
            if (!(e < best)) return false;
            best = e;
            dh = h;
            q = qc;
            return true;
        };
        // The grid ranked by the least-squares gain (Σ w x q)² / Σ w q² (what E would be
        // with that q and an exact scale: Σ w x² − gain); the best one evaluated exactly.
        float best_gain = -1.0f, best_d = 0.0f;
        for (int k = -9; k <= 9; ++k)
            for (const float t : {-(8.0f + 0.1f * float(k)) / m, (7.0f + 0.1f * float(k)) / m}) {
                vec32 a, b;
                for (std::size_t i = 0; i < 32; ++i) {
                    const float v = round_clamp(t * x[i], -8.0f, 7.0f);
                    a[i] = wx[i] * v;
                    b[i] = w[i] * v * v;
                }
                const float sa = tree_sum(a), sb = tree_sum(b);
                if (sb > 0.0f && sa * sa / sb > best_gain) {
                    best_gain = sa * sa / sb;
                    best_d = sa / sb;
                }
            }
        if (best_d != 0.0f) consider(best_d);
        for (int it = 0; it < 4; ++it) {
            const float d = lsq_scale_q4_0(wx, w, q);
            if (d == 0.0f || !consider(d)) break;
        }
    }
    blk.d = dh;
    for (std::size_t j = 0; j < 16; ++j)
        blk.qs[j] = static_cast<std::uint8_t>((int(q[j]) + 8) | ((int(q[j + 16]) + 8) << 4));
}

// ---------------------------------------------------------------------------------------------
// Q4_K

/// x ≈ s·q − m over a sub-block of 32, with its weighted squared error.
struct affine_fit {
    float s = 0.0f;
    float m = 0.0f;
    float err = 0.0f;
};

/// The q-independent sums of one sub-block: weights, x, w·x, Σ w, Σ w·x.
struct sub_block {
    vec32 x, w, wx;
    float sw = 0.0f, swx = 0.0f;
};

/// E = Σ w (s·q − m − x)².
float affine_error(const sub_block& b, const vec32& q, float s, float m) noexcept {
    vec32 e;
    for (std::size_t i = 0; i < 32; ++i) {
        const float r = s * q[i] - m - b.x[i];
        e[i] = b.w[i] * r * r;
    }
    return tree_sum(e);
}

/// Weighted least squares of x ≈ s·q − m for given q, with m ≥ 0 (m = 0 and s refit when the
/// free fit puts the min above 0) and s > 0 (the sums' solve in double); false when no such
/// fit exists (e.g. every weight 0).
bool fit_affine(const sub_block& b, const vec32& q, affine_fit& out) noexcept {
    vec32 wq, wqq, wxq;
    for (std::size_t i = 0; i < 32; ++i) {
        wq[i] = b.w[i] * q[i];
        wqq[i] = wq[i] * q[i];
        wxq[i] = b.wx[i] * q[i];
    }
    const double sq = tree_sum(wq), sqq = tree_sum(wqq), sxq = tree_sum(wxq);
    const double sw = b.sw, sx = b.swx;
    const double det = sw * sqq - sq * sq;
    double s = 0.0, off = 0.0; // x ≈ s·q + off
    if (det > 0.0) {
        s = (sw * sxq - sx * sq) / det;
        off = (sqq * sx - sq * sxq) / det;
    }
    if (!(det > 0.0) || off > 0.0) {
        if (!(sqq > 0.0)) return false;
        off = 0.0;
        s = sxq / sqq;
    }
    if (!(s > 0.0) || !std::isfinite(float(s)) || !std::isfinite(float(off))) return false;
    out.s = float(s);
    out.m = float(-off);
    out.err = affine_error(b, q, out.s, out.m);
    return true;
}

/// q = clamp(round((x + m) / s), 0, 15).
void affine_q(const sub_block& b, float s, float m, vec32& q) noexcept {
    for (std::size_t i = 0; i < 32; ++i)
        q[i] = round_clamp((b.x[i] + m) / s, 0.0f, 15.0f);
}

/// The sub-block search: candidate q from a grid of inverse scales over [min(x, 0), max x],
/// each with its least-squares (s, m), the best refined by re-chosen q while E decreases.
affine_fit fit_sub_block(const sub_block& b) noexcept {
    float lo = 0.0f, hi = b.x[0];
    for (std::size_t i = 0; i < 32; ++i) {
        lo = std::min(lo, b.x[i]);
        hi = std::max(hi, b.x[i]);
    }
    if (!(hi > lo)) return {0.0f, -lo, 0.0f}; // every x equal to lo ≤ 0: exact with q = 0
    const float range = hi - lo;
    vec32 q;
    // The plain min/max grid as the starting point (also when every weight is 0).
    affine_fit best{range / 15.0f, -lo, 0.0f};
    for (std::size_t i = 0; i < 32; ++i)
        q[i] = round_clamp((b.x[i] - lo) * (15.0f / range), 0.0f, 15.0f);
    best.err = affine_error(b, q, best.s, best.m);
    affine_fit f;
    for (int k = -10; k <= 10; ++k) {
        const float t = (15.0f + 0.1f * float(k)) / range;
        for (std::size_t i = 0; i < 32; ++i)
            q[i] = round_clamp((b.x[i] - lo) * t, 0.0f, 15.0f);
        if (fit_affine(b, q, f) && f.err < best.err) best = f;
    }
    for (int it = 0; it < 4; ++it) {
        affine_q(b, best.s, best.m, q);
        if (!fit_affine(b, q, f) || !(f.err < best.err)) break;
        best = f;
    }
    return best;
}

/// q for the stored pair (S, M) = (d·sc, dmin·m) (all 0 when S = 0) and E = Σ w (x − (S·q −
/// M))², the value computed as dequantization does (S·q is exact, one rounding for − M).
float choose_q4_k(const sub_block& b, float scale, float offset, vec32& q) noexcept {
    if (scale > 0.0f)
        affine_q(b, scale, offset, q);
    else
        q.fill(0.0f);
    vec32 e;
    for (std::size_t i = 0; i < 32; ++i) {
        const float r = b.x[i] - (scale * q[i] - offset);
        e[i] = b.w[i] * r * r;
    }
    return tree_sum(e);
}

void quantize_block_q4_k(const float* x, const float* importance, block_q4_k& blk) noexcept {
    std::array<sub_block, 8> sb;
    float sigma2 = 0.0f;
    if (importance != nullptr) {
        double sum_x2 = 0.0;
        for (int i = 0; i < 256; ++i)
            sum_x2 += double(x[i]) * double(x[i]);
        sigma2 = float(2.0 * sum_x2 / 256.0);
    }
    for (std::size_t j = 0; j < 8; ++j) {
        sub_block& b = sb[j];
        std::copy(x + 32 * j, x + 32 * j + 32, b.x.begin());
        if (importance != nullptr) {
            for (std::size_t i = 0; i < 32; ++i)
                b.w[i] = importance[32 * j + i] * std::sqrt(sigma2 + b.x[i] * b.x[i]);
        } else {
            double sum_x2 = 0.0;
            for (std::size_t i = 0; i < 32; ++i)
                sum_x2 += double(b.x[i]) * double(b.x[i]);
            const float av = float(std::sqrt(sum_x2 / 32.0));
            for (std::size_t i = 0; i < 32; ++i)
                b.w[i] = av + std::fabs(b.x[i]);
        }
        for (std::size_t i = 0; i < 32; ++i)
            b.wx[i] = b.w[i] * b.x[i];
        b.sw = tree_sum(b.w);
        b.swx = tree_sum(b.wx);
    }
    std::array<affine_fit, 8> fit{};
    float max_s = 0.0f, max_m = 0.0f;
    for (std::size_t j = 0; j < 8; ++j) {
        fit[j] = fit_sub_block(sb[j]);
        max_s = std::max(max_s, fit[j].s);
        max_m = std::max(max_m, fit[j].m);
    }
    blk.d = scale_half(max_s / 63.0f);
    blk.dmin = scale_half(max_m / 63.0f);
    const float d = to_float(blk.d), dmin = to_float(blk.dmin);
    std::array<vec32, 8> q;
    vec32 qc;
    std::array<int, 8> ls{}, lm{};
    for (std::size_t j = 0; j < 8; ++j) {
        const int ls0 = d > 0.0f ? int(round_clamp(fit[j].s / d, 0.0f, 63.0f)) : 0;
        const int lm0 = dmin > 0.0f ? int(round_clamp(fit[j].m / dmin, 0.0f, 63.0f)) : 0;
        float best = choose_q4_k(sb[j], d * float(ls0), dmin * float(lm0), q[j]);
        ls[j] = ls0;
        lm[j] = lm0;
        // The 6-bit pair within ±1 of the rounded one that gives the smallest E.
        for (int a = std::max(ls0 - 1, 0); a <= std::min(ls0 + 1, d > 0.0f ? 63 : 0); ++a)
            for (int c = std::max(lm0 - 1, 0); c <= std::min(lm0 + 1, dmin > 0.0f ? 63 : 0); ++c) {
                if (a == ls0 && c == lm0) continue;
                const float e = choose_q4_k(sb[j], d * float(a), dmin * float(c), qc);
                if (e < best) {
                    best = e;
                    ls[j] = a;
                    lm[j] = c;
                    q[j] = qc;
                }
            }
    }
    blk.scales.fill(0);
    for (std::size_t j = 0; j < 8; ++j) {
        const auto s6 = static_cast<std::uint8_t>(ls[j]), m6 = static_cast<std::uint8_t>(lm[j]);
        if (j < 4) {
            blk.scales[j] = static_cast<std::uint8_t>(blk.scales[j] | s6);
            blk.scales[j + 4] = static_cast<std::uint8_t>(blk.scales[j + 4] | m6);
        } else {
            blk.scales[j + 4] = static_cast<std::uint8_t>((s6 & 15) | ((m6 & 15) << 4));
            blk.scales[j - 4] = static_cast<std::uint8_t>(blk.scales[j - 4] | ((s6 >> 4) << 6));
            blk.scales[j] = static_cast<std::uint8_t>(blk.scales[j] | ((m6 >> 4) << 6));
        }
    }
    for (std::size_t c = 0; c < 4; ++c)
        for (std::size_t l = 0; l < 32; ++l)
            blk.qs[32 * c + l] =
                static_cast<std::uint8_t>(int(q[2 * c][l]) | (int(q[2 * c + 1][l]) << 4));
}

template <class Block> Block load(const std::byte* p) noexcept {
    Block b;
    std::memcpy(&b, p, sizeof b);
    return b;
}

template <class Block> void store(std::byte* p, const Block& b) noexcept {
    std::memcpy(p, &b, sizeof b);
}

} // namespace

void quantize_row_q8_0(const float* x, std::int64_t n, std::byte* y) noexcept {
    for (std::int64_t i = 0; i < n / 32; ++i) {
        block_q8_0 blk{};
        quantize_block_q8_0(x + 32 * i, blk);
        store(y + i * std::int64_t(sizeof blk), blk);
    }
}

void quantize_row_q4_0(const float* x, std::int64_t n, const float* importance,
                       std::byte* y) noexcept {
    std::array<float, 32> w{};
    double sigma2 = 0.0;
    if (importance != nullptr) {
        for (std::int64_t i = 0; i < n; ++i)
            sigma2 += double(x[i]) * double(x[i]);
        sigma2 /= double(n);
    }
    for (std::int64_t i = 0; i < n / 32; ++i) {
        const float* xb = x + 32 * i;
        if (importance != nullptr)
            for (int l = 0; l < 32; ++l)
                w[std::size_t(l)] =
                    importance[32 * i + l] * std::sqrt(float(sigma2) + xb[l] * xb[l]);
        block_q4_0 blk{};
        quantize_block_q4_0(xb, importance != nullptr ? w.data() : nullptr, blk);
        store(y + i * std::int64_t(sizeof blk), blk);
    }
}

void quantize_row_q4_k(const float* x, std::int64_t n, const float* importance,
                       std::byte* y) noexcept {
    for (std::int64_t i = 0; i < n / 256; ++i) {
        block_q4_k blk{};
        quantize_block_q4_k(x + 256 * i, importance != nullptr ? importance + 256 * i : nullptr,
                            blk);
        store(y + i * std::int64_t(sizeof blk), blk);
    }
}

std::int64_t dequantize_row_q8_0(const std::byte* x, std::int64_t n, float* y) noexcept {
    for (std::int64_t i = 0; i < n / 32; ++i) {
        const auto blk = load<block_q8_0>(x + i * std::int64_t(sizeof(block_q8_0)));
        const float d = to_float(blk.d);
        if (!std::isfinite(d)) return i;
        for (std::size_t l = 0; l < 32; ++l)
            y[32 * i + std::int64_t(l)] = d * float(blk.qs[l]);
    }
    return n / 32;
}

std::int64_t dequantize_row_q4_0(const std::byte* x, std::int64_t n, float* y) noexcept {
    for (std::int64_t i = 0; i < n / 32; ++i) {
        const auto blk = load<block_q4_0>(x + i * std::int64_t(sizeof(block_q4_0)));
        const float d = to_float(blk.d);
        if (!std::isfinite(d)) return i;
        float* yb = y + 32 * i;
        for (std::size_t l = 0; l < 16; ++l) {
            yb[l] = d * float((blk.qs[l] & 15) - 8);
            yb[l + 16] = d * float((blk.qs[l] >> 4) - 8);
        }
    }
    return n / 32;
}

std::int64_t dequantize_row_q4_k(const std::byte* x, std::int64_t n, float* y) noexcept {
    for (std::int64_t i = 0; i < n / 256; ++i) {
        const auto blk = load<block_q4_k>(x + i * std::int64_t(sizeof(block_q4_k)));
        const float d = to_float(blk.d), dmin = to_float(blk.dmin);
        if (!std::isfinite(d) || !std::isfinite(dmin)) return i;
        float* yb = y + 256 * i;
        for (std::size_t c = 0; c < 4; ++c) {
            const auto [sc0, m0] = q4_k_scale_min(blk.scales, int(2 * c));
            const auto [sc1, m1] = q4_k_scale_min(blk.scales, int(2 * c + 1));
            const float d0 = d * float(sc0), min0 = dmin * float(m0);
            const float d1 = d * float(sc1), min1 = dmin * float(m1);
            for (std::size_t l = 0; l < 32; ++l) {
                const std::uint8_t b = blk.qs[32 * c + l];
                yb[64 * c + l] = d0 * float(b & 15) - min0;
                yb[64 * c + 32 + l] = d1 * float(b >> 4) - min1;
            }
        }
    }
    return n / 256;
}

} // namespace hone::kernels::gguf_ref
