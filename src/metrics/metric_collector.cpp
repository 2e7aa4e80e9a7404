#include "hone/metrics/metric_collector.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>

namespace hone {

namespace {

std::int32_t argmax(const float* x, std::int64_t n) {
    std::int64_t best = 0;
    for (std::int64_t i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
    return static_cast<std::int32_t>(best);
}

// Rank of class `c`: how many classes score strictly higher, or equal with a lower index.
std::int64_t rank_of(const float* x, std::int64_t n, std::int64_t c) {
    std::int64_t rank = 0;
    for (std::int64_t i = 0; i < n; ++i)
        rank += x[i] > x[c] || (x[i] == x[c] && i < c);
    return rank;
}

// KL(softmax(p) ‖ softmax(q)) with log-sum-exp for stability, in double.
double kl_of_logits(const float* p, const float* q, std::int64_t n) {
    auto log_sum_exp = [n](const float* x) {
        const double m = *std::max_element(x, x + n);
        double s = 0;
        for (std::int64_t i = 0; i < n; ++i)
            s += std::exp(double(x[i]) - m);
        return m + std::log(s);
    };
    const double lp = log_sum_exp(p), lq = log_sum_exp(q);
    double kl = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double log_pi = double(p[i]) - lp, log_qi = double(q[i]) - lq;
        kl += std::exp(log_pi) * (log_pi - log_qi);
    }
    return std::max(0.0, kl);
}

double cosine(const float* a, const float* b, std::int64_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

} // namespace

metric_collector::metric_collector() : metric_collector(options{}) {}

metric_collector::metric_collector(options o) : options_(o) {
    if (o.top_k < 1)
        fail(status::invalid_argument, fmt::format("metric_collector: top_k {} < 1", o.top_k));
}

void metric_collector::add(const_tensor_view outputs, std::span<const std::int64_t> labels,
                           const_tensor_view reference) {
    if (outputs.type() != dtype::f32)
        fail(status::dtype_mismatch, fmt::format("metric_collector: outputs are {}, expected f32",
                                                 name_of(outputs.type())));
    if (outputs.rank() != 2)
        fail(status::shape_mismatch,
             fmt::format("metric_collector: outputs of shape {}, expected [batch, classes]",
                         outputs.dims().to_string()));
    const std::int64_t batch = outputs.dims()[0], classes = outputs.dims()[1];
    if (classes < 1) fail(status::shape_mismatch, "metric_collector: outputs have no classes");
    if (classes_ >= 0 && classes != classes_)
        fail(status::shape_mismatch,
             fmt::format("metric_collector: {} classes in this batch, {} before", classes,
                         classes_));
    const bool with_labels = !labels.empty();
    if (with_labels && static_cast<std::int64_t>(labels.size()) != batch)
        fail(status::shape_mismatch,
             fmt::format("metric_collector: {} labels for a batch of {}", labels.size(), batch));
    if (!top1_.empty() && with_labels != !labels_.empty())
        fail(status::invalid_argument, "metric_collector: labels given for some batches only");
    const bool with_reference = reference.data() != nullptr || reference.rank() > 0;
    if (with_reference && (reference.type() != dtype::f32 || !(reference.dims() == outputs.dims())))
        fail(status::shape_mismatch,
             fmt::format("metric_collector: reference outputs {} {} do not match outputs {} f32",
                         reference.dims().to_string(), name_of(reference.type()),
                         outputs.dims().to_string()));
    if (!top1_.empty() && with_reference != !agrees_.empty())
        fail(status::invalid_argument,
             "metric_collector: reference outputs given for some batches only");
    const tensor dense = tensor::copy_of(outputs);
    const tensor ref = with_reference ? tensor::copy_of(reference) : tensor();
    const float* out = dense.span<float>().data();
    const float* base = with_reference ? ref.span<float>().data() : nullptr;
    const auto first = top1_.size();
    for (std::int64_t b = 0; b < batch; ++b) {
        const float* row = out + b * classes;
        for (std::int64_t c = 0; c < classes; ++c)
            if (std::isnan(row[c]) || (base && std::isnan(base[b * classes + c])))
                fail(status::invalid_argument,
                     fmt::format("metric_collector: NaN in the outputs of sample {} (class {})",
                                 first + static_cast<std::uint64_t>(b), c));
        top1_.push_back(argmax(row, classes));
        if (with_labels) {
            const std::int64_t label = labels[static_cast<std::size_t>(b)];
            if (label < 0 || label >= classes)
                fail(status::invalid_argument,
                     fmt::format("metric_collector: label {} of sample {} is outside [0, {})",
                                 label, first + static_cast<std::uint64_t>(b), classes));
            labels_.push_back(label);
            correct_.push_back(top1_.back() == label);
            in_top_k_.push_back(rank_of(row, classes, label) < options_.top_k);
        }
        if (base) {
            const float* r = base + b * classes;
            agrees_.push_back(argmax(r, classes) == top1_.back());
            kl_.push_back(static_cast<float>(kl_of_logits(r, row, classes)));
            cosine_.push_back(static_cast<float>(cosine(row, r, classes)));
        }
    }
    classes_ = classes;
}

classification_summary metric_collector::summary() const {
    std::vector<std::uint32_t> all(top1_.size());
    for (std::size_t i = 0; i < all.size(); ++i)
        all[i] = static_cast<std::uint32_t>(i);
    return summary(all);
}

classification_summary metric_collector::summary(std::span<const std::uint32_t> samples) const {
    classification_summary s;
    s.samples = samples.size();
    s.has_labels = !labels_.empty();
    s.has_reference = !agrees_.empty();
    std::map<std::int64_t, class_accuracy> classes;
    double correct = 0, top_k = 0, agree = 0, kl = 0, cos = 0;
    for (std::uint32_t i : samples) {
        if (i >= top1_.size())
            fail(status::out_of_range,
                 fmt::format("metric_collector: sample {} of {} collected", i, top1_.size()));
        if (s.has_labels) {
            correct += correct_[i];
            top_k += in_top_k_[i];
            auto& c = classes[labels_[i]];
            c.label = labels_[i];
            ++c.samples;
            c.correct += correct_[i];
        }
        if (s.has_reference) {
            agree += agrees_[i];
            kl += kl_[i];
            cos += cosine_[i];
        }
    }
    const double n = samples.empty() ? 1.0 : double(samples.size());
    if (s.has_labels) {
        s.accuracy = correct / n;
        s.top_k_accuracy = top_k / n;
        for (const auto& [label, c] : classes)
            s.per_class.push_back(c);
    }
    if (s.has_reference) {
        s.agreement = agree / n;
        s.mean_kl = kl / n;
        s.mean_cosine = cos / n;
    }
    return s;
}

} // namespace hone
