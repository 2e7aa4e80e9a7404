// Empirical bias correction: b' = b + W·E[x] − Ŵ·E[x̂].
#include "hone/quantize/bias_correction.hpp"

#include "hone/core/error.hpp"
#include "quant_common.hpp"

#include <cmath>
#include <string>

namespace hone {

void channel_mean::observe(const_tensor_view x) {
    if (x.type() != dtype::f32)
        fail(status::dtype_mismatch,
             name_ + ": batch must be f32, got " + std::string(name_of(x.type())));
    if (x.rank() == 0)
        fail(status::shape_mismatch, name_ + ": batch must have rank >= 1 (rows of K features)");
    const std::int64_t k = x.dims()[x.rank() - 1];
    if (!sum_.empty() && k != static_cast<std::int64_t>(sum_.size()))
        fail(status::shape_mismatch, name_ + ": batch has " + std::to_string(k) +
                                         " features, earlier batches had " +
                                         std::to_string(sum_.size()));
    if (x.numel() == 0) return;
    const tensor c = tensor::copy_of(x);
    const auto v = c.span<float>();
    const std::int64_t m = x.numel() / k;
    std::vector<double> add(static_cast<std::size_t>(k), 0.0);
    for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t j = 0; j < k; ++j) {
            const float e = v[static_cast<std::size_t>(r * k + j)];
            if (!std::isfinite(e))
                fail(status::invalid_argument, name_ + ": batch holds NaN or inf at row " +
                                                   std::to_string(r) + ", feature " +
                                                   std::to_string(j));
            add[static_cast<std::size_t>(j)] += e;
        }
    if (sum_.empty()) sum_.assign(static_cast<std::size_t>(k), 0.0);
    for (std::size_t j = 0; j < add.size(); ++j)
        sum_[j] += add[j];
    rows_ += m;
}

std::vector<double> channel_mean::mean() const {
    if (rows_ == 0) fail(status::invalid_argument, name_ + ": mean() before any row was observed");
    std::vector<double> out(sum_);
    for (double& v : out)
        v /= static_cast<double>(rows_);
    return out;
}

bias_correction_result bias_correction(const_tensor_view weights, const_tensor_view deployed,
                                       std::span<const float> bias, std::span<const double> mean_x,
                                       std::span<const double> mean_x_deployed,
                                       std::string_view name) {
    const std::string who(name);
    if (weights.type() != dtype::f32 || deployed.type() != dtype::f32)
        fail(status::dtype_mismatch, who + ": weights and deployed weights must be f32");
    if (weights.rank() != 2 || !(weights.dims() == deployed.dims()))
        fail(status::shape_mismatch, who + ": weights " + weights.dims().to_string() +
                                         " and deployed weights " + deployed.dims().to_string() +
                                         " must be the same [N, K]");
    const std::int64_t n = weights.dims()[0], k = weights.dims()[1];
    if (!bias.empty() && static_cast<std::int64_t>(bias.size()) != n)
        fail(status::shape_mismatch, who + ": bias has " + std::to_string(bias.size()) +
                                         " values, expected N = " + std::to_string(n));
    if (static_cast<std::int64_t>(mean_x.size()) != k)
        fail(status::shape_mismatch, who + ": E[x] has " + std::to_string(mean_x.size()) +
                                         " values, expected K = " + std::to_string(k));
    if (!mean_x_deployed.empty() && static_cast<std::int64_t>(mean_x_deployed.size()) != k)
        fail(status::shape_mismatch, who + ": E[x̂] has " + std::to_string(mean_x_deployed.size()) +
                                         " values, expected K = " + std::to_string(k));
    const tensor wc = tensor::copy_of(weights), dc = tensor::copy_of(deployed);
    const auto w = wc.span<float>(), d = dc.span<float>();
    auto finite = [&]<class T>(std::span<const T> values, const char* what) {
        if (const std::size_t i = detail::first_non_finite(values); i < values.size())
            fail(status::invalid_argument,
                 who + ": " + what + " holds NaN or inf at index " + std::to_string(i));
    };
    finite(w, "weights");
    finite(d, "deployed weights");
    finite(bias, "bias");
    finite(mean_x, "E[x]");
    finite(mean_x_deployed, "E[x̂]");
    const std::span<const double> mq = mean_x_deployed.empty() ? mean_x : mean_x_deployed;
    bias_correction_result r;
    r.bias.resize(static_cast<std::size_t>(n));
    r.shift.resize(static_cast<std::size_t>(n));
    for (std::int64_t row = 0; row < n; ++row) {
        double s = 0;
        for (std::int64_t j = 0; j < k; ++j) {
            const auto i = static_cast<std::size_t>(row * k + j);
            s += static_cast<double>(w[i]) * mean_x[static_cast<std::size_t>(j)] -
                 static_cast<double>(d[i]) * mq[static_cast<std::size_t>(j)];
        }
        const auto rr = static_cast<std::size_t>(row);
        r.shift[rr] = static_cast<float>(s);
        r.bias[rr] = static_cast<float>((bias.empty() ? 0.0 : bias[rr]) + s);
    }
    return r;
}

} // namespace hone
