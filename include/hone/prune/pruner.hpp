// hone/prune/pruner.hpp — pruning: magnitude (per layer and global), N:M, block, structured
// channels, Wanda and SparseGPT, masks for fine-tuning.
//
// Layout. A weight tensor is read as a row-major matrix [rows, K]: rows = dims[0] (output
// channels: nn.Linear / ONNX Gemm transB=1 weights [out, in], conv filters [Cout, Cin, kh, kw]),
// K = numel / rows (the reduction axis, flattened: Cin·kh·kw for a conv). Every function takes
// f32 contiguous tensors and works in place on the weights unless it says otherwise.
//
// Masks are u8 (or bool) tensors of the weights' shape, 1 = kept, 0 = pruned, as the kernel layer
// defines them (hone/kernels/sparsity.hpp); pruned weights are written as +0.0f and kept ones
// stay bit-identical (except after SparseGPT, which updates the kept weights on purpose).
//
// Exact counts. A sparsity s ∈ [0, 1) prunes exactly round_half_up(s·n) of n weights (n = the
// tensor, the row, the block set or the channel count the function ranks over). Ties are broken
// by position: among equal scores the entry with the LOWER flat index is kept, so results are
// the same bytes at any thread count and on every SIMD tier.
//
// Errors (hone::error, message naming the tensor/layer given as `name`): invalid_argument for a
// sparsity outside [0, 1), N ≥ M or N < 1, M not dividing K, blocks not dividing the shape, NaN
// weights or scores (with their position), unsatisfiable bounds; shape_mismatch for a mask,
// norm vector, Hessian or consumer that does not fit; dtype_mismatch for non-f32 weights or a
// mask that is neither u8 nor bool.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

/// Number of weights pruned out of n at sparsity s: ⌊s·n + ½⌋ (validates s ∈ [0, 1)).
HONE_EXPORT std::int64_t pruned_count(double sparsity, std::int64_t n, std::string_view name = {});

/// What a pruning call did.
struct prune_report {
    std::int64_t total = 0;  ///< weights considered
    std::int64_t pruned = 0; ///< weights set to zero by this call (mask = 0)
    float threshold = 0.0f;  ///< magnitude/score of the weakest kept weight (+inf: none kept)
    double sparsity() const noexcept { return total ? double(pruned) / double(total) : 0.0; }
};

// ---- unstructured magnitude ---------------------------------------------------------------------

/// Prunes the round(s·n) weights of smallest |w| (ties: the higher flat index goes first) in
/// place; writes the mask when `mask` is given (u8/bool, weights' shape). O(n): a radix select,
/// no sort.
HONE_EXPORT prune_report prune_magnitude(tensor_view weights, double sparsity,
                                         tensor_view mask = {}, std::string_view name = "weights");

/// One layer of a global magnitude pruning.
struct global_layer {
    std::string name;            ///< named in errors and reports
    tensor_view weights;         ///< f32 contiguous, pruned in place
    double min_sparsity = 0.0;   ///< at least ⌈min·n⌉ weights pruned in this layer
    double max_sparsity = 0.999; ///< at most ⌊max·n⌋ (must be < 1: a layer is never emptied)
    tensor_view mask{};          ///< optional: receives the layer's mask
};

/// Global magnitude pruning: exactly round(s·N) of the N weights of all layers are pruned, by one
/// threshold on |w| shared by every layer (the layers as if concatenated in the given order; at
/// the threshold, later positions go first), except that each layer's count is clamped to its
/// [min, max] bounds — the deficit or surplus is taken by the other layers at the same
/// threshold. Throws invalid_argument when Σ min > round(s·N) or Σ max < round(s·N).
/// Returns one report per layer.
HONE_EXPORT std::vector<prune_report> prune_global(std::span<global_layer> layers, double sparsity);

// ---- N:M and blocks
// -------------------------------------------------------------------------------

/// N:M semi-structured magnitude pruning: in every group of M consecutive weights along the
/// reduction axis K exactly N are kept (2:4, 4:8, 1:4, any 1 ≤ N < M ≤ 32; M must divide K).
HONE_EXPORT prune_report prune_n_m(tensor_view weights, int n, int m, tensor_view mask = {},
                                   std::string_view name = "weights");

/// Importance measure for blocks and channels.
enum class importance : std::uint8_t {
    l1 = 0,                  ///< Σ |w|
    l2 = 1,                  ///< √(Σ w²)
    activation_weighted = 2, ///< Σ_k |w_k|·‖X_k‖₂ (input activation norms needed)
};

/// Block sparsity: the [rows, K] matrix is tiled into block_rows × block_cols blocks (both must
/// divide their axis); round(s·blocks) whole blocks of least importance (l1 or l2 of the block)
/// are zeroed. Ties: the later block (row-major block order) goes first.
HONE_EXPORT prune_report prune_blocks(tensor_view weights, std::int64_t block_rows,
                                      std::int64_t block_cols, double sparsity,
                                      importance kind = importance::l2, tensor_view mask = {},
                                      std::string_view name = "weights");

// ---- structured: output channels
// ------------------------------------------------------------------

struct channel_prune_config {
    double sparsity = 0.5; ///< fraction of output channels (rows) removed: round(s·rows)
    importance kind = importance::l2;
    /// Input activation norms ‖X_k‖₂ for activation_weighted: K entries, or Cin entries for a
    /// conv [Cout, Cin, kh, kw] (broadcast over the kernel window). Empty otherwise.
    std::span<const float> activation_norms{};
    /// Consumer layout: consumer input columns per producer channel (1 for linear → linear and
    /// conv → conv; H·W for conv → flatten → linear). The consumer's axis 1 must be rows·group.
    std::int64_t consumer_group = 1;
};

/// The shrunk tensors. Kept channels keep their order and their bytes.
struct channel_prune_result {
    tensor weights;                 ///< [rows − pruned, ...]
    tensor bias;                    ///< [rows − pruned], or empty when no bias was given
    tensor consumer;                ///< the consumer without the matching input columns (or empty)
    std::vector<std::int64_t> kept; ///< kept channel indices, ascending
    std::vector<float> scores;      ///< every channel's importance (rows entries)
};

/// Removes whole output channels (rows of a linear weight, filters of a conv) of least
/// importance, physically: the result tensors are smaller. `bias` (rank 1, [rows]) and
/// `consumer` (the next layer's weights, [out2, rows·group, ...] with its input axis 1) may be
/// empty views (data() == nullptr). Ties: the higher channel index is removed first.
HONE_EXPORT channel_prune_result prune_channels(const_tensor_view weights,
                                                const channel_prune_config& cfg,
                                                const_tensor_view bias = {},
                                                const_tensor_view consumer = {},
                                                std::string_view name = "weights");

// ---- calibration statistics ---------------------------------------------------------------------

/// Streaming statistics of one layer's inputs X [tokens, K] over calibration batches: the
/// Hessian H = Σ Xᵀ·X (for SparseGPT; kernels::hessian_accumulate) and the column sums of
/// squares (for Wanda; kernels::accumulate_col_sum_squares).
class HONE_EXPORT layer_statistics {
public:
    /// `with_hessian = false` skips H (K² memory), enough for Wanda.
    explicit layer_statistics(std::int64_t k, bool with_hessian = true);
    /// Adds a batch x f32 contiguous [tokens, K] (or [K] for one token).
    void add(const_tensor_view x);
    std::int64_t k() const noexcept { return k_; }
    std::int64_t tokens() const noexcept { return tokens_; }
    /// H [K, K] f32 (throws invalid_argument when built without it).
    const tensor& hessian() const;
    /// ‖X_k‖₂ for each input k, f32 [K].
    std::vector<float> column_norms() const;

private:
    std::int64_t k_ = 0;
    std::int64_t tokens_ = 0;
    bool with_hessian_ = true;
    tensor hessian_;
    std::vector<double> sum_squares_;
};

// ---- one-shot reconstruction
// ----------------------------------------------------------------------

/// Wanda (Sun et al. 2023): score |W_rk|·‖X_k‖₂, compared within each output row (each row
/// loses round(s·K) weights), or N:M groups when n > 0; no weight update.
HONE_EXPORT prune_report prune_wanda(tensor_view weights, std::span<const float> activation_norms,
                                     double sparsity, int n = 0, int m = 0, tensor_view mask = {},
                                     std::string_view name = "weights");

/// Joint quantization hook of SparseGPT: called once per column `col` (0…K−1, in order) with the
/// column's `rows` values after its mask was applied; replaces them in place with their
/// quantized (dequantized-to-f32) values. Pruned entries are reset to 0 afterwards.
using column_quantizer = std::function<void(std::int64_t col, std::span<float> values)>;

struct sparsegpt_config {
    double sparsity = 0.5;          ///< unstructured target (ignored when n > 0)
    int n = 0, m = 0;               ///< N:M (kept N of M) instead when n > 0
    std::int64_t block_size = 128;  ///< columns per lazy-update block and per mask selection
    double damp_fraction = 0.01;    ///< λ = damp · mean(diag H) added to the diagonal
    int quant_bits = 0;             ///< 2…8: RTN to a symmetric per-row grid in the same pass
    column_quantizer quantize = {}; ///< or a caller's quantizer (takes precedence)
};

/// Result of SparseGPT beyond the report.
struct sparsegpt_report : prune_report {
    double loss = 0.0; ///< Σ_columns Σ_rows err²/2 ((w − q)² / [H⁻¹]_jj), the OBS estimate
    std::vector<float> row_scales; ///< per-row grid steps when quant_bits > 0
};

/// SparseGPT (Frantar & Alistarh 2023): prunes `weights` [rows, K] column block by column block
/// (block_size columns), choosing the mask of each block adaptively from w² / [H⁻¹]_jj² of the
/// current (already updated) weights — exactly round(s··) per block so that the total is exactly
/// round(s·rows·K), or N:M per group — and spreading each pruned (and quantized) weight's error
/// over the not yet processed columns by the OBS update through the upper Cholesky factor of
/// H⁻¹. `hessian` is Σ XᵀX [K, K] f32 (any positive scale). Inputs whose diagonal is 0 are dead:
/// their weights are set to 0 first (and so pruned first).
HONE_EXPORT sparsegpt_report prune_sparsegpt(tensor_view weights, const_tensor_view hessian,
                                             const sparsegpt_config& cfg, tensor_view mask = {},
                                             std::string_view name = "weights");

// ---- configure once, run many
// ---------------------------------------------------------------------

enum class prune_method : std::uint8_t { magnitude = 0, wanda = 1, sparsegpt = 2 };

struct pruner_config {
    prune_method method = prune_method::magnitude;
    double sparsity = 0.5;         ///< unstructured target when n = 0
    int n = 0, m = 0;              ///< N:M when n > 0
    std::int64_t block_size = 128; ///< SparseGPT
    double damp_fraction = 0.01;   ///< SparseGPT
    int quant_bits = 0;            ///< SparseGPT joint RTN quantization
};

/// One pruning recipe applied to many layers: `pruner p{cfg}; p.prune(w, &stats);`.
class HONE_EXPORT pruner {
public:
    explicit pruner(const pruner_config& cfg);
    const pruner_config& config() const noexcept { return cfg_; }
    /// Prunes one layer in place; `stats` is required by Wanda (column norms) and SparseGPT
    /// (Hessian) and ignored by magnitude.
    prune_report prune(tensor_view weights, const layer_statistics* stats = nullptr,
                       tensor_view mask = {}, std::string_view name = "weights") const;

private:
    pruner_config cfg_;
};

// ---- masks for fine-tuning
// ------------------------------------------------------------------------

/// mask[i] = 1 where weights[i] ≠ 0 (−0 counts as zero), else 0. NaN weights are an error.
HONE_EXPORT void mask_of(const_tensor_view weights, tensor_view mask,
                         std::string_view name = "weights");

/// t ← t ⊙ mask (a weight tensor or its gradient); the mask must have t's shape.
HONE_EXPORT void apply_mask(tensor_view t, const_tensor_view mask,
                            std::string_view name = "tensor");

/// One masked SGD step: w ← w − lr·g where mask = 1; pruned weights stay +0 whatever g says.
HONE_EXPORT void masked_sgd_step(tensor_view weights, const_tensor_view gradient,
                                 const_tensor_view mask, float learning_rate,
                                 std::string_view name = "weights");

/// Fraction of exact zeros in a tensor (±0).
HONE_EXPORT double sparsity_of(const_tensor_view weights);

} // namespace hone
