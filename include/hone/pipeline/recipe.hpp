// hone/pipeline/recipe.hpp — what `hone optimize` does to a model, as a typed object: built-in
// presets, recipe JSON in and out (parse_recipe / recipe::to_json round-trip), and the methods
// as the library's own enums (their JSON names: name_of / the parse functions below).
//
// A recipe selects layers (Gemm, MatMul, Conv, ConvTranspose with constant weights; by name
// glob and/or op type, minus exclusions), applies its steps to each selected layer in order (prune,
// cluster, quantize), may override step parameters per layer (by name glob), and says how the
// candidate runs (f32, int8 dynamic, int8 static with calibrated activation ranges). A last
// `finetune` step retrains the whole candidate after the one-shot steps (hone/graph/trainer.hpp),
// keeping their masks, codebooks and quantization grids. The JSON schema is in docs/cli.md
// ("Recipes"); examples/recipes/ holds example files.
#pragma once

#include <hone/core/export.hpp>

#include <hone/cluster/clusterer.hpp>
#include <hone/graph/executor.hpp>
#include <hone/graph/trainer.hpp>
#include <hone/prune/pruner.hpp>
#include <hone/quantize/calibrator.hpp>
#include <hone/quantize/quant_spec.hpp>
#include <hone/quantize/quantizer.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hone::pipeline {

struct HONE_EXPORT recipe_step {
    enum class kind { prune, cluster, quantize };
    kind what = kind::quantize;
    /// The op types the step applies to (empty: every selected layer). A selected layer no step
    /// applies to keeps its weights and runs in the recipe's execution precision.
    std::vector<std::string> op_types;
    // prune
    prune_method pruning = prune_method::sparsegpt; ///< "sparsegpt", "wanda", "magnitude"
    double sparsity = 0.5;
    int n = 0, m = 0; ///< N:M when n > 0
    // cluster
    int clusters = 16;
    kmeans_method clustering = kmeans_method::optimal; ///< "optimal", "lloyd", "auto"
    // quantize
    int bits = 8;
    /// "per_channel", "per_group", "per_tensor"
    quant_granularity granularity = quant_granularity::per_channel;
    std::int64_t group_size = 128; ///< per_group (a divisor of K is chosen if needed)
    /// "rtn", "clip_search", "gptq", "awq" (AWQ's scales searched per group of Gemm/MatMul
    /// layers that share an input and folded into its producer as `smoothing` folds, then RTN;
    /// a group whose input cannot take them is plain RTN; the ledger's recipe `awq_result`)
    weight_method quantizing = weight_method::rtn;
    /// GPTQ: columns in order of decreasing Hessian diagonal, group scales fixed from the
    /// weights first (JSON "act_order", default false).
    bool act_order = false;
};

/// The JSON names of the methods a recipe takes (as in the table above).
HONE_EXPORT std::string_view name_of(prune_method m);
HONE_EXPORT std::string_view name_of(kmeans_method m);
HONE_EXPORT std::string_view name_of(quant_granularity g);
HONE_EXPORT std::string_view name_of(weight_method m);
/// "auto", "min_max", "percentile", "entropy", "mse" (the calibrations a recipe takes).
HONE_EXPORT std::string_view name_of(calib_method m);
/// A finetune step's JSON names: "sgd" / "adamw", "constant" / "cosine" / "step", "ce" /
/// "distill".
HONE_EXPORT std::string_view name_of(optimizer_kind k);
HONE_EXPORT std::string_view name_of(lr_schedule s);
HONE_EXPORT std::string_view name_of(loss_kind k);

/// The parameters of a training run: a recipe's `finetune` step and `hone train`'s options.
struct HONE_EXPORT finetune_params {
    int epochs = 3;
    std::int64_t batch = 128;
    optimizer_kind optimizer = optimizer_kind::adamw; ///< "sgd" (momentum 0.9), "adamw"
    double lr = 1e-3;                                 ///< initial learning rate
    lr_schedule schedule = lr_schedule::cosine; ///< "constant", "cosine", "step" (×0.1 / 1,000)
    double weight_decay = 0.0;                  ///< decoupled (AdamW) / L2 (SGD)
    /// "ce" (labels), "distill" (the baseline as teacher; labels too when alpha < 1)
    loss_kind loss = loss_kind::distillation;
    double temperature = 4.0;      ///< distill
    double alpha = 1.0;            ///< distill: weight of the KL term; 1 − alpha on labels
    std::uint64_t seed = 0;        ///< data order
    double cluster_lr_scale = 1.0; ///< clustered weights: centroid step = lr·scale·Σ grads
    std::string data;              ///< a data spec; empty = the calibration data
    /// Gradual magnitude pruning during the run (JSON "prune"; hone/prune/schedule.hpp, the
    /// schedule's and pruning_scope's field names): trainer::set_pruning_schedule over the
    /// selected layers that the one-shot steps leave f32 or pruned (clustered and quantized
    /// layers keep their constraints). A prune step before it gives the starting masks: its
    /// zeros are the smallest magnitudes, so they stay pruned as the schedule rises (a layer
    /// pruned beyond the schedule's first target is refused). The run must reach end_step, so
    /// the candidate ends at final_sparsity (global: of all the scheduled weights together).
    std::optional<sparsity_schedule> prune;
    pruning_scope prune_scope; ///< JSON "global", "min_layer_sparsity", "max_layer_sparsity"
    bool needs_labels() const { return loss == loss_kind::cross_entropy || alpha < 1.0; }
    /// Validates every field (invalid_argument naming `where` and the field) and maps it.
    trainer_config config(std::string_view where = "finetune.") const;
    nlohmann::json to_json() const;
};

/// Reads the members of a `finetune` object into p (unknown members and bad values are errors
/// naming `source` and `where`).
HONE_EXPORT void parse_finetune(finetune_params& p, const nlohmann::json& j,
                                std::string_view source, std::string_view where);

/// Accuracy-aware search (Intel Neural Compressor's and NNCF's lead strategy): when the candidate
/// loses more than `tolerable_drop` on the ranking data, each selected layer's contribution to the
/// loss is measured (the candidate with only that layer kept at higher precision), and the layers
/// are kept one by one, largest contribution first, until the bound holds. "Kept" is f32 by
/// default (`keep_bits` 32), or `keep_bits`-bit weights (2…8, more than every quantize step's
/// bits: an int4 recipe can keep its sensitive layers at 8 bits instead of f32). The ranking data
/// are the first `ranking_samples` calibration samples (their labels; without labels, the
/// baseline's top-1 answers): the evaluation data stay a held-out check of the result. Every
/// trial is recorded (the ledger's recipe, the report). The found layers end up in the recipe's
/// `layers.exclude` (f32) or as per-layer quantize overrides with `keep_bits`, so the recipe
/// recorded reproduces the candidate without searching.
/// Cost: one candidate per selected layer plus one per layer kept, each built and run on the
/// ranking data.
struct HONE_EXPORT accuracy_search {
    double tolerable_drop = 0.01;        ///< accuracy points as a fraction (0.003 = 0.3 points)
    bool relative = false;               ///< drop relative to the baseline's accuracy
    std::int64_t ranking_samples = 1000; ///< ≥ 1
    int max_trials = 64;                 ///< candidates built at most (the first included)
    int keep_bits = 32;                  ///< precision of a kept layer: 32 = f32, else 2…8 bits
    nlohmann::json to_json() const;
};

/// Mixed precision under a budget (like llama.cpp's target bits per weight, but driven by data):
/// each selected layer gets one of `choices` (bits of the recipe's quantize step, a palette of
/// `palettes` entries, or f32) so that
/// the selected layers' weights take at most `bits_per_weight` on average (hone's packed size:
/// values, scales and zero points; f32 counts 32) and the summed output noise is smallest.
/// A layer's noise under a choice is measured: the candidate with only that layer changed, run
/// on the first `ranking_samples` calibration samples, Σ(y − y₀)² / Σ y₀² of the model's output
/// against the baseline's (noise from separate layers adds, to first order). The choices are
/// written into the recipe as per-layer overrides (f32: excluded), so the recorded recipe
/// rebuilds the candidate. Cost: one candidate per layer and choice. Needs a quantize step.
/// With `file_bytes`, the target is the deployable file instead: a choice costs what it adds to
/// the file as shipped (each trial's file bytes, less those of the f32 model with
/// BatchNormalization folded, plus the layer's f32 bytes); the chosen candidate's file is then
/// built and, while it is larger than the target (per-file overheads the estimate splits across
/// layers), the budget shrinks by the excess and the allocation is redone, four times at most.
struct HONE_EXPORT precision_budget {
    double bits_per_weight = 4.5;            ///< > 0; not used when file_bytes is set
    std::optional<std::uint64_t> file_bytes; ///< the deployable file's size at most, > 0
    std::vector<int> choices = {8, 4}; ///< quantize bits (2…8) besides f32, which is implied
    /// Palettes offered too: cluster counts (2…256); a layer given one gets the recipe's steps
    /// replaced by a cluster step of that many entries (an override's `steps`).
    std::vector<int> palettes;
    std::int64_t ranking_samples = 1000; ///< ≥ 1
    nlohmann::json to_json() const;
};

/// SmoothQuant with its scales folded into the model (Xiao et al. 2022), before W8A8: for the
/// selected Gemm/MatMul layers that read one activation X (q, k and v; gate and up) produced by
/// a normalization's scale — a Mul by a constant vector (RMSNorm as exported) or a
/// LayerNormalization's scale and bias — and read by nothing else, per input channel j
///   s_j = max|X_j|^α / max|W_j|^(1−α)   (W: the group's weights side by side)
/// the normalization's scale (and bias) is divided by s and every weight column j multiplied by
/// s_j, so the f32 model computes the same function while X loses its outlier channels. α is
/// given, or searched on the grid 0, 0.05, …, 1 by the group's W8A8 output error on the
/// calibration data (hone/quantize/smooth_quant.hpp); a group is left as it is when smoothing
/// does not lower that error. Needs execution int8-static. What each group got is recorded
/// (the ledger's recipe `smooth_quant_result`, the report).
struct HONE_EXPORT smoothing {
    std::optional<float> alpha; ///< in [0, 1]; nullopt = search ("alpha": "search" or absent)
    nlohmann::json to_json() const;
};

struct HONE_EXPORT recipe_override {
    std::string pattern; ///< layer name glob
    bool exclude = false;
    nlohmann::json step_params = nlohmann::json::object(); ///< {"prune": {...}, ...}
    /// When not empty, replaces the steps a matching layer gets from the recipe (before
    /// step_params apply): e.g. a palette for one layer of a quantizing recipe. JSON "steps".
    std::vector<recipe_step> steps;
};

struct HONE_EXPORT recipe {
    std::string name;
    exec_precision execution = exec_precision::f32;
    calib_method calibration = calib_method::auto_select; ///< activation ranges (int8 static)
    std::vector<std::string> include;                     ///< name globs; empty = every layer
    std::vector<std::string> op_types = {"Gemm", "MatMul", "Conv", "ConvTranspose"};
    std::vector<std::string> exclude; ///< name globs
    std::vector<recipe_step> steps;
    std::vector<recipe_override> overrides;
    /// Sequential calibration (JSON "sequential", default true): GPTQ, SparseGPT and Wanda see
    /// each layer's inputs as the candidate computes them with the layers before it already
    /// changed (layers reading one input are calibrated together); false: every layer's inputs
    /// observed once on the baseline.
    bool sequential = true;
    /// SmoothQuant with folding before the steps (JSON "smooth_quant"; see smoothing).
    std::optional<smoothing> smooth_quant;
    /// An int8 KV cache (JSON "kv_cache": "int8"; default "f32"): the keys and values the
    /// attention products read (input B of every MatMul of two activations) go through a
    /// static per-tensor 8-bit grid (MinMax on the calibration data), as an int8 KV cache
    /// stores them; the deployable ONNX carries them as QuantizeLinear/DequantizeLinear pairs,
    /// so hone's validation and other engines see that precision. Needs an ONNX artifact.
    bool kv_cache_int8 = false;
    /// A last `finetune` step: the whole candidate is retrained after the one-shot steps.
    std::optional<finetune_params> finetune;
    /// Keep the layers that cost most accuracy in f32 until a bound holds (accuracy_search).
    std::optional<accuracy_search> search;
    /// Choose each layer's precision under a size budget (precision_budget).
    std::optional<precision_budget> budget;

    /// Whether a step needs the layers' calibration inputs (GPTQ, SparseGPT, Wanda).
    bool needs_layer_inputs() const;
    /// The steps for the layer `layer` (overrides applied); nullopt when the layer is excluded.
    /// Patterns (include, exclude, overrides) are globs, or "@first" / "@last": the first /
    /// last layer of the model whose op type the recipe selects (`first`, `last`; empty when
    /// not known), so a recipe can keep them in f32 as the peers' tools do.
    std::optional<std::vector<recipe_step>> steps_for(std::string_view layer,
                                                      std::string_view op_type,
                                                      std::string_view first = {},
                                                      std::string_view last = {}) const;
    nlohmann::json to_json() const;
};

/// Preset names, in the order `hone optimize --help` lists them.
HONE_EXPORT const std::vector<std::string>& recipe_presets();
/// A preset by name, a recipe JSON file, or recipe JSON text (starting with '{'). Throws
/// invalid_argument (unknown preset, bad field), io_error (unreadable file), format_error
/// (malformed JSON) naming the recipe and field.
HONE_EXPORT recipe load_recipe(std::string_view name_or_file);
/// Parses recipe JSON text; `source` names it in errors.
HONE_EXPORT recipe parse_recipe(std::string_view text, std::string_view source);
/// Shell-style glob: `*` any run, `?` one character.
HONE_EXPORT bool glob_match(std::string_view pattern, std::string_view text);

} // namespace hone::pipeline
