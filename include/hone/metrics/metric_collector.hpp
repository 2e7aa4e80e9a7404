// hone/metrics/metric_collector.hpp — classification metrics, fed batch by batch.
//
// add() takes a batch of model outputs [batch, classes] (logits or probabilities: top-k and
// agreement only need the order; KL divergence applies a softmax, so pass logits), optional
// labels, and optionally the baseline's outputs for the same samples. It keeps one small record
// per sample (top-1, correct, in top-k, agrees), so per-slice and paired statistics can be
// computed afterwards for any subset of samples. Memory: a few bytes per sample.
//
// Ties in the outputs go to the lower class index (as argmax in NumPy and PyTorch).
// NaN outputs are an error naming the sample: a model that emits NaN must not look accurate.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace hone {

struct class_accuracy {
    std::int64_t label = 0;
    std::uint64_t samples = 0;
    std::uint64_t correct = 0;
};

struct classification_summary {
    std::uint64_t samples = 0;
    bool has_labels = false;
    double accuracy = 0;                   ///< top-1 (labels required)
    double top_k_accuracy = 0;             ///< top-k, k = options.top_k (labels required)
    std::vector<class_accuracy> per_class; ///< by label, ascending
    bool has_reference = false;
    double agreement = 0;   ///< same top-1 as the reference (baseline) outputs
    double mean_kl = 0;     ///< mean KL(reference ‖ outputs) of the softmaxed logits, nats
    double mean_cosine = 0; ///< mean cosine similarity of output vectors to the reference
};

class HONE_EXPORT metric_collector {
public:
    struct options {
        int top_k = 5;
    };

    metric_collector();
    explicit metric_collector(options o);

    /// One batch. outputs: f32 [batch, classes]; labels: batch values in [0, classes) or empty;
    /// reference: f32 of the same shape as outputs, or an empty view. Throws shape_mismatch,
    /// dtype_mismatch or invalid_argument (label out of range, NaN output), naming the sample.
    void add(const_tensor_view outputs, std::span<const std::int64_t> labels = {},
             const_tensor_view reference = {});

    classification_summary summary() const;
    /// The same figures restricted to the given sample indices (e.g. a slice).
    classification_summary summary(std::span<const std::uint32_t> samples) const;

    std::uint64_t samples() const noexcept { return top1_.size(); }
    std::span<const std::int32_t> predictions() const noexcept { return top1_; }
    /// Per sample: 1 when top-1 equals the label (empty without labels).
    std::span<const std::uint8_t> correct() const noexcept { return correct_; }
    std::span<const std::int64_t> labels() const noexcept { return labels_; }

private:
    options options_;
    std::int64_t classes_ = -1;
    std::vector<std::int32_t> top1_;
    std::vector<std::int64_t> labels_;
    std::vector<std::uint8_t> correct_, in_top_k_, agrees_;
    std::vector<float> kl_, cosine_;
};

} // namespace hone
