// Structured pruning: whole output channels removed, tensors physically shrunk.
#include "common.hpp"
#include "hone/kernels/norms.hpp"
#include "hone/kernels/sparsity.hpp"
#include "hone/prune/pruner.hpp"

#include <cstring>

namespace hone {

using namespace prune_detail;
namespace hk = hone::kernels;

channel_prune_result prune_channels(const_tensor_view weights, const channel_prune_config& cfg,
                                    const_tensor_view bias, const_tensor_view consumer,
                                    std::string_view name) {
    constexpr const char* fn = "prune_channels";
    if (weights.rank() < 2)
        fail(status::invalid_argument,
             fmt::format("{}: '{}' must have rank >= 2 ([out, in, ...]), not {}", fn, name,
                         weights.dims().to_string()));
    const matrix w = as_matrix(weights, fn, name);
    check_no_nan(w, fn, name);
    const std::int64_t rows = w.rows, k = w.cols;
    const std::int64_t removed =
        naming(fn, name, [&] { return pruned_count(cfg.sparsity, rows, name); });

    // Importance of every channel.
    std::vector<float> scores(static_cast<std::size_t>(rows));
    switch (cfg.kind) {
    case importance::l1: hk::row_norms(w.span(), rows, k, hk::norm::l1, scores); break;
    case importance::l2: hk::row_norms(w.span(), rows, k, hk::norm::l2, scores); break;
    case importance::activation_weighted: {
        const auto a = cfg.activation_norms;
        std::int64_t window = 0;
        if (std::int64_t(a.size()) == k)
            window = 1;
        else if (weights.rank() >= 3 && std::int64_t(a.size()) == weights.dims()[1] && !a.empty())
            window = k / weights.dims()[1];
        else
            fail(status::shape_mismatch,
                 fmt::format("{}: '{}' needs {} activation norms (or one per input channel of a "
                             "conv), got {}",
                             fn, name, k, a.size()));
        for (std::size_t i = 0; i < a.size(); ++i)
            if (!(a[i] >= 0.0f) || std::isinf(a[i]))
                fail(status::invalid_argument,
                     fmt::format("{}: activation norm {} of '{}' is {}, not finite and >= 0", fn, i,
                                 name, a[i]));
        for (std::int64_t r = 0; r < rows; ++r) {
            double s = 0;
            const float* row = w.data + r * k;
            for (std::int64_t j = 0; j < k; ++j)
                s += double(std::fabs(row[j])) * double(a[std::size_t(j / window)]);
            scores[std::size_t(r)] = float(s);
        }
        break;
    }
    default:
        fail(status::invalid_argument,
             fmt::format("{}: importance {} is not l1 (0), l2 (1) or activation_weighted (2)", fn,
                         int(cfg.kind)));
    }
    std::vector<std::uint8_t> keep_mask(static_cast<std::size_t>(rows));
    naming(fn, name,
           [&] { hk::topk_mask(scores, rows - removed, hk::score_kind::value, keep_mask); });

    channel_prune_result out;
    out.scores = scores;
    for (std::int64_t r = 0; r < rows; ++r)
        if (keep_mask[std::size_t(r)]) out.kept.push_back(r);
    const std::int64_t kept = std::int64_t(out.kept.size());

    // Checks of bias and consumer before anything is built.
    const bool has_bias = bias.data() != nullptr || bias.rank() != 0;
    if (has_bias) {
        if (bias.type() != dtype::f32 || !bias.is_contiguous() || bias.rank() != 1 ||
            bias.dims()[0] != rows)
            fail(status::shape_mismatch,
                 fmt::format("{}: the bias of '{}' must be contiguous f32 [{}], not {} {}", fn,
                             name, rows, name_of(bias.type()), bias.dims().to_string()));
    }
    const bool has_consumer = consumer.data() != nullptr || consumer.rank() != 0;
    std::int64_t group = cfg.consumer_group;
    if (has_consumer) {
        if (group < 1)
            fail(status::invalid_argument,
                 fmt::format("{}: consumer_group {} must be >= 1", fn, group));
        if (consumer.type() != dtype::f32 || !consumer.is_contiguous() || consumer.rank() < 2 ||
            consumer.dims()[1] != rows * group)
            fail(status::shape_mismatch,
                 fmt::format("{}: the consumer of '{}' must be contiguous f32 with axis 1 = {} "
                             "({} channels x {} inputs each), not {} {}",
                             fn, name, rows * group, rows, group, name_of(consumer.type()),
                             consumer.dims().to_string()));
    }

    std::vector<std::int64_t> dims(weights.dims().dims().begin(), weights.dims().dims().end());
    dims[0] = kept;
    out.weights = tensor(dtype::f32, shape(std::span<const std::int64_t>(dims)));
    float* dst = static_cast<float*>(out.weights.data());
    for (std::int64_t i = 0; i < kept; ++i)
        std::memcpy(dst + i * k, w.data + out.kept[std::size_t(i)] * k, std::size_t(k) * 4);
    if (has_bias) {
        out.bias = tensor(dtype::f32, shape{kept});
        const float* b = static_cast<const float*>(bias.data());
        float* bd = static_cast<float*>(out.bias.data());
        for (std::int64_t i = 0; i < kept; ++i)
            bd[i] = b[out.kept[std::size_t(i)]];
    }
    if (has_consumer) {
        std::vector<std::int64_t> cd(consumer.dims().dims().begin(), consumer.dims().dims().end());
        const std::int64_t outer = cd[0];
        std::int64_t inner = 1;
        for (std::size_t a = 2; a < cd.size(); ++a)
            inner *= cd[a];
        cd[1] = kept * group;
        out.consumer = tensor(dtype::f32, shape(std::span<const std::int64_t>(cd)));
        const float* c = static_cast<const float*>(consumer.data());
        float* cdst = static_cast<float*>(out.consumer.data());
        const std::int64_t chunk = group * inner; // one channel's inputs
        for (std::int64_t o = 0; o < outer; ++o)
            for (std::int64_t i = 0; i < kept; ++i)
                std::memcpy(cdst + (o * kept + i) * chunk,
                            c + (o * rows + out.kept[std::size_t(i)]) * chunk,
                            std::size_t(chunk) * 4);
    } else {
        out.consumer = tensor(dtype::f32, shape{0});
    }
    if (!has_bias) out.bias = tensor(dtype::f32, shape{0});
    return out;
}

} // namespace hone
