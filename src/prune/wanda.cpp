// Wanda, calibration statistics and the configure-once pruner.
#include "common.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/kernels/norms.hpp"
#include "hone/kernels/sparsity.hpp"
#include "hone/prune/pruner.hpp"

namespace hone {

using namespace prune_detail;
namespace hk = hone::kernels;

// ---- layer_statistics ---------------------------------------------------------------------------

layer_statistics::layer_statistics(std::int64_t k, bool with_hessian)
    : k_(k), with_hessian_(with_hessian) {
    if (k < 1)
        fail(status::invalid_argument,
             fmt::format("layer_statistics: the input width K = {} must be >= 1", k));
    if (with_hessian) hessian_ = tensor(dtype::f32, shape{k, k});
    sum_squares_.assign(std::size_t(k), 0.0);
}

void layer_statistics::add(const_tensor_view x) {
    constexpr const char* fn = "layer_statistics::add";
    if (x.type() != dtype::f32 || !x.is_contiguous())
        fail(status::dtype_mismatch,
             fmt::format("{}: the batch must be contiguous f32 (it is {})", fn, name_of(x.type())));
    const bool ok = (x.rank() == 2 && x.dims()[1] == k_) || (x.rank() == 1 && x.dims()[0] == k_);
    if (!ok)
        fail(status::shape_mismatch,
             fmt::format("{}: the batch must be [tokens, {}] (or [{}]), not {}", fn, k_, k_,
                         x.dims().to_string()));
    const std::int64_t rows = x.rank() == 2 ? x.dims()[0] : 1;
    const auto s = x.span<float>();
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!std::isfinite(s[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: input at token {}, column {} is {}", fn, i / std::size_t(k_),
                             i % std::size_t(k_), s[i]));
    hk::accumulate_col_sum_squares(s, rows, k_, sum_squares_);
    if (with_hessian_) hk::hessian_accumulate(s.data(), rows, k_, hessian_.span<float>().data());
    tokens_ += rows;
}

const tensor& layer_statistics::hessian() const {
    if (!with_hessian_)
        fail(status::invalid_argument,
             "layer_statistics::hessian: these statistics were built without the Hessian");
    return hessian_;
}

std::vector<float> layer_statistics::column_norms() const {
    std::vector<float> out(sum_squares_.size());
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = float(std::sqrt(sum_squares_[i]));
    return out;
}

// ---- Wanda --------------------------------------------------------------------------------------

prune_report prune_wanda(tensor_view weights, std::span<const float> activation_norms,
                         double sparsity, int n, int m, tensor_view mask, std::string_view name) {
    constexpr const char* fn = "prune_wanda";
    const matrix w = as_matrix(weights, fn, name);
    if (std::int64_t(activation_norms.size()) != w.cols)
        fail(status::shape_mismatch,
             fmt::format("{}: '{}' has K = {} inputs but {} activation norms were given", fn, name,
                         w.cols, activation_norms.size()));
    for (std::size_t i = 0; i < activation_norms.size(); ++i)
        if (!(activation_norms[i] >= 0.0f) || std::isinf(activation_norms[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: activation norm {} of '{}' is {}, not finite and >= 0", fn, i,
                             name, activation_norms[i]));
    check_no_nan(w, fn, name);
    std::vector<float> score(w.size());
    for (std::int64_t r = 0; r < w.rows; ++r)
        for (std::int64_t k = 0; k < w.cols; ++k)
            score[std::size_t(r * w.cols + k)] =
                std::fabs(w.data[r * w.cols + k]) * activation_norms[std::size_t(k)];
    std::vector<std::uint8_t> scratch;
    const auto mk = mask_bytes(mask, weights.dims(), scratch, fn, name);
    float threshold = INFINITY;
    std::int64_t pruned = 0;
    if (n > 0 || m > 0) {
        naming(fn, name,
               [&] { hk::nm_mask(score, w.rows, w.cols, n, m, hk::score_kind::value, mk); });
        pruned = std::int64_t(w.size()) / m * (m - n);
    } else {
        const std::int64_t per_row =
            naming(fn, name, [&] { return pruned_count(sparsity, w.cols, name); });
        // Each output row is its own comparison group; rows are independent.
#pragma omp parallel for num_threads(hone::num_threads()) schedule(static) if (w.rows > 64)
        for (std::int64_t r = 0; r < w.rows; ++r)
            hk::topk_mask(
                std::span<const float>(score).subspan(std::size_t(r * w.cols), std::size_t(w.cols)),
                w.cols - per_row, hk::score_kind::value,
                mk.subspan(std::size_t(r * w.cols), std::size_t(w.cols)));
        pruned = per_row * w.rows;
    }
    for (std::size_t i = 0; i < w.size(); ++i)
        if (mk[i] && score[i] < threshold) threshold = score[i];
    hk::apply_mask(w.span(), mk, w.span());
    return {std::int64_t(w.size()), pruned, threshold};
}

// ---- pruner -------------------------------------------------------------------------------------

pruner::pruner(const pruner_config& cfg) : cfg_(cfg) {
    if (cfg.method != prune_method::magnitude && cfg.method != prune_method::wanda &&
        cfg.method != prune_method::sparsegpt)
        fail(status::invalid_argument,
             fmt::format("pruner: method {} is not magnitude (0), wanda (1) or sparsegpt (2)",
                         int(cfg.method)));
    if (cfg.n > 0 || cfg.m > 0) {
        if (cfg.n < 1 || cfg.m > 32 || cfg.n >= cfg.m)
            fail(status::invalid_argument,
                 fmt::format("pruner: {}:{} sparsity needs 1 <= N < M <= 32", cfg.n, cfg.m));
    } else {
        pruned_count(cfg.sparsity, 0, "pruner_config");
    }
}

prune_report pruner::prune(tensor_view weights, const layer_statistics* stats, tensor_view mask,
                           std::string_view name) const {
    const bool nm = cfg_.n > 0;
    switch (cfg_.method) {
    case prune_method::magnitude:
        return nm ? prune_n_m(weights, cfg_.n, cfg_.m, mask, name)
                  : prune_magnitude(weights, cfg_.sparsity, mask, name);
    case prune_method::wanda: {
        if (!stats)
            fail(status::invalid_argument,
                 fmt::format("pruner: Wanda needs calibration statistics for '{}'", name));
        const auto norms = stats->column_norms();
        return prune_wanda(weights, norms, cfg_.sparsity, cfg_.n, cfg_.m, mask, name);
    }
    case prune_method::sparsegpt: {
        if (!stats)
            fail(status::invalid_argument,
                 fmt::format("pruner: SparseGPT needs calibration statistics for '{}'", name));
        sparsegpt_config c;
        c.sparsity = cfg_.sparsity;
        c.n = cfg_.n;
        c.m = cfg_.m;
        c.block_size = cfg_.block_size;
        c.damp_fraction = cfg_.damp_fraction;
        c.quant_bits = cfg_.quant_bits;
        return prune_sparsegpt(weights, stats->hessian(), c, mask, name);
    }
    }
    fail(status::internal, "pruner: unknown method");
}

} // namespace hone
