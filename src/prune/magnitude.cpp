// Magnitude pruning: per layer, global with bounds, N:M, blocks; masks for fine-tuning.
#include "common.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/norms.hpp"
#include "hone/kernels/sparsity.hpp"
#include "hone/prune/pruner.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace hone {

using namespace prune_detail;
namespace hk = hone::kernels;

std::int64_t pruned_count(double sparsity, std::int64_t n, std::string_view name) {
    if (!(sparsity >= 0.0 && sparsity < 1.0))
        fail(status::invalid_argument,
             fmt::format("sparsity {} of '{}' is outside [0, 1)", sparsity,
                         name.empty() ? std::string_view("weights") : name));
    if (n < 0) fail(status::invalid_argument, fmt::format("negative count {}", n));
    return std::min<std::int64_t>(n, std::int64_t(std::floor(sparsity * double(n) + 0.5)));
}

prune_report prune_magnitude(tensor_view weights, double sparsity, tensor_view mask,
                             std::string_view name) {
    constexpr const char* fn = "prune_magnitude";
    const matrix w = as_matrix(weights, fn, name);
    const std::int64_t n = std::int64_t(w.size());
    const std::int64_t pruned = naming(fn, name, [&] { return pruned_count(sparsity, n, name); });
    std::vector<std::uint8_t> scratch;
    const auto m = mask_bytes(mask, weights.dims(), scratch, fn, name);
    const auto r = naming(fn, name, [&] {
        return hk::topk_mask(w.span(), n - pruned, hk::score_kind::magnitude, m);
    });
    hk::apply_mask(w.span(), m, w.span());
    return {n, pruned, r.threshold};
}

namespace {

std::uint32_t magnitude_key(float x) noexcept { return std::bit_cast<std::uint32_t>(std::fabs(x)); }

// Entries of w with key ≤ t (t < 0 counts nothing).
std::int64_t count_le(const matrix& w, std::int64_t t) {
    if (t < 0) return 0;
    const std::uint32_t tk = std::uint32_t(t);
    std::int64_t c = 0;
    const float* p = w.data;
    const std::int64_t n = std::int64_t(w.size());
#pragma omp parallel for num_threads(hone::num_threads()) reduction(+ : c) schedule(static) if (n > (1 << 18))
    for (std::int64_t i = 0; i < n; ++i)
        c += magnitude_key(p[i]) <= tk;
    return c;
}

} // namespace

std::vector<prune_report> prune_global(std::span<global_layer> layers, double sparsity) {
    constexpr const char* fn = "prune_global";
    const std::size_t L = layers.size();
    std::vector<matrix> w(L);
    std::vector<std::int64_t> lo(L), hi(L);
    std::int64_t total = 0, sum_lo = 0, sum_hi = 0;
    for (std::size_t i = 0; i < L; ++i) {
        auto& l = layers[i];
        const std::string_view name = l.name.empty() ? std::string_view("layer") : l.name;
        w[i] = as_matrix(l.weights, fn, name);
        check_no_nan(w[i], fn, name);
        if (!(l.min_sparsity >= 0.0 && l.min_sparsity <= l.max_sparsity && l.max_sparsity < 1.0))
            fail(status::invalid_argument,
                 fmt::format("{}: '{}': bounds [{}, {}] must satisfy 0 <= min <= max < 1", fn, name,
                             l.min_sparsity, l.max_sparsity));
        const auto n = std::int64_t(w[i].size());
        lo[i] = std::int64_t(std::ceil(l.min_sparsity * double(n) - 1e-9));
        hi[i] = std::max(lo[i], std::int64_t(std::floor(l.max_sparsity * double(n) + 1e-9)));
        hi[i] = std::min(hi[i], n);
        total += n;
        sum_lo += lo[i];
        sum_hi += hi[i];
    }
    const std::int64_t P =
        naming(fn, "all layers", [&] { return pruned_count(sparsity, total, "all layers"); });
    if (P < sum_lo || P > sum_hi)
        fail(status::invalid_argument,
             fmt::format("{}: pruning {} of {} weights ({}) is impossible within the layers' "
                         "bounds, which allow {} to {}",
                         fn, P, total, sparsity, sum_lo, sum_hi));
    // g(t) = Σ clamp(#{key ≤ t}, lo, hi) is monotone in t; find the smallest t with g(t) ≥ P.
    auto g = [&](std::int64_t t, std::vector<std::int64_t>* counts) {
        std::int64_t s = 0;
        for (std::size_t i = 0; i < L; ++i) {
            const std::int64_t c = count_le(w[i], t);
            if (counts) (*counts)[i] = c;
            s += std::clamp(c, lo[i], hi[i]);
        }
        return s;
    };
    std::int64_t a = 0, b = std::int64_t(std::bit_cast<std::uint32_t>(INFINITY));
    while (a < b) {
        const std::int64_t mid = a + (b - a) / 2;
        if (g(mid, nullptr) >= P)
            b = mid;
        else
            a = mid + 1;
    }
    std::vector<std::int64_t> le(L), lt(L);
    g(a, &le);
    const std::int64_t g_lt = g(a - 1, &lt);
    std::vector<std::int64_t> pruned(L);
    for (std::size_t i = 0; i < L; ++i)
        pruned[i] = std::clamp(lt[i], lo[i], hi[i]);
    // The remaining P − g_lt come from entries at the threshold key: later layers first.
    std::int64_t rest = P - g_lt;
    for (std::size_t j = L; j-- > 0 && rest > 0;) {
        const std::int64_t extra = std::max<std::int64_t>(0, std::min(hi[j], le[j]) - pruned[j]);
        const std::int64_t take = std::min(extra, rest);
        pruned[j] += take;
        rest -= take;
    }
    if (rest != 0) fail(status::internal, fmt::format("{}: threshold search left {}", fn, rest));
    std::vector<prune_report> out(L);
    for (std::size_t i = 0; i < L; ++i) {
        auto& l = layers[i];
        const std::string_view name = l.name.empty() ? std::string_view("layer") : l.name;
        std::vector<std::uint8_t> scratch;
        const auto m = mask_bytes(l.mask, l.weights.dims(), scratch, fn, name);
        const auto n = std::int64_t(w[i].size());
        const auto r = naming(fn, name, [&] {
            return hk::topk_mask(w[i].span(), n - pruned[i], hk::score_kind::magnitude, m);
        });
        hk::apply_mask(w[i].span(), m, w[i].span());
        out[i] = {n, pruned[i], r.threshold};
    }
    return out;
}

prune_report prune_n_m(tensor_view weights, int n, int m, tensor_view mask, std::string_view name) {
    constexpr const char* fn = "prune_n_m";
    const matrix w = as_matrix(weights, fn, name);
    std::vector<std::uint8_t> scratch;
    const auto mk = mask_bytes(mask, weights.dims(), scratch, fn, name);
    naming(fn, name,
           [&] { hk::nm_mask(w.span(), w.rows, w.cols, n, m, hk::score_kind::magnitude, mk); });
    const float t = weakest_kept(w.span(), mk);
    hk::apply_mask(w.span(), mk, w.span());
    return {std::int64_t(w.size()), std::int64_t(w.size()) / m * (m - n), t};
}

namespace {

void check_importance(importance kind, const char* fn, bool allow_activation) {
    if (kind != importance::l1 && kind != importance::l2 &&
        (!allow_activation || kind != importance::activation_weighted))
        fail(status::invalid_argument,
             fmt::format("{}: importance {} is not {}", fn, int(kind),
                         allow_activation ? "l1 (0), l2 (1) or activation_weighted (2)"
                                          : "l1 (0) or l2 (1)"));
}

} // namespace

prune_report prune_blocks(tensor_view weights, std::int64_t block_rows, std::int64_t block_cols,
                          double sparsity, importance kind, tensor_view mask,
                          std::string_view name) {
    constexpr const char* fn = "prune_blocks";
    const matrix w = as_matrix(weights, fn, name);
    check_importance(kind, fn, false);
    if (block_rows < 1 || block_cols < 1 || w.rows % block_rows != 0 || w.cols % block_cols != 0)
        fail(status::invalid_argument,
             fmt::format("{}: '{}' is [{}, {}]; {}x{} blocks must be positive and divide it", fn,
                         name, w.rows, w.cols, block_rows, block_cols));
    check_no_nan(w, fn, name);
    const std::int64_t brs = w.rows / block_rows, bcs = w.cols / block_cols;
    const std::int64_t blocks = brs * bcs;
    const std::int64_t pruned_blocks =
        naming(fn, name, [&] { return pruned_count(sparsity, blocks, name); });
    // Partial norms of every (row, block column) through the kernel's row norms of [rows·bcs,
    // block_cols], then summed over the block's rows in double.
    std::vector<float> partial(static_cast<std::size_t>(w.rows * bcs));
    hk::row_norms(w.span(), w.rows * bcs, block_cols,
                  kind == importance::l1 ? hk::norm::l1 : hk::norm::sum_squares, partial);
    std::vector<float> score(static_cast<std::size_t>(blocks));
    for (std::int64_t br = 0; br < brs; ++br)
        for (std::int64_t bc = 0; bc < bcs; ++bc) {
            double s = 0;
            for (std::int64_t r = br * block_rows; r < (br + 1) * block_rows; ++r)
                s += double(partial[std::size_t(r * bcs + bc)]);
            score[std::size_t(br * bcs + bc)] = float(kind == importance::l2 ? std::sqrt(s) : s);
        }
    std::vector<std::uint8_t> bmask(score.size());
    const auto r = hk::topk_mask(score, blocks - pruned_blocks, hk::score_kind::value, bmask);
    std::vector<std::uint8_t> scratch;
    const auto mk = mask_bytes(mask, weights.dims(), scratch, fn, name);
    for (std::int64_t row = 0; row < w.rows; ++row) {
        const std::int64_t br = row / block_rows;
        for (std::int64_t bc = 0; bc < bcs; ++bc)
            std::fill_n(mk.data() + row * w.cols + bc * block_cols, block_cols,
                        bmask[std::size_t(br * bcs + bc)]);
    }
    hk::apply_mask(w.span(), mk, w.span());
    return {std::int64_t(w.size()), pruned_blocks * block_rows * block_cols, r.threshold};
}

// ---- masks for fine-tuning ----------------------------------------------------------------------

void mask_of(const_tensor_view weights, tensor_view mask, std::string_view name) {
    constexpr const char* fn = "mask_of";
    const matrix w = as_matrix(weights, fn, name);
    check_no_nan(w, fn, name);
    std::vector<std::uint8_t> scratch;
    if (mask.data() == nullptr && mask.rank() == 0)
        fail(status::invalid_argument, fmt::format("{}: no mask given for '{}'", fn, name));
    const auto m = mask_bytes(mask, weights.dims(), scratch, fn, name);
    for (std::size_t i = 0; i < w.size(); ++i)
        m[i] = w.data[i] != 0.0f;
}

void apply_mask(tensor_view t, const_tensor_view mask, std::string_view name) {
    constexpr const char* fn = "apply_mask";
    const matrix w = as_matrix(t, fn, name);
    std::vector<std::uint8_t> scratch;
    if (mask.data() == nullptr && mask.rank() == 0)
        fail(status::invalid_argument, fmt::format("{}: no mask given for '{}'", fn, name));
    const auto m = mask_bytes(
        tensor_view(const_cast<void*>(mask.data()), mask.type(), mask.dims(), mask.strides()),
        t.dims(), scratch, fn, name);
    hk::apply_mask(w.span(), m, w.span());
}

void masked_sgd_step(tensor_view weights, const_tensor_view gradient, const_tensor_view mask,
                     float learning_rate, std::string_view name) {
    constexpr const char* fn = "masked_sgd_step";
    const matrix w = as_matrix(weights, fn, name);
    const matrix g = as_matrix(gradient, fn, "gradient");
    if (!(gradient.dims() == weights.dims()))
        fail(status::shape_mismatch,
             fmt::format("{}: the gradient of '{}' has shape {}, the weights {}", fn, name,
                         gradient.dims().to_string(), weights.dims().to_string()));
    if (!std::isfinite(learning_rate))
        fail(status::invalid_argument,
             fmt::format("{}: learning rate {} is not finite", fn, learning_rate));
    std::vector<std::uint8_t> scratch;
    if (mask.data() == nullptr && mask.rank() == 0)
        fail(status::invalid_argument, fmt::format("{}: no mask given for '{}'", fn, name));
    const auto m = mask_bytes(
        tensor_view(const_cast<void*>(mask.data()), mask.type(), mask.dims(), mask.strides()),
        weights.dims(), scratch, fn, name);
    for (std::size_t i = 0; i < w.size(); ++i)
        w.data[i] = m[i] ? w.data[i] - learning_rate * g.data[i] : 0.0f;
}

double sparsity_of(const_tensor_view weights) {
    const matrix w = as_matrix(weights, "sparsity_of", "weights");
    if (w.size() == 0) return 0.0;
    std::int64_t z = 0;
    for (std::size_t i = 0; i < w.size(); ++i)
        z += w.data[i] == 0.0f;
    return double(z) / double(w.size());
}

} // namespace hone
