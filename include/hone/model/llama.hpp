// hone/model/llama.hpp — LLaMA-family decoders run by hone's executor, one weight at a time.
//
// A checkpoint (hone/io/checkpoint.hpp) is weights by name, not a graph. llama_run_block runs
// one decoder block on hidden states as a chain of stages, each holding at most one weight
// matrix: the norms, the attention and the SwiGLU product are small graphs (hone::model) run
// by hone's executor; each linear layer is the GEMM kernel the executor runs MatMul with
// (kernels::linear):
//   attention norm → q_proj, k_proj, v_proj → attention (rope, causal, grouped-query) →
//   o_proj + residual → MLP norm → gate_proj, up_proj → silu(gate) · up → down_proj + residual
// A matrix is read (through `weights`, or a hook) just before its stage runs and dropped as
// soon as the kernel has packed it: peak memory is about twice the largest matrix (as read,
// and packed) plus the activations — never a block, never the model. That is how hone calibrates,
// quantizes and evaluates checkpoints larger than memory. The hook sees the input each linear layer
// multiplies before choosing the weight it runs with: calibration statistics and sequential
// quantization (each layer quantized on what the already-quantized layers before it compute)
// come from it.
//
// The math is Hugging Face's LlamaForCausalLM (model_type "llama"):
//   h   = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))),  n1 = rms(x)·w1
//   out = h + down_proj(silu(gate_proj(n2)) · up_proj(n2)),                   n2 = rms(h)·w2
//   rms(x) = x / sqrt(mean(x²) + eps); rope rotates halves (HF's rotate_half), frequencies
//   theta^(−2i/head_dim); attention is causal, grouped-query (KV head g serves query heads
//   g·rep … g·rep + rep − 1, rep = heads / kv_heads), scaled by 1/sqrt(head_dim).
// Tensor names are Hugging Face's ("model.layers.3.self_attn.q_proj.weight"); linear weights
// are [out, in].
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/model/model.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace hone {

/// The fields of a LLaMA config.json hone uses.
struct llama_config {
    std::int64_t vocab_size = 0;
    std::int64_t hidden_size = 0;
    std::int64_t intermediate_size = 0;
    std::int64_t num_hidden_layers = 0;
    std::int64_t num_attention_heads = 0;
    std::int64_t num_key_value_heads = 0; ///< = num_attention_heads when the file omits it
    std::int64_t head_dim = 0;            ///< hidden_size / num_attention_heads when omitted
    double rms_norm_eps = 1e-6;
    double rope_theta = 10000.0;
    std::int64_t max_position_embeddings = 2048;
    bool tie_word_embeddings = false;

    /// Parses config.json text; `source` names it in errors. Throws format_error naming the
    /// field (missing, wrong type, non-positive, heads not dividing the sizes), unsupported for
    /// a model_type other than "llama"/"mistral" or a rope_scaling it does not implement.
    HONE_EXPORT static llama_config parse(std::string_view json_text, std::string_view source);
};

/// The seven linear layers of a block, in the order they run.
enum class llama_linear { q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj };
inline constexpr std::array<llama_linear, 7> llama_linears = {
    llama_linear::q_proj,    llama_linear::k_proj,  llama_linear::v_proj,   llama_linear::o_proj,
    llama_linear::gate_proj, llama_linear::up_proj, llama_linear::down_proj};

/// "model.layers.<layer>.self_attn.q_proj.weight" and so on.
HONE_EXPORT std::string llama_weight_name(std::int64_t layer, llama_linear which);
/// "model.layers.<layer>.input_layernorm.weight" (attention) or ".post_attention_layernorm".
HONE_EXPORT std::string llama_norm_name(std::int64_t layer, bool attention);
/// The LM head's weight: "lm_head.weight", or the embedding when they are tied.
HONE_EXPORT std::string llama_head_name(const llama_config& config);

/// Supplies a weight by its Hugging Face name as f32 in the checkpoint's layout.
using llama_weights = std::function<tensor(const std::string& name)>;
/// Called as each linear layer is about to run: `input` is what it multiplies (f32 [batch,
/// seq, in]); returns the weight [out, in] it runs with. An empty hook runs weights(name).
using llama_linear_hook = std::function<tensor(const std::string& name, const_tensor_view input)>;

/// The "cos", "sin" and "mask" inputs of the attention for sequences of `seq` tokens: cos and
/// sin f32 [seq, head_dim]; mask f32 [rep·seq, seq] (0 on and below the diagonal, −inf above,
/// repeated for the rep query heads of each KV head).
struct llama_positions {
    tensor cos, sin, mask;
};
HONE_EXPORT llama_positions llama_position_inputs(const llama_config& config, std::int64_t seq);

/// Embedding lookup: tokens i64 [batch, seq] → f32 [batch, seq, hidden] from the embedding
/// [vocab, hidden]. Throws invalid_argument naming the position of a token outside the vocab.
HONE_EXPORT tensor llama_embed(const_tensor_view embedding, const_tensor_view tokens);

/// Decoder block `layer` on hidden f32 [batch, seq, hidden] (see the top). Throws out_of_range
/// for a layer past the config, shape_mismatch naming a weight whose shape disagrees with it.
HONE_EXPORT tensor llama_run_block(const llama_config& config, std::int64_t layer,
                                   const llama_weights& weights, const_tensor_view hidden,
                                   const llama_positions& positions,
                                   const llama_linear_hook& hook = {});

/// The final RMSNorm of hidden [batch, seq, hidden]: what the LM head multiplies.
HONE_EXPORT tensor llama_final_norm(const llama_config& config, const llama_weights& weights,
                                    const_tensor_view hidden);

/// Final RMSNorm and LM head: hidden [batch, seq, hidden] → logits [batch, seq, vocab]. The
/// hook sees the head's input.
HONE_EXPORT tensor llama_run_head(const llama_config& config, const llama_weights& weights,
                                  const_tensor_view hidden, const llama_linear_hook& hook = {});

/// Logits f32 [batch, seq, vocab] of token rows i64 [batch, seq]: embedding, every block,
/// head — one weight matrix in memory at a time. Throws as the functions above.
HONE_EXPORT tensor llama_forward(const llama_config& config, const llama_weights& weights,
                                 const_tensor_view tokens);

} // namespace hone
