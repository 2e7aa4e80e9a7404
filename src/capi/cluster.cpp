// C ABI of the clusterer (hone.h section "clusterer"). Every body validates before it writes, so
// out-parameters and outputs are untouched on failure.
#include "guard.hpp"
#include "handles.hpp"
#include "hone/cluster/clusterer.hpp"
#include "hone/cluster/kmeans1d.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace {

using hone::capi::export_target;
using hone::capi::guarded;
using hone::capi::named;
using hone::capi::raw_enum;
using hone::capi::require;
using hone::capi::view_of;

hone::clusterer_config config_of(const hone_cluster_params* params, const char* fn) {
    require(params, fn, "params");
    hone::capi::check_struct_size(params->struct_size, sizeof(hone_cluster_params), fn,
                                  "hone_cluster_params");
    const auto& p = *params;
    const auto method = raw_enum(p.method), gran = raw_enum(p.granularity), init = raw_enum(p.init),
               cb = raw_enum(p.codebook_dtype);
    if (method < 0 || method > 2)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->method {} is not a hone_kmeans_method", fn, method));
    if (gran < 0 || gran > 2)
        hone::fail(
            hone::status::invalid_argument,
            fmt::format("{}: params->granularity {} is not a hone_cluster_granularity", fn, gran));
    if (init < 0 || init > 3)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->init {} is not a hone_kmeans_init", fn, init));
    if (cb != HONE_DTYPE_F32 && cb != HONE_DTYPE_F16)
        hone::fail(hone::status::dtype_mismatch,
                   fmt::format("{}: params->codebook_dtype {} is not HONE_DTYPE_F32 or "
                               "HONE_DTYPE_F16",
                               fn, cb));
    hone::clusterer_config c;
    c.clusters = p.clusters;
    c.method = static_cast<hone::kmeans_method>(method);
    c.granularity = static_cast<hone::cluster_granularity>(gran);
    c.axis = p.axis;
    c.group_size = p.group_size;
    c.preserve_sparsity = p.preserve_sparsity != 0;
    c.codebook_type = static_cast<hone::dtype>(cb);
    c.lloyd = {static_cast<hone::kmeans_init>(init), p.max_iterations, p.tolerance, p.seed};
    c.auto_max_cells = p.auto_max_cells;
    return c;
}

std::span<const float> f32_span(const hone_tensor* t, const char* fn, const char* what) {
    const auto v = view_of(t, fn, what);
    if (v.type() != hone::dtype::f32)
        hone::fail(hone::status::dtype_mismatch,
                   fmt::format("{}: {} must be F32, got {}", fn, what, hone::name_of(v.type())));
    if (!v.is_contiguous())
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: {} must be contiguous", fn, what));
    return {static_cast<const float*>(v.data()), static_cast<std::size_t>(v.numel())};
}

hone::palettized_tensor& clustered_of(const hone_clustered* c, const char* fn) {
    return const_cast<hone_clustered*>(require(c, fn, "clustered"))->p;
}

} // namespace

extern "C" {

HONE_API hone_status hone_cluster_params_init(hone_cluster_params* params) {
    return guarded([&] {
        auto& p = *require(params, "hone_cluster_params_init", "params");
        p = hone_cluster_params{};
        p.struct_size = sizeof(hone_cluster_params);
        const hone::clusterer_config d;
        p.clusters = d.clusters;
        p.method = HONE_KMEANS_AUTO;
        p.granularity = HONE_CLUSTER_PER_TENSOR;
        p.axis = d.axis;
        p.group_size = d.group_size;
        p.preserve_sparsity = 0;
        p.codebook_dtype = HONE_DTYPE_F32;
        p.init = HONE_KMEANS_INIT_KMEANS_PLUS_PLUS;
        p.max_iterations = d.lloyd.max_iterations;
        p.tolerance = d.lloyd.tolerance;
        p.seed = d.lloyd.seed;
        p.auto_max_cells = d.auto_max_cells;
    });
}

HONE_API hone_status hone_kmeans1d(const hone_cluster_params* params, const hone_tensor* values,
                                   const hone_tensor* importance, hone_tensor* centroids, int* used,
                                   double* sse) {
    return guarded([&] {
        constexpr const char* fn = "hone_kmeans1d";
        const auto cfg = config_of(params, fn);
        const auto v = f32_span(values, fn, "values");
        const auto w =
            importance ? f32_span(importance, fn, "importance") : std::span<const float>{};
        if (importance &&
            view_of(importance, fn, "importance").dims() != view_of(values, fn, "values").dims())
            hone::fail(hone::status::shape_mismatch,
                       fmt::format("{}: importance must have the shape of values", fn));
        const auto c = view_of(centroids, fn, "centroids");
        if (c.type() != hone::dtype::f32 || c.rank() != 1 || !c.is_contiguous())
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: centroids must be a contiguous F32 rank-1 tensor", fn));
        if (cfg.clusters > c.dims()[0])
            hone::fail(hone::status::shape_mismatch,
                       fmt::format("{}: centroids holds {} entries, clusters is {}", fn,
                                   c.dims()[0], cfg.clusters));
        require(used, fn, "used");
        hone::kmeans1d_result r;
        named(fn, [&] {
            auto method = cfg.method;
            if (method == hone::kmeans_method::automatic)
                method = hone::kmeans1d_optimal_cells(std::int64_t(v.size()), cfg.clusters) <=
                                 cfg.auto_max_cells
                             ? hone::kmeans_method::optimal
                             : hone::kmeans_method::lloyd;
            r = method == hone::kmeans_method::optimal
                    ? hone::kmeans1d_optimal(v, w, cfg.clusters, "values")
                    : hone::kmeans1d_lloyd(v, w, cfg.clusters, cfg.lloyd, "values");
        });
        auto* out = static_cast<float*>(c.data());
        for (std::size_t j = 0; j < r.centroids.size(); ++j)
            out[j] = static_cast<float>(r.centroids[j]);
        *used = static_cast<int>(r.centroids.size());
        if (sse) *sse = r.sse;
    });
}

HONE_API hone_status hone_cluster(const hone_cluster_params* params, const hone_tensor* weights,
                                  const hone_tensor* importance, hone_clustered** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_cluster";
        const auto cfg = config_of(params, fn);
        require(out, fn, "out");
        const auto w = view_of(weights, fn, "weights");
        hone::const_tensor_view imp;
        if (importance) imp = view_of(importance, fn, "importance");
        auto handle = std::make_unique<hone_clustered>();
        named(fn, [&] { handle->p = hone::clusterer(cfg).cluster(w, imp, "weights"); });
        *out = handle.release();
    });
}

HONE_API void hone_clustered_destroy(hone_clustered* clustered) { delete clustered; }

HONE_API hone_status hone_clustered_get_info(const hone_clustered* clustered,
                                             hone_clustered_info* info) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_get_info";
        const auto& p = clustered_of(clustered, fn);
        require(info, fn, "info");
        hone::capi::check_struct_size(info->struct_size, sizeof(hone_clustered_info), fn,
                                      "hone_clustered_info");
        info->bits = p.bits();
        info->axis = p.axis();
        info->rows = p.rows();
        info->cols = p.cols();
        info->rows_per_group = p.rows_per_group();
        info->groups = p.groups();
        info->entries = p.entries();
        info->codebook_dtype = static_cast<hone_dtype>(p.codebook_type());
        info->bytes = p.bytes();
        info->sse = p.sse();
        info->preserve_sparsity = p.preserves_sparsity() ? 1 : 0;
    });
}

HONE_API hone_status hone_clustered_clusters_used(const hone_clustered* clustered, int32_t* used,
                                                  size_t capacity) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_clusters_used";
        const auto& p = clustered_of(clustered, fn);
        require(used, fn, "used");
        if (capacity < static_cast<std::size_t>(p.groups()))
            hone::fail(
                hone::status::out_of_range,
                fmt::format("{}: capacity {} is below the {} codebooks", fn, capacity, p.groups()));
        for (std::int64_t g = 0; g < p.groups(); ++g)
            used[g] = p.clusters_used(g);
    });
}

HONE_API hone_status hone_clustered_export(const hone_clustered* clustered, hone_tensor* packed,
                                           hone_tensor* codebooks) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_export";
        const auto& p = clustered_of(clustered, fn);
        hone::tensor_view q, c;
        if (packed) q = export_target(packed, p.packed_indices(), fn, "packed");
        if (codebooks) c = export_target(codebooks, p.codebooks(), fn, "codebooks");
        if (packed && p.packed_indices().nbytes())
            std::memcpy(q.data(), p.packed_indices().data(), p.packed_indices().nbytes());
        if (codebooks && p.codebooks().nbytes())
            std::memcpy(c.data(), p.codebooks().data(), p.codebooks().nbytes());
    });
}

HONE_API hone_status hone_clustered_indices(const hone_clustered* clustered, hone_tensor* indices) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_indices";
        const auto& p = clustered_of(clustered, fn);
        const hone::tensor idx = p.indices();
        const auto v = export_target(indices, idx, fn, "indices");
        if (idx.nbytes()) std::memcpy(v.data(), idx.data(), idx.nbytes());
    });
}

HONE_API hone_status hone_clustered_dequantize(const hone_clustered* clustered, hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_dequantize";
        const auto& p = clustered_of(clustered, fn);
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { p.dequantize(d); });
    });
}

HONE_API hone_status hone_clustered_accumulate_gradient(hone_clustered* clustered,
                                                        const hone_tensor* gradient) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_accumulate_gradient";
        auto& p = clustered_of(clustered, fn);
        const auto g = view_of(gradient, fn, "gradient");
        named(fn, [&] { p.accumulate_gradient(g); });
    });
}

HONE_API hone_status hone_clustered_gradient_sums(const hone_clustered* clustered, double* sums,
                                                  int64_t* counts, size_t capacity) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_gradient_sums";
        const auto& p = clustered_of(clustered, fn);
        const auto s = p.gradient_sums();
        if (capacity < s.size())
            hone::fail(hone::status::out_of_range,
                       fmt::format("{}: capacity {} is below groups * entries = {}", fn, capacity,
                                   s.size()));
        if (sums) std::copy(s.begin(), s.end(), sums);
        if (counts) std::copy(p.gradient_counts().begin(), p.gradient_counts().end(), counts);
    });
}

HONE_API hone_status hone_clustered_apply_gradient(hone_clustered* clustered, float learning_rate,
                                                   int average) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_apply_gradient";
        auto& p = clustered_of(clustered, fn);
        named(fn, [&] { p.apply_gradient(learning_rate, average != 0); });
    });
}

HONE_API hone_status hone_clustered_reassign(hone_clustered* clustered,
                                             const hone_tensor* weights) {
    return guarded([&] {
        constexpr const char* fn = "hone_clustered_reassign";
        auto& p = clustered_of(clustered, fn);
        const auto w = view_of(weights, fn, "weights");
        named(fn, [&] { p.reassign(w); });
    });
}

} // extern "C"
