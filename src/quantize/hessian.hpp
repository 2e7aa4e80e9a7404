// Internal: preparation of a layer Hessian for GPTQ and SparseGPT (shared by the quantizer and
// the pruner). Not part of the public API.
//
// H is the k×k Gram matrix of a layer's calibration inputs (H = Σ xᵀx, e.g. accumulated by
// kernels::hessian_accumulate; the factor 2 of Frantar et al. cancels out). GPTQ / SparseGPT
// need U, the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU): row i of U, divided by U_ii, is the
// update that spreads the error of column i over the columns after it.
//
// How U is computed (f32 tile products through kernels::matmul_f32, diagonal tiles in double;
// deterministic at any thread count):
//  1. dead inputs (H_ii == 0: the input is always zero on the calibration data) are marked and
//     get H_ii = 1 (their weights do not affect the output; callers zero them);
//  2. λ = damp_fraction · mean(diag H) is added to the diagonal;
//  3. H is permuted, Hp = H[order][:, order] (act-order), when `order` is not empty;
//  4. with J the reversal permutation, J·Hp·J = L Lᵀ (tiled Cholesky), and then
//     U = J · L⁻¹ · J, because Hp⁻¹ = J L⁻ᵀ L⁻¹ J = (J L⁻¹ J)ᵀ (J L⁻¹ J) and J L⁻¹ J is upper
//     triangular with a positive diagonal. This costs one Cholesky and one triangular inverse
//     (2k³/3 flops) instead of the Cholesky–inverse–Cholesky (≈ 5k³/3) of the reference code.
// Tiles of 256 are updated in parallel, each by one thread in a fixed order, so the bytes of U
// do not depend on the thread count. Accuracy: f32 (as the reference GPTQ code); with the
// default 1% dampening ‖UᵀU·Hd − I‖ stays around 1e-5 on real layers.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace hone::detail {

/// GPTQ/SparseGPT preparation of a layer Hessian H (k×k f32, symmetric, e.g. accumulated by
/// kernels::hessian_accumulate). Dead inputs (H_ii == 0) are marked and get H_ii = 1; then
/// damp_fraction·mean(diag H) is added to the diagonal; `order` (empty = identity) permutes rows
/// and columns (act-order); returns U, the upper Cholesky factor of H⁻¹ (row-major k×k, float),
/// as Frantar et al. use it. Throws status::invalid_argument naming `what` when H is
/// non-finite, not square, or not positive definite even after dampening.
struct prepared_hessian {
    std::int64_t k = 0;
    /// U, row-major k×k, upper triangular (entries below the diagonal are 0), in the permuted
    /// order: U[i, j] refers to inputs order[i], order[j].
    std::vector<float> inverse_cholesky_upper;
    /// dead[c] = 1 when input c (original index, not permuted) had H_cc == 0.
    std::vector<std::uint8_t> dead;
};

/// See above. Also throws invalid_argument when h is not f32 or empty, when damp_fraction is
/// negative or not finite, and when `order` is not a permutation of 0…k−1.
HONE_EXPORT prepared_hessian prepare_hessian(const_tensor_view h, double damp_fraction,
                                             std::span<const std::int64_t> order,
                                             std::string_view what);

} // namespace hone::detail
