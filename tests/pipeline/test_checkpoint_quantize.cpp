// quantize_checkpoint (hone/pipeline/checkpoint_quantize.hpp) and the GGUF side of LLaMA
// checkpoints (hone/io/gguf_llama.hpp): the language-model fixture's checkpoint to GGUF Q8_0,
// Q4_0 and Q4_K, executed back by hone from the file's own bytes and compared with the f32
// checkpoint on held-out text; calibration importance lowering the weighted error; a run
// stopped after a piece and resumed writing the same bytes as an uninterrupted one; work
// folders from other inputs refused.
#include "../status_of.hpp"
#include "lm_checkpoint.hpp"
#include "synthetic_llama.hpp"

#include <hone/core/threads.hpp>
#include <hone/data/arrays.hpp>
#include <hone/io/checkpoint.hpp>
#include <hone/io/gguf_llama.hpp>
#include <hone/model/llama.hpp>
#include <hone/pipeline/checkpoint_quantize.hpp>
#include <hone/validate/language_model.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace hone;
namespace fs = std::filesystem;

namespace {

using test::lm_file;
using test::lm_tokens;
using test::temp_dir;

std::string file_bytes(const fs::path& p) { return read_file(p); }

// Perplexity change and mean KL of hone executing the GGUF's weights against the checkpoint.
lm_slice_metrics gguf_vs_checkpoint(const fs::path& gguf, const fs::path& folder,
                                    const tensor& eval) {
    const auto ckpt = io::checkpoint::open(folder);
    const auto config = llama_config::parse(ckpt.config_text(), "config.json");
    const auto file = io::gguf_file::open(gguf);
    const auto from_file = io::gguf_llama_config(file);
    CHECK(from_file.hidden_size == config.hidden_size);
    CHECK(from_file.num_key_value_heads == config.num_key_value_heads);
    CHECK(from_file.rms_norm_eps == doctest::Approx(config.rms_norm_eps));
    const tensor base = llama_forward(
        config, [&](const std::string& n) { return ckpt.read_f32(n); }, eval.view());
    const tensor cand = llama_forward(config, io::gguf_llama_weights(file, config), eval.view());
    const tensor targets = next_token_targets(eval.view());
    return compare_language_models(base.view(), cand.view(), targets.view()).overall;
}

} // namespace

TEST_CASE("gguf_llama: names, row order and metadata as llama.cpp reads them") {
    CHECK(io::gguf_llama_name("model.embed_tokens.weight") == "token_embd.weight");
    CHECK(io::gguf_llama_name("model.layers.12.self_attn.o_proj.weight") ==
          "blk.12.attn_output.weight");
    CHECK(io::gguf_llama_name("model.layers.0.mlp.down_proj.weight") == "blk.0.ffn_down.weight");
    CHECK(io::gguf_llama_name("model.layers.3.post_attention_layernorm.weight") ==
          "blk.3.ffn_norm.weight");
    CHECK(io::gguf_llama_name("lm_head.weight") == "output.weight");
    for (const char* bad :
         {"model.layers.x.mlp.up_proj.weight", "model.layers.1.mlp.foo", "rotary_emb.inv_freq"}) {
        CAPTURE(bad);
        CHECK(status_of([&] { (void)io::gguf_llama_name(bad); }) == status::not_found);
    }

    // One head of size 4: HF rows (half 0: a b, half 1: c d) become a c b d.
    tensor w(dtype::f32, shape{8, 1});
    for (int i = 0; i < 8; ++i)
        w.span<float>()[std::size_t(i)] = float(i);
    const tensor p = io::gguf_llama_permute_rows(w.view(), 2, false);
    const std::vector<float> want = {0, 2, 1, 3, 4, 6, 5, 7};
    CHECK(std::vector<float>(p.span<float>().begin(), p.span<float>().end()) == want);
    const tensor back = io::gguf_llama_permute_rows(p.view(), 2, true);
    CHECK(std::vector<float>(back.span<float>().begin(), back.span<float>().end()) ==
          std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(status_of([&] { (void)io::gguf_llama_permute_rows(w.view(), 3, false); }) ==
          status::shape_mismatch);

    llama_config c;
    c.vocab_size = 300;
    CHECK(status_of([&] { (void)io::gguf_llama_metadata(c, "x", 7); }) == status::unsupported);
}

TEST_CASE("checkpoint → GGUF Q8_0 with calibration: hone runs the file within 0.3% ppl") {
    const temp_dir dir("hone_test_ckpt_", "q8");
    checkpoint_quantize_options o;
    o.checkpoint = lm_file("hf");
    o.out = dir.path / "model-q8_0.gguf";
    o.type = io::gguf_type::q8_0;
    o.calibration = lm_tokens("tokens.calib.npy", 16);
    const auto r = quantize_checkpoint(o);
    CHECK(r.pieces == 6);
    CHECK(r.pieces_resumed == 0);
    CHECK(!fs::exists(dir.path / "model-q8_0.gguf.work"));
    REQUIRE(r.shards.size() == 1);
    CHECK(r.shards[0].sha256 == hash_file(lm_file("hf/model.safetensors")).sha256);
    CHECK(r.outputs.at(0).sha256 == hash_file(o.out).sha256);
    CHECK(r.calibration_sha256.size() == 64);
    // The embedding, 9 tensors per block, the final norm and the head.
    REQUIRE(r.tensors.size() == 1 + 4 * 9 + 2);
    CHECK(r.tensors.front().name == "token_embd.weight");
    CHECK(r.tensors.back().name == "output.weight");
    for (const auto& t : r.tensors) {
        CAPTURE(t.name);
        CHECK(t.type == (t.dims.size() == 1 ? "F32" : "Q8_0"));
        if (t.dims.size() == 2) CHECK(t.relative_rmse < 0.01);
    }
    // The file as llama.cpp reads it: names, types, dims.
    const auto f = io::gguf_file::open(o.out);
    CHECK(f.get<std::string>("general.architecture") == "llama");
    CHECK(f.info("blk.2.attn_k.weight").dims == std::vector<std::uint64_t>{128, 64});
    CHECK(f.info("blk.2.attn_k.weight").type == io::gguf_type::q8_0);
    CHECK(f.info("blk.2.ffn_norm.weight").type == io::gguf_type::f32);
    CHECK(r.output_bytes < r.checkpoint_bytes / 3);

    const auto m = gguf_vs_checkpoint(o.out, o.checkpoint, lm_tokens("tokens.eval.npy", 32));
    MESSAGE("Q8_0: Δppl " << m.perplexity_change.value * 100 << "% ["
                          << m.perplexity_change.ci.low * 100 << ", "
                          << m.perplexity_change.ci.high * 100 << "], KL " << m.mean_kl.value
                          << ", top-1 agreement " << m.top1_agreement.value);
    CHECK(std::fabs(m.perplexity_change.value) < 0.003);
    CHECK(m.top1_agreement.value > 0.98);
}

TEST_CASE("checkpoint → GGUF Q4_0: calibration importance lowers the weighted error") {
    const temp_dir dir("hone_test_ckpt_", "q4");
    checkpoint_quantize_options o;
    o.checkpoint = lm_file("hf");
    o.type = io::gguf_type::q4_k; // rows of 128 and 320: every matrix falls back to Q4_0
    o.out = dir.path / "plain.gguf";
    const auto plain = quantize_checkpoint(o);
    o.out = dir.path / "imatrix.gguf";
    o.calibration = lm_tokens("tokens.calib.npy", 32);
    const auto weighted = quantize_checkpoint(o);
    REQUIRE(plain.tensors.size() == weighted.tensors.size());
    int better = 0, matrices = 0;
    for (std::size_t i = 0; i < plain.tensors.size(); ++i) {
        const auto& a = plain.tensors[i];
        const auto& b = weighted.tensors[i];
        CAPTURE(a.name);
        if (a.dims.size() == 1) continue;
        CHECK(a.type == (a.name == "output.weight" ? "Q8_0" : "Q4_0"));
        if (a.name == "token_embd.weight") continue; // no activations: same rounding
        ++matrices;
        better += b.weighted_relative_rmse < a.weighted_relative_rmse;
    }
    MESSAGE(better << " of " << matrices << " matrices have a lower importance-weighted error");
    CHECK(better == matrices);
    const tensor eval = lm_tokens("tokens.eval.npy", 32);
    const auto mp = gguf_vs_checkpoint(plain.outputs.at(0).path, o.checkpoint, eval);
    const auto mw = gguf_vs_checkpoint(weighted.outputs.at(0).path, o.checkpoint, eval);
    MESSAGE("Q4_0 plain: Δppl " << mp.perplexity_change.value * 100 << "%, KL " << mp.mean_kl.value
                                << "; with importance: Δppl " << mw.perplexity_change.value * 100
                                << "%, KL " << mw.mean_kl.value);
    CHECK(mw.mean_kl.value < mp.mean_kl.value);
    CHECK(mw.perplexity_change.value < 0.03);
}

TEST_CASE("checkpoint → GGUF: a stopped run resumes and writes the same bytes") {
    const temp_dir dir("hone_test_ckpt_", "resume");
    checkpoint_quantize_options o;
    o.checkpoint = lm_file("hf");
    o.type = io::gguf_type::q4_0;
    o.calibration = lm_tokens("tokens.calib.npy", 8);
    o.out = dir.path / "whole.gguf";
    (void)quantize_checkpoint(o);

    o.out = dir.path / "resumed.gguf";
    std::int64_t seen = 0;
    o.progress = [&](const checkpoint_progress& p) {
        seen = p.piece;
        return p.piece < 2; // stop after piece 2: the embedding and blocks 0 and 1
    };
    std::string message;
    CHECK(status_of([&] { (void)quantize_checkpoint(o); }, &message) == status::cancelled);
    CHECK(seen == 2);
    CHECK(!fs::exists(o.out));
    CHECK(fs::exists(dir.path / "resumed.gguf.work" / "piece-0002.json"));
    CHECK(fs::exists(dir.path / "resumed.gguf.work" / "hidden-0002.safetensors"));
    CHECK(!fs::exists(dir.path / "resumed.gguf.work" / "hidden-0001.safetensors"));

    // Another type with the same work folder is refused, naming the field.
    checkpoint_quantize_options other;
    other.checkpoint = o.checkpoint;
    other.out = o.out;
    other.calibration = tensor::copy_of(o.calibration.view());
    other.type = io::gguf_type::q8_0;
    CHECK(status_of([&] { (void)quantize_checkpoint(other); }, &message) ==
          status::invalid_argument);
    CHECK(message.find("'output'") != std::string::npos);

    std::int64_t resumed = 0;
    o.progress = [&](const checkpoint_progress& p) {
        resumed += p.resumed;
        return true;
    };
    const int saved = num_threads();
    set_num_threads(1); // the resumed half at another thread count: still the same bytes
    const auto r = quantize_checkpoint(o);
    set_num_threads(saved);
    CHECK(r.pieces_resumed == 3);
    CHECK(resumed == 3);
    CHECK(file_bytes(dir.path / "resumed.gguf") == file_bytes(dir.path / "whole.gguf"));
    CHECK(!fs::exists(dir.path / "resumed.gguf.work"));
}

TEST_CASE("checkpoint → compressed-tensors int4: a checkpoint folder hone reads back") {
    const temp_dir dir("hone_test_ckpt_", "ct");
    checkpoint_quantize_options o;
    o.checkpoint = lm_file("hf");
    o.out = dir.path / "int4";
    o.format = checkpoint_format::compressed_tensors;
    o.scheme.bits = 4;
    o.scheme.group_size = 32;
    o.calibration = lm_tokens("tokens.calib.npy", 16);
    const auto r = quantize_checkpoint(o);
    CHECK(!fs::exists(dir.path / "int4.work"));
    CHECK(r.outputs.size() == 6 + 2); // a shard per piece, the index, config.json
    for (const auto& t : r.tensors) {
        CAPTURE(t.name);
        const bool packed = t.name.find("_proj") != std::string::npos;
        CHECK(t.type == (packed ? "int4 g32 symmetric" : "F32"));
    }
    const auto out = io::checkpoint::open(o.out);
    CHECK(out.shards().size() == 6);
    CHECK(out.contains("model.layers.3.mlp.down_proj.weight_packed"));
    CHECK(out.info("model.layers.3.mlp.down_proj.weight_packed").type == dtype::i32);
    CHECK(out.contains("lm_head.weight"));
    const auto config = io::parse_compressed_tensors_config(out.config_text());
    REQUIRE(config.groups.size() == 1);
    CHECK(config.groups[0].scheme.group_size == 32);
    CHECK(config.ignore == std::vector<std::string>{"lm_head"});
    CHECK(r.output_bytes < r.checkpoint_bytes / 3);

    // Validated as the engine gets it: hone unpacks the folder's tensors.
    const auto ckpt = io::checkpoint::open(o.checkpoint);
    const auto c = llama_config::parse(ckpt.config_text(), "config.json");
    const tensor eval = lm_tokens("tokens.eval.npy", 32);
    const tensor base = llama_forward(
        c, [&](const std::string& n) { return ckpt.read_f32(n); }, eval.view());
    const tensor cand = llama_forward(c, io::compressed_tensors_weights(out), eval.view());
    const tensor targets = next_token_targets(eval.view());
    const auto m = compare_language_models(base.view(), cand.view(), targets.view()).overall;
    MESSAGE("compressed-tensors int4 g32: Δppl " << m.perplexity_change.value * 100 << "%, KL "
                                                 << m.mean_kl.value);
    CHECK(m.perplexity_change.value < 0.03);
    CHECK(m.mean_kl.value < 0.01);
}

TEST_CASE("checkpoint → GGUF Q4_K on rows of 256; bad options are refused") {
    const temp_dir dir("hone_test_ckpt_", "q4k");
    test::write_synthetic_llama(dir.path / "ckpt");
    checkpoint_quantize_options o;
    o.checkpoint = dir.path / "ckpt";
    o.out = dir.path / "q4k.gguf";
    o.type = io::gguf_type::q4_k;
    const auto r = quantize_checkpoint(o);
    for (const auto& t : r.tensors) {
        CAPTURE(t.name);
        if (t.dims.size() == 1) continue;
        CHECK(t.type == (t.name == "output.weight" ? "Q8_0" : "Q4_K"));
        if (t.name != "output.weight") CHECK(t.relative_rmse < 0.12);
    }

    std::string message;
    o.type = io::gguf_type::q6_k;
    CHECK(status_of([&] { (void)quantize_checkpoint(o); }, &message) == status::invalid_argument);
    CHECK(message.find("Q6_K") != std::string::npos);
    o.type = io::gguf_type::q8_0;
    o.calibration = tensor(dtype::f32, shape{2, 4});
    CHECK(status_of([&] { (void)quantize_checkpoint(o); }, &message) == status::invalid_argument);
    o.calibration = tensor(dtype::i64, shape{1, 4});
    o.calibration.span<std::int64_t>()[2] = 999;
    CHECK(status_of([&] { (void)quantize_checkpoint(o); }, &message) == status::invalid_argument);
    CHECK(message.find("999") != std::string::npos);
    o.checkpoint = dir.path / "nowhere";
    CHECK(status_of([&] { (void)quantize_checkpoint(o); }, &message) == status::not_found);
}
