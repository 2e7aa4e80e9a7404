// LLaMA checkpoints as hone graphs (hone/model/llama.hpp) and checkpoint folders
// (hone/io/checkpoint.hpp): the language-model fixture's Hugging Face checkpoint, run block by
// block through hone's executor, must give PyTorch's logits (tests/fixtures/lm/ref_logits.npy);
// sharded folders read the same tensors; malformed folders and configs are refused by name.
#include "../model/fixture_path.hpp"
#include "../status_of.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/data/arrays.hpp>
#include <hone/io/checkpoint.hpp>
#include <hone/io/safetensors.hpp>
#include <hone/model/llama.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <unistd.h>

using namespace hone;
namespace fs = std::filesystem;

namespace {

fs::path lm_file(const std::string& name) { return test::fixtures_dir() / "lm" / name; }

tensor read_npy(const std::string& name) {
    const auto p = lm_file(name);
    return parse_npy(read_maybe_gzip(p), p.string());
}

double relative_max_error(const_tensor_view got, const_tensor_view ref) {
    REQUIRE(got.dims() == ref.dims());
    const tensor g = tensor::copy_of(got), r = tensor::copy_of(ref);
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < r.span<float>().size(); ++i) {
        scale = std::max(scale, std::fabs(double(r.span<float>()[i])));
        const double d = std::fabs(double(g.span<float>()[i]) - double(r.span<float>()[i]));
        if (!(d <= err)) err = d;
    }
    return err / scale;
}

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_test_llama_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

// The fixture's checkpoint split into two shards with an index.
void write_sharded(const fs::path& dir, const std::string& index_override = {}) {
    const auto src = io::safetensors_file::open(lm_file("hf/model.safetensors"));
    std::vector<io::safetensors_entry> a, b;
    std::string map;
    std::vector<tensor> keep;
    for (const auto& name : src.names()) {
        const bool first = name.find("layers.2") == std::string::npos &&
                           name.find("layers.3") == std::string::npos && name != "lm_head.weight";
        keep.push_back(src.read(name));
        (first ? a : b).push_back({name, keep.back().view()});
        map += (map.empty() ? "" : ",") + ("\"" + name + "\": \"") +
               (first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors") +
               "\"";
    }
    io::save_safetensors(dir / "model-00001-of-00002.safetensors", a);
    io::save_safetensors(dir / "model-00002-of-00002.safetensors", b);
    write_file_atomic(dir / "model.safetensors.index.json",
                      index_override.empty() ? "{\"metadata\": {}, \"weight_map\": {" + map + "}}"
                                             : index_override);
    fs::copy_file(lm_file("hf/config.json"), dir / "config.json");
}

} // namespace

TEST_CASE("llama: the fixture checkpoint run block by block gives PyTorch's logits") {
    const auto ckpt = io::checkpoint::open(lm_file("hf"));
    const auto config = llama_config::parse(ckpt.config_text(), "config.json");
    CHECK(config.head_dim == 32);
    CHECK(config.num_key_value_heads == 2);
    const tensor tokens = read_npy("tokens.eval.npy");
    const tensor ref = read_npy("ref_logits.npy");
    const std::int64_t rows = ref.dims()[0];
    const tensor batch = tensor::copy_of(tokens.view().slice(0, 0, rows));
    const llama_weights weights = [&](const std::string& name) { return ckpt.read_f32(name); };
    const tensor got = llama_forward(config, weights, batch.view());
    const double rel = relative_max_error(got.view(), ref.view());
    MESSAGE("max |hone, block by block − PyTorch| = " << rel << " × max |PyTorch|");
    CHECK(rel <= 1e-4);

    // A shorter sequence: causal, so its logits are the prefix of the long run's.
    const tensor short_row = tensor::copy_of(tokens.view().slice(0, 0, 1).slice(1, 0, 9));
    const tensor got_short = llama_forward(config, weights, short_row.view());
    const tensor ref_short = tensor::copy_of(ref.view().slice(0, 0, 1).slice(1, 0, 9));
    CHECK(relative_max_error(got_short.view(), ref_short.view()) <= 1e-4);
}

TEST_CASE("llama: a block runs its seven linear layers in order, each through the hook") {
    const auto ckpt = io::checkpoint::open(lm_file("hf"));
    const auto config = llama_config::parse(ckpt.config_text(), "config.json");
    const llama_weights weights = [&](const std::string& name) { return ckpt.read_f32(name); };
    const tensor tokens = tensor::copy_of(read_npy("tokens.eval.npy").view().slice(0, 0, 2));
    const tensor hidden = llama_embed(weights("model.embed_tokens.weight").view(), tokens.view());
    const auto pos = llama_position_inputs(config, tokens.dims()[1]);
    std::vector<std::string> seen;
    std::vector<std::int64_t> widths;
    const tensor with_hook = llama_run_block(config, 1, weights, hidden.view(), pos,
                                             [&](const std::string& name, const_tensor_view input) {
                                                 seen.push_back(name);
                                                 widths.push_back(input.dims()[2]);
                                                 CHECK(input.dims()[0] == 2);
                                                 return weights(name);
                                             });
    std::vector<std::string> want;
    for (const llama_linear which : llama_linears)
        want.push_back(llama_weight_name(1, which));
    CHECK(seen == want);
    CHECK(widths == std::vector<std::int64_t>{128, 128, 128, 128, 128, 128, 320});
    const tensor plain = llama_run_block(config, 1, weights, hidden.view(), pos);
    CHECK(std::memcmp(plain.data(), with_hook.data(), plain.nbytes()) == 0);

    CHECK(status_of([&] { (void)llama_run_block(config, 4, weights, hidden.view(), pos); }) ==
          status::out_of_range);
    // A weight of the wrong shape is named.
    std::string message;
    CHECK(status_of(
              [&] {
                  (void)llama_run_block(config, 0, weights, hidden.view(), pos,
                                        [&](const std::string& name, const_tensor_view) {
                                            if (name.find("k_proj") != std::string::npos)
                                                return tensor(dtype::f32, shape{128, 128});
                                            return weights(name);
                                        });
              },
              &message) == status::shape_mismatch);
    CHECK(message.find("model.layers.0.self_attn.k_proj.weight") != std::string::npos);
}

TEST_CASE("llama: position inputs and embedding") {
    llama_config c;
    c.hidden_size = 8;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 1;
    c.head_dim = 4;
    c.rope_theta = 10000;
    const auto p = llama_position_inputs(c, 3);
    CHECK(p.cos.dims() == shape{3, 4});
    CHECK(p.mask.dims() == shape{6, 3});
    // Position 2, frequency index 1: angle 2 · 10000^(−2/4) = 0.02.
    CHECK(p.cos.span<float>()[2 * 4 + 1] == doctest::Approx(std::cos(0.02)).epsilon(1e-6));
    CHECK(p.sin.span<float>()[2 * 4 + 3] == doctest::Approx(std::sin(0.02)).epsilon(1e-6));
    CHECK(p.mask.span<float>()[0 * 3 + 1] == -INFINITY);
    CHECK(p.mask.span<float>()[4 * 3 + 1] == 0.0f); // row 4 = position 1 of the second head
    CHECK(p.mask.span<float>()[4 * 3 + 2] == -INFINITY);

    tensor table(dtype::f32, shape{3, 2});
    for (int i = 0; i < 6; ++i)
        table.span<float>()[std::size_t(i)] = float(i);
    tensor ids(dtype::i64, shape{1, 2});
    ids.span<std::int64_t>()[0] = 2;
    ids.span<std::int64_t>()[1] = 0;
    const tensor e = llama_embed(table.view(), ids.view());
    CHECK(e.span<float>()[0] == 4.0f);
    CHECK(e.span<float>()[3] == 1.0f);
    ids.span<std::int64_t>()[1] = 3;
    std::string message;
    CHECK(status_of([&] { (void)llama_embed(table.view(), ids.view()); }, &message) ==
          status::invalid_argument);
    CHECK(message.find("position 1") != std::string::npos);
}

TEST_CASE("llama: config.json fields are checked by name") {
    const std::string good = R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
        "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2})";
    const auto c = llama_config::parse(good, "c.json");
    CHECK(c.num_key_value_heads == 2);
    CHECK(c.head_dim == 4);
    const std::pair<std::string, std::string> bad[] = {
        {R"({"model_type": "gpt2"})", "model_type"},
        {R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
            "intermediate_size": 16, "num_hidden_layers": 1})",
         "num_attention_heads"},
        {R"({"model_type": "llama", "vocab_size": -1, "hidden_size": 8})", "vocab_size"},
        {R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
            "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 3})",
         "num_attention_heads"},
        {R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
            "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
            "num_key_value_heads": 3})",
         "num_key_value_heads"},
        {R"({"model_type": "llama", "rope_scaling": {"type": "linear", "factor": 2}})",
         "rope_scaling"},
        {"[1, 2]", "JSON object"},
    };
    for (const auto& entry : bad) {
        const std::string& text = entry.first;
        const std::string& field = entry.second;
        CAPTURE(text);
        std::string message;
        CHECK(status_of([&] { (void)llama_config::parse(text, "c.json"); }, &message) !=
              status::ok);
        CHECK(message.find(field) != std::string::npos);
        CHECK(message.find("c.json") != std::string::npos);
    }
}

TEST_CASE("checkpoint: a sharded folder reads the same tensors as the single file") {
    const temp_dir dir;
    write_sharded(dir.path);
    const auto sharded = io::checkpoint::open(dir.path);
    const auto single = io::checkpoint::open(lm_file("hf"));
    CHECK(sharded.shards().size() == 2);
    CHECK(single.shards().size() == 1);
    REQUIRE(sharded.names() == single.names());
    for (const auto& name : single.names()) {
        const tensor a = sharded.read_f32(name), b = single.read_f32(name);
        CHECK(std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
    }
    CHECK(sharded.shard_of("lm_head.weight").filename() == "model-00002-of-00002.safetensors");
    CHECK(sharded.config_text() == single.config_text());
}

TEST_CASE("checkpoint: malformed folders are refused, naming the file and tensor") {
    const temp_dir dir;
    std::string message;
    CHECK(status_of([&] { (void)io::checkpoint::open(dir.path); }, &message) == status::not_found);
    CHECK(message.find("config.json") != std::string::npos);
    fs::copy_file(lm_file("hf/config.json"), dir.path / "config.json");
    CHECK(status_of([&] { (void)io::checkpoint::open(dir.path); }, &message) == status::not_found);
    CHECK(message.find("model.safetensors") != std::string::npos);
    fs::remove(dir.path / "config.json");

    struct bad_index {
        std::string text, want;
        status code;
    };
    const bad_index cases[] = {
        {"{}", "weight_map", status::format_error},
        {R"({"weight_map": {"lm_head.weight": 3}})", "lm_head.weight", status::format_error},
        {R"({"weight_map": {"lm_head.weight": "../x.safetensors"}})", "../x.safetensors",
         status::format_error},
        {R"({"weight_map": {"lm_head.weight": "missing.safetensors"}})", "missing.safetensors",
         status::not_found},
        // lm_head is in shard 2, not 1.
        {R"({"weight_map": {"lm_head.weight": "model-00001-of-00002.safetensors"}})",
         "lm_head.weight", status::format_error},
        // Tensors of the shards that the index does not list.
        {R"({"weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors"}})",
         "not in the index", status::format_error},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        fs::remove_all(dir.path);
        fs::create_directories(dir.path);
        write_sharded(dir.path, c.text);
        CHECK(status_of([&] { (void)io::checkpoint::open(dir.path); }, &message) == c.code);
        CHECK(message.find(c.want) != std::string::npos);
    }
    const auto ok = io::checkpoint::open(lm_file("hf"));
    CHECK(status_of([&] { (void)ok.read_f32("nope"); }, &message) == status::not_found);
    CHECK(message.find("nope") != std::string::npos);
}
