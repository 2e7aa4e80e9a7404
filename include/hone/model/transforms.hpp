// hone/model/transforms.hpp — graph rewrites that keep a model's outputs and make it ready to
// deploy or quantize.
//
// fold_batch_norm: every BatchNormalization (inference mode, constant statistics) whose input is
// the only use of a Conv's output with constant f32 weights is folded into that Conv:
//   s[c] = γ[c] / √(var[c] + ε),  W'[c, …] = W[c, …] · s[c],  b'[c] = (b[c] − μ[c]) · s[c] + β[c]
// (s and b' in double, rounded once to f32 — the executor's own folding), and the Conv writes
// the BatchNormalization's output name. Exported graphs often keep BatchNormalization after
// Conv; quantizing the folded weights is what inference engines run (ONNX Runtime cannot fold a
// BatchNormalization into a Conv whose weight comes from a DequantizeLinear). Returns the number
// of BatchNormalization nodes folded; everything else is left as it is.
//
// fold_weight_casts: a Cast or Identity whose input is a weight becomes a weight itself (the
// Cast's conversion done once, rounding as the executor's Cast does), so layers whose weights
// sit behind such nodes — fp16/bf16 initializers cast to f32 by exporters that store half
// precision, weights shared through Identity — are found and quantized like any other. The
// source weight is dropped when nothing else uses it. Returns the number of nodes folded.
#pragma once

#include "hone/core/export.hpp"
#include "hone/model/model.hpp"

#include <cstddef>
#include <span>
#include <string>

namespace hone {

/// `keep`: Conv weights (by name) whose Conv is left unfolded (e.g. weights already quantized).
HONE_EXPORT std::size_t fold_batch_norm(model& m, std::span<const std::string> keep = {});

HONE_EXPORT std::size_t fold_weight_casts(model& m);

} // namespace hone
