// Training losses (see hone/retrain/loss.hpp).
#include "hone/retrain/loss.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace hone {

namespace {

void check_logits(const_tensor_view logits, const char* what, bool any_rank = false) {
    if (logits.type() != dtype::f32 || !logits.is_contiguous() ||
        (any_rank ? logits.rank() < 1 : logits.rank() != 2))
        fail(status::shape_mismatch, std::string(what) + ": logits must be contiguous f32 " +
                                         (any_rank ? "[..., K]" : "[B, K]") + ", got " +
                                         logits.dims().to_string());
}

/// log-softmax of row r of x / t (double).
void log_softmax_row(const float* x, std::int64_t k, double t, std::vector<double>& out) {
    out.resize(std::size_t(k));
    double mx = -INFINITY;
    for (std::int64_t j = 0; j < k; ++j)
        mx = std::max(mx, double(x[j]) / t);
    double s = 0;
    for (std::int64_t j = 0; j < k; ++j)
        s += std::exp(double(x[j]) / t - mx);
    const double lse = mx + std::log(s);
    for (std::int64_t j = 0; j < k; ++j)
        out[std::size_t(j)] = double(x[j]) / t - lse;
}

void check_labels(std::span<const std::int64_t> labels, std::int64_t b, std::int64_t k,
                  const char* what) {
    if (std::int64_t(labels.size()) != b)
        fail(status::invalid_argument, std::string(what) + ": " + std::to_string(labels.size()) +
                                           " labels for a batch of " + std::to_string(b));
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || labels[i] >= k)
            fail(status::invalid_argument,
                 std::string(what) + ": label " + std::to_string(labels[i]) + " of sample " +
                     std::to_string(i) + " outside 0…" + std::to_string(k - 1));
}

} // namespace

loss_result cross_entropy_loss(const_tensor_view logits, std::span<const std::int64_t> labels) {
    check_logits(logits, "cross_entropy_loss");
    const std::int64_t b = logits.dims()[0], k = logits.dims()[1];
    check_labels(labels, b, k, "cross_entropy_loss");
    const float* x = static_cast<const float*>(logits.data());
    loss_result r;
    r.dlogits = tensor(dtype::f32, logits.dims());
    float* d = r.dlogits.span<float>().data();
    std::vector<double> ls;
    double total = 0;
    for (std::int64_t i = 0; i < b; ++i) {
        log_softmax_row(x + i * k, k, 1.0, ls);
        total -= ls[std::size_t(labels[std::size_t(i)])];
        for (std::int64_t j = 0; j < k; ++j)
            d[i * k + j] =
                float((std::exp(ls[std::size_t(j)]) - (j == labels[std::size_t(i)] ? 1.0 : 0.0)) /
                      double(b));
    }
    r.loss = b ? total / double(b) : 0.0;
    return r;
}

loss_result distillation_loss(const_tensor_view student, const_tensor_view teacher,
                              std::span<const std::int64_t> labels, float temperature,
                              float alpha) {
    check_logits(student, "distillation_loss (student)", alpha == 1);
    check_logits(teacher, "distillation_loss (teacher)", alpha == 1);
    if (!(student.dims() == teacher.dims()))
        fail(status::shape_mismatch, "distillation_loss: student " + student.dims().to_string() +
                                         " and teacher " + teacher.dims().to_string() +
                                         " logits differ in shape");
    if (!(temperature > 0) || !std::isfinite(temperature))
        fail(status::invalid_argument, "distillation_loss: temperature must be > 0");
    if (!(alpha >= 0 && alpha <= 1))
        fail(status::invalid_argument, "distillation_loss: alpha must be in [0, 1]");
    const std::int64_t k = student.dims()[student.rank() - 1];
    const std::int64_t b = k ? student.numel() / k : 0; // rows
    if (alpha < 1 && labels.empty())
        fail(status::invalid_argument,
             "distillation_loss: labels are missing for the label term (alpha < 1)");
    loss_result r;
    if (alpha < 1) {
        r = cross_entropy_loss(student, labels);
        r.loss *= (1.0 - alpha);
        for (float& v : r.dlogits.span<float>())
            v *= (1.0f - alpha);
    } else {
        r.dlogits = tensor(dtype::f32, student.dims());
        std::fill(r.dlogits.span<float>().begin(), r.dlogits.span<float>().end(), 0.0f);
    }
    const float* s = static_cast<const float*>(student.data());
    const float* t = static_cast<const float*>(teacher.data());
    float* d = r.dlogits.span<float>().data();
    const double tt = temperature;
    std::vector<double> ls, lt;
    double kl = 0;
    for (std::int64_t i = 0; i < b; ++i) {
        log_softmax_row(s + i * k, k, tt, ls);
        log_softmax_row(t + i * k, k, tt, lt);
        for (std::int64_t j = 0; j < k; ++j) {
            const double pt = std::exp(lt[std::size_t(j)]), ps = std::exp(ls[std::size_t(j)]);
            kl += pt * (lt[std::size_t(j)] - ls[std::size_t(j)]);
            // d/ds (T²·KL) = T·(ps − pt)
            d[i * k + j] += float(alpha * tt * (ps - pt) / double(b));
        }
    }
    r.loss += alpha * tt * tt * (b ? kl / double(b) : 0.0);
    return r;
}

loss_result next_token_loss(const_tensor_view logits, std::span<const std::int64_t> tokens) {
    if (logits.type() != dtype::f32 || !logits.is_contiguous() || logits.rank() != 3)
        fail(status::shape_mismatch, "next_token_loss: logits must be contiguous f32 [B, T, V], "
                                     "got " +
                                         logits.dims().to_string());
    const std::int64_t b = logits.dims()[0], t = logits.dims()[1], v = logits.dims()[2];
    if (std::int64_t(tokens.size()) != b * t)
        fail(status::invalid_argument, "next_token_loss: " + std::to_string(tokens.size()) +
                                           " tokens for logits " + logits.dims().to_string());
    for (std::size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= v)
            fail(status::invalid_argument, "next_token_loss: token " + std::to_string(tokens[i]) +
                                               " at " + std::to_string(i) + " outside 0…" +
                                               std::to_string(v - 1));
    const float* x = static_cast<const float*>(logits.data());
    loss_result r;
    r.dlogits = tensor(dtype::f32, logits.dims());
    float* d = r.dlogits.span<float>().data();
    const double count = double(b * std::max<std::int64_t>(t - 1, 0));
    std::vector<double> ls;
    double total = 0;
    for (std::int64_t s = 0; s < b; ++s)
        for (std::int64_t p = 0; p + 1 < t; ++p) {
            const std::int64_t row = s * t + p, next = tokens[std::size_t(row + 1)];
            log_softmax_row(x + row * v, v, 1.0, ls);
            total -= ls[std::size_t(next)];
            for (std::int64_t j = 0; j < v; ++j)
                d[row * v + j] =
                    float((std::exp(ls[std::size_t(j)]) - (j == next ? 1.0 : 0.0)) / count);
        }
    r.loss = count > 0 ? total / count : 0.0;
    return r;
}

loss_result mse_loss(const_tensor_view student, const_tensor_view target) {
    if (student.type() != dtype::f32 || target.type() != dtype::f32 ||
        !(student.dims() == target.dims()))
        fail(status::shape_mismatch, "mse_loss: student " + student.dims().to_string() +
                                         " and target " + target.dims().to_string() +
                                         " must be f32 of one shape");
    const tensor s = tensor::copy_of(student), t = tensor::copy_of(target);
    const auto ss = s.span<float>(), ts = t.span<float>();
    loss_result r;
    r.dlogits = tensor(dtype::f32, student.dims());
    auto d = r.dlogits.span<float>();
    const double n = double(ss.size());
    double total = 0;
    for (std::size_t i = 0; i < ss.size(); ++i) {
        const double e = double(ss[i]) - ts[i];
        total += e * e;
        d[i] = float(2.0 * e / n);
    }
    r.loss = n > 0 ? total / n : 0.0;
    return r;
}

} // namespace hone
