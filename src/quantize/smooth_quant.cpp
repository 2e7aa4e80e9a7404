// SmoothQuant: smoothing factors, folding, and the α search on W8A8 output error.
#include "hone/quantize/smooth_quant.hpp"

#include "calib_search.hpp"
#include "hone/core/error.hpp"
#include "hone/kernels/error.hpp"
#include "hone/kernels/reduce.hpp"
#include "hone/quantize/calibrator.hpp"
#include "hone/quantize/quantizer.hpp"
#include "quant_common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace hone {

namespace {

/// Ŵ of W [N, K]: per-output-channel symmetric int8 RTN, dequantized — the quantizer's default
/// spec, which is kernels::linear's int8 weight quantization bit for bit (both take the scale
/// from kernels::choose_qparams(i8, symmetric) on each row and round half to even).
std::vector<float> int8_rows_dequantized(const std::vector<float>& w, std::int64_t n,
                                         std::int64_t k, const std::string& name) {
    if (w.empty()) return {};
    const tensor dq =
        quantizer()
            .quantize(make_view(w.data(), w.size() * sizeof(float), dtype::f32, shape{n, k}),
                      name + " (W·s)")
            .dequantize();
    const auto v = dq.span<float>();
    return {v.begin(), v.end()};
}

} // namespace

struct smooth_quant::impl {
    smooth_quant_params p;
    std::int64_t n = 0, k = 0;
    std::vector<float> w;                   // [N, K]
    std::vector<float> w_absmax;            // per column
    std::vector<float> x_min, x_max, x_abs; // per column
    std::int64_t rows = 0;
    bool scoring = false;
    // frozen at the first score(): per candidate (0 = unsmoothed, then the grid)
    std::vector<std::vector<float>> s, wq;
    std::vector<kernels::qparams> aq;
    std::vector<std::pair<float, float>> arange;
    std::vector<double> err;
    double energy = 0;

    [[noreturn]] void error(status st, const std::string& what) const {
        fail(st, p.name + ": " + what);
    }

    void check_batch(const_tensor_view x, const char* what, std::vector<float>& mn,
                     std::vector<float>& mx) const {
        if (x.type() != dtype::f32)
            error(status::dtype_mismatch,
                  std::string(what) + ": batch must be f32, got " + std::string(name_of(x.type())));
        if (x.rank() != 2 || x.dims()[1] != k)
            error(status::shape_mismatch, std::string(what) + ": batch must be [M, " +
                                              std::to_string(k) + "], got " + x.dims().to_string());
        const kernels::quant_axis g{kernels::granularity::per_channel, 1, 0};
        mn.assign(static_cast<std::size_t>(k), 0);
        mx.assign(static_cast<std::size_t>(k), 0);
        if (x.dims()[0] == 0) return;
        const shape rs{k};
        kernels::min_max(x, g, make_view(mn.data(), mn.size() * 4, dtype::f32, rs),
                         make_view(mx.data(), mx.size() * 4, dtype::f32, rs));
        for (std::int64_t j = 0; j < k; ++j) {
            const auto jj = static_cast<std::size_t>(j);
            if (!std::isfinite(mn[jj]) || !std::isfinite(mx[jj]))
                error(status::invalid_argument, std::string(what) +
                                                    ": batch holds NaN or inf in input channel " +
                                                    std::to_string(j));
        }
    }

    std::vector<float> factors(float alpha) const {
        std::vector<float> f(static_cast<std::size_t>(k), 1.0f);
        for (std::size_t j = 0; j < f.size(); ++j) {
            const double xa = x_abs[j], wa = w_absmax[j];
            if (xa == 0 || wa == 0) continue;
            const double v = std::pow(xa, alpha) / std::pow(wa, 1.0 - alpha);
            f[j] = static_cast<float>(std::clamp(v, 1e-5, 1e5));
        }
        return f;
    }

    void freeze() {
        const std::size_t nc = p.alphas.size() + 1;
        s.resize(nc);
        wq.resize(nc);
        aq.resize(nc);
        arange.resize(nc);
        err.assign(nc, 0.0);
        for (std::size_t c = 0; c < nc; ++c) {
            s[c] = c == 0 ? std::vector<float>(static_cast<std::size_t>(k), 1.0f)
                          : factors(p.alphas[c - 1]);
            std::vector<float> ws(w.size());
            float lo = std::numeric_limits<float>::infinity(), hi = -lo;
            for (std::int64_t j = 0; j < k; ++j) {
                const float f = s[c][static_cast<std::size_t>(j)];
                for (std::int64_t r = 0; r < n; ++r)
                    ws[static_cast<std::size_t>(r * k + j)] =
                        w[static_cast<std::size_t>(r * k + j)] * f;
                lo = std::min(lo, x_min[static_cast<std::size_t>(j)] / f);
                hi = std::max(hi, x_max[static_cast<std::size_t>(j)] / f);
            }
            wq[c] = int8_rows_dequantized(ws, n, k, p.name);
            arange[c] = {lo, hi};
            aq[c] = calib_qparams(lo, hi, p.act_type, p.act_scheme, p.reduce_range);
        }
        scoring = true;
    }

    void score(const_tensor_view x) {
        if (rows == 0) error(status::invalid_argument, "score() before observe()");
        std::vector<float> mn, mx;
        check_batch(x, "score", mn, mx);
        const std::int64_t m = x.dims()[0];
        if (m == 0) return;
        if (!scoring) freeze();
        const tensor xc = tensor::copy_of(x);
        const float* src = static_cast<const float*>(xc.data());
        std::vector<float> ref(static_cast<std::size_t>(m * n)), out(ref.size()),
            xq(static_cast<std::size_t>(m * k));
        calib_detail::matmul_nt_fixed(src, w.data(), ref.data(), m, k, n);
        for (float v : ref)
            energy += static_cast<double>(v) * v;
        for (std::size_t c = 0; c < s.size(); ++c) {
            for (std::int64_t r = 0; r < m; ++r)
                for (std::int64_t j = 0; j < k; ++j) {
                    const auto i = static_cast<std::size_t>(r * k + j);
                    xq[i] = calib_fake_quant(src[i] / s[c][static_cast<std::size_t>(j)], aq[c],
                                             p.act_type, p.reduce_range);
                }
            calib_detail::matmul_nt_fixed(xq.data(), wq[c].data(), out.data(), m, k, n);
            err[c] += kernels::compare(ref, out, "smooth_quant score").error_sq;
        }
    }
};

smooth_quant::smooth_quant(const_tensor_view weights, const smooth_quant_params& params)
    : impl_(std::make_unique<impl>()) {
    auto& s = *impl_;
    s.p = params;
    if (s.p.act_type != dtype::u8 && s.p.act_type != dtype::i8)
        s.error(status::dtype_mismatch, "activation type must be u8 or i8");
    if (s.p.alphas.empty()) s.error(status::invalid_argument, "the α grid is empty");
    for (float a : s.p.alphas)
        if (!(a >= 0.0f && a <= 1.0f))
            s.error(status::invalid_argument, "α must lie in [0, 1], got " + std::to_string(a));
    if (weights.type() != dtype::f32)
        s.error(status::dtype_mismatch,
                "weights must be f32, got " + std::string(name_of(weights.type())));
    if (weights.rank() != 2)
        s.error(status::shape_mismatch,
                "weights must be [N, K], got " + weights.dims().to_string());
    s.n = weights.dims()[0];
    s.k = weights.dims()[1];
    const tensor w = tensor::copy_of(weights);
    const auto ws = w.span<float>();
    if (const std::size_t i = detail::first_non_finite(ws); i < ws.size())
        s.error(status::invalid_argument,
                "weights hold a non-finite value at index " + std::to_string(i));
    s.w.assign(ws.begin(), ws.end());
    s.w_absmax.assign(static_cast<std::size_t>(s.k), 0.0f);
    if (s.n > 0 && s.k > 0) kernels::abs_max_cols(s.w, s.n, s.k, s.w_absmax);
    s.x_min.assign(static_cast<std::size_t>(s.k), std::numeric_limits<float>::infinity());
    s.x_max.assign(static_cast<std::size_t>(s.k), -std::numeric_limits<float>::infinity());
    s.x_abs.assign(static_cast<std::size_t>(s.k), 0.0f);
}
smooth_quant::~smooth_quant() = default;
smooth_quant::smooth_quant(smooth_quant&&) noexcept = default;
smooth_quant& smooth_quant::operator=(smooth_quant&&) noexcept = default;

void smooth_quant::observe(const_tensor_view x) {
    auto& s = *impl_;
    if (s.scoring) s.error(status::invalid_argument, "observe() after score()");
    std::vector<float> mn, mx;
    s.check_batch(x, "observe", mn, mx);
    if (x.dims()[0] == 0) return;
    for (std::size_t j = 0; j < mn.size(); ++j) {
        s.x_min[j] = std::min(s.x_min[j], mn[j]);
        s.x_max[j] = std::max(s.x_max[j], mx[j]);
        s.x_abs[j] = std::max(s.x_abs[j], std::max(std::fabs(mn[j]), std::fabs(mx[j])));
    }
    s.rows += x.dims()[0];
}

void smooth_quant::score(const_tensor_view x) { impl_->score(x); }

std::vector<float> smooth_quant::factors(float alpha) const {
    if (impl_->rows == 0) impl_->error(status::invalid_argument, "factors() before observe()");
    return impl_->factors(alpha);
}

smooth_quant_result smooth_quant::result() const {
    const auto& s = *impl_;
    if (!s.scoring) s.error(status::invalid_argument, "result() before score()");
    smooth_quant_result r;
    r.alphas = s.p.alphas;
    r.errors.assign(s.err.begin() + 1, s.err.end());
    r.error_before = s.err[0];
    std::size_t best = 0;
    for (std::size_t i = 1; i < r.errors.size(); ++i)
        if (r.errors[i] < r.errors[best]) best = i;
    r.alpha = r.alphas[best];
    r.error_after = r.errors[best];
    r.scales = s.s[best + 1];
    r.weights = tensor(dtype::f32, shape{s.n, s.k});
    auto dst = r.weights.span<float>();
    for (std::int64_t row = 0; row < s.n; ++row)
        for (std::int64_t j = 0; j < s.k; ++j) {
            const auto i = static_cast<std::size_t>(row * s.k + j);
            dst[i] = s.w[i] * r.scales[static_cast<std::size_t>(j)];
        }
    r.act_min = s.arange[best + 1].first;
    r.act_max = s.arange[best + 1].second;
    r.act_qparams = s.aq[best + 1];
    r.reference_energy = s.energy;
    return r;
}

smooth_quant_result smooth_quant_search(const_tensor_view weights,
                                        std::span<const const_tensor_view> batches,
                                        const smooth_quant_params& params) {
    smooth_quant sq(weights, params);
    for (const auto& b : batches)
        sq.observe(b);
    for (const auto& b : batches)
        sq.score(b);
    return sq.result();
}

} // namespace hone
