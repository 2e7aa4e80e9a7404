// hone/cluster/clusterer.hpp — weight clustering (k-means palettization) of whole tensors.
//
// The clusterer replaces each weight by one of k shared values: per tensor (one codebook), per
// channel (one codebook per index along `axis`) or per group (`group_size` consecutive
// channels share one). The result is a palettized_tensor: b-bit indices (b = ⌈log2 k⌉, 1 … 8)
// packed as the kernel layer's palettized layout (docs/formats.md, "Palettized weights") plus
// f32 or f16 codebooks, which kernels::palettized_matmul/gemv consume directly when the
// channel axis is 0 (nn.Linear weights [out, in]).
//
// Layout: the tensor is seen as a matrix [rows, cols]. Per channel / per group: rows =
// dims[axis], cols = numel / rows, each row holding one channel's weights in row-major order of
// the remaining axes (for axis 0 this is the tensor's own memory order). Per tensor: rows =
// dims[0] (1 for rank ≤ 1), cols = numel / rows, a single codebook. Codebook g has 2^b entries:
// the centroids ascending, then zero padding; clusters_used(g) tells how many are real.
//
// Method: optimal (kmeans1d_optimal: the global optimum of the weighted SSE), lloyd (TFMOT-style
// initialisations; see kmeans1d.hpp), or automatic: optimal for every codebook whose problem
// has at most auto_max_cells = k × values cells (default 2^26 ≈ 67 M: about 1 M values into
// 64 clusters; the optimal solver takes ~10 ns per cell and 4 bytes per cell of memory, see
// docs/clusterer.md), Lloyd beyond. Codebooks are solved in parallel (OpenMP, hone's thread
// count), each sequentially, so the result is identical for any thread count.
//
// Centroids are rounded to the codebook type; then every weight gets the index of its nearest
// stored centroid (kernels::nearest_centroid, ties to the lower index), so indices and codebook
// always agree. Importance (optional, same shape as the weights, finite ≥ 0): the objective
// becomes Σ importance·(w − c)² (coremltools' sensitive k-means, e.g. a Hessian diagonal or
// squared activation norms); assignment stays nearest-centroid.
//
// Sparsity-preserving mode: in every codebook whose weights contain zeros (±0), one centroid is
// exactly +0 and every zero weight maps to it; the non-zero weights are clustered into the other
// k − 1 centroids and never map to the zero centroid (even when one of their centroids lies near
// zero). A codebook without zeros uses all k centroids for its weights.
//
// Fine-tuning hook (Deep Compression §3.3): accumulate_gradient(dL/dW) adds each weight's
// gradient to its centroid's sum; apply_gradient(lr) moves every centroid by −lr·sum (or the
// mean with average = true), rounds it to the codebook type and clears the sums; the zero
// centroid of the sparsity-preserving mode never moves. reassign(weights) re-sorts each codebook
// and maps new latent weights to their nearest centroids (TFMOT-style retraining).
//
// Errors (hone::error naming the tensor): clusters outside 2 … 256, an axis outside the rank,
// group_size < 1, a codebook type other than f32/f16 (dtype_mismatch), weights that are not f32
// or are empty, NaN/inf weights or importances (invalid_argument with the flat index), an
// importance of another shape (shape_mismatch), centroids that overflow f16 (invalid_argument).
// Fewer distinct weights than k in a codebook is not an error: that codebook uses fewer
// clusters (each distinct value exactly) and reports it in clusters_used().
#pragma once

#include "hone/cluster/kmeans1d.hpp"
#include "hone/core/dtype.hpp"
#include "hone/core/export.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"
#include "hone/kernels/palettized.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

enum class kmeans_method : int {
    automatic = 0, ///< optimal when k × values ≤ auto_max_cells, else lloyd (per codebook)
    optimal = 1,   ///< kmeans1d_optimal
    lloyd = 2,     ///< kmeans1d_lloyd with clusterer_config::lloyd
};

enum class cluster_granularity : int {
    per_tensor = 0,  ///< one codebook
    per_channel = 1, ///< one codebook per index along axis
    per_group = 2,   ///< one codebook per group_size consecutive channels along axis
};

struct clusterer_config {
    int clusters = 16; ///< k, 2 … 256; indices take ⌈log2 k⌉ bits
    kmeans_method method = kmeans_method::automatic;
    cluster_granularity granularity = cluster_granularity::per_tensor;
    int axis = 0;                     ///< channel axis (per_channel, per_group); may be negative
    std::int64_t group_size = 1;      ///< channels per codebook (per_group)
    bool preserve_sparsity = false;   ///< zeros keep an exact zero centroid of their own
    dtype codebook_type = dtype::f32; ///< f32 or f16
    lloyd_options lloyd{};
    std::int64_t auto_max_cells = std::int64_t(1) << 26; ///< automatic: optimal up to k × n cells
};

/// A clustered (palettized) tensor that owns its packed indices and codebooks.
class HONE_EXPORT palettized_tensor {
public:
    palettized_tensor() = default;

    const hone::shape& dims() const noexcept { return dims_; }
    /// Channel axis of the layout (0 for per_tensor), already normalised to ≥ 0.
    int axis() const noexcept { return axis_; }
    cluster_granularity granularity() const noexcept { return granularity_; }
    int bits() const noexcept { return bits_; }
    std::int64_t rows() const noexcept { return rows_; }
    std::int64_t cols() const noexcept { return cols_; }
    std::int64_t rows_per_group() const noexcept { return rows_per_group_; }
    std::int64_t groups() const noexcept { return std::int64_t(clusters_used_.size()); }
    /// Entries per codebook (2^bits).
    std::int64_t entries() const noexcept { return std::int64_t(1) << bits_; }
    dtype codebook_type() const noexcept { return codebooks_.type(); }
    /// Real centroids of codebook g (the rest of its 2^bits entries are zero padding).
    int clusters_used(std::int64_t g) const { return clusters_used_.at(std::size_t(g)); }
    bool preserves_sparsity() const noexcept { return preserve_sparsity_; }
    /// Packed indices, u8 [rows, packed_row_bytes(cols, bits)].
    const tensor& packed_indices() const noexcept { return indices_; }
    /// Codebooks, f32 or f16 [groups, 2^bits].
    const tensor& codebooks() const noexcept { return codebooks_; }
    /// Stored size: packed indices + codebooks, in bytes.
    std::size_t bytes() const noexcept { return indices_.nbytes() + codebooks_.nbytes(); }
    /// The weighted SSE Σ importance·(w − ŵ)² of the stored weights against the weights they
    /// were made from (or last reassigned from), computed when they were made.
    double sse() const noexcept { return sse_; }
    /// Per codebook: the method that solved it (optimal or lloyd).
    const std::vector<kmeans_method>& methods() const noexcept { return methods_; }

    /// The kernel layer's view ([rows, cols]; for axis 0 it is the tensor's own layout and
    /// works with kernels::palettized_matmul / palettized_gemv).
    kernels::palettized_matrix matrix() const;
    /// One unpacked index per weight, u8 [rows, cols] in the layout above.
    tensor indices() const;
    /// The dequantized weights (f32, dims()), through kernels::palettized_decode.
    tensor dequantize() const;
    /// Into dst (f32, dims(), any strides).
    void dequantize(tensor_view dst) const;

    // -- fine-tuning hook -------------------------------------------------------------------
    /// Adds dL/dW (f32, dims(), any strides, finite) to the gradient sum of each weight's
    /// centroid.
    void accumulate_gradient(const_tensor_view weight_gradient);
    /// Per codebook entry: Σ of the accumulated gradients ([groups × 2^bits], row-major).
    std::span<const double> gradient_sums() const noexcept { return grad_sum_; }
    /// Per codebook entry: how many weight gradients were added.
    std::span<const std::int64_t> gradient_counts() const noexcept { return grad_count_; }
    /// c ← c − learning_rate · (sum, or sum / count when average), rounded to the codebook
    /// type; the zero centroid of sparsity-preserving codebooks stays 0. Clears the sums.
    void apply_gradient(float learning_rate, bool average = false);
    /// Clears the accumulated sums.
    void clear_gradient();
    /// Re-sorts each codebook and maps `weights` (f32, dims(), any strides, finite) to the
    /// nearest centroid of their codebook (zeros to the zero centroid in sparsity-preserving
    /// mode). Updates sse() (unweighted). Clears the gradient sums.
    void reassign(const_tensor_view weights);

private:
    friend class clusterer;
    void init_gradient();
    std::vector<float> centroids_of(std::int64_t g) const;
    void store_codebook(std::int64_t g, std::span<const double> centroids);
    void assign(const_tensor_view weights, std::span<const float> importance,
                std::string_view name);

    hone::shape dims_{};
    int axis_ = 0;
    cluster_granularity granularity_ = cluster_granularity::per_tensor;
    int bits_ = 1;
    std::int64_t rows_ = 0, cols_ = 0, rows_per_group_ = 1;
    bool preserve_sparsity_ = false;
    tensor indices_;
    tensor codebooks_;
    std::vector<float> master_; ///< f32 centroids [groups × 2^bits] (updated by apply_gradient)
    std::vector<int> clusters_used_;
    std::vector<int> zero_slot_; ///< per codebook: index of the exact-zero centroid, or −1
    std::vector<kmeans_method> methods_;
    std::vector<double> grad_sum_;
    std::vector<std::int64_t> grad_count_;
    double sse_ = 0;
};

/// Configure once, cluster many tensors.
class HONE_EXPORT clusterer {
public:
    /// Validates the configuration (invalid_argument / dtype_mismatch naming the field).
    explicit clusterer(const clusterer_config& config);
    const clusterer_config& config() const noexcept { return config_; }

    /// Clusters f32 `weights` (any shape and strides, rank ≥ 1); importance: a null view or f32
    /// of the same shape. `name` appears in error messages.
    palettized_tensor cluster(const_tensor_view weights, const_tensor_view importance = {},
                              std::string_view name = "weights") const;

private:
    clusterer_config config_;
};

} // namespace hone
