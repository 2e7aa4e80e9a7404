// hone/io/gguf_llama.hpp — LLaMA checkpoints in GGUF as llama.cpp reads them.
//
// llama.cpp's "llama" architecture names tensors its own way and applies rotary embeddings to
// interleaved pairs (x[2i], x[2i+1]) where Hugging Face rotates halves (x[i], x[i + d/2]). Its
// converter (convert_hf_to_gguf.py) therefore reorders the rows of q_proj and k_proj within
// each head: row (head h, half s, index i) of the checkpoint, h·d + s·d/2 + i, becomes row
// h·d + 2i + s of the GGUF tensor (heads = num_attention_heads for q, num_key_value_heads for
// k). Quantization blocks run along a row, so the reordering commutes with quantization:
// dequantizing a GGUF tensor and undoing the reordering gives exactly the weights llama.cpp
// computes with, in the checkpoint's layout.
//
// Names: model.embed_tokens.weight → token_embd.weight; model.layers.N.input_layernorm →
// blk.N.attn_norm, self_attn.{q,k,v,o}_proj → blk.N.attn_{q,k,v,output}, post_attention_layernorm
// → blk.N.ffn_norm, mlp.{gate,up,down}_proj → blk.N.ffn_{gate,up,down}; model.norm →
// output_norm; lm_head → output (absent when the embeddings are tied). GGUF dims are the
// checkpoint's reversed ([out, in] → dims {in, out}).
//
// Metadata written (llama.cpp's keys): general.architecture "llama", general.name,
// general.file_type, general.quantization_version 2, llama.{context_length, embedding_length,
// block_count, feed_forward_length, rope.dimension_count, rope.freq_base, attention.head_count,
// attention.head_count_kv, attention.layer_norm_rms_epsilon, attention.key_length,
// attention.value_length, vocab_size}, and the tokenizer: hone writes byte-level vocabularies
// only (vocab_size 256, token id = byte value, as the language-model fixture), as
// tokenizer.ggml.model "llama" with the 256 byte tokens "<0x00>" … "<0xFF>" (token type 6,
// BYTE), no BOS added. Other vocabularies need the checkpoint's tokenizer converted: refused
// as unsupported.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/io/gguf.hpp"
#include "hone/model/llama.hpp"

#include <string>
#include <string_view>

namespace hone::io {

/// The GGUF name of a checkpoint tensor (see the top); throws not_found for a name that is not
/// part of a LLaMA checkpoint.
HONE_EXPORT std::string gguf_llama_name(std::string_view checkpoint_name);

/// The row reordering for q_proj/k_proj (see the top) on an f32 [rows, cols] weight with
/// `heads` heads; `inverse` undoes it. Throws shape_mismatch when rows is not heads · an even
/// head size.
HONE_EXPORT tensor gguf_llama_permute_rows(const_tensor_view weight, std::int64_t heads,
                                           bool inverse);

/// Whether (and with how many heads) a checkpoint tensor is reordered: q_proj → heads,
/// k_proj → KV heads, anything else 0.
HONE_EXPORT std::int64_t gguf_llama_permuted_heads(const llama_config& config,
                                                   std::string_view checkpoint_name);

/// The metadata above for `config`. Throws unsupported for a vocabulary other than 256 bytes.
HONE_EXPORT gguf_metadata gguf_llama_metadata(const llama_config& config, std::string_view name,
                                              std::uint32_t file_type);

/// The configuration a LLaMA GGUF file's metadata describes. Throws not_found / format_error
/// naming the key, unsupported for an architecture other than "llama".
HONE_EXPORT llama_config gguf_llama_config(const gguf_file& file);

/// Weights from a GGUF file for llama_block_graph and friends: each checkpoint name's tensor
/// dequantized (F32, F16, BF16, Q8_0, Q4_0, Q4_K) and, for q/k, un-reordered — exactly the
/// values llama.cpp multiplies with, in the checkpoint's layout. The callable keeps the file
/// alive; throws not_found naming the file and both names, unsupported for other types.
HONE_EXPORT llama_weights gguf_llama_weights(const gguf_file& file, const llama_config& config);

} // namespace hone::io
