// Activation calibrators: min/max, moving average, and histogram-based percentile, entropy, MSE
// and auto selection (see hone/quantize/calibrator.hpp).
#include "hone/quantize/calibrator.hpp"

#include "calib_search.hpp"
#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/error.hpp"
#include "quant_common.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace hone {

const char* calib_method_name(calib_method m) noexcept {
    switch (m) {
    case calib_method::min_max: return "min_max";
    case calib_method::moving_average: return "moving_average";
    case calib_method::percentile: return "percentile";
    case calib_method::entropy: return "entropy";
    case calib_method::mse: return "mse";
    case calib_method::auto_select: return "auto";
    }
    return "unknown";
}

namespace {

struct int_grid {
    std::int32_t qmin, qmax;
};

int_grid grid_of(dtype type, bool reduce_range) {
    if (type == dtype::u8) return reduce_range ? int_grid{0, 127} : int_grid{0, 255};
    if (type == dtype::i8) return reduce_range ? int_grid{-64, 63} : int_grid{-128, 127};
    fail(status::dtype_mismatch, std::string("calibrator: activation type must be u8 or i8, got ") +
                                     std::string(name_of(type)));
}

float round_half_even(float v) { return std::nearbyint(v); } // default FE_TONEAREST

} // namespace

kernels::qparams calib_qparams(float lo, float hi, dtype type, kernels::quant_scheme scheme,
                               bool reduce_range) {
    const int_grid gr = grid_of(type, reduce_range);
    // validates the range (NaN, inf, lo > hi, overflow) and is the answer without reduce_range
    const kernels::qparams full = kernels::choose_qparams(lo, hi, type, scheme);
    if (!reduce_range) return full;
    float rmin = std::min(lo, 0.0f), rmax = std::max(hi, 0.0f);
    if (lo == std::numeric_limits<float>::infinity()) rmin = rmax = 0; // empty identities
    const auto qmin = static_cast<float>(gr.qmin), qmax = static_cast<float>(gr.qmax);
    kernels::qparams q;
    if (scheme == kernels::quant_scheme::affine) {
        if (rmin == rmax) return {1.0f, gr.qmin};
        q.scale = (rmax - rmin) / (qmax - qmin);
        q.zero_point = static_cast<std::int32_t>(
            std::clamp(round_half_even(qmin - rmin / q.scale), qmin, qmax));
        return q;
    }
    const float a = std::max(-rmin, rmax);
    const std::int32_t zp = type == dtype::u8 ? (gr.qmax + 1) / 2 : 0;
    if (a == 0) return {1.0f, zp};
    q.zero_point = zp;
    q.scale = a / static_cast<float>(gr.qmax - zp);
    return q;
}

float calib_fake_quant(float x, kernels::qparams p, dtype type, bool reduce_range) {
    const int_grid gr = grid_of(type, reduce_range);
    float q = round_half_even(x / p.scale) + static_cast<float>(p.zero_point);
    if (std::isnan(q)) q = static_cast<float>(p.zero_point);
    q = std::clamp(q, static_cast<float>(gr.qmin), static_cast<float>(gr.qmax));
    return (q - static_cast<float>(p.zero_point)) * p.scale;
}

namespace {

using calib_detail::criterion;

constexpr std::int64_t chunk = 1 << 16; // fixed work split: sums do not depend on threads

bool needs_histogram(calib_method m) {
    return m == calib_method::percentile || m == calib_method::entropy || m == calib_method::mse ||
           m == calib_method::auto_select;
}

struct channel_state {
    float mn = std::numeric_limits<float>::infinity();
    float mx = -std::numeric_limits<float>::infinity();
    float ma_min = 0, ma_max = 0;
    bool ma_init = false;
    bool has_range = false; // R = 2^exponent set (some nonzero seen)
    int exponent = 0;
    std::uint64_t pending_zeros = 0;
    std::uint64_t zeros = 0;             // exact ±0 (also counted in pos[0])
    std::vector<std::uint64_t> pos, neg; // bins each, when a histogram is kept
};

// The smallest e with 2^e ≥ a (a > 0, finite).
int ceil_log2(float a) {
    int e = 0;
    const float f = std::frexp(a, &e); // a = f·2^e, f ∈ [0.5, 1)
    return f == 0.5f ? e - 1 : e;
}

void merge_pairs(std::vector<std::uint64_t>& h, int times) {
    const std::size_t n = h.size();
    for (int t = 0; t < times; ++t) {
        bool all_in_first = true;
        for (std::size_t j = 1; j < n && all_in_first; ++j)
            all_in_first = h[j] == 0;
        if (all_in_first) return;
        for (std::size_t j = 0; j < n / 2; ++j)
            h[j] = h[2 * j] + h[2 * j + 1];
        std::fill(h.begin() + static_cast<std::ptrdiff_t>(n / 2), h.end(), 0);
    }
}

struct layout {
    std::int64_t outer = 1, channels = 1, inner = 1;
};

} // namespace

struct calibrator::impl {
    calibrator_params p;
    int axis = 0; // normalized, per_channel
    std::size_t rank = 0;
    bool started = false;
    std::int64_t count = 0;
    std::vector<channel_state> ch;

    // auto_select
    bool scoring = false;
    std::vector<std::array<float, 8>> cand; // per channel: (lo, hi) × 4 candidates
    std::vector<std::array<double, 4>> err; // per channel (or one row with a consumer)
    std::vector<float> consumer_w, consumer_wq;
    std::int64_t consumer_n = 0, consumer_k = 0;

    std::string who() const { return p.name.empty() ? std::string("activation") : p.name; }
    [[noreturn]] void error(status s, const std::string& what) const {
        fail(s, who() + ": " + what);
    }

    void validate() const {
        const auto m = static_cast<int>(p.method);
        if (m < 0 || m > 5)
            error(status::invalid_argument, "unknown calibration method " + std::to_string(m));
        if (p.type != dtype::u8 && p.type != dtype::i8)
            error(status::dtype_mismatch,
                  "activation type must be u8 or i8, got " + std::string(name_of(p.type)));
        const auto s = static_cast<int>(p.scheme);
        if (s != 0 && s != 1)
            error(status::invalid_argument, "unknown scheme " + std::to_string(s));
        const auto k = static_cast<int>(p.granularity.kind);
        if (k == static_cast<int>(kernels::granularity::per_group))
            error(status::invalid_argument,
                  "per_group granularity is not supported for activations (per_tensor or "
                  "per_channel)");
        if (k != 0 && k != 1)
            error(status::invalid_argument, "unknown granularity " + std::to_string(k));
        if (!(p.percentile > 0.0 && p.percentile <= 100.0))
            error(status::invalid_argument,
                  "percentile must lie in (0, 100], got " + std::to_string(p.percentile));
        if (!(p.momentum > 0.0f && p.momentum <= 1.0f))
            error(status::invalid_argument,
                  "momentum must lie in (0, 1], got " + std::to_string(p.momentum));
        if (p.bins < 16 || p.bins > 65536 ||
            !std::has_single_bit(static_cast<std::uint64_t>(p.bins)))
            error(status::invalid_argument,
                  "bins must be a power of two in [16, 65536], got " + std::to_string(p.bins));
    }

    kernels::quant_axis reduce_axis() const {
        kernels::quant_axis g{};
        if (p.granularity.kind == kernels::granularity::per_channel) {
            g.kind = kernels::granularity::per_channel;
            g.axis = axis;
        }
        return g;
    }

    // Checks a batch against the first one; returns its layout (channels along the axis).
    layout check_batch(const_tensor_view b, const char* what) {
        if (b.type() != dtype::f32)
            error(status::dtype_mismatch,
                  std::string(what) + ": batch must be f32, got " + std::string(name_of(b.type())));
        const std::size_t r = b.rank();
        if (!started) {
            if (p.granularity.kind == kernels::granularity::per_channel) {
                const int a = p.granularity.axis;
                const auto rr = static_cast<int>(r);
                if (a < -rr || a >= rr)
                    error(status::invalid_argument, "channel axis " + std::to_string(a) +
                                                        " is outside the batch's rank " +
                                                        std::to_string(r));
                axis = a < 0 ? a + rr : a;
            }
        } else if (r != rank) {
            error(status::shape_mismatch, std::string(what) + ": batch of rank " +
                                              std::to_string(r) + ", the first had rank " +
                                              std::to_string(rank));
        }
        layout lo;
        if (p.granularity.kind == kernels::granularity::per_channel) {
            lo.channels = b.dims()[static_cast<std::size_t>(axis)];
            for (int d = 0; d < axis; ++d)
                lo.outer *= b.dims()[static_cast<std::size_t>(d)];
            for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < r; ++d)
                lo.inner *= b.dims()[d];
            if (started && lo.channels != static_cast<std::int64_t>(ch.size()))
                error(status::shape_mismatch, std::string(what) + ": batch has " +
                                                  std::to_string(lo.channels) +
                                                  " channels along axis " + std::to_string(axis) +
                                                  ", the first had " + std::to_string(ch.size()));
        } else {
            lo.inner = b.numel();
        }
        return lo;
    }

    void start(const_tensor_view b, const layout& lo) {
        started = true;
        rank = b.rank();
        ch.assign(static_cast<std::size_t>(lo.channels), channel_state{});
        if (needs_histogram(p.method))
            for (auto& c : ch) {
                c.pos.assign(static_cast<std::size_t>(p.bins), 0);
                c.neg.assign(static_cast<std::size_t>(p.bins), 0);
            }
    }

    // min/max per channel with the kernel; throws on NaN / inf naming the channel.
    void batch_ranges(const_tensor_view b, std::int64_t channels, std::vector<float>& mn,
                      std::vector<float>& mx, const char* what) const {
        const kernels::quant_axis g = reduce_axis();
        const shape rs = kernels::reduced_shape(b.dims(), g);
        mn.assign(static_cast<std::size_t>(channels), 0);
        mx.assign(static_cast<std::size_t>(channels), 0);
        kernels::min_max(b, g, make_view(mn.data(), mn.size() * sizeof(float), dtype::f32, rs),
                         make_view(mx.data(), mx.size() * sizeof(float), dtype::f32, rs));
        for (std::size_t c = 0; c < mn.size(); ++c) {
            const std::string where =
                p.granularity.kind == kernels::granularity::per_channel
                    ? " in channel " + std::to_string(c) + " (axis " + std::to_string(axis) + ")"
                    : std::string();
            if (std::isnan(mn[c]) || std::isnan(mx[c]))
                error(status::invalid_argument, std::string(what) + ": batch holds NaN" + where);
            if (std::isinf(mn[c]) || std::isinf(mx[c]))
                error(status::invalid_argument,
                      std::string(what) + ": batch holds an infinite value" + where);
        }
    }

    void add_histogram(const float* x, const layout& lo, const std::vector<float>& bmn,
                       const std::vector<float>& bmx) {
        const auto bins = p.bins;
        // grow every channel's range first (exact merges), then count
        for (std::size_t c = 0; c < ch.size(); ++c) {
            auto& s = ch[c];
            const float a = std::max(std::fabs(bmn[c]), std::fabs(bmx[c]));
            if (a == 0) continue;
            const int e = ceil_log2(a);
            if (!s.has_range) {
                s.has_range = true;
                s.exponent = e;
                s.pos[0] += s.pending_zeros;
                s.pending_zeros = 0;
            } else if (e > s.exponent) {
                merge_pairs(s.pos, e - s.exponent);
                merge_pairs(s.neg, e - s.exponent);
                s.exponent = e;
            }
        }
        const int threads = std::max(1, num_threads());
        const std::int64_t top = bins - 1;
        if (ch.size() == 1) {
            // per tensor: one partial histogram per thread over a fixed split; integer sums, so
            // the counts do not depend on the split
            auto& s = ch[0];
            const std::int64_t n = lo.outer * lo.inner;
            if (!s.has_range) { // all zeros so far: counted into bin 0 once the range is known
                s.pending_zeros += static_cast<std::uint64_t>(n);
                s.zeros += static_cast<std::uint64_t>(n);
                return;
            }
            const double inv = std::ldexp(static_cast<double>(bins), -s.exponent);
            const std::int64_t nchunks = (n + chunk - 1) / chunk;
            const int t = static_cast<int>(std::clamp<std::int64_t>(nchunks, 1, threads));
            // 4 interleaved u32 copies per thread break the store-to-load dependency of runs of
            // equal bins (ReLU zeros); a copy sees at most 2^28 elements per pass before it is
            // flushed into the u64 counts
            constexpr int copies = 4;
            const auto width = static_cast<std::size_t>(2 * bins);
            std::vector<std::uint64_t> part(static_cast<std::size_t>(t) * (width + 1), 0);
#pragma omp parallel for num_threads(t) schedule(static)
            for (int w = 0; w < t; ++w) {
                const std::int64_t b0 = n * w / t, b1 = n * (w + 1) / t;
                std::uint64_t* out = part.data() + static_cast<std::size_t>(w) * (width + 1);
                std::vector<std::uint32_t> h(copies * width, 0);
                std::uint64_t z = 0;
                constexpr std::int64_t pass = std::int64_t{1} << 28;
                for (std::int64_t p0 = b0; p0 < b1; p0 += pass) {
                    const std::int64_t p1 = std::min(b1, p0 + pass);
                    std::int64_t i = p0;
                    for (; i + copies <= p1; i += copies)
                        for (int c = 0; c < copies; ++c) {
                            const float v = x[i + c];
                            const auto k =
                                std::min(top, static_cast<std::int64_t>(std::fabs(v) * inv));
                            ++h[static_cast<std::size_t>(c) * width +
                                static_cast<std::size_t>(v < 0 ? bins + k : k)];
                            z += v == 0 ? 1u : 0u;
                        }
                    for (; i < p1; ++i) {
                        const float v = x[i];
                        const auto k = std::min(top, static_cast<std::int64_t>(std::fabs(v) * inv));
                        ++h[static_cast<std::size_t>(v < 0 ? bins + k : k)];
                        z += v == 0 ? 1u : 0u;
                    }
                    for (int c = 0; c < copies; ++c)
                        for (std::size_t j = 0; j < width; ++j) {
                            out[j] += h[static_cast<std::size_t>(c) * width + j];
                            h[static_cast<std::size_t>(c) * width + j] = 0;
                        }
                }
                out[width] = z;
            }
            for (int w = 0; w < t; ++w) {
                const std::uint64_t* h = part.data() + static_cast<std::size_t>(w) * (width + 1);
                for (std::int64_t k = 0; k < bins; ++k) {
                    s.pos[static_cast<std::size_t>(k)] += h[k];
                    s.neg[static_cast<std::size_t>(k)] += h[bins + k];
                }
                s.zeros += h[width];
            }
            return;
        }
        // per channel: each thread owns a contiguous range of channels and walks every row,
        // reading that range's contiguous run of each row (sequential reads, no shared counts)
        const auto nch = static_cast<std::int64_t>(ch.size());
        std::vector<double> inv(static_cast<std::size_t>(nch), 0.0);
        for (std::int64_t c = 0; c < nch; ++c) {
            const auto& s = ch[static_cast<std::size_t>(c)];
            if (s.has_range)
                inv[static_cast<std::size_t>(c)] = std::ldexp(double(bins), -s.exponent);
        }
        const int t = static_cast<int>(std::clamp<std::int64_t>(nch, 1, threads));
#pragma omp parallel for num_threads(t) schedule(static)
        for (int w = 0; w < t; ++w) {
            const std::int64_t c0 = nch * w / t, c1 = nch * (w + 1) / t;
            std::vector<std::uint64_t> z(static_cast<std::size_t>(c1 - c0), 0);
            // blocks of rows: one channel's histogram stays in cache for a whole block, and the
            // block (≤ 256 rows of the channel range) stays in L2 across the channels
            // Channels along the last axis (inner = 1): a block of rows of the thread's channel
            // range is first transposed into a small buffer, so each channel is then counted
            // from contiguous memory while its histogram stays in cache.
            const std::int64_t block = lo.inner == 1 ? 128 : 1;
            std::vector<float> tb;
            if (lo.inner == 1) tb.resize(static_cast<std::size_t>((c1 - c0) * block));
            for (std::int64_t o0 = 0; o0 < lo.outer; o0 += block) {
                const std::int64_t o1 = std::min(lo.outer, o0 + block), rows_b = o1 - o0;
                if (lo.inner == 1)
                    for (std::int64_t o = o0; o < o1; ++o)
                        for (std::int64_t c = c0; c < c1; ++c)
                            tb[static_cast<std::size_t>((c - c0) * block + (o - o0))] =
                                x[o * nch + c];
                for (std::int64_t c = c0; c < c1; ++c) {
                    auto& s = ch[static_cast<std::size_t>(c)];
                    const std::int64_t len = rows_b * lo.inner;
                    if (!s.has_range) { // all zeros so far
                        s.pending_zeros += static_cast<std::uint64_t>(len);
                        z[static_cast<std::size_t>(c - c0)] += static_cast<std::uint64_t>(len);
                        continue;
                    }
                    const double f = inv[static_cast<std::size_t>(c)];
                    std::uint64_t* pos = s.pos.data();
                    std::uint64_t* neg = s.neg.data();
                    std::uint64_t zc = 0;
                    auto count_run = [&](const float* src, std::int64_t n) {
                        for (std::int64_t i = 0; i < n; ++i) {
                            const float v = src[i];
                            const auto k =
                                std::min(top, static_cast<std::int64_t>(std::fabs(v) * f));
                            if (v < 0)
                                ++neg[k];
                            else
                                ++pos[k];
                            zc += v == 0 ? 1u : 0u;
                        }
                    };
                    if (lo.inner == 1)
                        count_run(tb.data() + (c - c0) * block, rows_b);
                    else
                        for (std::int64_t o = o0; o < o1; ++o)
                            count_run(x + (o * nch + c) * lo.inner, lo.inner);
                    z[static_cast<std::size_t>(c - c0)] += zc;
                }
            }
            for (std::int64_t c = c0; c < c1; ++c)
                ch[static_cast<std::size_t>(c)].zeros += z[static_cast<std::size_t>(c - c0)];
        }
    }

    void observe(const_tensor_view b) {
        if (scoring)
            error(status::invalid_argument, "observe after score(): the histogram is frozen");
        const layout lo = check_batch(b, "observe");
        if (b.numel() == 0) return;
        std::vector<float> bmn, bmx;
        batch_ranges(b, lo.channels, bmn, bmx, "observe"); // validates before any change
        if (!started) start(b, lo);
        for (std::size_t c = 0; c < ch.size(); ++c) {
            auto& s = ch[c];
            s.mn = std::min(s.mn, bmn[c]);
            s.mx = std::max(s.mx, bmx[c]);
            if (!s.ma_init) {
                s.ma_min = bmn[c];
                s.ma_max = bmx[c];
                s.ma_init = true;
            } else {
                s.ma_min += p.momentum * (bmn[c] - s.ma_min);
                s.ma_max += p.momentum * (bmx[c] - s.ma_max);
            }
        }
        if (needs_histogram(p.method)) {
            if (b.is_contiguous()) {
                add_histogram(static_cast<const float*>(b.data()), lo, bmn, bmx);
            } else {
                const tensor copy = tensor::copy_of(b);
                add_histogram(static_cast<const float*>(copy.data()), lo, bmn, bmx);
            }
        }
        count += b.numel();
    }

    // ---- ranges from the state --------------------------------------------------------------

    calib_detail::grid grid() const { return {p.type, p.scheme, p.reduce_range}; }

    std::int64_t levels_one_sided() const {
        const int_grid g = grid_of(p.type, p.reduce_range);
        if (p.scheme == kernels::quant_scheme::symmetric) return (g.qmax - g.qmin + 1) / 2;
        return g.qmax - g.qmin + 1;
    }

    std::pair<float, float> histogram_range(const channel_state& s, calib_method m) const {
        if (!s.has_range) return {0.0f, 0.0f};
        const double R = std::ldexp(1.0, s.exponent);
        const std::size_t n = s.pos.size();
        const double w = R / static_cast<double>(n);
        const bool symmetric = p.scheme == kernels::quant_scheme::symmetric;
        const float amax = std::max(std::fabs(s.mn), std::fabs(s.mx));
        if (m == calib_method::percentile) {
            const double q = p.percentile / 100.0;
            if (symmetric) {
                std::vector<double> a(n);
                for (std::size_t k = 0; k < n; ++k)
                    a[k] = static_cast<double>(s.pos[k] + s.neg[k]);
                const auto t = std::min(static_cast<float>(calib_detail::percentile_of(
                                            a, 0, w, q, 0, static_cast<double>(s.zeros))),
                                        amax);
                return {-t, t};
            }
            std::vector<double> sg(2 * n);
            for (std::size_t k = 0; k < n; ++k) {
                sg[k] = static_cast<double>(s.neg[n - 1 - k]);
                sg[n + k] = static_cast<double>(s.pos[k]);
            }
            const auto lo = static_cast<float>(
                calib_detail::percentile_of(sg, -R, w, 1.0 - q, n, static_cast<double>(s.zeros)));
            const auto hi = static_cast<float>(
                calib_detail::percentile_of(sg, -R, w, q, n, static_cast<double>(s.zeros)));
            return {std::clamp(lo, s.mn, s.mx), std::clamp(hi, s.mn, s.mx)};
        }
        const criterion c = m == calib_method::entropy ? criterion::entropy : criterion::mse;
        const calib_detail::grid g = grid();
        const std::int64_t L = levels_one_sided();
        // Exact zeros are represented exactly by every grid (0 is always a grid point), so they
        // carry no quantization loss: the KL leaves them out (the spike of ReLU zeros in bin 0
        // would otherwise dominate the divergence and force a too-small threshold).
        const double z = c == criterion::entropy ? static_cast<double>(s.zeros) : 0.0;
        auto to_double = [&](const std::vector<std::uint64_t>& h, bool positive) {
            std::vector<double> d(h.begin(), h.end());
            if (positive) d[0] -= z;
            return d;
        };
        if (symmetric) {
            std::vector<double> a(n);
            for (std::size_t k = 0; k < n; ++k)
                a[k] = static_cast<double>(s.pos[k] + s.neg[k]);
            a[0] -= z;
            const std::int64_t r = calib_detail::search_one_sided(a, w, c, L, g, true);
            const float t = std::min(static_cast<float>(static_cast<double>(r) * w), amax);
            return {-t, t};
        }
        if (s.mn >= 0 || s.mx <= 0) {
            const bool positive = s.mn >= 0;
            const std::vector<double> a = to_double(positive ? s.pos : s.neg, positive);
            const std::int64_t r = calib_detail::search_one_sided(a, w, c, L, g, false);
            const float t = std::min(static_cast<float>(static_cast<double>(r) * w), amax);
            return positive ? std::pair{0.0f, t} : std::pair{-t, 0.0f};
        }
        std::vector<double> sg(2 * n);
        for (std::size_t k = 0; k < n; ++k) {
            sg[k] = static_cast<double>(s.neg[n - 1 - k]);
            sg[n + k] = static_cast<double>(s.pos[k]);
        }
        sg[n] -= z;
        std::int64_t l = 0, r = 0;
        calib_detail::search_two_sided(sg, -R, w, static_cast<std::int64_t>(n), c, L, g, l, r);
        const auto lo = static_cast<float>(-R + static_cast<double>(l) * w);
        const auto hi = static_cast<float>(-R + static_cast<double>(r) * w);
        return {std::max(lo, s.mn), std::min(hi, s.mx)};
    }

    std::pair<float, float> range_of(const channel_state& s, calib_method m) const {
        switch (m) {
        case calib_method::min_max: return {s.mn, s.mx};
        case calib_method::moving_average: return {s.ma_min, s.ma_max};
        default: return histogram_range(s, m);
        }
    }

    static constexpr std::array<calib_method, 4> candidates{
        calib_method::min_max, calib_method::percentile, calib_method::entropy, calib_method::mse};

    void freeze() {
        cand.resize(ch.size());
        std::vector<std::pair<float, float>> r(ch.size() * 4);
        const auto nch = static_cast<std::int64_t>(ch.size());
#pragma omp parallel for num_threads(std::max(1, num_threads())) schedule(dynamic)
        for (std::int64_t c = 0; c < nch; ++c)
            for (std::size_t j = 0; j < 4; ++j)
                r[static_cast<std::size_t>(c) * 4 + j] =
                    range_of(ch[static_cast<std::size_t>(c)], candidates[j]);
        for (std::size_t c = 0; c < ch.size(); ++c)
            for (std::size_t j = 0; j < 4; ++j) {
                cand[c][2 * j] = r[c * 4 + j].first;
                cand[c][2 * j + 1] = r[c * 4 + j].second;
            }
        err.assign(consumer_n > 0 ? 1 : ch.size(), std::array<double, 4>{});
        scoring = true;
    }

    kernels::qparams cand_qparams(std::size_t c, std::size_t j) const {
        return calib_qparams(cand[c][2 * j], cand[c][2 * j + 1], p.type, p.scheme, p.reduce_range);
    }

    void score(const_tensor_view b) {
        if (p.method != calib_method::auto_select)
            error(status::invalid_argument, std::string("score() is for the auto calibrator; "
                                                        "this one is ") +
                                                calib_method_name(p.method));
        if (!started || count == 0)
            error(status::invalid_argument, "score() before any batch was observed");
        const layout lo = check_batch(b, "score");
        if (b.numel() == 0) return;
        std::vector<float> bmn, bmx;
        batch_ranges(b, lo.channels, bmn, bmx, "score");
        if (!scoring) freeze();
        const tensor copy = b.is_contiguous() ? tensor() : tensor::copy_of(b);
        const float* x = b.is_contiguous() ? static_cast<const float*>(b.data())
                                           : static_cast<const float*>(copy.data());
        std::array<kernels::qparams, 4> qp0{};
        if (consumer_n > 0) {
            const std::int64_t k = consumer_k;
            if (b.numel() % k != 0 || b.dims()[b.rank() - 1] != k)
                error(status::shape_mismatch,
                      "score: the batch's last axis must be the consumer's K = " +
                          std::to_string(k) + ", batch shape " + b.dims().to_string());
            const std::int64_t m = b.numel() / k, n = consumer_n;
            std::vector<float> ref(static_cast<std::size_t>(m * n)),
                out(static_cast<std::size_t>(m * n)), xq(static_cast<std::size_t>(m * k));
            calib_detail::matmul_nt_fixed(x, consumer_w.data(), ref.data(), m, k, n);
            for (std::size_t j = 0; j < 4; ++j) {
                const kernels::qparams q = cand_qparams(0, j);
                for (std::size_t i = 0; i < xq.size(); ++i)
                    xq[i] = calib_fake_quant(x[i], q, p.type, p.reduce_range);
                calib_detail::matmul_nt_fixed(xq.data(), consumer_wq.data(), out.data(), m, k, n);
                err[0][j] += kernels::compare(ref, out, "calibrator score").error_sq;
            }
            return;
        }
        const auto nch = static_cast<std::int64_t>(ch.size());
        if (nch == 1) {
            for (std::size_t j = 0; j < 4; ++j)
                qp0[j] = cand_qparams(0, j);
            const std::int64_t n = lo.outer * lo.inner, nchunks = (n + chunk - 1) / chunk;
            std::vector<std::array<double, 4>> part(static_cast<std::size_t>(nchunks));
#pragma omp parallel for num_threads(std::max(1, num_threads())) schedule(static)
            for (std::int64_t t = 0; t < nchunks; ++t) {
                std::array<double, 4> e{};
                for (std::int64_t i = t * chunk; i < std::min(n, (t + 1) * chunk); ++i)
                    for (std::size_t j = 0; j < 4; ++j) {
                        const double d = static_cast<double>(x[i]) -
                                         static_cast<double>(calib_fake_quant(x[i], qp0[j], p.type,
                                                                              p.reduce_range));
                        e[j] += d * d;
                    }
                part[static_cast<std::size_t>(t)] = e;
            }
            for (const auto& e : part)
                for (std::size_t j = 0; j < 4; ++j)
                    err[0][j] += e[j];
            return;
        }
#pragma omp parallel for num_threads(std::max(1, num_threads())) schedule(static)
        for (std::int64_t c = 0; c < nch; ++c) {
            const auto cc = static_cast<std::size_t>(c);
            std::array<kernels::qparams, 4> q{};
            for (std::size_t j = 0; j < 4; ++j)
                q[j] = cand_qparams(cc, j);
            for (std::int64_t o = 0; o < lo.outer; ++o) {
                const float* src = x + (o * nch + c) * lo.inner;
                for (std::int64_t i = 0; i < lo.inner; ++i)
                    for (std::size_t j = 0; j < 4; ++j) {
                        const double d = static_cast<double>(src[i]) -
                                         static_cast<double>(calib_fake_quant(src[i], q[j], p.type,
                                                                              p.reduce_range));
                        err[cc][j] += d * d;
                    }
            }
        }
    }

    calib_result result() const {
        if (!started || count == 0)
            error(status::invalid_argument, "result() before any non-empty batch was observed");
        calib_result out;
        const std::size_t n = ch.size();
        out.min.resize(n);
        out.max.resize(n);
        out.scale.resize(n);
        out.zero_point.resize(n);
        out.chosen.resize(n);
        if (p.method == calib_method::auto_select) {
            if (!scoring)
                error(status::invalid_argument,
                      "the auto calibrator needs a scoring pass: call score() on the calibration "
                      "batches after observing them");
            for (const auto& e : err)
                out.candidate_error.emplace_back(e.begin(), e.end());
        }
        std::vector<std::pair<float, float>> ranges(n);
        if (p.method != calib_method::auto_select) {
            const auto nch = static_cast<std::int64_t>(n);
#pragma omp parallel for num_threads(std::max(1, num_threads())) schedule(dynamic)
            for (std::int64_t c = 0; c < nch; ++c)
                ranges[static_cast<std::size_t>(c)] =
                    range_of(ch[static_cast<std::size_t>(c)], p.method);
        }
        for (std::size_t c = 0; c < n; ++c) {
            std::pair<float, float> r;
            calib_method m = p.method;
            if (p.method == calib_method::auto_select) {
                const auto& e = err[err.size() == 1 ? 0 : c];
                std::size_t best = 0; // min_max; ties stay with it
                for (std::size_t j = 1; j < 4; ++j)
                    if (e[j] < e[best]) best = j;
                r = {cand[c][2 * best], cand[c][2 * best + 1]};
                m = candidates[best];
            } else {
                r = ranges[c];
            }
            const kernels::qparams q =
                calib_qparams(r.first, r.second, p.type, p.scheme, p.reduce_range);
            out.min[c] = r.first;
            out.max[c] = r.second;
            out.scale[c] = q.scale;
            out.zero_point[c] = q.zero_point;
            out.chosen[c] = m;
        }
        return out;
    }
};

calibrator::calibrator(const calibrator_params& params) : impl_(std::make_unique<impl>()) {
    impl_->p = params;
    impl_->validate();
}
calibrator::~calibrator() = default;
calibrator::calibrator(calibrator&&) noexcept = default;
calibrator& calibrator::operator=(calibrator&&) noexcept = default;

void calibrator::observe(const_tensor_view batch) { impl_->observe(batch); }

void calibrator::set_consumer(const_tensor_view weights, std::span<const float> deployed) {
    auto& s = *impl_;
    if (s.p.method != calib_method::auto_select)
        s.error(status::invalid_argument, "set_consumer is for the auto calibrator");
    if (s.p.granularity.kind != kernels::granularity::per_tensor)
        s.error(status::invalid_argument,
                "set_consumer needs per-tensor granularity (the layer output couples channels)");
    if (s.scoring) s.error(status::invalid_argument, "set_consumer after score()");
    if (weights.type() != dtype::f32 || weights.rank() != 2)
        s.error(status::shape_mismatch, "consumer weights must be f32 [N, K], got " +
                                            std::string(name_of(weights.type())) + " " +
                                            weights.dims().to_string());
    const tensor w = tensor::copy_of(weights);
    const auto src = w.span<float>();
    if (const std::size_t i = detail::first_non_finite(src); i < src.size())
        s.error(status::invalid_argument,
                "consumer weights hold a non-finite value at index " + std::to_string(i));
    if (!deployed.empty() && deployed.size() != src.size())
        s.error(status::shape_mismatch, "deployed consumer weights have " +
                                            std::to_string(deployed.size()) + " values, expected " +
                                            std::to_string(src.size()));
    if (const std::size_t i = detail::first_non_finite(deployed); i < deployed.size())
        s.error(status::invalid_argument,
                "deployed consumer weights hold a non-finite value at index " + std::to_string(i));
    s.consumer_w.assign(src.begin(), src.end());
    s.consumer_wq =
        deployed.empty() ? s.consumer_w : std::vector<float>(deployed.begin(), deployed.end());
    s.consumer_n = weights.dims()[0];
    s.consumer_k = weights.dims()[1];
}

void calibrator::score(const_tensor_view batch) { impl_->score(batch); }
calib_result calibrator::result() const { return impl_->result(); }
const calibrator_params& calibrator::params() const noexcept { return impl_->p; }
std::int64_t calibrator::channels() const noexcept {
    return static_cast<std::int64_t>(impl_->ch.size());
}
std::int64_t calibrator::count() const noexcept { return impl_->count; }

} // namespace hone
