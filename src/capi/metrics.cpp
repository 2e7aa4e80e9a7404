#include "guard.hpp"
#include "hone/metrics/layer_error.hpp"
#include "hone/metrics/metric_collector.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

using hone::capi::guarded;
using hone::capi::require;

struct hone_metric_collector {
    hone::metric_collector collector;
};
struct hone_layer_errors {
    hone::layer_error_collector collector;
};

extern "C" {

HONE_API hone_status hone_metric_collector_params_init(hone_metric_collector_params* params) {
    return guarded([&] {
        *require(params, "hone_metric_collector_params_init", "params") = {};
        params->struct_size = sizeof(hone_metric_collector_params);
        params->top_k = 5;
    });
}

HONE_API hone_status hone_metric_collector_create(const hone_metric_collector_params* params,
                                                  hone_metric_collector** out) {
    return guarded([&] {
        require(out, "hone_metric_collector_create", "out");
        hone::metric_collector::options o;
        if (params) {
            hone::capi::check_struct_size(params->struct_size, sizeof(hone_metric_collector_params),
                                          "hone_metric_collector_create",
                                          "hone_metric_collector_params");
            if (params->top_k < 1)
                hone::fail(hone::status::invalid_argument,
                           fmt::format("hone_metric_collector_create: top_k {} (need ≥ 1)",
                                       params->top_k));
            o.top_k = params->top_k;
        }
        *out = new hone_metric_collector{hone::metric_collector(o)};
    });
}

HONE_API void hone_metric_collector_destroy(hone_metric_collector* collector) { delete collector; }

HONE_API hone_status hone_metric_collector_add(hone_metric_collector* collector,
                                               const hone_tensor* outputs, const int64_t* labels,
                                               size_t label_count, const hone_tensor* reference) {
    constexpr const char* fn = "hone_metric_collector_add";
    return guarded([&] {
        require(collector, fn, "collector");
        if (label_count > 0) require(labels, fn, "labels");
        const hone::const_tensor_view ref =
            reference ? hone::const_tensor_view(hone::capi::view_of(reference, fn, "reference"))
                      : hone::const_tensor_view{};
        hone::capi::named(fn, [&] {
            collector->collector.add(hone::capi::view_of(outputs, fn, "outputs"),
                                     {labels, label_count}, ref);
        });
    });
}

HONE_API hone_status hone_metric_collector_summary(const hone_metric_collector* collector,
                                                   const uint32_t* samples, size_t sample_count,
                                                   hone_classification_summary* out) {
    constexpr const char* fn = "hone_metric_collector_summary";
    return guarded([&] {
        require(collector, fn, "collector");
        require(out, fn, "out");
        hone::capi::check_struct_size(out->struct_size, sizeof(hone_classification_summary), fn,
                                      "hone_classification_summary");
        if (sample_count > 0) require(samples, fn, "samples");
        hone::classification_summary s;
        hone::capi::named(fn, [&] {
            s = sample_count ? collector->collector.summary({samples, sample_count})
                             : collector->collector.summary();
        });
        hone::capi::write_versioned(
            out,
            hone_classification_summary{0, s.samples, s.has_labels, s.accuracy, s.top_k_accuracy,
                                        s.has_reference, s.agreement, s.mean_kl, s.mean_cosine},
            fn, "hone_classification_summary");
    });
}

HONE_API hone_status hone_layer_errors_create(hone_layer_errors** out) {
    return guarded(
        [&] { *require(out, "hone_layer_errors_create", "out") = new hone_layer_errors; });
}

HONE_API void hone_layer_errors_destroy(hone_layer_errors* errors) { delete errors; }

HONE_API hone_status hone_layer_errors_add(hone_layer_errors* errors, const char* name,
                                           const hone_tensor* baseline,
                                           const hone_tensor* candidate) {
    constexpr const char* fn = "hone_layer_errors_add";
    return guarded([&] {
        require(errors, fn, "errors");
        require(name, fn, "name");
        hone::capi::named(fn, [&] {
            errors->collector.add(name, hone::capi::view_of(baseline, fn, "baseline"),
                                  hone::capi::view_of(candidate, fn, "candidate"));
        });
    });
}

HONE_API hone_status hone_layer_errors_count(const hone_layer_errors* errors, size_t* count) {
    return guarded([&] {
        *require(count, "hone_layer_errors_count", "count") =
            require(errors, "hone_layer_errors_count", "errors")->collector.layers().size();
    });
}

HONE_API hone_status hone_layer_errors_get(const hone_layer_errors* errors, size_t index,
                                           hone_layer_error_info* out) {
    constexpr const char* fn = "hone_layer_errors_get";
    return guarded([&] {
        const auto& layers = require(errors, fn, "errors")->collector.layers();
        require(out, fn, "out");
        if (index >= layers.size())
            hone::fail(hone::status::out_of_range,
                       fmt::format("{}: index {} but {} layers", fn, index, layers.size()));
        const auto& l = layers[index];
        hone::capi::write_versioned(out,
                                    hone_layer_error_info{0, l.name.c_str(), l.sums.count,
                                                          l.sqnr_db(), l.mse(),
                                                          l.sums.max_abs_error},
                                    fn, "hone_layer_error_info");
    });
}

} // extern "C"
