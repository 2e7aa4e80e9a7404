// C ABI: models, ONNX I/O and the graph executor (hone.h, "models and the graph executor").
#include "guard.hpp"
#include "handles.hpp"
#include "hone/cluster/clusterer.hpp"
#include "hone/graph/executor.hpp"
#include "hone/io/onnx.hpp"
#include "hone/io/onnx_integer.hpp"
#include "hone/io/qdq.hpp"
#include "hone/quantize/quantized_tensor.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <set>

#include <memory>
#include <string>
#include <vector>

struct hone_executor {
    hone::executor exec;
    std::vector<std::string> output_names;
};
namespace {

using hone::capi::guarded;
using hone::capi::named;
using hone::capi::require;

static_assert(HONE_PRECISION_INT8_STATIC == static_cast<int>(hone::exec_precision::int8_static));
static_assert(HONE_DTYPE_BOOL == static_cast<int>(hone::dtype::boolean));

const hone::value_info* value_at(const hone::model& m, long long kind, std::size_t index,
                                 const char* fn) {
    const auto& list = kind == HONE_VALUE_INPUT ? m.inputs : m.outputs;
    if (index >= list.size())
        hone::fail(hone::status::out_of_range,
                   fmt::format("{}: index {} but the model has {} {}", fn, index, list.size(),
                               kind == HONE_VALUE_INPUT ? "inputs" : "outputs"));
    return &list[index];
}

// The kind as an integer, checked (a C caller may pass any int).
long long value_kind(const hone_value_kind& kind, const char* fn) { // by reference: no load
    const auto k = hone::capi::raw_enum(kind);
    if (k < 0 || k > 2)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: kind {} is not a hone_value_kind", fn, k));
    return k;
}

const std::string& weight_name_at(const hone_model& model, std::size_t index, const char* fn) {
    if (index >= model.names.size())
        hone::fail(hone::status::out_of_range,
                   fmt::format("{}: index {} but the model has {} weights", fn, index,
                               model.names.size()));
    return model.names[index];
}

// Node `index` of the executor's report, checked.
const hone::node_report& node_at(const hone_executor* executor, std::size_t index, const char* fn) {
    const auto& r = require(executor, fn, "executor")->exec.report();
    if (index >= r.size())
        hone::fail(hone::status::out_of_range,
                   fmt::format("{}: index {} but the model has {} nodes", fn, index, r.size()));
    return r[index];
}

hone::quantized_tensor copy_of(const hone::quantized_tensor& q) {
    return hone::quantized_tensor{q.spec, q.dims, q.data.clone(), q.scales.clone(),
                                  q.zero_points.clone()};
}

// Name arrays: both pointers required when count > 0, every name non-NULL, no name twice.
template <class T, class F>
void for_each_named(const char* const* names, const T* const* items, size_t count, const char* fn,
                    const char* names_field, const char* items_field, F&& f) {
    if (!count) return;
    require(names, fn, names_field);
    require(items, fn, items_field);
    std::set<std::string> seen;
    for (size_t i = 0; i < count; ++i) {
        const std::string name = require(names[i], fn, names_field);
        if (!items[i])
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: {}[{}] (for '{}') is NULL", fn, items_field, i, name));
        if (!seen.insert(name).second)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: '{}' is listed twice in {}", fn, name, names_field));
        f(name, *items[i]);
    }
}

// Trampoline for hone_executor_runner_params.
hone_status run_executor(void* user, const hone_tensor* inputs, hone_tensor** outputs) {
    return guarded([&] {
        auto* e = static_cast<hone_executor*>(user);
        // graph_runner's reshaping, without owning a second executor: the same function.
        const auto in = hone::capi::view_of(inputs, "hone_executor runner", "inputs");
        std::optional<hone::tensor> keep;
        const auto v = hone::as_declared(e->exec.inputs().at(0), in, keep);
        auto outs = e->exec.run(v);
        *outputs = hone::capi::make_owned_handle(std::move(outs.at(0)));
    });
}

} // namespace

extern "C" {

HONE_API hone_status hone_model_load_onnx(const char* path, hone_model** out) {
    return guarded([&] {
        named("hone_model_load_onnx", [&] {
            require(path, "hone_model_load_onnx", "path");
            require(out, "hone_model_load_onnx", "out");
            auto m = std::make_unique<hone_model>(hone_model{hone::load_onnx(path), {}});
            m->names = m->model.weight_names();
            *out = m.release();
        });
    });
}

HONE_API hone_status hone_model_save_onnx(const hone_model* model, const char* path,
                                          uint64_t external_threshold) {
    return guarded([&] {
        named("hone_model_save_onnx", [&] {
            require(model, "hone_model_save_onnx", "model");
            require(path, "hone_model_save_onnx", "path");
            hone::onnx_save_options o;
            o.external_threshold = external_threshold;
            hone::save_onnx(model->model, path, o);
        });
    });
}

HONE_API void hone_model_destroy(hone_model* model) { delete model; }

HONE_API hone_status hone_model_get_info(const hone_model* model, hone_model_info* out) {
    return guarded([&] {
        require(model, "hone_model_get_info", "model");
        require(out, "hone_model_get_info", "out");
        const auto& m = model->model;
        hone_model_info info{};
        info.node_count = m.nodes.size();
        info.input_count = m.inputs.size();
        info.output_count = m.outputs.size();
        info.weight_count = m.weight_count();
        info.weight_bytes = m.weight_bytes();
        info.opset = m.opset;
        info.source_opset = m.source_opset;
        info.producer_name = m.producer_name.c_str();
        info.producer_version = m.producer_version.c_str();
        hone::capi::write_versioned(out, info, "hone_model_get_info", "hone_model_info");
    });
}

HONE_API hone_status hone_model_value(const hone_model* model, hone_value_kind kind, size_t index,
                                      hone_dtype* dtype, size_t* rank, int64_t* dims,
                                      size_t capacity) {
    return guarded([&] {
        const char* fn = "hone_model_value";
        require(model, fn, "model");
        if (capacity > 0) require(dims, fn, "dims");
        const auto k = value_kind(kind, fn);
        const auto& m = model->model;
        hone::dtype t{};
        std::vector<std::int64_t> d;
        bool has_shape = true;
        if (k == HONE_VALUE_WEIGHT) {
            const auto& w = m.weight(weight_name_at(*model, index, fn));
            t = w.type();
            d.assign(w.dims().dims().begin(), w.dims().dims().end());
        } else {
            const auto* v = value_at(m, k, index, fn);
            t = v->type;
            has_shape = v->has_shape;
            for (const auto& x : v->dims)
                d.push_back(x.is_static() ? x.size : -1);
        }
        if (has_shape && d.size() > capacity && dims)
            hone::fail(hone::status::out_of_range,
                       fmt::format("{}: rank {} but capacity {}", fn, d.size(), capacity));
        if (dtype) *dtype = static_cast<hone_dtype>(t);
        if (rank) *rank = has_shape ? d.size() : static_cast<size_t>(-1);
        for (std::size_t i = 0; has_shape && i < d.size() && i < capacity; ++i)
            dims[i] = d[i];
    });
}

HONE_API hone_status hone_model_value_name(const hone_model* model, hone_value_kind kind,
                                           size_t index, char* buffer, size_t capacity,
                                           size_t* needed) {
    return guarded([&] {
        const char* fn = "hone_model_value_name";
        require(model, fn, "model");
        const auto k = value_kind(kind, fn);
        const std::string& name = k == HONE_VALUE_WEIGHT
                                      ? weight_name_at(*model, index, fn)
                                      : value_at(model->model, k, index, fn)->name;
        hone::capi::copy_string(name, buffer, capacity, needed, fn);
    });
}

HONE_API hone_status hone_model_get_weight(const hone_model* model, const char* name,
                                           hone_tensor** out) {
    return guarded([&] {
        named("hone_model_get_weight", [&] {
            require(model, "hone_model_get_weight", "model");
            require(name, "hone_model_get_weight", "name");
            require(out, "hone_model_get_weight", "out");
            *out = hone::capi::make_owned_handle(model->model.weight(name).clone());
        });
    });
}

HONE_API hone_status hone_model_set_weight(hone_model* model, const char* name,
                                           const hone_tensor* value) {
    return guarded([&] {
        named("hone_model_set_weight", [&] {
            require(model, "hone_model_set_weight", "model");
            require(name, "hone_model_set_weight", "name");
            const auto v = hone::capi::view_of(value, "hone_model_set_weight", "value");
            model->model.set_weight(name, hone::tensor::copy_of(v));
            model->names = model->model.weight_names();
        });
    });
}

HONE_API hone_status hone_executor_params_init(hone_executor_params* params) {
    return guarded([&] {
        *require(params, "hone_executor_params_init", "params") = hone_executor_params{};
        params->struct_size = sizeof(hone_executor_params);
        params->precision = HONE_PRECISION_F32;
        params->fold_constants = 1;
        params->fold_batch_norm = 1;
        params->fuse_relu = 1;
        params->reduce_range = -1;
        params->qdq_int4_kernel = 1;
    });
}

HONE_API hone_status hone_executor_create(const hone_model* model,
                                          const hone_executor_params* params, hone_executor** out) {
    return guarded([&] {
        named("hone_executor_create", [&] {
            const char* fn = "hone_executor_create";
            require(model, fn, "model");
            require(out, fn, "out");
            hone::executor_options o;
            if (params) {
                hone::capi::check_struct_size(params->struct_size, sizeof(hone_executor_params), fn,
                                              "hone_executor_params");
                const auto prec = hone::capi::raw_enum(params->precision);
                if (prec < 0 || prec > 2)
                    hone::fail(hone::status::invalid_argument,
                               fmt::format("{}: precision {} is not a hone_precision", fn, prec));
                o.precision = static_cast<hone::exec_precision>(prec);
                o.fold_constants = params->fold_constants != 0;
                o.fold_batch_norm = params->fold_batch_norm != 0;
                o.fuse_relu = params->fuse_relu != 0;
                o.reduce_range = params->reduce_range < 0 ? -1 : (params->reduce_range != 0);
                if (params->keep_count) require(params->keep, fn, "params->keep");
                for (size_t i = 0; i < params->keep_count; ++i)
                    o.keep.emplace_back(require(params->keep[i], fn, "params->keep[i]"));
                if (params->range_count) {
                    require(params->range_names, fn, "params->range_names");
                    require(params->range_lo, fn, "params->range_lo");
                    require(params->range_hi, fn, "params->range_hi");
                }
                for (size_t i = 0; i < params->range_count; ++i) {
                    const float lo = params->range_lo[i], hi = params->range_hi[i];
                    if (!(lo <= hi) || !std::isfinite(lo) || !std::isfinite(hi))
                        hone::fail(hone::status::invalid_argument,
                                   fmt::format("{}: range {} [{}, {}] is not finite with lo <= hi",
                                               fn, i, lo, hi));
                    o.activation_ranges[require(params->range_names[i], fn,
                                                "params->range_names[i]")] = {lo, hi};
                }
                for_each_named(params->int4_names, params->int4_weights, params->int4_count, fn,
                               "params->int4_names", "params->int4_weights",
                               [&](const std::string& name, const hone_quantized_tensor& q) {
                                   o.int4_weights[name] =
                                       std::make_shared<const hone::quantized_tensor>(copy_of(q.t));
                               });
                for_each_named(
                    params->palettized_names, params->palettized_weights, params->palettized_count,
                    fn, "params->palettized_names", "params->palettized_weights",
                    [&](const std::string& name, const hone_clustered& c) {
                        // Not owned: the handle outlives the executor (hone.h).
                        o.palettized_weights[name] = std::shared_ptr<const hone::palettized_tensor>(
                            std::shared_ptr<const void>(), &c.p);
                    });
                o.qdq_int4_kernel = params->qdq_int4_kernel != 0;
            }
            auto e =
                std::make_unique<hone_executor>(hone_executor{hone::executor(model->model, o), {}});
            *out = e.release();
        });
    });
}

HONE_API void hone_executor_destroy(hone_executor* executor) { delete executor; }

HONE_API hone_status hone_executor_run(const hone_executor* executor,
                                       const hone_tensor* const* inputs, size_t input_count,
                                       hone_tensor** outputs, size_t output_count,
                                       hone_observe_fn observe, void* user) {
    return guarded([&] {
        named("hone_executor_run", [&] {
            const char* fn = "hone_executor_run";
            require(executor, fn, "executor");
            require(outputs, fn, "outputs");
            if (input_count) require(inputs, fn, "inputs");
            const auto& ex = executor->exec;
            if (output_count != ex.outputs().size())
                hone::fail(hone::status::invalid_argument,
                           fmt::format("output_count is {}, the model has {} outputs", output_count,
                                       ex.outputs().size()));
            std::vector<hone::const_tensor_view> in;
            for (size_t i = 0; i < input_count; ++i)
                in.push_back(hone::capi::view_of(inputs[i], fn, "inputs[i]"));
            hone::executor::observer obs;
            if (observe)
                obs = [&](const std::string& name, hone::const_tensor_view v) {
                    hone_tensor h = hone::capi::borrowed_handle(v);
                    const hone_status st = observe(user, name.c_str(), &h);
                    if (st != HONE_OK)
                        hone::fail(static_cast<hone::status>(st),
                                   fmt::format("the observer stopped the run at '{}' ({})", name,
                                               hone_status_string(st)));
                };
            auto outs = ex.run(in, obs);
            std::vector<hone_tensor*> handles;
            try {
                for (auto& t : outs)
                    handles.push_back(hone::capi::make_owned_handle(std::move(t)));
            } catch (...) {
                for (auto* h : handles)
                    hone_tensor_destroy(h);
                throw;
            }
            for (size_t i = 0; i < handles.size(); ++i)
                outputs[i] = handles[i];
        });
    });
}

HONE_API hone_status hone_executor_node_count(const hone_executor* executor, size_t* count) {
    return guarded([&] {
        require(executor, "hone_executor_node_count", "executor");
        *require(count, "hone_executor_node_count", "count") = executor->exec.report().size();
    });
}

HONE_API hone_status hone_executor_node_name(const hone_executor* executor, size_t index,
                                             char* buffer, size_t capacity, size_t* needed) {
    return guarded([&] {
        const char* fn = "hone_executor_node_name";
        hone::capi::copy_string(node_at(executor, index, fn).node, buffer, capacity, needed, fn);
    });
}

HONE_API hone_status hone_executor_node_op_type(const hone_executor* executor, size_t index,
                                                char* buffer, size_t capacity, size_t* needed) {
    return guarded([&] {
        const char* fn = "hone_executor_node_op_type";
        hone::capi::copy_string(node_at(executor, index, fn).op_type, buffer, capacity, needed, fn);
    });
}

HONE_API hone_status hone_executor_node_path(const hone_executor* executor, size_t index,
                                             char* buffer, size_t capacity, size_t* needed) {
    return guarded([&] {
        const char* fn = "hone_executor_node_path";
        hone::capi::copy_string(node_at(executor, index, fn).path, buffer, capacity, needed, fn);
    });
}

HONE_API hone_status hone_executor_runner_params(hone_executor* executor,
                                                 hone_runner_params* params) {
    return guarded([&] {
        const char* fn = "hone_executor_runner_params";
        require(executor, fn, "executor");
        require(params, fn, "params");
        hone::capi::check_struct_size(params->struct_size, sizeof(hone_runner_params), fn,
                                      "hone_runner_params");
        if (executor->exec.inputs().size() != 1 || executor->exec.outputs().size() != 1)
            hone::fail(
                hone::status::invalid_argument,
                fmt::format("{}: the model has {} inputs and {} outputs; one of each is needed", fn,
                            executor->exec.inputs().size(), executor->exec.outputs().size()));
        params->run = run_executor;
        params->user = executor;
        params->model_bytes = executor->exec.plan_bytes();
        params->int8 = executor->exec.uses_int8() ? 1 : 0;
        if (executor->exec.ops_per_sample() == 0) {
            // Measure the work once on a zero sample when the input shape allows it.
            const auto& decl = executor->exec.inputs()[0];
            std::vector<std::int64_t> dims{1};
            bool ok = decl.has_shape && !decl.dims.empty();
            for (std::size_t d = 1; ok && d < decl.dims.size(); ++d) {
                ok = decl.dims[d].is_static();
                dims.push_back(decl.dims[d].size);
            }
            if (ok) {
                const hone::tensor zero(decl.type,
                                        hone::shape(std::span<const std::int64_t>(dims)));
                (void)executor->exec.run(zero.view());
            }
        }
        params->ops_per_sample = executor->exec.ops_per_sample();
        params->name = executor->exec.uses_int8() ? "hone int8" : "hone f32";
    });
}

HONE_API hone_status hone_qdq_params_init(hone_qdq_params* params) {
    return guarded([&] {
        *require(params, "hone_qdq_params_init", "params") = hone_qdq_params{};
        params->struct_size = sizeof(hone_qdq_params);
        params->quantize_weights = 1;
        params->propagate_grids = 1;
        params->quantize_bias = 1;
        params->fold_batch_norm = 1;
        params->form = HONE_ONNX_QDQ;
        params->form = HONE_ONNX_QDQ;
        const hone_status st = hone_quant_spec_init(&params->weight_spec);
        if (st != HONE_OK)
            hone::fail(static_cast<hone::status>(st), "hone_qdq_params_init: weight_spec");
    });
}

HONE_API hone_status hone_qdq_activation_from_range(float lo, float hi, int seven_bit, float* scale,
                                                    int32_t* zero_point) {
    return guarded([&] {
        named("hone_qdq_activation_from_range", [&] {
            require(scale, "hone_qdq_activation_from_range", "scale");
            require(zero_point, "hone_qdq_activation_from_range", "zero_point");
            const auto a = hone::qdq_activation_from_range({lo, hi}, seven_bit != 0);
            *scale = a.scale;
            *zero_point = a.zero_point;
        });
    });
}

} // extern "C"

namespace {

/// hone_qdq_params → qdq_options (NULL: the defaults).
hone::qdq_options qdq_options_from(const hone_qdq_params* params, const char* fn) {
    hone::qdq_options o;
    if (params) {
        hone::capi::check_struct_size(params->struct_size,
                                      offsetof(hone_qdq_params, f32_node_count) + sizeof(size_t),
                                      fn, "hone_qdq_params");
        if (params->struct_size >= offsetof(hone_qdq_params, fold_batch_norm) + sizeof(int)) {
            o.propagate_grids = params->propagate_grids != 0;
            o.quantize_bias = params->quantize_bias != 0;
            o.fold_batch_norm = params->fold_batch_norm != 0;
        }
        o.quantize_weights = params->quantize_weights != 0;
        o.weight_spec = hone::capi::spec_from(&params->weight_spec, fn, "weight_spec");
        for_each_named(params->weight_names, params->weights, params->weight_count, fn,
                       "params->weight_names", "params->weights",
                       [&](const std::string& name, const hone_quantized_tensor& q) {
                           o.weights.emplace(name, copy_of(q.t));
                       });
        if (params->activation_count) {
            require(params->activation_names, fn, "params->activation_names");
            require(params->activation_scales, fn, "params->activation_scales");
            require(params->activation_zero_points, fn, "params->activation_zero_points");
        }
        for (size_t i = 0; i < params->activation_count; ++i) {
            const std::string name =
                require(params->activation_names[i], fn, "params->activation_names[i]");
            hone::qdq_activation a;
            a.scale = params->activation_scales[i];
            a.zero_point = params->activation_zero_points[i];
            a.type = hone::dtype::u8;
            if (params->activation_types) {
                const auto t = hone::capi::raw_enum(params->activation_types[i]);
                if (t != HONE_DTYPE_U8 && t != HONE_DTYPE_I8)
                    hone::fail(hone::status::invalid_argument,
                               fmt::format("{}: activation_types[{}] (for '{}') is {}, "
                                           "not HONE_DTYPE_U8 or HONE_DTYPE_I8",
                                           fn, i, name, t));
                a.type = t == HONE_DTYPE_I8 ? hone::dtype::i8 : hone::dtype::u8;
            }
            if (!o.activations.emplace(name, a).second)
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: activation '{}' is listed twice", fn, name));
        }
        if (params->f32_node_count) require(params->f32_nodes, fn, "params->f32_nodes");
        for (size_t i = 0; i < params->f32_node_count; ++i)
            o.f32_nodes.emplace_back(require(params->f32_nodes[i], fn, "params->f32_nodes[i]"));
    }
    return o;
}

} // namespace

extern "C" {

HONE_API hone_status hone_model_to_qdq(const hone_model* model, const hone_qdq_params* params,
                                       hone_model** out) {
    return guarded([&] {
        named("hone_model_to_qdq", [&] {
            const char* fn = "hone_model_to_qdq";
            require(model, fn, "model");
            require(out, fn, "out");
            auto o = qdq_options_from(params, fn);
            long long form = HONE_ONNX_QDQ; // read raw: a C caller may pass any int
            if (params &&
                params->struct_size >= offsetof(hone_qdq_params, form) + sizeof(params->form))
                form = hone::capi::raw_enum(params->form);
            hone::model made;
            switch (form) {
            case HONE_ONNX_QDQ: made = hone::to_qdq(model->model, o); break;
            case HONE_ONNX_MATMUL_NBITS:
                made = hone::to_matmul_nbits(hone::to_qdq(model->model, o));
                break;
            case HONE_ONNX_DYNAMIC_INT8: {
                hone::dynamic_int8_options d;
                d.weights = std::move(o.weights);
                d.quantize_weights = o.quantize_weights;
                d.f32_nodes = o.f32_nodes;
                d.fold_batch_norm = o.fold_batch_norm;
                made = hone::to_dynamic_int8(model->model, d);
                break;
            }
            default:
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: params->form {} is not a hone_onnx_form", fn, form));
            }
            auto m = std::make_unique<hone_model>(hone_model{std::move(made), {}});
            m->names = m->model.weight_names();
            *out = m.release();
        });
    });
}

} // extern "C"

extern "C" {

HONE_API hone_status hone_model_qdq_activation_tensors(const hone_model* model,
                                                       const hone_qdq_params* params, char* buffer,
                                                       size_t capacity, size_t* needed,
                                                       size_t* count) {
    return guarded([&] {
        named("hone_model_qdq_activation_tensors", [&] {
            const char* fn = "hone_model_qdq_activation_tensors";
            require(model, fn, "model");
            const auto list =
                hone::qdq_activation_tensors(model->model, qdq_options_from(params, fn));
            // "a\0b\0" + the list's own NUL, which copy_string adds: "a\0b\0\0".
            std::string packed;
            for (const auto& name : list) {
                if (name.empty())
                    hone::fail(hone::status::internal,
                               fmt::format("{}: an empty tensor name in the list", fn));
                packed.append(name).push_back('\0');
            }
            if (count) *count = list.size();
            hone::capi::copy_string(packed, buffer, capacity, needed, fn);
        });
    });
}

} // extern "C"
