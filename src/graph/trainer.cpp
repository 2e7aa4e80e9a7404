// trainer: optimizers, schedules, deterministic data order, optimization-aware steps.
#include "hone/graph/trainer.hpp"

#include "hone/core/error.hpp"
#include "hone/prune/pruner.hpp"
#include "hone/quantize/quantizer.hpp"
#include "hone/retrain/lsq.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <random>
#include <string>

namespace hone {

// ---- trainer ----------------------------------------------------------------------------------

namespace {
enum class param_mode { plain, masked, clustered, fake_quant };
struct param_state {
    std::string name;
    param_mode mode = param_mode::plain;
    tensor latent; // f32 master weights (plain, masked, fake_quant)
    tensor mask;   // u8 (masked; kept when a masked weight is then fake-quantized)
    tensor m1, m2; // optimizer state
    palettized_tensor clustered;
    quant_spec spec{};
    bool gradual = false;
    // LSQ (fake_quant with learned scales)
    bool lsq = false;
    std::vector<float> scales, scale_floor, s_m1, s_m2;
    std::vector<std::int32_t> zero_points;
};

void validate_config(const trainer_config& c) {
    auto bad = [](const char* field, const std::string& why) {
        fail(status::invalid_argument, std::string("trainer_config.") + field + ": " + why);
    };
    if (c.epochs < 1) bad("epochs", "must be ≥ 1");
    if (c.batch_size < 1) bad("batch_size", "must be ≥ 1");
    if (!(c.learning_rate > 0) || !std::isfinite(c.learning_rate))
        bad("learning_rate", "must be finite and > 0");
    if (!(c.momentum >= 0 && c.momentum < 1)) bad("momentum", "must be in [0, 1)");
    if (!(c.beta1 >= 0 && c.beta1 < 1)) bad("beta1", "must be in [0, 1)");
    if (!(c.beta2 >= 0 && c.beta2 < 1)) bad("beta2", "must be in [0, 1)");
    if (!(c.adam_epsilon > 0)) bad("adam_epsilon", "must be > 0");
    if (!(c.weight_decay >= 0) || !std::isfinite(c.weight_decay))
        bad("weight_decay", "must be finite and ≥ 0");
    if (c.schedule == lr_schedule::step && (c.step_size < 1 || !(c.gamma > 0)))
        bad("step_size", "step schedule needs step_size ≥ 1 and gamma > 0");
    if (!(c.min_learning_rate >= 0) || c.min_learning_rate > c.learning_rate)
        bad("min_learning_rate", "must be in [0, learning_rate]");
    if (!(c.temperature > 0)) bad("temperature", "must be > 0");
    if (!(c.distill_alpha >= 0 && c.distill_alpha <= 1)) bad("distill_alpha", "must be in [0, 1]");
    if (!(c.cluster_lr_scale > 0)) bad("cluster_lr_scale", "must be > 0");
    if (c.cluster_reassign_every < 0) bad("cluster_reassign_every", "must be ≥ 0");
    if (c.activation_bits != 0 && (c.activation_bits < 2 || c.activation_bits > 8))
        bad("activation_bits", "must be 0 or 2…8");
    if (!(c.scale_lr_scale > 0) || !std::isfinite(c.scale_lr_scale))
        bad("scale_lr_scale", "must be finite and > 0");
    if (!(c.distill_values_weight > 0) || !std::isfinite(c.distill_values_weight))
        bad("distill_values_weight", "must be finite and > 0");
    if (c.loss != loss_kind::cross_entropy && c.loss != loss_kind::distillation &&
        c.loss != loss_kind::next_token)
        bad("loss", "is not a loss_kind");
}

tensor zeros_like(const shape& s) {
    tensor t(dtype::f32, s);
    std::fill(t.span<float>().begin(), t.span<float>().end(), 0.0f);
    return t;
}

void mask_in_place(tensor& w, const tensor& mask) {
    auto ws = w.span<float>();
    auto ms = mask.span<std::uint8_t>();
    for (std::size_t i = 0; i < ws.size(); ++i)
        if (!ms[i]) ws[i] = 0.0f; // +0 exactly
}

tensor batch_of(const dataset& d, std::span<const std::int64_t> idx, const shape& sample) {
    std::vector<std::int64_t> dims{std::int64_t(idx.size())};
    for (auto v : sample.dims())
        dims.push_back(v);
    const dtype type = d.inputs().type();
    tensor x(type, shape(std::span<const std::int64_t>(dims.data(), dims.size())));
    const std::size_t per = std::size_t(sample.numel()) * size_of(type);
    const auto* src = static_cast<const std::uint8_t*>(d.inputs().data());
    auto* dst = static_cast<std::uint8_t*>(x.data());
    for (std::size_t i = 0; i < idx.size(); ++i)
        std::memcpy(dst + i * per, src + std::size_t(idx[i]) * per, per);
    return x;
}
} // namespace

struct trainer::impl {
    trainable_graph graph;
    trainer_config cfg;
    std::vector<param_state> params;
    std::unique_ptr<trainable_graph> teacher;
    std::vector<std::string> gradual_names;
    std::optional<sparsity_schedule> schedule;
    pruning_scope scope{false};
    std::int64_t step = 0;
    std::int64_t total_steps = 0;
    int epoch = 0;
    // stepped run
    const dataset* run_data = nullptr;
    std::vector<std::int64_t> run_order;
    std::int64_t run_cursor = 0;

    impl(trainable_graph g, const trainer_config& c) : graph(std::move(g)), cfg(c) {}

    param_state& find(const std::string& name) {
        for (auto& p : params)
            if (p.name == name) return p;
        fail(status::not_found, "trainer: '" + name + "' is not a trainable weight of the graph");
    }

    float lr_at(std::int64_t s) const {
        const double lr = cfg.learning_rate;
        switch (cfg.schedule) {
        case lr_schedule::constant: return float(lr);
        case lr_schedule::step:
            return float(lr * std::pow(double(cfg.gamma), double(s / cfg.step_size)));
        case lr_schedule::cosine: {
            const double horizon = double(std::max<std::int64_t>(total_steps, 1));
            const double f = std::min(double(s) / horizon, 1.0);
            return float(cfg.min_learning_rate + 0.5 * (lr - cfg.min_learning_rate) *
                                                     (1.0 + std::cos(std::numbers::pi * f)));
        }
        }
        return float(lr);
    }

    /// Effective weights into the graph.
    void publish() {
        for (auto& p : params) {
            tensor& w = graph.weight(p.name);
            switch (p.mode) {
            case param_mode::plain:
                std::copy(p.latent.span<float>().begin(), p.latent.span<float>().end(),
                          w.span<float>().begin());
                break;
            case param_mode::masked:
                std::copy(p.latent.span<float>().begin(), p.latent.span<float>().end(),
                          w.span<float>().begin());
                mask_in_place(w, p.mask);
                break;
            case param_mode::clustered: p.clustered.dequantize(w.view()); break;
            case param_mode::fake_quant: {
                if (p.lsq) {
                    tensor f = retrain::lsq_forward(p.latent, p.spec, p.scales, p.zero_points);
                    std::copy(f.span<float>().begin(), f.span<float>().end(),
                              w.span<float>().begin());
                    if (p.mask.numel()) mask_in_place(w, p.mask);
                    break;
                }
                quantizer q(quantizer_config{p.spec});
                q.quantize(p.latent, p.name).dequantize(w.view());
                if (p.mask.numel()) mask_in_place(w, p.mask); // pruned stays exactly zero
                break;
            }
            }
        }
    }

    void apply_schedule() {
        if (!schedule || !schedule->should_prune(step)) return;
        const double target = schedule->sparsity_at(step);
        if (scope.global) {
            std::vector<global_layer> layers;
            for (const auto& name : gradual_names) {
                param_state& p = find(name);
                layers.push_back(global_layer{p.name, p.latent.view(), scope.min_layer_sparsity,
                                              scope.max_layer_sparsity, p.mask.view()});
            }
            prune_global(layers, target);
        }
        for (const auto& name : gradual_names) {
            param_state& p = find(name);
            if (!scope.global) prune_magnitude(p.latent.view(), target, p.mask.view(), p.name);
            mask_in_place(p.latent, p.mask);
        }
    }

    /// One optimizer step on w (SGD with momentum or AdamW) skipping mk[i] = 0.
    void optimize(std::span<float> w, std::span<const float> g, std::span<float> m1,
                  std::span<float> m2, const std::uint8_t* mk, float lr, float wd) const {
        if (cfg.optimizer == optimizer_kind::sgd) {
            for (std::size_t i = 0; i < w.size(); ++i) {
                if (mk && !mk[i]) continue;
                const float gi = g[i] + wd * w[i];
                m1[i] = cfg.momentum * m1[i] + gi;
                w[i] -= lr * m1[i];
            }
        } else {
            const double t = double(step + 1);
            const float c1 = float(1.0 - std::pow(double(cfg.beta1), t));
            const float c2 = float(1.0 - std::pow(double(cfg.beta2), t));
            for (std::size_t i = 0; i < w.size(); ++i) {
                if (mk && !mk[i]) continue;
                m1[i] = cfg.beta1 * m1[i] + (1 - cfg.beta1) * g[i];
                m2[i] = cfg.beta2 * m2[i] + (1 - cfg.beta2) * g[i] * g[i];
                const float mh = m1[i] / c1, vh = m2[i] / c2;
                w[i] -= lr * (mh / (std::sqrt(vh) + cfg.adam_epsilon) + wd * w[i]);
            }
        }
    }

    void update(param_state& p, const tensor& grad, float lr) {
        if (p.mode == param_mode::clustered) {
            p.clustered.accumulate_gradient(grad.view());
            p.clustered.apply_gradient(lr * cfg.cluster_lr_scale, false);
            return;
        }
        std::span<float> m2 = p.m2.numel() ? p.m2.span<float>() : std::span<float>();
        if (p.lsq) {
            retrain::lsq_grads lg =
                retrain::lsq_backward(p.latent, p.spec, p.scales, p.zero_points, grad);
            for (std::size_t i = 0; i < lg.dscales.size(); ++i)
                if (!std::isfinite(lg.dscales[i]))
                    fail(status::invalid_argument, "trainer: non-finite scale gradient for '" +
                                                       p.name + "' at step " +
                                                       std::to_string(step));
            const std::uint8_t* mk = p.mask.numel() ? p.mask.span<std::uint8_t>().data() : nullptr;
            optimize(p.latent.span<float>(), lg.dw.span<float>(), p.m1.span<float>(), m2, mk, lr,
                     cfg.weight_decay);
            optimize(p.scales, lg.dscales, p.s_m1, p.s_m2, nullptr, lr * cfg.scale_lr_scale, 0.0f);
            for (std::size_t i = 0; i < p.scales.size(); ++i) // scales stay > 0
                p.scales[i] = std::max(p.scales[i], p.scale_floor[i]);
            return;
        }
        const bool masked = p.mask.numel() > 0; // masked, or masked then fake-quantized
        const std::uint8_t* mk = masked ? p.mask.span<std::uint8_t>().data() : nullptr;
        optimize(p.latent.span<float>(), grad.span<float>(), p.m1.span<float>(), m2, mk, lr,
                 cfg.weight_decay);
        if (masked) mask_in_place(p.latent, p.mask);
    }
};

trainer::trainer(trainable_graph graph, const trainer_config& cfg)
    : impl_(std::make_unique<impl>(std::move(graph), cfg)) {
    validate_config(cfg);
    auto& s = *impl_;
    s.graph.set_activation_fake_quant(cfg.activation_bits);
    for (const auto& name : s.graph.parameters()) {
        param_state p;
        p.name = name;
        p.latent = s.graph.weight(name).clone();
        p.m1 = zeros_like(p.latent.dims());
        if (cfg.optimizer == optimizer_kind::adamw) p.m2 = zeros_like(p.latent.dims());
        s.params.push_back(std::move(p));
    }
}
trainer::~trainer() = default;
trainer::trainer(trainer&&) noexcept = default;
trainer& trainer::operator=(trainer&&) noexcept = default;

trainable_graph& trainer::graph() { return impl_->graph; }
const trainer_config& trainer::config() const { return impl_->cfg; }
std::int64_t trainer::steps_done() const { return impl_->step; }

void trainer::set_teacher(const model& teacher) {
    impl_->teacher = std::make_unique<trainable_graph>(teacher);
    impl_->teacher->set_training(false);
}

void trainer::set_mask(const std::string& name, const_tensor_view mask) {
    param_state& p = impl_->find(name);
    if (p.mode != param_mode::plain && p.mode != param_mode::masked)
        fail(status::invalid_argument,
             "trainer::set_mask: '" + name + "' is already clustered or fake-quantized");
    if (!(mask.dims() == p.latent.dims()))
        fail(status::shape_mismatch, "trainer::set_mask: mask " + mask.dims().to_string() +
                                         " for '" + name + "' " + p.latent.dims().to_string());
    tensor m(dtype::u8, mask.dims());
    tensor c = tensor::copy_of(mask);
    auto ms = m.span<std::uint8_t>();
    if (c.type() == dtype::f32) {
        auto v = c.span<float>();
        for (std::size_t i = 0; i < ms.size(); ++i)
            ms[i] = v[i] != 0.0f;
    } else if (c.type() == dtype::u8 || c.type() == dtype::boolean) {
        auto v =
            std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(c.data()), ms.size());
        for (std::size_t i = 0; i < ms.size(); ++i)
            ms[i] = v[i] != 0;
    } else {
        fail(status::dtype_mismatch,
             "trainer::set_mask: the mask of '" + name + "' must be f32, u8 or bool");
    }
    p.mask = std::move(m);
    p.mode = param_mode::masked;
    mask_in_place(p.latent, p.mask);
}

void trainer::set_pruning_schedule(const std::vector<std::string>& names,
                                   const sparsity_schedule& schedule) {
    set_pruning_schedule(names, schedule, pruning_scope{false});
}

void trainer::set_pruning_schedule(const std::vector<std::string>& names,
                                   const sparsity_schedule& schedule, const pruning_scope& scope) {
    schedule.validate();
    if (scope.global) {
        if (!(scope.min_layer_sparsity >= 0 && scope.min_layer_sparsity < 1))
            fail(status::invalid_argument,
                 "trainer::set_pruning_schedule: scope.min_layer_sparsity must be in [0, 1)");
        if (!(scope.max_layer_sparsity >= scope.min_layer_sparsity && scope.max_layer_sparsity < 1))
            fail(status::invalid_argument, "trainer::set_pruning_schedule: "
                                           "scope.max_layer_sparsity must be in [min, 1)");
        if (names.empty())
            fail(status::invalid_argument,
                 "trainer::set_pruning_schedule: a global schedule needs at least one weight");
    }
    for (const auto& n : names) {
        param_state& p = impl_->find(n);
        if (p.mode == param_mode::plain) {
            p.mask = tensor(dtype::u8, p.latent.dims());
            std::fill(p.mask.span<std::uint8_t>().begin(), p.mask.span<std::uint8_t>().end(), 1);
            p.mode = param_mode::masked;
        } else if (p.mask.numel() == 0) {
            fail(status::invalid_argument,
                 "trainer::set_pruning_schedule: '" + n + "' is clustered or fake-quantized");
        }
    }
    impl_->gradual_names = names;
    impl_->schedule = schedule;
    impl_->scope = scope;
}

void trainer::set_clustered(const std::string& name, palettized_tensor clustered) {
    param_state& p = impl_->find(name);
    if (!(clustered.dims() == p.latent.dims()))
        fail(status::shape_mismatch, "trainer::set_clustered: '" + name + "' is " +
                                         p.latent.dims().to_string() + ", the clustered tensor " +
                                         clustered.dims().to_string());
    p.clustered = std::move(clustered);
    p.mode = param_mode::clustered;
}

const palettized_tensor& trainer::clustered(const std::string& name) const {
    param_state& p = impl_->find(name);
    if (p.mode != param_mode::clustered)
        fail(status::not_found, "trainer::clustered: '" + name + "' is not clustered");
    return p.clustered;
}

void trainer::set_fake_quant(const std::string& name, const quant_spec& spec) {
    param_state& p = impl_->find(name);
    if (p.mode == param_mode::clustered)
        fail(status::invalid_argument,
             "trainer::set_fake_quant: '" + name + "' is clustered (its codebook is the weight)");
    validate(spec, p.latent.dims(), name);
    p.spec = spec;
    p.mode = param_mode::fake_quant;
    p.lsq = impl_->cfg.learned_scales;
    if (p.lsq) {
        if (spec.scale_type != dtype::f32)
            fail(status::invalid_argument, "trainer::set_fake_quant: learned scales (LSQ) of '" +
                                               name + "' need spec.scale_type = f32");
        const quantized_tensor rtn = quantizer(quantizer_config{spec}).quantize(p.latent, name);
        p.scales = rtn.scale_values();
        p.zero_points = rtn.zero_point_values();
        p.scale_floor.resize(p.scales.size());
        for (std::size_t i = 0; i < p.scales.size(); ++i)
            p.scale_floor[i] = p.scales[i] * 1e-3f;
        p.s_m1.assign(p.scales.size(), 0.0f);
        p.s_m2.assign(p.scales.size(), 0.0f);
    }
}

quantized_tensor trainer::quantized(const std::string& name) const {
    param_state& p = impl_->find(name);
    if (p.mode != param_mode::fake_quant)
        fail(status::not_found, "trainer::quantized: '" + name + "' is not fake-quantized");
    if (!p.lsq) return quantizer(quantizer_config{p.spec}).quantize(p.latent, name);
    std::vector<std::int32_t> q;
    retrain::lsq_forward(p.latent, p.spec, p.scales, p.zero_points, &q);
    return quantized_tensor::from_values(p.spec, p.latent.dims(), q, p.scales, p.zero_points, name);
}

const tensor& trainer::mask(const std::string& name) const {
    param_state& p = impl_->find(name);
    if (p.mask.numel() == 0) fail(status::not_found, "trainer::mask: '" + name + "' has no mask");
    return p.mask;
}

std::int64_t trainer::plan(std::int64_t n) {
    const std::int64_t per = (n + impl_->cfg.batch_size - 1) / impl_->cfg.batch_size;
    impl_->total_steps = per * impl_->cfg.epochs;
    if (impl_->cfg.max_steps >= 0)
        impl_->total_steps = std::min(impl_->total_steps, impl_->cfg.max_steps);
    return impl_->total_steps;
}

double trainer::step(const_tensor_view x, std::span<const std::int64_t> labels) {
    auto& s = *impl_;
    const bool distill = s.cfg.loss == loss_kind::distillation;
    if (s.cfg.loss == loss_kind::cross_entropy && labels.empty())
        fail(status::invalid_argument, "trainer::step: labels are missing for the cross-entropy "
                                       "loss");
    if ((distill || !s.cfg.distill_values.empty()) && !s.teacher)
        fail(status::invalid_argument,
             "trainer::step: distillation (of logits or values) needs set_teacher()");
    s.apply_schedule();
    s.publish();
    s.graph.set_training(true);
    tensor logits = s.graph.forward(x, true);
    const bool teacher_values = !s.cfg.distill_values.empty();
    tensor t;
    if (distill || teacher_values) t = s.teacher->forward(x, teacher_values);
    loss_result l;
    if (distill) {
        l = distillation_loss(logits, t, labels, s.cfg.temperature, s.cfg.distill_alpha);
    } else if (s.cfg.loss == loss_kind::next_token) {
        if (x.type() != dtype::i64)
            fail(status::dtype_mismatch, "trainer::step: the next-token loss reads token ids "
                                         "(i64 [B, T]) as the input");
        const tensor tokens = tensor::copy_of(x);
        l = next_token_loss(logits, tokens.span<std::int64_t>());
    } else {
        l = cross_entropy_loss(logits, labels);
    }
    // Layer-wise distillation: MSE of each named value against the teacher's.
    std::vector<loss_result> value_losses;
    std::vector<trainable_graph::seed> seeds{{s.graph.plan().outputs().at(0).name, l.dlogits}};
    for (const auto& name : s.cfg.distill_values) {
        value_losses.push_back(mse_loss(s.graph.value(name), s.teacher->value(name)));
        auto& v = value_losses.back();
        for (float& g : v.dlogits.span<float>())
            g *= s.cfg.distill_values_weight;
        l.loss += s.cfg.distill_values_weight * v.loss;
        seeds.push_back({name, v.dlogits});
    }
    if (!std::isfinite(l.loss))
        fail(status::invalid_argument, "trainer: the loss is not finite at step " +
                                           std::to_string(s.step) + " (lower the learning rate)");
    s.graph.backward(seeds);
    const float lr = s.lr_at(s.step);
    for (auto& p : s.params) {
        const tensor& g = s.graph.gradient(p.name);
        for (float v : g.span<float>())
            if (!std::isfinite(v))
                fail(status::invalid_argument, "trainer: non-finite gradient for '" + p.name +
                                                   "' at step " + std::to_string(s.step));
    }
    for (auto& p : s.params)
        s.update(p, s.graph.gradient(p.name), lr);
    ++s.step;
    if (s.cfg.cluster_reassign_every > 0 && s.step % s.cfg.cluster_reassign_every == 0)
        for (auto& p : s.params)
            if (p.mode == param_mode::clustered) {
                // TFMOT-style: latent = current tied weights; centroids re-sorted, indices
                // re-mapped (a no-op unless centroids crossed).
                tensor w = p.clustered.dequantize();
                p.clustered.reassign(w);
            }
    return l.loss;
}

namespace {
std::vector<std::int64_t> data_order(std::int64_t n, const trainer_config& cfg, int epoch) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
        order[std::size_t(i)] = i;
    if (cfg.shuffle) {
        // Fisher–Yates with a fixed generator: the same order on every platform
        std::mt19937_64 rng(cfg.seed ^ (0x9E3779B97F4A7C15ull * std::uint64_t(epoch + 1)));
        for (std::int64_t i = n - 1; i > 0; --i) {
            const std::int64_t j = std::int64_t(rng() % std::uint64_t(i + 1));
            std::swap(order[std::size_t(i)], order[std::size_t(j)]);
        }
    }
    return order;
}

shape sample_shape_of(const dataset& data) {
    std::vector<std::int64_t> d(data.inputs().dims().dims().begin() + 1,
                                data.inputs().dims().dims().end());
    return shape(std::span<const std::int64_t>(d.data(), d.size()));
}

void check_data(const dataset& data, const trainer_config& cfg) {
    const bool needs_labels = cfg.loss == loss_kind::cross_entropy ||
                              (cfg.loss == loss_kind::distillation && cfg.distill_alpha < 1);
    if (needs_labels && !data.has_labels())
        fail(status::invalid_argument,
             "trainer: dataset '" + data.name() + "' has no labels for the labelled loss");
    if (data.inputs().type() != dtype::f32 && data.inputs().type() != dtype::i64)
        fail(status::dtype_mismatch, "trainer: dataset inputs must be f32 (or i64 token ids)");
}
} // namespace

void trainer::begin(const dataset& data) {
    check_data(data, impl_->cfg);
    plan(data.size());
    impl_->run_data = &data;
    impl_->run_order = data_order(data.size(), impl_->cfg, impl_->epoch);
    impl_->run_cursor = 0;
}

std::optional<train_progress> trainer::next_step() {
    auto& s = *impl_;
    if (!s.run_data) fail(status::invalid_argument, "trainer::next_step: begin() was not called");
    const dataset& data = *s.run_data;
    if (s.cfg.max_steps >= 0 && s.step >= s.cfg.max_steps) return std::nullopt;
    if (s.run_cursor >= data.size()) {
        ++s.epoch;
        if (s.epoch >= s.cfg.epochs) return std::nullopt;
        s.run_order = data_order(data.size(), s.cfg, s.epoch);
        s.run_cursor = 0;
    }
    const std::int64_t b = s.run_cursor, e = std::min(data.size(), b + s.cfg.batch_size);
    std::span<const std::int64_t> idx(s.run_order.data() + b, std::size_t(e - b));
    tensor x = batch_of(data, idx, sample_shape_of(data));
    std::vector<std::int64_t> labels;
    if (data.has_labels())
        for (auto i : idx)
            labels.push_back(data.labels()[std::size_t(i)]);
    const double l = step(x, labels);
    s.run_cursor = e;
    return train_progress{s.epoch, s.step, s.total_steps, l, s.lr_at(s.step - 1)};
}

epoch_report trainer::train_epoch(const dataset& data, const progress_callback& progress) {
    auto& s = *impl_;
    check_data(data, s.cfg);
    const std::int64_t n = data.size();
    if (s.total_steps == 0) plan(n);
    const std::vector<std::int64_t> order = data_order(n, s.cfg, s.epoch);
    const shape sample = sample_shape_of(data);
    epoch_report rep;
    rep.epoch = s.epoch;
    double sum = 0;
    std::vector<std::int64_t> labels;
    for (std::int64_t b = 0; b < n; b += s.cfg.batch_size) {
        if (s.cfg.max_steps >= 0 && s.step >= s.cfg.max_steps) {
            rep.stopped = true;
            break;
        }
        const std::int64_t e = std::min(n, b + s.cfg.batch_size);
        std::span<const std::int64_t> idx(order.data() + b, std::size_t(e - b));
        tensor x = batch_of(data, idx, sample);
        labels.clear();
        if (data.has_labels())
            for (auto i : idx)
                labels.push_back(data.labels()[std::size_t(i)]);
        const double l = step(x, labels);
        sum += l;
        ++rep.steps;
        if (progress) {
            train_progress p{s.epoch, s.step, s.total_steps, l, s.lr_at(s.step - 1)};
            if (!progress(p)) {
                rep.stopped = true;
                break;
            }
        }
    }
    rep.mean_loss = rep.steps ? sum / double(rep.steps) : 0.0;
    ++s.epoch;
    return rep;
}

std::vector<epoch_report> trainer::fit(const dataset& data, const progress_callback& progress) {
    plan(data.size());
    std::vector<epoch_report> r;
    for (int e = 0; e < impl_->cfg.epochs; ++e) {
        r.push_back(train_epoch(data, progress));
        if (r.back().stopped) break;
    }
    return r;
}

namespace {
double accuracy_of(trainable_graph& g, const dataset& data, std::int64_t batch_size) {
    if (!data.has_labels())
        fail(status::invalid_argument, "evaluate: dataset '" + data.name() + "' has no labels");
    if (batch_size < 1) fail(status::invalid_argument, "evaluate: batch_size must be ≥ 1");
    g.set_training(false);
    std::vector<std::int64_t> d(data.inputs().dims().dims().begin() + 1,
                                data.inputs().dims().dims().end());
    const shape sample(std::span<const std::int64_t>(d.data(), d.size()));
    std::int64_t correct = 0;
    std::vector<std::int64_t> idx;
    for (std::int64_t b = 0; b < data.size(); b += batch_size) {
        const std::int64_t e = std::min(data.size(), b + batch_size);
        idx.clear();
        for (std::int64_t i = b; i < e; ++i)
            idx.push_back(i);
        tensor x = batch_of(data, idx, sample);
        tensor y = g.forward(x, false);
        const std::int64_t k = y.dims()[1];
        const float* yp = y.span<float>().data();
        for (std::int64_t i = 0; i < e - b; ++i) {
            const float* row = yp + i * k;
            const auto arg = std::max_element(row, row + k) - row;
            correct += arg == data.labels()[std::size_t(b + i)];
        }
    }
    g.set_training(true);
    return data.size() ? double(correct) / double(data.size()) : 0.0;
}
} // namespace

double trainer::evaluate(const dataset& data, std::int64_t batch_size) {
    impl_->publish();
    return accuracy_of(impl_->graph, data, batch_size);
}

void trainer::write_back(model& m) {
    impl_->publish();
    impl_->graph.write_back(m);
}

double evaluate_accuracy(const model& m, const dataset& data, std::int64_t batch_size) {
    trainable_graph g(m);
    return accuracy_of(g, data, batch_size);
}

model make_mlp(const std::vector<std::int64_t>& widths, std::uint64_t seed) {
    if (widths.size() < 2)
        fail(status::invalid_argument, "make_mlp: need at least input and output widths");
    for (auto w : widths)
        if (w < 1) fail(status::invalid_argument, "make_mlp: widths must be ≥ 1");
    model m;
    m.graph_name = "mlp";
    m.producer_name = "hone";
    m.inputs.push_back(
        value_info{"input", dtype::f32, {dimension{-1, "batch"}, dimension{widths[0], {}}}, true});
    m.outputs.push_back(value_info{
        "logits", dtype::f32, {dimension{-1, "batch"}, dimension{widths.back(), {}}}, true});
    std::mt19937_64 rng(seed);
    std::string prev = "input";
    for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
        const std::int64_t in = widths[l], out = widths[l + 1];
        const std::string fc = "fc" + std::to_string(l + 1);
        tensor w(dtype::f32, shape{out, in});
        const double bound = std::sqrt(6.0 / double(in)); // He-uniform
        std::uniform_real_distribution<double> u(-bound, bound);
        for (float& v : w.span<float>())
            v = float(u(rng));
        m.set_weight(fc + ".weight", std::move(w));
        m.set_weight(fc + ".bias", zeros_like(shape{out}));
        node g;
        g.name = fc;
        g.op_type = "Gemm";
        g.inputs = {prev, fc + ".weight", fc + ".bias"};
        const bool last = l + 2 == widths.size();
        g.outputs = {last ? std::string("logits") : fc + "_out"};
        g.attributes["transB"] = attribute::of_int(1);
        m.nodes.push_back(std::move(g));
        if (!last) {
            node r;
            r.name = "relu" + std::to_string(l + 1);
            r.op_type = "Relu";
            r.inputs = {fc + "_out"};
            r.outputs = {r.name + "_out"};
            prev = r.outputs[0];
            m.nodes.push_back(std::move(r));
        }
    }
    validate(m);
    return m;
}

} // namespace hone
