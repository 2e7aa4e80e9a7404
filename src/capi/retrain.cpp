// C ABI: fine-tuning runs (hone.h, "retraining").
#include "guard.hpp"
#include "handles.hpp"
#include "hone/cluster/clusterer.hpp"
#include "hone/graph/trainer.hpp"
#include "hone/io/onnx.hpp"
#include "hone/prune/pruner.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct hone_finetune {
    hone::model model;
    std::unique_ptr<hone::dataset> data;
    std::unique_ptr<hone::trainer> run;
    hone_train_progress_fn progress = nullptr;
    void* user = nullptr;
    bool done = false;
};

namespace {

using hone::capi::guarded;
using hone::capi::named;
using hone::capi::raw_enum;
using hone::capi::require;

/// Inputs copied as a dataset whose samples have the model input's element count.
hone::dataset make_dataset(const hone::model& m, const hone_tensor* inputs, const int64_t* labels,
                           size_t label_count, const char* fn) {
    const hone::tensor_view v = hone::capi::view_of(inputs, fn, "inputs");
    if ((v.type() != hone::dtype::f32 && v.type() != hone::dtype::i64) || v.rank() < 1)
        hone::fail(hone::status::dtype_mismatch,
                   std::string(fn) + ": inputs must be f32 [N, ...] (or int64 token ids [N, T])");
    if (label_count > 0 && labels == nullptr)
        hone::fail(hone::status::invalid_argument, std::string(fn) + ": argument 'labels' is NULL");
    const std::int64_t n = v.dims()[0];
    if (label_count != 0 && std::int64_t(label_count) != n)
        hone::fail(hone::status::shape_mismatch, std::string(fn) + ": " +
                                                     std::to_string(label_count) + " labels for " +
                                                     std::to_string(n) + " samples");
    // sample shape: the model input's static dims after the batch, when all are known
    std::vector<std::int64_t> dims{n};
    bool known = !m.inputs.empty() && m.inputs[0].has_shape && m.inputs[0].dims.size() >= 2;
    if (known)
        for (std::size_t i = 1; i < m.inputs[0].dims.size(); ++i) {
            if (!m.inputs[0].dims[i].is_static()) known = false;
            dims.push_back(m.inputs[0].dims[i].size);
        }
    hone::tensor x = hone::tensor::copy_of(v);
    if (known && x.type() == hone::dtype::f32) {
        const hone::shape s(std::span<const std::int64_t>(dims.data(), dims.size()));
        if (s.numel() != x.numel())
            hone::fail(hone::status::shape_mismatch,
                       std::string(fn) + ": inputs " + v.dims().to_string() +
                           " do not hold samples of the model input " + s.to_string());
        hone::tensor r(hone::dtype::f32, s);
        std::copy(x.span<float>().begin(), x.span<float>().end(), r.span<float>().begin());
        x = std::move(r);
    }
    return hone::dataset(std::move(x), std::vector<std::int64_t>(labels, labels + label_count),
                         "capi data");
}

} // namespace

extern "C" {

hone_status hone_finetune_params_init(hone_finetune_params* params) {
    return guarded([&] {
        require(params, "hone_finetune_params_init", "params");
        const hone::trainer_config c;
        *params = hone_finetune_params{};
        params->struct_size = sizeof(hone_finetune_params);
        params->epochs = c.epochs;
        params->batch_size = c.batch_size;
        params->seed = c.seed;
        params->optimizer = HONE_OPTIMIZER_SGD;
        params->learning_rate = c.learning_rate;
        params->momentum = c.momentum;
        params->weight_decay = c.weight_decay;
        params->schedule = HONE_LR_CONSTANT;
        params->step_size = c.step_size;
        params->gamma = c.gamma;
        params->min_learning_rate = c.min_learning_rate;
        params->loss = HONE_LOSS_CROSS_ENTROPY;
        params->temperature = c.temperature;
        params->distill_alpha = c.distill_alpha;
        params->learned_scales = c.learned_scales ? 1 : 0;
        params->distill_values_weight = c.distill_values_weight;
    });
}

hone_status hone_finetune_start(const hone_finetune_params* params, const hone_tensor* inputs,
                                const int64_t* labels, size_t label_count, hone_finetune** out) {
    constexpr const char* fn = "hone_finetune_start";
    return guarded([&] {
        named(fn, [&] {
            require(params, fn, "params");
            require(out, fn, "out");
            // The first version of the struct ended with `user`.
            hone::capi::check_struct_size(
                params->struct_size, offsetof(hone_finetune_params, user) + sizeof params->user, fn,
                "hone_finetune_params");
            // Appended field: read only when the caller's struct has it.
            const bool learned_scales =
                params->struct_size >= offsetof(hone_finetune_params, learned_scales) +
                                           sizeof params->learned_scales &&
                params->learned_scales != 0;
            // Appended handles (read only when the caller's struct has them).
            const auto has = [&](std::size_t offset, std::size_t size) {
                return params->struct_size >= offset + size;
            };
            const hone_model* model_handle =
                has(offsetof(hone_finetune_params, model), sizeof params->model) ? params->model
                                                                                 : nullptr;
            const hone_model* teacher_handle =
                has(offsetof(hone_finetune_params, teacher), sizeof params->teacher)
                    ? params->teacher
                    : nullptr;
            if (model_handle && params->model_path)
                hone::fail(
                    hone::status::invalid_argument,
                    fmt::format("{}: give params->model or params->model_path, not both", fn));
            if (!model_handle && !params->model_path)
                hone::fail(
                    hone::status::invalid_argument,
                    fmt::format("{}: params->model and params->model_path are both NULL", fn));
            if (teacher_handle && params->teacher_path)
                hone::fail(
                    hone::status::invalid_argument,
                    fmt::format("{}: give params->teacher or params->teacher_path, not both", fn));
            const long long opt = raw_enum(params->optimizer), sch = raw_enum(params->schedule),
                            loss = raw_enum(params->loss);
            if (opt < 0 || opt > 1)
                hone::fail(hone::status::invalid_argument, "params->optimizer out of range");
            if (sch < 0 || sch > 2)
                hone::fail(hone::status::invalid_argument, "params->schedule out of range");
            if (loss < 0 || loss > 2)
                hone::fail(hone::status::invalid_argument, "params->loss out of range");
            if (!(params->prune_sparsity >= 0 && params->prune_sparsity < 1))
                hone::fail(hone::status::invalid_argument,
                           "params->prune_sparsity must be in [0, 1)");
            if (params->cluster_count != 0 &&
                (params->cluster_count < 2 || params->cluster_count > 256))
                hone::fail(hone::status::invalid_argument,
                           "params->cluster_count must be 0 or 2…256");
            if (params->weight_bits != 0 && (params->weight_bits < 2 || params->weight_bits > 8))
                hone::fail(hone::status::invalid_argument, "params->weight_bits must be 0 or 2…8");
            if (learned_scales && params->weight_bits == 0)
                hone::fail(hone::status::invalid_argument,
                           "params->learned_scales needs weight_bits (fake quantization)");
            if (params->cluster_count && params->weight_bits)
                hone::fail(hone::status::invalid_argument,
                           "params: cluster_count and weight_bits exclude each other");
            hone::trainer_config c;
            c.epochs = params->epochs;
            c.batch_size = params->batch_size;
            c.seed = params->seed;
            c.optimizer = hone::optimizer_kind(opt);
            c.learning_rate = params->learning_rate;
            c.momentum = params->momentum;
            c.weight_decay = params->weight_decay;
            c.schedule = hone::lr_schedule(sch);
            c.step_size = params->step_size;
            c.gamma = params->gamma;
            c.min_learning_rate = params->min_learning_rate;
            c.loss = hone::loss_kind(loss);
            c.temperature = params->temperature;
            c.distill_alpha = params->distill_alpha;
            c.activation_bits = params->activation_bits;
            c.learned_scales = learned_scales;
            if (has(offsetof(hone_finetune_params, distill_values_weight),
                    sizeof params->distill_values_weight)) {
                if (params->distill_value_count > 0 && !params->distill_values)
                    hone::fail(hone::status::invalid_argument,
                               fmt::format("{}: params->distill_values is NULL", fn));
                for (std::size_t i = 0; i < params->distill_value_count; ++i) {
                    if (!params->distill_values[i])
                        hone::fail(hone::status::invalid_argument,
                                   fmt::format("{}: params->distill_values[{}] is NULL", fn, i));
                    c.distill_values.emplace_back(params->distill_values[i]);
                }
                c.distill_values_weight = params->distill_values_weight;
            }
            auto r = std::make_unique<hone_finetune>();
            r->model =
                model_handle ? model_handle->model.clone() : hone::load_onnx(params->model_path);
            r->data = std::make_unique<hone::dataset>(
                make_dataset(r->model, inputs, labels, label_count, fn));
            r->run = std::make_unique<hone::trainer>(hone::trainable_graph(r->model), c);
            if (c.loss == hone::loss_kind::distillation || !c.distill_values.empty()) {
                if (teacher_handle) {
                    r->run->set_teacher(teacher_handle->model);
                } else if (params->teacher_path) {
                    r->run->set_teacher(hone::load_onnx(params->teacher_path));
                } else {
                    r->run->set_teacher(r->model);
                }
            }
            for (const auto& name : r->run->graph().parameters()) {
                hone::tensor& w = r->run->graph().weight(name);
                if (w.dims().rank() < 2) continue;
                if (params->prune_sparsity > 0) {
                    hone::tensor mask(hone::dtype::u8, w.dims());
                    hone::tensor copy = w.clone();
                    hone::prune_magnitude(copy.view(), params->prune_sparsity, mask.view(), name);
                    r->run->set_mask(name, mask);
                }
                if (params->cluster_count) {
                    hone::clusterer_config cc;
                    cc.clusters = params->cluster_count;
                    cc.preserve_sparsity = params->prune_sparsity > 0;
                    hone::tensor masked = w.clone();
                    if (params->prune_sparsity > 0)
                        hone::apply_mask(masked.view(), r->run->mask(name), name);
                    r->run->set_clustered(name, hone::clusterer(cc).cluster(masked, {}, name));
                } else if (params->weight_bits) {
                    hone::quant_spec spec;
                    spec.bits = params->weight_bits;
                    spec.granularity = hone::quant_granularity::per_channel;
                    r->run->set_fake_quant(name, spec);
                }
            }
            r->progress = params->progress;
            r->user = params->user;
            r->run->begin(*r->data);
            *out = r.release();
        });
    });
}

hone_status hone_finetune_step(hone_finetune* run, int* done) {
    constexpr const char* fn = "hone_finetune_step";
    return guarded([&] {
        named(fn, [&] {
            require(run, fn, "run");
            require(done, fn, "done");
            if (run->done) {
                *done = 1;
                return;
            }
            const std::optional<hone::train_progress> p = run->run->next_step();
            if (!p) {
                run->done = true;
                *done = 1;
                return;
            }
            if (run->progress) {
                const hone_train_progress cp{sizeof(hone_train_progress),
                                             p->epoch,
                                             p->step,
                                             p->total_steps,
                                             p->loss,
                                             p->learning_rate};
                if (run->progress(run->user, &cp) == 0) run->done = true;
            }
            *done = 0;
        });
    });
}

hone_status hone_finetune_evaluate(hone_finetune* run, const hone_tensor* inputs,
                                   const int64_t* labels, size_t label_count, double* accuracy) {
    constexpr const char* fn = "hone_finetune_evaluate";
    return guarded([&] {
        named(fn, [&] {
            require(run, fn, "run");
            require(accuracy, fn, "accuracy");
            if (label_count == 0) hone::fail(hone::status::invalid_argument, "labels are required");
            const hone::dataset d = make_dataset(run->model, inputs, labels, label_count, fn);
            *accuracy = run->run->evaluate(d);
        });
    });
}

hone_status hone_finetune_finish(hone_finetune* run, const char* output_path) {
    constexpr const char* fn = "hone_finetune_finish";
    return guarded([&] {
        named(fn, [&] {
            require(run, fn, "run");
            require(output_path, fn, "output_path");
            hone::model m = run->model.clone();
            run->run->write_back(m);
            hone::save_onnx(m, output_path);
        });
    });
}

void hone_finetune_destroy(hone_finetune* run) { delete run; }

} // extern "C"
