// hone/io/onnx_integer.hpp — two deployable ONNX forms of a quantized model that ONNX Runtime
// runs on integer kernels (byte layouts: docs/formats.md, "Dynamic int8 (integer operators)"
// and "MatMulNBits"). hone's executor runs both.
//
// to_dynamic_int8(): the form ONNX Runtime's quantize_dynamic writes. Each Gemm / MatMul / Conv
// with a constant f32 weight W becomes
//     X ─DynamicQuantizeLinear→ (X_quantized u8, X_scale, X_zero_point)   (one per X, shared)
//     MatMulInteger(X_quantized, W_quantized, X_zero_point[, W_zero_point]) → i32   (Conv:
//     ConvInteger, same attributes) → Cast(f32) → Mul(·, Mul(X_scale, W_scale)) [→ Add(bias)]
// with W_quantized the weight's integers: MatMulInteger's B is [K, N] (a Gemm transB=1 weight
// is stored transposed), ConvInteger's W keeps [M, C/g, k…]. W_scale is per output channel
// ([N], or [M, 1, …] for a Conv, broadcasting over [batch, M, spatial…]) or a scalar;
// Gemm alpha is folded into W_scale, beta into the bias. W_zero_point is omitted for signed
// symmetric weights (ONNX's default 0); Conv weights are stored u8 = q + 128 with one zero
// point 128 when `conv_weights_u8` (ONNX Runtime's CPU ConvInteger takes u8 weights and a
// single weight zero point only). ONNX Runtime fuses the MatMul chain into
// com.microsoft.DynamicQuantizeMatMul / MatMulIntegerToFloat.
//
// to_matmul_nbits(): Gemm / MatMul layers with 4-bit weights quantized in blocks along K
// become com.microsoft.MatMulNBits (bits = 4) — the weight-only int4 form ONNX Runtime runs with
// its MLAS kernels; other layers are left as they are. The 4-bit weights come from
// `weights` (by weight name), or — so to_qdq() can quantize everything else first — from an
// int4 blocked DequantizeLinear (INT4 / UINT4 constant, blocks along K, opset 21, to_qdq's
// output) whose output the layer reads as B; that DequantizeLinear and its initializers are
// dropped once nothing else reads them. The model gets the opset import "com.microsoft" 1.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/model/model.hpp"
#include "hone/quantize/quantized_tensor.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

struct dynamic_int8_options {
    /// Already quantized weights (GPTQ, clip search…), by weight name, used as they are: dims
    /// equal to the model's weight, 5…8 bits (one per byte), per tensor or per output channel
    /// (axis 1 of a MatMul / Gemm transB=0 [K, N] weight, axis 0 of a Gemm transB=1 or Conv
    /// weight). Per-group weights are refused (unsupported): a per-K-block scale cannot be
    /// applied after the integer product.
    std::map<std::string, quantized_tensor, std::less<>> weights;
    /// Weights without an entry: quantized signed symmetric int8 per output channel (RTN,
    /// hone::quantizer). false: those layers stay f32.
    bool quantize_weights = true;
    /// Layers (node names) left f32.
    std::vector<std::string> f32_nodes;
    /// Conv weights as u8 (q + 128, one zero point 128) — what ONNX Runtime's CPU ConvInteger
    /// accepts. false: i8 weights as they are.
    bool conv_weights_u8 = true;
    /// A BatchNormalization (inference mode, constant parameters) that alone reads a Conv's
    /// output folds into that Conv's W_scale and bias (the integers are unchanged):
    /// W_scale'[c] = W_scale[c]·γ[c]/√(var[c] + ε), bias'[c] = (bias[c] − mean[c])·γ[c]/√(var[c] +
    /// ε)
    /// + β[c] (computed in double, rounded to f32).
    bool fold_batch_norm = true;
};

/// The dynamic-int8 form of `m` (a new model; `m` is unchanged). Throws, naming the node:
/// unsupported for a Gemm with transA = 1, a non-constant C with beta ≠ 1, a non-constant Conv
/// bias, per-group weights, a Conv weight with several zero points; shape_mismatch /
/// invalid_argument for a given weight that does not fit the layer.
HONE_EXPORT model to_dynamic_int8(const model& m, const dynamic_int8_options& options = {});

/// One MatMulNBits weight, exactly as the operator's initializers hold it (bits = 4):
///   b            u8 [N, n_blocks, block_size / 2], n_blocks = ⌈K / block_size⌉; element k of
///                row n at byte (k mod block_size) / 2 of block k / block_size, low nibble for
///                even k; unsigned 0…15 (hone's signed int4 q is stored as q + 8). The padding
///                of the last block (K not a multiple of block_size) holds the block's zero
///                point (dequantizes to 0).
///   scales       f32 [N · n_blocks], row-major (n, block).
///   zero_points  u8 [N · ⌈n_blocks / 2⌉], two per byte, block 2j of row n in the low nibble of
///                byte n·⌈n_blocks/2⌉ + j (an unused high nibble is 0); empty ([0]) when absent
///                — the operator's default zero point 8, exactly hone's signed symmetric int4.
/// Value: w[k, n] = (nibble − zero_point) · scale.
struct HONE_EXPORT matmul_nbits_weight {
    tensor b;
    tensor scales;
    tensor zero_points;
    std::int64_t k = 0, n = 0, block_size = 0;
    bool has_zero_points() const noexcept { return zero_points.numel() > 0; }
};

/// Packs a 4-bit (3…4-bit) quantized weight w: dims [N, K] (k_axis = 1: nn.Linear, Gemm
/// transB=1) or [K, N] (k_axis = 0: MatMul, Gemm transB=0). Per group along K (block_size =
/// its group size; the argument is ignored), or per channel along N / per tensor (blocks of
/// `block_size`). block_size must be a power of two ≥ 16. Zero points are stored when the
/// spec has them (has_zero_points()): signed affine zp + 8, unsigned zp. Throws unsupported
/// (naming `what`) for any other form.
HONE_EXPORT matmul_nbits_weight pack_matmul_nbits(const quantized_tensor& w, int k_axis,
                                                  std::int64_t block_size,
                                                  std::string_view what = "weight");

/// The inverse: a MatMulNBits weight (bits 4) as a quantized_tensor [N, n_blocks·block_size]
/// per group along axis 1 (K padded to whole blocks): signed symmetric int4 (nibble − 8) when
/// zero_points is absent, unsigned affine u4 otherwise. f32 scales, u8 packed zero points.
/// Throws format_error / shape_mismatch naming `what` for inputs that disagree with k, n,
/// block_size.
HONE_EXPORT quantized_tensor unpack_matmul_nbits(const_tensor_view b, const_tensor_view scales,
                                                 std::optional<const_tensor_view> zero_points,
                                                 std::int64_t k, std::int64_t n,
                                                 std::int64_t block_size,
                                                 std::string_view what = "MatMulNBits");

struct matmul_nbits_options {
    /// 4-bit weights by weight name (see pack_matmul_nbits for the forms accepted).
    std::map<std::string, quantized_tensor, std::less<>> weights;
    /// Block size for per-channel / per-tensor 4-bit weights.
    std::int64_t block_size = 32;
    /// Also turn int4 blocked DequantizeLinear → Gemm/MatMul (to_qdq's output) into MatMulNBits.
    bool from_qdq = true;
    /// MatMulNBits' accuracy_level attribute (0: unset; 4 lets ONNX Runtime quantize A to int8).
    std::int64_t accuracy_level = 0;
    /// Layers (node names) left as they are.
    std::vector<std::string> f32_nodes;
};

/// The MatMulNBits form of `m` (a new model). Throws, naming the node and weight: unsupported
/// for a weight of `weights` that is not 4-bit blocked along K with a power-of-two block ≥ 16,
/// a Gemm with transA = 1 or alpha ≠ 1, or a non-constant C with beta ≠ 1; shape_mismatch for
/// dims that differ from the model's weight. A QDQ weight whose block cannot be a MatMulNBits
/// block is left in its QDQ form.
HONE_EXPORT model to_matmul_nbits(const model& m, const matmul_nbits_options& options = {});

} // namespace hone
