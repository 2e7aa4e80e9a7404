// hone/graph/trainer.hpp — fine-tuning and training from scratch without a Python framework,
// on the executor's own operators (hone/graph/trainable_graph.hpp: the forward is the
// executor's plan, the backward walks its recorded values; losses in hone/retrain/loss.hpp).
//
// trainer: mini-batch SGD with momentum or AdamW, learning-rate schedules (constant, cosine,
// step), a fixed seed and deterministic data order (Fisher–Yates shuffle of the sample indices
// from the seed and the epoch), cross-entropy with labels or knowledge distillation from a
// teacher (T²-scaled KL of temperature-softened logits, optionally mixed with cross-entropy).
// Optimization-aware fine-tuning, per weight:
//   - set_mask / set_pruning_schedule: prune-aware (the gradient is masked, the weights are
//     re-masked after every step: pruned weights stay exactly +0); a gradual schedule
//     (hone/prune/schedule.hpp) recomputes magnitude masks at its steps;
//   - set_clustered: cluster-aware (the weight is the palettized_tensor's dequantized value;
//     each centroid moves by −lr·Σ of its members' gradients through palettized_tensor's
//     accumulate_gradient/apply_gradient, Deep Compression; optional reassignment);
//   - set_fake_quant: quantization-aware (the forward uses quantizer RTN quantize→dequantize of
//     the latent weights per the quant_spec; straight-through estimator to the latent weights;
//     with trainer_config::learned_scales the scales are trained too, LSQ);
//     activations: trainer_config::activation_bits fake-quantizes the activation inputs of
//     Gemm/MatMul/Conv (per-tensor asymmetric, range tracked by an EMA of batch min/max,
//     STE with the gradient zeroed outside the range).
// Non-finite loss or gradients stop the run with hone::error(invalid_argument) naming the step.
// Deterministic: same model, data, config and seed → identical weights.
#pragma once

#include "hone/cluster/clusterer.hpp"
#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/data/dataset.hpp"
#include "hone/graph/trainable_graph.hpp"
#include "hone/model/model.hpp"
#include "hone/prune/schedule.hpp"
#include "hone/quantize/quant_spec.hpp"
#include "hone/quantize/quantized_tensor.hpp"
#include "hone/retrain/loss.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hone {

// ---- trainer ----------------------------------------------------------------------------------

enum class optimizer_kind { sgd = 0, adamw = 1 };
enum class lr_schedule { constant = 0, cosine = 1, step = 2 };
/// cross_entropy: labels; distillation: the teacher's logits (KL, any rank: a language model's
/// [B, T, V] too), plus labels when distill_alpha < 1; next_token: a language model's
/// next-token cross-entropy on its own input rows (token ids [B, T], no labels).
enum class loss_kind { cross_entropy = 0, distillation = 1, next_token = 2 };

struct trainer_config {
    int epochs = 1;
    std::int64_t batch_size = 64;
    std::uint64_t seed = 0; ///< data order (and nothing else: no random init here)
    bool shuffle = true;
    optimizer_kind optimizer = optimizer_kind::sgd;
    float learning_rate = 0.01f;
    float momentum = 0.9f;      ///< SGD
    float beta1 = 0.9f;         ///< AdamW
    float beta2 = 0.999f;       ///< AdamW
    float adam_epsilon = 1e-8f; ///< AdamW
    float weight_decay = 0.0f;  ///< decoupled (AdamW) / L2 added to the gradient (SGD)
    lr_schedule schedule = lr_schedule::constant;
    std::int64_t step_size = 1000; ///< step schedule: lr·gamma^⌊step/step_size⌋
    float gamma = 0.1f;
    float min_learning_rate = 0.0f; ///< cosine floor
    loss_kind loss = loss_kind::cross_entropy;
    float temperature = 4.0f;                ///< distillation
    float distill_alpha = 1.0f;              ///< distillation weight; 1 − alpha on the label loss
    float cluster_lr_scale = 1.0f;           ///< centroid step = lr·scale·Σ member gradients
    std::int64_t cluster_reassign_every = 0; ///< 0: never; else every n steps (TFMOT style)
    int activation_bits = 0;                 ///< QAT activation fake-quant (0 = off)
    std::int64_t max_steps = -1; ///< stop after this many steps in total (−1: no limit)
    /// QAT with learned step sizes (LSQ, Esser et al. 2020; hone/retrain/lsq.hpp): the
    /// scales of every set_fake_quant weight (f32 scales required) start from the RTN scales and
    /// train by the LSQ gradient with the gradient scale 1/√(N·Qp); zero points stay fixed. The
    /// latent weights get the STE gradient, zeroed where clipped.
    bool learned_scales = false;
    float scale_lr_scale = 1.0f; ///< LSQ: the scales' learning rate = lr·this (no weight decay)
    /// Layer-wise distillation (needs a teacher with values of these names, e.g. the baseline
    /// of the same graph): each named intermediate value adds
    /// distill_values_weight · MSE(student value, teacher value) to the loss, its gradient
    /// entering the backward pass at that value.
    std::vector<std::string> distill_values;
    float distill_values_weight = 1.0f;
};

/// How a gradual pruning schedule ranks weights (trainer::set_pruning_schedule).
struct pruning_scope {
    bool global = true;               ///< one magnitude threshold over all the scheduled weights
    double min_layer_sparsity = 0.0;  ///< global: each weight keeps at least this sparsity
    double max_layer_sparsity = 0.99; ///< global: and at most this (< 1: never emptied)
};

struct train_progress {
    int epoch = 0;
    std::int64_t step = 0;        ///< global step (after it ran)
    std::int64_t total_steps = 0; ///< planned
    double loss = 0;              ///< this step's loss
    float learning_rate = 0;
};
/// Return false to stop the run after this step.
using progress_callback = std::function<bool(const train_progress&)>;

struct epoch_report {
    int epoch = 0;
    std::int64_t steps = 0;
    double mean_loss = 0;
    bool stopped = false; ///< the callback or max_steps stopped it
};

class HONE_EXPORT trainer {
public:
    /// Takes the graph to train (it owns it) and the configuration (validated: throws
    /// invalid_argument naming the field).
    trainer(trainable_graph graph, const trainer_config& cfg);
    ~trainer();
    trainer(trainer&&) noexcept;
    trainer& operator=(trainer&&) noexcept;

    trainable_graph& graph();
    const trainer_config& config() const;

    /// Distillation teacher (required for loss_kind::distillation; forward only).
    void set_teacher(const model& teacher);
    /// Prune-aware: `mask` (f32 0/1, the weight's shape) stays applied; the weight is masked now.
    void set_mask(const std::string& name, const_tensor_view mask);
    /// Gradual magnitude pruning of `names` by `schedule` (global step); masks stay applied.
    /// Each weight is pruned to the schedule's sparsity on its own (per-layer magnitude).
    void set_pruning_schedule(const std::vector<std::string>& names,
                              const sparsity_schedule& schedule);
    /// The same with one global magnitude threshold over all `names` (prune_global,
    /// hone/prune/pruner.hpp): at each pruning step exactly round(s·N) of the N weights of
    /// `names` together are masked, s = the schedule's sparsity, each weight's own sparsity kept
    /// within [scope.min_layer_sparsity, scope.max_layer_sparsity] (scope.global = false gives
    /// the per-layer behaviour of the overload above).
    void set_pruning_schedule(const std::vector<std::string>& names,
                              const sparsity_schedule& schedule, const pruning_scope& scope);
    /// Cluster-aware: the weight is tied to `clustered` (its shape); centroids train.
    void set_clustered(const std::string& name, palettized_tensor clustered);
    const palettized_tensor& clustered(const std::string& name) const;
    /// Quantization-aware: forward with RTN fake-quant of the weight per `spec`, STE backward
    /// (with config().learned_scales: LSQ, the scales train; see trainer_config). A weight with
    /// a mask (set_mask / set_pruning_schedule first) keeps it: pruned weights stay exactly zero
    /// in the fake-quantized forward and in write_back. Throws invalid_argument for a clustered
    /// weight.
    void set_fake_quant(const std::string& name, const quant_spec& spec);
    /// The quantized form of a fake-quantized weight, for the normal quantized path (e.g.
    /// qdq_options::weights): RTN of the latent weights, or with learned scales the trained
    /// scales and the integers the forward uses. Its dequantize() is bit-identical to the
    /// weight the forward uses and write_back() writes. Throws not_found for other weights.
    quantized_tensor quantized(const std::string& name) const;
    /// The mask of a prune-aware weight (throws not_found).
    const tensor& mask(const std::string& name) const;

    /// Planned steps for a dataset of n samples (sets the schedule horizon).
    std::int64_t plan(std::int64_t n);
    /// One optimizer step on a batch (x: the graph input batch; labels may be empty for pure
    /// distillation). Returns the loss. Throws on a non-finite loss or gradient.
    double step(const_tensor_view x, std::span<const std::int64_t> labels);
    /// One epoch over `data` (samples reshaped to the graph input by their count).
    epoch_report train_epoch(const dataset& data, const progress_callback& progress = {});
    /// Runs config().epochs epochs.
    std::vector<epoch_report> fit(const dataset& data, const progress_callback& progress = {});
    std::int64_t steps_done() const;

    /// Starts a stepped run over `data` (it must outlive the run; labels required unless the
    /// loss is pure distillation): next_step() then runs one mini-batch at a time, in the same
    /// order as fit().
    void begin(const dataset& data);
    /// One mini-batch of the stepped run; std::nullopt when every epoch (or max_steps) is done.
    std::optional<train_progress> next_step();

    /// Top-1 accuracy of the graph's effective weights on `data` (labels required).
    double evaluate(const dataset& data, std::int64_t batch_size = 256);
    /// The weights the forward uses (masked, clustered, fake-quantized) written into m.
    void write_back(model& m);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Top-1 accuracy of a model on a labelled dataset through trainable_graph's forward (the
/// executor's plan).
HONE_EXPORT double evaluate_accuracy(const model& m, const dataset& data,
                                     std::int64_t batch_size = 256);

/// A Fashion-MNIST-shaped MLP from scratch: Gemm(transB=1) + Relu layers of `widths`
/// (e.g. {784, 256, 128, 10}), He-uniform weights from `seed`, zero biases; input "input",
/// output "logits".
HONE_EXPORT model make_mlp(const std::vector<std::int64_t>& widths, std::uint64_t seed);

} // namespace hone
