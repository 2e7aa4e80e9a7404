// hone/io/qdq.hpp — a quantized model in ONNX's QDQ form (QuantizeLinear / DequantizeLinear),
// the layout ONNX Runtime's static quantization produces and its QDQ optimizer fuses.
//
// to_qdq() rewrites a float model (hone::model) so that its Gemm / MatMul / Conv / ConvTranspose
// layers carry their quantization explicitly (docs/formats.md, "QDQ layout"):
// - weights: the f32 initializer W becomes an integer initializer "W_quantized" (i8 / u8, the
//   hone::quantized_tensor's integers, same shape as W), "W_scale" (f32: a scalar per tensor, or
//   [C] per channel) and, unless the spec is signed symmetric, "W_zero_point"; a
//   DequantizeLinear node (axis = the channel axis) produces a value still called W, so every
//   consumer and every name outside stays the same. Channel axis: Gemm transB=1 / Conv → 0
//   (output channels), Gemm transB=0 / MatMul [K, N] → 1.
// - activations: a tensor X with an entry in `activations` goes through QuantizeLinear(X,
//   "X_scale", "X_zero_point") → "X_quantized" → DequantizeLinear → "X_dequantized", which
//   every consumer reads instead of X (a graph output X keeps its name: its producer writes
//   "X_float", the DequantizeLinear writes X). Grids are carried through value-preserving ops.
// - biases: INT32 through DequantizeLinear where the layer's input has a grid (quantize_bias).
// - ConvTranspose weights [C_in, C_out/group, k…] are quantized per output channel on axis 1.
// - BatchNormalization after a Conv is folded into it first (fold_batch_norm).
// - weights quantized per group (blocked) or with 3…4 bits: opset 21's blocked
//   DequantizeLinear (axis = the group axis, block_size = the group size; "W_scale" shaped like W
//   with that axis divided by the group size) and INT4 / UINT4 initializers for 3…4 bits (two per
//   byte, low nibble first: the quantized_tensor's own bytes). The model's opset is then raised
//   to 21 (Reduce* axes attributes become inputs, as opset 18 wants). When to_qdq quantizes a
//   weight itself with a per-group weight_spec, the groups run along the layer's reduction axis
//   (K of a Gemm/MatMul, input channels of a Conv).
// The graph is then opset ≥ 13 (per-axis DequantizeLinear), 21 with blocked / 4-bit weights;
// every operator is standard ONNX, so save_onnx() writes it. onnx::checker (libonnx 1.12)
// accepts the opset-13 form; it cannot judge opset 21 (IR 10), which save_onnx checks by reading
// the written bytes back through hone's reader instead (docs/formats.md, "QDQ at opset 21").
//
// Limits: 2-bit weights (four per byte) have no ONNX type and are refused with `unsupported`.
//
// Running the result: hone's executor runs QuantizeLinear / DequantizeLinear with their ONNX
// semantics (fp32 "fake quantization" in exec_precision::f32); at load the weight
// DequantizeLinear folds into f32 weights — an int4 blocked one feeding Gemm/MatMul instead puts
// the layer on the int4 weight-only kernel (executor_options::qdq_int4_kernel) — and with an
// int8 precision each
// QuantizeLinear → DequantizeLinear pair in front of a layer is fused into the layer, which then
// runs the int8 kernel on exactly that activation grid.
#pragma once

#include "hone/cluster/clusterer.hpp"
#include "hone/core/export.hpp"
#include "hone/graph/executor.hpp"
#include "hone/model/model.hpp"
#include "hone/quantize/quantized_tensor.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hone {

/// The per-tensor grid of one activation: q = saturate(round(x / scale) + zero_point).
struct qdq_activation {
    float scale = 1.0f;          ///< finite, > 0
    std::int32_t zero_point = 0; ///< within the type's range
    dtype type = dtype::u8;      ///< u8 or i8
};

/// The u8 grid hone's executor uses for a calibrated range (exec_precision::int8_static):
/// levels = 255 (127 when `seven_bit`, the executor's reduce_range), range widened to include 0,
/// scale = (hi − lo) / levels, zero_point = clamp(round(−lo / scale), 0, levels). A zero-width
/// range gives scale 1. With seven_bit the ONNX QuantizeLinear still saturates at 255, not 127:
/// values above the calibrated range are clipped later than hone's 7-bit kernel clips them.
HONE_EXPORT qdq_activation qdq_activation_from_range(tensor_range range, bool seven_bit = false);

/// The same for every entry of a map of ranges (e.g. executor_options::activation_ranges).
HONE_EXPORT std::map<std::string, qdq_activation, std::less<>>
qdq_activations_from_ranges(const std::map<std::string, tensor_range, std::less<>>& ranges,
                            bool seven_bit = false);

struct qdq_options {
    /// Quantization of weights without an entry in `weights` (RTN through hone::quantizer;
    /// channel_axis is set per layer as described at the top). Default: signed symmetric
    /// int8 per channel.
    quant_spec weight_spec{};
    /// Quantize the weights that have no entry in `weights` (false: those layers stay f32).
    bool quantize_weights = true;
    /// Already quantized weights (GPTQ, AWQ, clip search...), by weight name; dims must equal
    /// the weight's and the layout must follow the rule at the top.
    std::map<std::string, quantized_tensor, std::less<>> weights;
    /// Palettized weights (k-means clustered, one codebook per tensor, dims equal to the
    /// weight's), by weight name: stored as indices plus a codebook Gather — the smallest form
    /// any ONNX runtime loads (docs/formats.md, "Palettes"): ≤ 16 entries as UINT4 indices
    /// through DequantizeLinear (scale 1, zero point 0; opset 21) → Cast(INT64) → Gather(codebook);
    /// more as UINT8 indices → Cast(INT64) → Gather. The layer computes in f32 (engines fold
    /// the subgraph to the weight at load, or run it per call). Per-channel and per-group
    /// codebooks are refused (unsupported).
    std::map<std::string, palettized_tensor, std::less<>> palettes;
    /// Activation grids, by tensor name (a graph input or a node output): the tensor goes
    /// through QuantizeLinear → DequantizeLinear once, right after it is made, and every
    /// consumer reads the dequantized value. qdq_activation_tensors() says which tensors the
    /// form ONNX Runtime fuses needs.
    std::map<std::string, qdq_activation, std::less<>> activations;
    /// Layers (node names) left untouched.
    std::vector<std::string> f32_nodes;
    /// A grid on the input of a value-preserving op (MaxPool, Reshape, Flatten, Transpose,
    /// Squeeze, Unsqueeze, Identity) holds for its output too (ONNX Runtime then runs the op on
    /// the integers).
    bool propagate_grids = true;
    /// Conv / ConvTranspose / Gemm biases of layers whose input has a grid and whose weight is
    /// quantized per tensor or per channel: INT32 round(b / (x_scale · w_scale[c])) through
    /// DequantizeLinear (the form ONNX Runtime's QLinearConv / QGemm take). A bias shared with
    /// another node, of another shape, or not representable in int32 stays f32.
    bool quantize_bias = true;
    /// BatchNormalization after a Conv folded into it first (hone/model/transforms.hpp), as
    /// inference engines run it — ONNX Runtime cannot fold it into a Conv whose weight comes from
    /// a DequantizeLinear. Convs whose weight is given in `weights` are not folded (their
    /// integers would no longer match).
    bool fold_batch_norm = true;
};

/// The tensors whose activation grids make `m`'s QDQ form the one ONNX Runtime fuses into its
/// integer kernels (QLinearConv, QLinearMatMul / QGemm, MatMulIntegerToFloat): for each layer
/// to_qdq(m, options) quantizes, in graph order, its input — unless value-preserving ops lead to
/// it from a tensor already listed (the grid is carried) — and its output, or, when the output's
/// only consumer is a Relu, the Relu's output (ONNX Runtime drops a Relu in front of a
/// QuantizeLinear whose grid starts at 0; hone fuses it into the layer). Names refer to `m`
/// after BatchNormalization folding (fold_batch_norm), where a folded Conv writes the
/// BatchNormalization's output — a name `m` itself has, so the caller can observe and calibrate
/// them on `m`. Calibrate each (e.g. calibrator) and pass the grids as `activations`.
HONE_EXPORT std::vector<std::string> qdq_activation_tensors(const model& m,
                                                            const qdq_options& options = {});

/// The QDQ form of `m` (a new model; `m` is unchanged). Throws unsupported for a weight spec the
/// layout cannot hold (see Limits), invalid_argument / shape_mismatch naming the layer or weight
/// for an entry of `weights` that does not fit, a non-f32 weight, or an activation grid out of
/// range.
HONE_EXPORT model to_qdq(const model& m, const qdq_options& options = {});

} // namespace hone
