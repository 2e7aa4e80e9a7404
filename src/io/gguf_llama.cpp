// LLaMA checkpoints in GGUF, as llama.cpp reads them (hone/io/gguf_llama.hpp).
#include "hone/io/gguf_llama.hpp"

#include "hone/core/error.hpp"
#include "hone/kernels/convert.hpp"
#include "hone/kernels/gguf_blocks.hpp"

#include <charconv>
#include <cstring>
#include <fmt/format.h>

namespace hone::io {

namespace {

// Suffix of a block tensor name → llama.cpp's.
constexpr std::pair<std::string_view, std::string_view> block_parts[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

} // namespace

std::string gguf_llama_name(std::string_view name) {
    if (name == "model.embed_tokens.weight") return "token_embd.weight";
    if (name == "model.norm.weight") return "output_norm.weight";
    if (name == "lm_head.weight") return "output.weight";
    constexpr std::string_view prefix = "model.layers.";
    if (name.starts_with(prefix)) {
        const std::string_view rest = name.substr(prefix.size());
        std::int64_t layer = -1;
        const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
        if (ec == std::errc() && layer >= 0 && end != rest.data() + rest.size() && *end == '.') {
            const std::string_view part = rest.substr(std::size_t(end - rest.data()) + 1);
            for (const auto& [hf, gg] : block_parts)
                if (part == hf) return fmt::format("blk.{}.{}", layer, gg);
        }
    }
    fail(status::not_found,
         fmt::format("tensor '{}' is not part of a LLaMA checkpoint (no GGUF name)", name));
}

tensor gguf_llama_permute_rows(const_tensor_view weight, std::int64_t heads, bool inverse) {
    if (weight.type() != dtype::f32 || weight.rank() != 2)
        fail(status::dtype_mismatch, "gguf_llama_permute_rows: expected f32 [rows, cols]");
    const std::int64_t rows = weight.dims()[0], cols = weight.dims()[1];
    if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0)
        fail(status::shape_mismatch,
             fmt::format("gguf_llama_permute_rows: {} rows are not {} heads of an even size", rows,
                         heads));
    const std::int64_t d = rows / heads, half = d / 2;
    const tensor src = tensor::copy_of(weight);
    tensor out(dtype::f32, weight.dims());
    const auto s = src.span<float>();
    auto o = out.span<float>();
    for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t part = 0; part < 2; ++part)
            for (std::int64_t i = 0; i < half; ++i) {
                const std::int64_t hf_row = h * d + part * half + i,
                                   gguf_row = h * d + 2 * i + part;
                const std::int64_t from = inverse ? gguf_row : hf_row;
                const std::int64_t to = inverse ? hf_row : gguf_row;
                std::copy_n(s.begin() + from * cols, cols, o.begin() + to * cols);
            }
    return out;
}

std::int64_t gguf_llama_permuted_heads(const llama_config& config, std::string_view name) {
    if (name.ends_with("self_attn.q_proj.weight")) return config.num_attention_heads;
    if (name.ends_with("self_attn.k_proj.weight")) return config.num_key_value_heads;
    return 0;
}

gguf_metadata gguf_llama_metadata(const llama_config& c, std::string_view name,
                                  std::uint32_t file_type) {
    if (c.vocab_size != 256)
        fail(status::unsupported,
             fmt::format("GGUF tokenizer: hone writes byte-level vocabularies (256 tokens) only; "
                         "this model has {} tokens",
                         c.vocab_size));
    auto u32 = [](std::int64_t v) { return gguf_value(std::uint32_t(v)); };
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<std::int32_t> types;
    for (int b = 0; b < 256; ++b) {
        tokens.push_back(fmt::format("<0x{:02X}>", b));
        scores.push_back(0.0f);
        types.push_back(6); // BYTE
    }
    return {
        {"general.architecture", std::string("llama")},
        {"general.name", std::string(name)},
        {"general.file_type", std::uint32_t(file_type)},
        {"general.quantization_version", std::uint32_t(2)},
        {"llama.context_length", u32(c.max_position_embeddings)},
        {"llama.embedding_length", u32(c.hidden_size)},
        {"llama.block_count", u32(c.num_hidden_layers)},
        {"llama.feed_forward_length", u32(c.intermediate_size)},
        {"llama.rope.dimension_count", u32(c.head_dim)},
        {"llama.rope.freq_base", float(c.rope_theta)},
        {"llama.attention.head_count", u32(c.num_attention_heads)},
        {"llama.attention.head_count_kv", u32(c.num_key_value_heads)},
        {"llama.attention.layer_norm_rms_epsilon", float(c.rms_norm_eps)},
        {"llama.attention.key_length", u32(c.head_dim)},
        {"llama.attention.value_length", u32(c.head_dim)},
        {"llama.vocab_size", u32(c.vocab_size)},
        {"tokenizer.ggml.model", std::string("llama")},
        {"tokenizer.ggml.tokens", gguf_array{std::move(tokens)}},
        {"tokenizer.ggml.scores", gguf_array{std::move(scores)}},
        {"tokenizer.ggml.token_type", gguf_array{std::move(types)}},
        {"tokenizer.ggml.add_bos_token", false},
        {"tokenizer.ggml.add_eos_token", false},
    };
}

llama_config gguf_llama_config(const gguf_file& f) {
    if (f.get<std::string>("general.architecture") != "llama")
        fail(status::unsupported,
             fmt::format("{}: general.architecture '{}' is not llama", f.source(),
                         f.get<std::string>("general.architecture")));
    auto u = [&](const char* key) { return std::int64_t(f.get<std::uint32_t>(key)); };
    llama_config c;
    c.hidden_size = u("llama.embedding_length");
    c.num_hidden_layers = u("llama.block_count");
    c.intermediate_size = u("llama.feed_forward_length");
    c.num_attention_heads = u("llama.attention.head_count");
    c.num_key_value_heads = u("llama.attention.head_count_kv");
    c.head_dim = f.find("llama.attention.key_length") ? u("llama.attention.key_length")
                                                      : c.hidden_size / c.num_attention_heads;
    c.max_position_embeddings = u("llama.context_length");
    c.rope_theta = f.get<float>("llama.rope.freq_base");
    c.rms_norm_eps = f.get<float>("llama.attention.layer_norm_rms_epsilon");
    c.vocab_size = std::int64_t(f.info("token_embd.weight").dims.at(1));
    c.tie_word_embeddings = !f.contains("output.weight");
    if (c.num_attention_heads <= 0 || c.num_key_value_heads <= 0 ||
        c.num_attention_heads % c.num_key_value_heads != 0 || c.head_dim <= 0 || c.head_dim % 2)
        fail(status::format_error,
             fmt::format("{}: attention heads {} / KV heads {} / head size {} are inconsistent",
                         f.source(), c.num_attention_heads, c.num_key_value_heads, c.head_dim));
    return c;
}

llama_weights gguf_llama_weights(const gguf_file& file, const llama_config& config) {
    return [file, config](const std::string& name) {
        const std::string gg = gguf_llama_name(name);
        if (!file.contains(gg))
            fail(status::not_found, fmt::format("{}: no tensor '{}' (checkpoint tensor '{}')",
                                                file.source(), gg, name));
        const gguf_tensor_info& info = file.info(gg);
        std::vector<std::int64_t> reversed;
        for (auto it = info.dims.rbegin(); it != info.dims.rend(); ++it)
            reversed.push_back(std::int64_t(*it));
        const shape dims(reversed);
        tensor out(dtype::f32, dims);
        const auto bytes = file.data(gg);
        switch (info.type) {
        case gguf_type::f32: std::memcpy(out.data(), bytes.data(), out.nbytes()); break;
        case gguf_type::f16:
        case gguf_type::bf16: {
            const dtype from = info.type == gguf_type::f16 ? dtype::f16 : dtype::bf16;
            kernels::convert(make_view(bytes.data(), bytes.size(), from, dims), out.view());
            break;
        }
        case gguf_type::q8_0:
        case gguf_type::q4_0:
        case gguf_type::q4_k:
            kernels::dequantize_gguf_rows(kernels::gguf_block_type(info.type), bytes, out.view());
            break;
        default:
            fail(status::unsupported,
                 fmt::format("{}: tensor '{}' is {}; hone dequantizes F32, F16, BF16, Q8_0, "
                             "Q4_0 and Q4_K",
                             file.source(), gg, gguf_type_name(info.type)));
        }
        file.release(gg); // bounded memory: the mapped pages do not stay resident
        if (const std::int64_t heads = gguf_llama_permuted_heads(config, name))
            return gguf_llama_permute_rows(out.view(), heads, true);
        return out;
    };
}

} // namespace hone::io
