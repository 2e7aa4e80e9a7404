// Test helper: a LLaMA checkpoint folder made on the fly with seeded random weights, for
// shapes the committed fixture lacks (rows a multiple of 256 for Q4_K, sizes for memory runs).
#pragma once

#include <hone/core/atomic_file.hpp>
#include <hone/io/safetensors.hpp>
#include <hone/model/llama.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace hone::test {

struct synthetic_llama {
    std::int64_t vocab = 256, hidden = 256, intermediate = 512, layers = 2, heads = 4, kv_heads = 2,
                 context = 64;
    std::uint32_t seed = 7;
    /// One shard per block (plus one for the embedding and one for the head) with
    /// model.safetensors.index.json: memory while writing stays at one block.
    bool sharded = false;
};

/// Writes config.json and model.safetensors into `folder` (created). Embeddings ~ N(0, 1),
/// linear weights ~ N(0, 1/in) (unit-variance outputs), RMSNorm weights 1 ± 0.1, the LM head
/// ~ N(0, 4/in): peaked next-token distributions, so top-1 comparisons are not coin flips.
inline void write_synthetic_llama(const std::filesystem::path& folder,
                                  const synthetic_llama& s = {}) {
    std::filesystem::create_directories(folder);
    std::mt19937 rng(s.seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<tensor> keep;
    std::vector<io::safetensors_entry> entries;
    std::string index;
    int shard = 0;
    const int shards = int(s.layers) + 2;
    auto flush = [&](bool last) {
        if (!s.sharded && !last) return;
        const std::string file = s.sharded ? "model-" + std::to_string(shard + 1) + "-of-" +
                                                 std::to_string(shards) + ".safetensors"
                                           : std::string("model.safetensors");
        io::save_safetensors(folder / file, entries);
        for (const auto& e : entries)
            index += (index.empty() ? "" : ", ") + ("\"" + e.name + "\": \"" + file + "\"");
        entries.clear();
        keep.clear();
        ++shard;
    };
    auto add = [&](const std::string& name, shape dims, float stddev, float mean = 0.0f) {
        tensor t(dtype::f32, dims);
        for (float& v : t.span<float>())
            v = mean + stddev * normal(rng);
        keep.push_back(std::move(t));
        entries.push_back({name, keep.back().view()});
    };
    const std::int64_t hd = s.hidden / s.heads;
    add("model.embed_tokens.weight", shape{s.vocab, s.hidden}, 1.0f);
    flush(false);
    for (std::int64_t l = 0; l < s.layers; ++l) {
        const auto in_std = [](std::int64_t in) { return 1.0f / std::sqrt(float(in)); };
        add(llama_norm_name(l, true), shape{s.hidden}, 0.1f, 1.0f);
        add(llama_norm_name(l, false), shape{s.hidden}, 0.1f, 1.0f);
        add(llama_weight_name(l, llama_linear::q_proj), shape{s.heads * hd, s.hidden},
            in_std(s.hidden));
        add(llama_weight_name(l, llama_linear::k_proj), shape{s.kv_heads * hd, s.hidden},
            in_std(s.hidden));
        add(llama_weight_name(l, llama_linear::v_proj), shape{s.kv_heads * hd, s.hidden},
            in_std(s.hidden));
        add(llama_weight_name(l, llama_linear::o_proj), shape{s.hidden, s.heads * hd},
            in_std(s.hidden));
        add(llama_weight_name(l, llama_linear::gate_proj), shape{s.intermediate, s.hidden},
            in_std(s.hidden));
        add(llama_weight_name(l, llama_linear::up_proj), shape{s.intermediate, s.hidden},
            in_std(s.hidden));
        add(llama_weight_name(l, llama_linear::down_proj), shape{s.hidden, s.intermediate},
            in_std(s.intermediate));
        flush(false);
    }
    add("model.norm.weight", shape{s.hidden}, 0.1f, 1.0f);
    add("lm_head.weight", shape{s.vocab, s.hidden}, 2.0f / std::sqrt(float(s.hidden)));
    flush(true);
    if (s.sharded)
        write_file_atomic(folder / "model.safetensors.index.json",
                          "{\"metadata\": {}, \"weight_map\": {" + index + "}}\n");
    write_file_atomic(folder / "config.json",
                      "{\"model_type\": \"llama\", \"vocab_size\": " + std::to_string(s.vocab) +
                          ", \"hidden_size\": " + std::to_string(s.hidden) +
                          ", \"intermediate_size\": " + std::to_string(s.intermediate) +
                          ", \"num_hidden_layers\": " + std::to_string(s.layers) +
                          ", \"num_attention_heads\": " + std::to_string(s.heads) +
                          ", \"num_key_value_heads\": " + std::to_string(s.kv_heads) +
                          ", \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0" +
                          ", \"max_position_embeddings\": " + std::to_string(s.context) +
                          ", \"tie_word_embeddings\": false}\n");
}

} // namespace hone::test
