// hone/io/compressed_tensors.hpp — int4/int8 weight-only checkpoints in the compressed-tensors
// "pack-quantized" format, as vLLM and llm-compressor write and load them.
//
// A Hugging Face checkpoint folder (hone/io/checkpoint.hpp) whose config.json holds a
// "quantization_config" with quant_method "compressed-tensors" and format "pack-quantized"
// replaces each quantized linear layer's "<module>.weight" (f32/f16/bf16 [out, in]) by:
//   <module>.weight_packed      I32 [out, ceil(in / pf)]     pf = 32 / bits (8 for int4, 4 for
//                                                            int8) values per int32
//   <module>.weight_scale       F16 (or BF16) [out, groups]  groups = in / group_size, or 1
//                                                            for strategy "channel"
//   <module>.weight_zero_point  I32 [ceil(out / pf), groups] asymmetric only: zero points
//                                                            packed down the output axis
//   <module>.weight_shape       I64 [2] = {out, in}
// Values are signed integers q in [−2^(bits−1), 2^(bits−1) − 1] stored with an offset:
// u = q + 2^(bits−1) (uint4b8 / uint8b128, as vLLM calls them). Value k (0 ≤ k < pf) of an
// int32 sits in bits [k·bits, (k+1)·bits): the least significant bits hold the lowest column
// (weight_packed: columns j·pf … j·pf + pf − 1 of a row in word j; weight_zero_point: rows
// r·pf … r·pf + pf − 1 of a group column in word r). A row (or zero-point column) whose length
// is not a multiple of pf is padded with u = 0. The int32 is that bit pattern (two's
// complement: words whose top value is ≥ 2^(bits−1) are negative).
// Dequantization: w[r, c] = (q[r, c] − z[r, g]) · s[r, g], g = c / group_size, z = 0 when
// symmetric. Quantization (pack_weight) is round to nearest (ties to even) of w / s + z,
// clamped to the integer range, with llm-compressor's min-max rule: lo = min(min w, 0),
// hi = max(max w, 0); symmetric s = max(|lo|, |hi|) / ((2^bits − 1) / 2), z = 0; asymmetric
// s = (hi − lo) / (2^bits − 1), z = round(−2^(bits−1) − lo / s) clamped to the range. A group
// of zeros gets s = the scale dtype's epsilon, as llm-compressor does.
// docs (section "compressed-tensors checkpoints") has the byte diagrams and every config.json
// field hone writes.
//
// Reading (compressed_tensors_weights) validates the quantization_config (quant_method,
// format, every field of every config group: int type, 4 or 8 bits, strategy group or channel,
// static, no activation quantization, no group activation order, no sparsity, transform or
// KV-cache scheme) — anything else is `unsupported` naming the field — and every packed
// tensor's dtype and shape against weight_shape and the scheme (`format_error` naming the
// tensor and the field).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/io/checkpoint.hpp"
#include "hone/io/safetensors.hpp"
#include "hone/model/llama.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone::io {

/// How a linear layer's weights are quantized (one compressed-tensors config group).
struct compressed_tensors_scheme {
    int bits = 4;                  ///< 4 or 8
    std::int64_t group_size = 128; ///< input columns per scale (strategy "group"); 0 = one scale
                                   ///< per output channel (strategy "channel")
    bool symmetric = true;         ///< false: a zero point per scale (weight_zero_point)
    /// Storage type of weight_scale when writing: f16 (default) or bf16. vLLM converts the
    /// scales to the dtype it runs the model in, so pick that dtype for a bit-exact match
    /// (bf16 for bf16 models). Reading accepts F16, BF16 and F32 scales whatever this says.
    hone::dtype scale_type = hone::dtype::f16;
};

/// One quantized linear layer's tensors, named as in the checkpoint without the module prefix.
struct packed_weight {
    tensor weight_packed;     ///< i32 [out, ceil(in·bits / 32)]
    tensor weight_scale;      ///< scale_type [out, groups]
    tensor weight_zero_point; ///< i32 [ceil(out·bits / 32), groups] when asymmetric; empty
                              ///< (numel 0) when symmetric — the format stores none
    tensor weight_shape;      ///< i64 [2] = {out, in}
};

/// Quantizes an f32 [out, in] weight (any strides). With `importance` (one non-negative weight
/// per input column, e.g. the mean square of the layer's inputs), each scale group takes the
/// clipping ratio ρ ∈ {1, 0.95, …, 0.5} (lo·ρ, hi·ρ in place of lo, hi) that minimises
/// Σ importance[c]·(w − ŵ)² with ŵ dequantized from the stored scale; ties keep the larger ρ,
/// so the weighted error is never above plain min-max (ρ = 1, used when importance is empty).
/// Rows are independent: the bytes are the same at any thread count. Throws invalid_argument
/// naming `name` (not rank 2 / f32, empty, a non-finite value, in not a multiple of
/// group_size, importance of the wrong length or negative/non-finite, a scale that overflows
/// scale_type) and for a scheme outside its domain.
HONE_EXPORT packed_weight pack_weight(const_tensor_view weight,
                                      const compressed_tensors_scheme& scheme,
                                      std::span<const float> importance = {},
                                      std::string_view name = "weight");

/// The f32 [out, in] weight the packed tensors stand for: (q − z) · s with s read exactly from
/// the stored scales (F16, BF16 or F32) — the values vLLM's kernels multiply with (they round
/// the product to the activation dtype when they apply the scale before the matrix product).
/// Validates every tensor against weight_shape and the scheme (bits, group_size, symmetric;
/// scale_type is not used): format_error naming `name` and the field. A legacy unpacked
/// zero point (I8 [out, groups]) is accepted; a symmetric scheme accepts an absent or all-zero
/// zero point only.
HONE_EXPORT tensor unpack_weight(const packed_weight& packed,
                                 const compressed_tensors_scheme& scheme,
                                 std::string_view name = "weight");

/// The safetensors entries of a packed layer: for weight_name "<module>.weight" (it must end in
/// "weight"), "<module>.weight_packed", ".weight_scale", ".weight_shape" and, when asymmetric,
/// ".weight_zero_point". The entries view `packed`, which must outlive them.
HONE_EXPORT std::vector<safetensors_entry> packed_weight_entries(std::string_view weight_name,
                                                                 const packed_weight& packed);

/// The "quantization_config" object for one config group "group_0" targeting "Linear" with
/// `scheme`, and `ignore` (module names left dense, e.g. "lm_head"), as pretty-printed JSON
/// (keys sorted, as llm-compressor writes them). Throws invalid_argument for a scheme outside
/// its domain.
HONE_EXPORT std::string quantization_config_json(const compressed_tensors_scheme& scheme,
                                                 const std::vector<std::string>& ignore);

/// config.json's text with "quantization_config" (as quantization_config_json) added after the
/// other fields, which keep their order and values; pretty-printed, ending in a newline.
/// Throws format_error naming `source` (not a JSON object), invalid_argument when the config
/// already has a "quantization_config" (its weights are not dense).
HONE_EXPORT std::string with_quantization_config(std::string_view config_json,
                                                 const compressed_tensors_scheme& scheme,
                                                 const std::vector<std::string>& ignore,
                                                 std::string_view source = "config.json");

/// One config group of a parsed quantization_config.
struct compressed_tensors_group {
    std::string name;                 ///< "group_0", …
    std::vector<std::string> targets; ///< e.g. {"Linear"}
    compressed_tensors_scheme scheme; ///< scale_type left at its default: scales are typed by
                                      ///< their tensors
};

/// A validated quantization_config (see the top for what is accepted).
struct compressed_tensors_config {
    std::vector<compressed_tensors_group> groups; ///< in file order, at least one
    std::vector<std::string> ignore;
};

/// Parses and validates the "quantization_config" of config.json's text. Throws format_error
/// (not JSON, a field of the wrong type, quantization_config missing), unsupported (a valid
/// compressed-tensors setting hone does not read), each naming `source` and the field path
/// (e.g. "quantization_config.config_groups.group_0.weights.num_bits").
HONE_EXPORT compressed_tensors_config parse_compressed_tensors_config(
    std::string_view config_json, std::string_view source = "config.json");

/// Weights of a pack-quantized checkpoint for llama_block_graph and friends: a name
/// "<module>.weight" whose "<module>.weight_packed" exists is unpacked (unpack_weight, with the
/// config group whose bits, group size and symmetry fit the tensors); any other name is read as
/// is (checkpoint::read_f32: norms, embeddings, ignored layers). The config is parsed once,
/// here (throws as parse_compressed_tensors_config, naming the folder's config.json); the
/// callable keeps the checkpoint alive and throws not_found, or format_error naming the folder,
/// the tensor and the field.
HONE_EXPORT llama_weights compressed_tensors_weights(const checkpoint& ckpt);

} // namespace hone::io
