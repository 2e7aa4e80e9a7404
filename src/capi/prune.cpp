// C ABI of the pruner (hone.h section "pruner").
#include "guard.hpp"
#include "hone/prune/pruner.hpp"
#include "hone/prune/schedule.hpp"
#include "hone/prune/sparse_storage.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <cstring>
#include <string>
#include <vector>

struct hone_layer_stats {
    hone::layer_statistics stats;
};

struct hone_sparse {
    hone::sparse_tensor sparse;
};

namespace {

using hone::capi::guarded;
using hone::capi::named;
using hone::capi::require;
using hone::capi::view_of;

static_assert(HONE_IMPORTANCE_ACTIVATION_WEIGHTED ==
              static_cast<int>(hone::importance::activation_weighted));
static_assert(HONE_SCHEDULE_POLYNOMIAL == static_cast<int>(hone::schedule_kind::polynomial));
static_assert(HONE_SPARSE_CSR == static_cast<int>(hone::sparse_format::csr));

hone::tensor_view optional_view(const hone_tensor* t) { return t ? t->view : hone::tensor_view{}; }

void write_result(hone_prune_result* out, const hone::prune_report& r, double loss,
                  const char* fn) {
    if (!out) return;
    hone::capi::check_struct_size(out->struct_size, sizeof(hone_prune_result), fn,
                                  "hone_prune_result");
    out->total = r.total;
    out->pruned = r.pruned;
    out->threshold = r.threshold;
    out->loss = loss;
}

// The result struct is checked before any work, so a bad struct_size leaves weights untouched.
void check_result(const hone_prune_result* out, const char* fn) {
    if (out)
        hone::capi::check_struct_size(out->struct_size, sizeof(hone_prune_result), fn,
                                      "hone_prune_result");
}

hone::importance checked_importance(const hone_importance& v, const char* fn, bool channels) {
    const long long raw = hone::capi::raw_enum(v);
    if (raw < 0 || raw > (channels ? 2 : 1))
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: {} is not a hone_importance{}", fn, raw,
                               channels ? "" : " for blocks (L1 or L2)"));
    return static_cast<hone::importance>(raw);
}

std::string layer_name(std::size_t i) { return fmt::format("weights[{}]", i); }

} // namespace

extern "C" {

HONE_API hone_status hone_pruned_count(double sparsity, int64_t n, int64_t* out) {
    return guarded([&] {
        constexpr const char* fn = "hone_pruned_count";
        require(out, fn, "out");
        std::int64_t c = 0;
        named(fn, [&] { c = hone::pruned_count(sparsity, n); });
        *out = c;
    });
}

HONE_API hone_status hone_prune_magnitude(hone_tensor* weights, double sparsity, hone_tensor* mask,
                                          hone_prune_result* result) {
    return guarded([&] {
        constexpr const char* fn = "hone_prune_magnitude";
        const auto w = view_of(weights, fn, "weights");
        check_result(result, fn);
        hone::prune_report r;
        named(fn, [&] { r = hone::prune_magnitude(w, sparsity, optional_view(mask), "weights"); });
        write_result(result, r, 0.0, fn);
    });
}

HONE_API hone_status hone_prune_global(hone_tensor* const* weights, size_t count, double sparsity,
                                       const double* min_sparsity, const double* max_sparsity,
                                       hone_tensor* const* masks, hone_prune_result* results) {
    return guarded([&] {
        constexpr const char* fn = "hone_prune_global";
        if (count > 0) require(weights, fn, "weights");
        std::vector<hone::global_layer> layers(count);
        for (std::size_t i = 0; i < count; ++i) {
            const auto nm = layer_name(i);
            layers[i].name = nm;
            layers[i].weights = view_of(weights[i], fn, nm.c_str());
            if (min_sparsity) layers[i].min_sparsity = min_sparsity[i];
            if (max_sparsity) layers[i].max_sparsity = max_sparsity[i];
            if (masks) layers[i].mask = optional_view(masks[i]);
            if (results) check_result(&results[i], fn);
        }
        std::vector<hone::prune_report> reps;
        named(fn, [&] { reps = hone::prune_global(layers, sparsity); });
        if (results)
            for (std::size_t i = 0; i < count; ++i)
                write_result(&results[i], reps[i], 0.0, fn);
    });
}

HONE_API hone_status hone_prune_n_m(hone_tensor* weights, int n, int m, hone_tensor* mask,
                                    hone_prune_result* result) {
    return guarded([&] {
        constexpr const char* fn = "hone_prune_n_m";
        const auto w = view_of(weights, fn, "weights");
        check_result(result, fn);
        hone::prune_report r;
        named(fn, [&] { r = hone::prune_n_m(w, n, m, optional_view(mask), "weights"); });
        write_result(result, r, 0.0, fn);
    });
}

HONE_API hone_status hone_prune_blocks(hone_tensor* weights, int64_t block_rows, int64_t block_cols,
                                       double sparsity, hone_importance importance,
                                       hone_tensor* mask, hone_prune_result* result) {
    return guarded([&] {
        constexpr const char* fn = "hone_prune_blocks";
        const auto kind = checked_importance(importance, fn, false);
        const auto w = view_of(weights, fn, "weights");
        check_result(result, fn);
        hone::prune_report r;
        named(fn, [&] {
            r = hone::prune_blocks(w, block_rows, block_cols, sparsity, kind, optional_view(mask),
                                   "weights");
        });
        write_result(result, r, 0.0, fn);
    });
}

HONE_API hone_status hone_channel_prune_params_init(hone_channel_prune_params* params) {
    return guarded([&] {
        *require(params, "hone_channel_prune_params_init", "params") = hone_channel_prune_params{
            sizeof(hone_channel_prune_params), 0.5, HONE_IMPORTANCE_L2, nullptr, 0, 1};
    });
}

HONE_API hone_status hone_prune_channels(const hone_channel_prune_params* params,
                                         const hone_tensor* weights, const hone_tensor* bias,
                                         const hone_tensor* consumer, hone_tensor** out_weights,
                                         hone_tensor** out_bias, hone_tensor** out_consumer,
                                         hone_tensor** out_kept) {
    return guarded([&] {
        constexpr const char* fn = "hone_prune_channels";
        require(params, fn, "params");
        hone::capi::check_struct_size(params->struct_size, sizeof(hone_channel_prune_params), fn,
                                      "hone_channel_prune_params");
        require(out_weights, fn, "out_weights");
        const auto w = view_of(weights, fn, "weights");
        hone::channel_prune_config cfg;
        cfg.sparsity = params->sparsity;
        cfg.kind = checked_importance(params->importance, fn, true);
        if (params->activation_norms_count > 0)
            cfg.activation_norms = {require(params->activation_norms, fn, "activation_norms"),
                                    params->activation_norms_count};
        cfg.consumer_group = params->consumer_group;
        hone::channel_prune_result r;
        named(fn, [&] {
            r = hone::prune_channels(w, cfg, optional_view(bias), optional_view(consumer),
                                     "weights");
        });
        hone::tensor kept(hone::dtype::i64, hone::shape{std::int64_t(r.kept.size())});
        if (!r.kept.empty())
            std::memcpy(kept.data(), r.kept.data(), r.kept.size() * sizeof(std::int64_t));
        // Build every handle first, then publish: out-params stay untouched on failure.
        std::unique_ptr<hone_tensor> hw(hone::capi::make_owned_handle(std::move(r.weights)));
        std::unique_ptr<hone_tensor> hb, hc, hk;
        if (out_bias && bias) hb.reset(hone::capi::make_owned_handle(std::move(r.bias)));
        if (out_consumer && consumer)
            hc.reset(hone::capi::make_owned_handle(std::move(r.consumer)));
        if (out_kept) hk.reset(hone::capi::make_owned_handle(std::move(kept)));
        *out_weights = hw.release();
        if (out_bias) *out_bias = hb.release();
        if (out_consumer) *out_consumer = hc.release();
        if (out_kept) *out_kept = hk.release();
    });
}

HONE_API hone_status hone_layer_stats_create(int64_t k, int with_hessian, hone_layer_stats** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_layer_stats_create";
        require(out, fn, "out");
        hone_layer_stats* s = nullptr;
        named(fn, [&] { s = new hone_layer_stats{hone::layer_statistics(k, with_hessian != 0)}; });
        *out = s;
    });
}

HONE_API void hone_layer_stats_destroy(hone_layer_stats* stats) { delete stats; }

HONE_API hone_status hone_layer_stats_add(hone_layer_stats* stats, const hone_tensor* x) {
    return guarded([&] {
        constexpr const char* fn = "hone_layer_stats_add";
        require(stats, fn, "stats");
        const auto v = view_of(x, fn, "x");
        named(fn, [&] { stats->stats.add(v); });
    });
}

HONE_API hone_status hone_layer_stats_tokens(const hone_layer_stats* stats, int64_t* out) {
    return guarded([&] {
        constexpr const char* fn = "hone_layer_stats_tokens";
        require(stats, fn, "stats");
        *require(out, fn, "out") = stats->stats.tokens();
    });
}

HONE_API hone_status hone_layer_stats_hessian(const hone_layer_stats* stats, hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_layer_stats_hessian";
        require(stats, fn, "stats");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { hone::copy(stats->stats.hessian().view(), d); });
    });
}

HONE_API hone_status hone_layer_stats_column_norms(const hone_layer_stats* stats,
                                                   hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_layer_stats_column_norms";
        require(stats, fn, "stats");
        const auto d = view_of(dst, fn, "dst");
        const auto norms = stats->stats.column_norms();
        const auto src = hone::make_view(norms.data(), norms.size() * sizeof(float),
                                         hone::dtype::f32, hone::shape{std::int64_t(norms.size())});
        named(fn, [&] { hone::copy(src, d); });
    });
}

HONE_API hone_status hone_prune_wanda(hone_tensor* weights, const hone_tensor* activation_norms,
                                      double sparsity, int n, int m, hone_tensor* mask,
                                      hone_prune_result* result) {
    return guarded([&] {
        constexpr const char* fn = "hone_prune_wanda";
        const auto w = view_of(weights, fn, "weights");
        const auto a = view_of(activation_norms, fn, "activation_norms");
        if (a.type() != hone::dtype::f32 || a.rank() != 1 || !a.is_contiguous())
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: activation_norms must be contiguous F32 [K], not {} {}", fn,
                                   hone::name_of(a.type()), a.dims().to_string()));
        check_result(result, fn);
        hone::prune_report r;
        named(fn, [&] {
            r = hone::prune_wanda(w, a.span<float>(), sparsity, n, m, optional_view(mask),
                                  "weights");
        });
        write_result(result, r, 0.0, fn);
    });
}

HONE_API hone_status hone_sparsegpt_params_init(hone_sparsegpt_params* params) {
    return guarded([&] {
        *require(params, "hone_sparsegpt_params_init", "params") = hone_sparsegpt_params{
            sizeof(hone_sparsegpt_params), 0.5, 0, 0, 128, 0.01, 0, nullptr, nullptr};
    });
}

HONE_API hone_status hone_prune_sparsegpt(const hone_sparsegpt_params* params, hone_tensor* weights,
                                          const hone_tensor* hessian, hone_tensor* mask,
                                          hone_prune_result* result, float* row_scales) {
    return guarded([&] {
        constexpr const char* fn = "hone_prune_sparsegpt";
        require(params, fn, "params");
        hone::capi::check_struct_size(params->struct_size, sizeof(hone_sparsegpt_params), fn,
                                      "hone_sparsegpt_params");
        const auto w = view_of(weights, fn, "weights");
        const auto h = view_of(hessian, fn, "hessian");
        check_result(result, fn);
        hone::sparsegpt_config cfg;
        cfg.sparsity = params->sparsity;
        cfg.n = params->n;
        cfg.m = params->m;
        cfg.block_size = params->block_size;
        cfg.damp_fraction = params->damp_fraction;
        cfg.quant_bits = params->quant_bits;
        if (params->quantize) {
            const auto cb = params->quantize;
            void* user = params->user_data;
            cfg.quantize = [cb, user](std::int64_t col, std::span<float> v) {
                const hone_status st = cb(user, col, v.data(), std::int64_t(v.size()));
                if (st != HONE_OK)
                    hone::fail(static_cast<hone::status>(st),
                               fmt::format("the column quantizer returned status {} at column {}",
                                           int(st), col));
            };
        }
        hone::sparsegpt_report r;
        named(fn, [&] { r = hone::prune_sparsegpt(w, h, cfg, optional_view(mask), "weights"); });
        write_result(result, r, r.loss, fn);
        if (row_scales && !r.row_scales.empty())
            std::memcpy(row_scales, r.row_scales.data(), r.row_scales.size() * sizeof(float));
    });
}

HONE_API hone_status hone_sparsity_schedule_init(hone_sparsity_schedule* schedule) {
    return guarded([&] {
        const hone::sparsity_schedule d;
        *require(schedule, "hone_sparsity_schedule_init", "schedule") =
            hone_sparsity_schedule{sizeof(hone_sparsity_schedule),
                                   HONE_SCHEDULE_POLYNOMIAL,
                                   d.initial_sparsity,
                                   d.final_sparsity,
                                   d.begin_step,
                                   d.end_step,
                                   d.frequency,
                                   d.power};
    });
}

HONE_API hone_status hone_sparsity_schedule_at(const hone_sparsity_schedule* schedule, int64_t step,
                                               double* sparsity, int* prune_now) {
    return guarded([&] {
        constexpr const char* fn = "hone_sparsity_schedule_at";
        require(schedule, fn, "schedule");
        hone::capi::check_struct_size(schedule->struct_size, sizeof(hone_sparsity_schedule), fn,
                                      "hone_sparsity_schedule");
        const long long kind = hone::capi::raw_enum(schedule->kind);
        if (kind != HONE_SCHEDULE_CONSTANT && kind != HONE_SCHEDULE_POLYNOMIAL)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: {} is not a hone_schedule_kind", fn, kind));
        hone::sparsity_schedule s{static_cast<hone::schedule_kind>(kind),
                                  schedule->initial_sparsity,
                                  schedule->final_sparsity,
                                  schedule->begin_step,
                                  schedule->end_step,
                                  schedule->frequency,
                                  schedule->power};
        double sp = 0;
        bool now = false;
        named(fn, [&] {
            sp = s.sparsity_at(step);
            now = s.should_prune(step);
        });
        if (sparsity) *sparsity = sp;
        if (prune_now) *prune_now = now ? 1 : 0;
    });
}

HONE_API hone_status hone_mask_of(const hone_tensor* weights, hone_tensor* mask) {
    return guarded([&] {
        constexpr const char* fn = "hone_mask_of";
        const auto w = view_of(weights, fn, "weights");
        const auto m = view_of(mask, fn, "mask");
        named(fn, [&] { hone::mask_of(w, m, "weights"); });
    });
}

HONE_API hone_status hone_masked_sgd_step(hone_tensor* weights, const hone_tensor* gradient,
                                          const hone_tensor* mask, float learning_rate) {
    return guarded([&] {
        constexpr const char* fn = "hone_masked_sgd_step";
        const auto w = view_of(weights, fn, "weights");
        const auto g = view_of(gradient, fn, "gradient");
        const auto m = view_of(mask, fn, "mask");
        named(fn, [&] { hone::masked_sgd_step(w, g, m, learning_rate, "weights"); });
    });
}

HONE_API hone_status hone_sparsity_of(const hone_tensor* weights, double* out) {
    return guarded([&] {
        constexpr const char* fn = "hone_sparsity_of";
        const auto w = view_of(weights, fn, "weights");
        require(out, fn, "out");
        double s = 0;
        named(fn, [&] { s = hone::sparsity_of(w); });
        *out = s;
    });
}

HONE_API hone_status hone_sparse_encode(const hone_tensor* dense, hone_sparse_format format, int n,
                                        int m, hone_sparse** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_sparse_encode";
        require(out, fn, "out");
        const auto d = view_of(dense, fn, "dense");
        const long long f = hone::capi::raw_enum(format);
        if (f < HONE_SPARSE_BITMASK || f > HONE_SPARSE_CSR)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: {} is not a hone_sparse_format", fn, f));
        auto h = std::make_unique<hone_sparse>();
        named(fn, [&] {
            h->sparse =
                hone::sparse_tensor::encode(d, static_cast<hone::sparse_format>(f), n, m, "dense");
        });
        *out = h.release();
    });
}

HONE_API void hone_sparse_destroy(hone_sparse* sparse) { delete sparse; }

HONE_API hone_status hone_sparse_bytes(const hone_sparse* sparse, size_t* stored, size_t* dense) {
    return guarded([&] {
        constexpr const char* fn = "hone_sparse_bytes";
        require(sparse, fn, "sparse");
        if (stored) *stored = sparse->sparse.bytes();
        if (dense) *dense = sparse->sparse.dense_bytes();
    });
}

HONE_API hone_status hone_sparse_to_dense(const hone_sparse* sparse, hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_sparse_to_dense";
        require(sparse, fn, "sparse");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { sparse->sparse.to_dense(d); });
    });
}

HONE_API hone_status hone_sparse_get_buffer(const hone_sparse* sparse, hone_sparse_buffer which,
                                            const void** data, size_t* bytes) {
    return guarded([&] {
        constexpr const char* fn = "hone_sparse_get_buffer";
        require(sparse, fn, "sparse");
        require(data, fn, "data");
        require(bytes, fn, "bytes");
        const auto& s = sparse->sparse;
        switch (hone::capi::raw_enum(which)) {
        case HONE_SPARSE_VALUES:
            *data = s.values().data();
            *bytes = s.values().size_bytes();
            break;
        case HONE_SPARSE_INDEX:
            *data = s.index_bytes().data();
            *bytes = s.index_bytes().size_bytes();
            break;
        case HONE_SPARSE_ROW_PTR:
            *data = s.row_ptr().data();
            *bytes = s.row_ptr().size_bytes();
            break;
        case HONE_SPARSE_COL_INDICES:
            *data = s.col_indices().data();
            *bytes = s.col_indices().size_bytes();
            break;
        default:
            hone::fail(
                hone::status::invalid_argument,
                fmt::format("{}: {} is not a hone_sparse_buffer", fn, hone::capi::raw_enum(which)));
        }
    });
}

} // extern "C"
