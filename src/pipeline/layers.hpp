// layers.hpp — the layers `hone optimize` changes and the layouts of their weights.
//
// A layer is a Gemm, MatMul, Conv or ConvTranspose (group 1) whose weight is a constant f32
// initializer. The recipe's algorithms work on every layer in one layout, [N, K]: N output
// channels, K the values each output channel reduces over. The model stores weights as:
//   nk   Gemm transB = 1                      [N, K]
//   kn   MatMul, Gemm transB = 0              [K, N]        (transposed)
//   conv Conv                                 [N, C/g, k…]  (the same bytes as [N, C/g·Πk])
//   convt ConvTranspose, group 1              [C, N, k…]    (axes 0 and 1 swapped)
// to_nk / to_stored move weights between the two; stored_spec and quantized_to_stored do the
// same for a quantization spec and a quantized tensor (per-group quantization is along K, which
// a stored Conv layout cannot express: Conv layers are quantized per channel).
#pragma once

#include <hone/core/export.hpp>

#include <hone/model/model.hpp>
#include <hone/quantize/quantized_tensor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace hone::pipeline {

enum class weight_layout { nk, kn, conv, convt };

struct HONE_EXPORT layer_ref {
    std::size_t node = 0;
    std::string name, op, weight, input, output;
    weight_layout layout = weight_layout::nk;
    shape stored; ///< the weight's dims in the model
    std::int64_t n = 0, k = 0;
    bool is_conv() const { return layout == weight_layout::conv || layout == weight_layout::convt; }
};

/// "[N,K]", "[K,N]", "[N,C/g,k...]", "[C,N,k...]".
HONE_EXPORT const char* layout_name(weight_layout l);

/// The layers of `m` in graph order (see the top).
HONE_EXPORT std::vector<layer_ref> find_layers(const model& m);

/// The weight as [N, K] (a copy), from a tensor in the stored layout.
HONE_EXPORT tensor to_nk(const layer_ref& l, const_tensor_view stored);
/// The stored layout of an [N, K] tensor.
HONE_EXPORT tensor to_stored(const layer_ref& l, const_tensor_view nk);
/// The layer's weight in `m` as [N, K]; setting it back from [N, K].
HONE_EXPORT tensor weight_nk(const model& m, const layer_ref& l);
HONE_EXPORT void set_weight_nk(model& m, const layer_ref& l, const_tensor_view nk);

/// `nk_spec` (channel axis 0 / group axis 1 of [N, K]) for the stored layout.
HONE_EXPORT quant_spec stored_spec(const layer_ref& l, quant_spec nk_spec);
/// A quantized [N, K] tensor in the stored layout: the same integers, scales and zero points
/// moved with their weights. invalid_argument for per-group Conv weights.
HONE_EXPORT quantized_tensor quantized_to_stored(const layer_ref& l, const quantized_tensor& nk);

} // namespace hone::pipeline
