// compressed-tensors pack-quantized checkpoints (hone/io/compressed_tensors.hpp): the bit layout
// computed by hand from the convention, round-trip error bounds, importance-weighted clipping,
// the quantization_config JSON, a whole compressed copy of the language-model fixture read back
// bit-exactly, and malformed configs and tensors refused by name.
#include "../model/fixture_path.hpp"
#include "../status_of.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/half.hpp>
#include <hone/core/threads.hpp>
#include <hone/io/checkpoint.hpp>
#include <hone/io/compressed_tensors.hpp>
#include <hone/io/safetensors.hpp>
#include <hone/model/llama.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <unistd.h>

using namespace hone;
namespace fs = std::filesystem;
using io::compressed_tensors_scheme;
using io::packed_weight;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() /
               ("hone_test_compressed_tensors_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

tensor make_weight(std::int64_t out, std::int64_t in, const std::vector<float>& values) {
    REQUIRE(static_cast<std::int64_t>(values.size()) == out * in);
    tensor t(dtype::f32, {out, in});
    std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
    return t;
}

tensor random_weight(std::int64_t out, std::int64_t in, unsigned seed) {
    tensor t(dtype::f32, {out, in});
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    for (auto& v : t.span<float>())
        v = normal(rng);
    return t;
}

std::vector<std::uint32_t> words_of(const tensor& t) {
    REQUIRE(t.type() == dtype::i32);
    std::vector<std::uint32_t> w(static_cast<std::size_t>(t.numel()));
    std::memcpy(w.data(), t.data(), t.nbytes());
    return w;
}

std::vector<std::uint16_t> bits_of(const tensor& t) {
    REQUIRE((t.type() == dtype::f16 || t.type() == dtype::bf16));
    std::vector<std::uint16_t> b(static_cast<std::size_t>(t.numel()));
    std::memcpy(b.data(), t.data(), t.nbytes());
    return b;
}

bool same_bytes(const tensor& a, const tensor& b) {
    return a.type() == b.type() && a.dims() == b.dims() &&
           std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

// An independent decoder written from the convention: q (signed), z and s per element.
struct decoded {
    std::vector<int> q, z;
    std::vector<float> s;
};
decoded decode(const packed_weight& p, int bits, std::int64_t group_size, bool symmetric) {
    const auto shape = p.weight_shape.span<std::int64_t>();
    const std::int64_t out = shape[0], in = shape[1];
    const std::int64_t per = 32 / bits, row_words = (in + per - 1) / per;
    const std::int64_t groups = group_size ? in / group_size : 1, len = in / groups;
    const auto w = words_of(p.weight_packed);
    const auto sb = bits_of(p.weight_scale);
    std::vector<std::uint32_t> zw;
    if (!symmetric) zw = words_of(p.weight_zero_point);
    decoded d;
    for (std::int64_t r = 0; r < out; ++r)
        for (std::int64_t c = 0; c < in; ++c) {
            const std::uint32_t word = w[static_cast<std::size_t>(r * row_words + c / per)];
            d.q.push_back(static_cast<int>((word >> (bits * (c % per))) & ((1u << bits) - 1)) -
                          (1 << (bits - 1)));
            const std::int64_t g = c / len;
            const std::uint16_t b = sb[static_cast<std::size_t>(r * groups + g)];
            d.s.push_back(p.weight_scale.type() == dtype::f16 ? to_float(half{b})
                                                              : to_float(bfloat16{b}));
            int z = 0;
            if (!symmetric) {
                const std::uint32_t zword = zw[static_cast<std::size_t>((r / per) * groups + g)];
                z = static_cast<int>((zword >> (bits * (r % per))) & ((1u << bits) - 1)) -
                    (1 << (bits - 1));
            }
            d.z.push_back(z);
        }
    return d;
}

double weighted_error(const tensor& w, const tensor& what, const std::vector<float>& importance) {
    const auto a = w.span<float>(), b = what.span<float>();
    const std::size_t in = importance.size();
    double e = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = double(a[i]) - double(b[i]);
        e += double(importance[i % in]) * d * d;
    }
    return e;
}

fs::path lm_file(const std::string& name) { return test::fixtures_dir() / "lm" / name; }

bool is_linear(const std::string& name, const llama_config& config) {
    for (std::int64_t layer = 0; layer < config.num_hidden_layers; ++layer)
        for (const auto which : llama_linears)
            if (name == llama_weight_name(layer, which)) return true;
    return false;
}

} // namespace

TEST_CASE("compressed-tensors: int4 and int8 bit layout computed by hand") {
    SUBCASE("int4 symmetric, per channel") {
        // Row 0: scale 7.5 / 7.5 = 1; row 1: 3.75 / 7.5 = 0.5. ±7.5·s round half to even to
        // 8 → clamped to 7, and −8; 0.25 / 0.5 = 0.5 → 0.
        const tensor w = make_weight(2, 8,
                                     {-7.5f, -7, -1, 0, 1, 2, 3, 7, //
                                      3.75f, -3.75f, 0.5f, -0.5f, 1.5f, 2, -2.5f, 0.25f});
        const compressed_tensors_scheme scheme{.bits = 4, .group_size = 0};
        const packed_weight p = io::pack_weight(w, scheme);
        CHECK(p.weight_packed.dims() == shape{2, 1});
        // u = q + 8, value k in bits [4k, 4k + 4):
        // row 0: q −8 −7 −1 0 1 2 3 7 → u 0 1 7 8 9 10 11 15 → 0xFBA98710
        // row 1: q 7 −8 1 −1 3 4 −5 0 → u 15 0 9 7 11 12 3 8 → 0x83CB790F
        CHECK(words_of(p.weight_packed) == std::vector<std::uint32_t>{0xFBA98710u, 0x83CB790Fu});
        CHECK(p.weight_scale.type() == dtype::f16);
        CHECK(p.weight_scale.dims() == shape{2, 1});
        CHECK(bits_of(p.weight_scale) == std::vector<std::uint16_t>{0x3C00, 0x3800});
        CHECK(p.weight_zero_point.numel() == 0);
        CHECK(p.weight_shape.type() == dtype::i64);
        CHECK(p.weight_shape.span<std::int64_t>()[0] == 2);
        CHECK(p.weight_shape.span<std::int64_t>()[1] == 8);
        const tensor back = io::unpack_weight(p, scheme);
        const std::vector<float> want = {-8,   -7, -1,   0,     1,    2, 3,     7, //
                                         3.5f, -4, 0.5f, -0.5f, 1.5f, 2, -2.5f, 0};
        CHECK(std::vector<float>(back.span<float>().begin(), back.span<float>().end()) == want);
    }
    SUBCASE("int8 symmetric, a row not a multiple of 4 is padded with zeros") {
        const tensor w = make_weight(1, 6, {-127.5f, 1, 2, 127, 5, -6});
        const compressed_tensors_scheme scheme{.bits = 8, .group_size = 0};
        const packed_weight p = io::pack_weight(w, scheme);
        // u = q + 128: 0 129 130 255 | 133 122 (0 0 padding)
        CHECK(words_of(p.weight_packed) == std::vector<std::uint32_t>{0xFF828100u, 0x00007A85u});
        CHECK(bits_of(p.weight_scale) == std::vector<std::uint16_t>{0x3C00});
        const tensor back = io::unpack_weight(p, scheme);
        CHECK(back.span<float>()[0] == -128);
        CHECK(back.span<float>()[5] == -6);
    }
    SUBCASE("the convention's own example: [1, 2] at 8 bits packs to 33409") {
        packed_weight p;
        p.weight_packed = tensor(dtype::i32, {1, 1});
        p.weight_packed.span<std::int32_t>()[0] = 33409; // 0x00008281: u 129, 130, 0, 0
        p.weight_scale = tensor(dtype::f16, {1, 1});
        p.weight_scale.span<half>()[0] = to_half(1.0f);
        p.weight_shape = tensor(dtype::i64, {2});
        p.weight_shape.span<std::int64_t>()[0] = 1;
        p.weight_shape.span<std::int64_t>()[1] = 2;
        const tensor back = io::unpack_weight(p, {.bits = 8, .group_size = 0});
        CHECK(back.dims() == shape{1, 2});
        CHECK(back.span<float>()[0] == 1);
        CHECK(back.span<float>()[1] == 2);
    }
    SUBCASE("int4 asymmetric: zero points packed down the output axis") {
        // Row r: lo = −r, hi = 15 − r → s = 1, z = round(−8 + r) = r − 8, u_z = r.
        std::vector<float> values;
        for (int r = 0; r < 8; ++r)
            for (float v : {float(-r), float(15 - r), 0.f, 1.f, 2.f, 3.f, 4.f, 5.f})
                values.push_back(v);
        const tensor w = make_weight(8, 8, values);
        const compressed_tensors_scheme scheme{.bits = 4, .group_size = 0, .symmetric = false};
        const packed_weight p = io::pack_weight(w, scheme);
        REQUIRE(p.weight_zero_point.dims() == shape{1, 1});
        CHECK(words_of(p.weight_zero_point) == std::vector<std::uint32_t>{0x76543210u});
        // q = w + r − 8 → u = w + r: 0, 15, r, r+1, …, r+5.
        CHECK(words_of(p.weight_packed) ==
              std::vector<std::uint32_t>{0x543210F0u, 0x654321F0u, 0x765432F0u, 0x876543F0u,
                                         0x987654F0u, 0xA98765F0u, 0xBA9876F0u, 0xCBA987F0u});
        CHECK(bits_of(p.weight_scale) == std::vector<std::uint16_t>(8, 0x3C00));
        const tensor back = io::unpack_weight(p, scheme);
        CHECK(std::memcmp(back.data(), w.data(), w.nbytes()) == 0);
    }
    SUBCASE("int8 asymmetric: 5 rows of zero points fill two words, the second padded") {
        std::vector<float> values;
        for (int r = 0; r < 5; ++r) {
            values.push_back(float(-r));
            values.push_back(float(255 - r));
        }
        const compressed_tensors_scheme scheme{.bits = 8, .group_size = 0, .symmetric = false};
        const packed_weight p = io::pack_weight(make_weight(5, 2, values), scheme);
        REQUIRE(p.weight_zero_point.dims() == shape{2, 1});
        CHECK(words_of(p.weight_zero_point) == std::vector<std::uint32_t>{0x03020100u, 0x04u});
        CHECK(words_of(p.weight_packed)[4] == 0x0000FF00u); // u 0, 255
    }
}

TEST_CASE("compressed-tensors: round trip within half a scale step") {
    const tensor w = [] {
        tensor t = random_weight(16, 256, 7);
        t.span<float>()[3] = 0.9f; // an outlier
        for (int c = 128; c < 160; ++c)
            t.span<float>()[static_cast<std::size_t>(256 * 5 + c)] = 0; // a group of zeros
        return t;
    }();
    for (const int bits : {4, 8})
        for (const std::int64_t group : {std::int64_t{32}, std::int64_t{128}, std::int64_t{0}})
            for (const bool symmetric : {true, false}) {
                CAPTURE(bits);
                CAPTURE(group);
                CAPTURE(symmetric);
                const compressed_tensors_scheme scheme{
                    .bits = bits, .group_size = group, .symmetric = symmetric};
                const packed_weight p = io::pack_weight(w, scheme);
                const std::int64_t groups = group ? 256 / group : 1;
                CHECK(p.weight_packed.dims() == shape{16, 256 * bits / 32});
                CHECK(p.weight_scale.dims() == shape{16, groups});
                if (symmetric)
                    CHECK(p.weight_zero_point.numel() == 0);
                else
                    CHECK(p.weight_zero_point.dims() == shape{16 * bits / 32, groups});
                const decoded d = decode(p, bits, group, symmetric);
                const tensor back = io::unpack_weight(p, scheme);
                const int qmin = -(1 << (bits - 1)), qmax = (1 << (bits - 1)) - 1;
                int mismatches = 0, over = 0;
                for (std::size_t i = 0; i < d.q.size(); ++i) {
                    const float want = float(d.q[i] - d.z[i]) * d.s[i];
                    if (back.span<float>()[i] != want) ++mismatches;
                    const double err = std::fabs(double(w.span<float>()[i]) - double(want));
                    const bool clamped = d.q[i] == qmin || d.q[i] == qmax;
                    // Clamped values also stay within half a step, up to the scale's rounding.
                    const double bound = clamped ? d.s[i] * (0.5 + std::ldexp(1.0, bits - 11))
                                                 : d.s[i] * (0.5 + 1e-4);
                    if (err > bound) ++over;
                }
                CHECK(mismatches == 0);
                CHECK(over == 0);
                // The group of zeros: llm-compressor's scale (f16 epsilon), exact zeros back.
                if (group == 32) {
                    const auto s = bits_of(p.weight_scale);
                    CHECK(s[5 * 8 + 4] == to_half(0x1p-10f).bits);
                    for (int c = 128; c < 160; ++c)
                        CHECK(back.span<float>()[static_cast<std::size_t>(256 * 5 + c)] == 0);
                }
            }
}

TEST_CASE("compressed-tensors: bf16 scales, strided input, invalid input refused") {
    const tensor w = random_weight(8, 64, 3);
    const compressed_tensors_scheme bf{.bits = 4, .group_size = 32, .scale_type = dtype::bf16};
    const packed_weight p = io::pack_weight(w, bf);
    CHECK(p.weight_scale.type() == dtype::bf16);
    const decoded d = decode(p, 4, 32, true);
    const tensor back = io::unpack_weight(p, bf);
    for (std::size_t i = 0; i < d.q.size(); ++i)
        REQUIRE(back.span<float>()[i] == float(d.q[i]) * d.s[i]);

    // A transposed view quantizes as its contiguous copy.
    const tensor wt = random_weight(64, 8, 4);
    const std::int64_t strides[] = {1, 8};
    const auto view = make_view(wt.data(), wt.nbytes(), dtype::f32, {8, 64}, strides);
    const compressed_tensors_scheme s{.bits = 8, .group_size = 32, .symmetric = false};
    CHECK(same_bytes(io::pack_weight(view, s).weight_packed,
                     io::pack_weight(tensor::copy_of(view), s).weight_packed));

    std::string message;
    tensor bad = random_weight(4, 64, 5);
    bad.span<float>()[70] = std::nanf("");
    CHECK(status_of([&] { (void)io::pack_weight(bad, {.group_size = 32}, {}, "fc.weight"); },
                    &message) == status::invalid_argument);
    CHECK(message.find("fc.weight") != std::string::npos);
    CHECK(message.find("[1, 6]") != std::string::npos);
    CHECK(status_of([&] { (void)io::pack_weight(w, {.group_size = 48}, {}, "fc.weight"); },
                    &message) == status::invalid_argument);
    CHECK(message.find("group_size 48") != std::string::npos);
    CHECK(status_of([&] { (void)io::pack_weight(w, {.bits = 3}); }) == status::invalid_argument);
    const std::vector<float> short_importance(10, 1.0f);
    CHECK(status_of([&] { (void)io::pack_weight(w, {}, short_importance); }) ==
          status::invalid_argument);
    std::vector<float> negative(64, 1.0f);
    negative[9] = -1;
    CHECK(status_of([&] { (void)io::pack_weight(w, {.group_size = 32}, negative); }, &message) ==
          status::invalid_argument);
    CHECK(message.find("importance[9]") != std::string::npos);
    tensor huge = random_weight(2, 32, 6);
    huge.span<float>()[40] = 1e9f; // scale 1.3e8 overflows f16, fits bf16
    CHECK(status_of([&] { (void)io::pack_weight(huge, {.group_size = 32}); }, &message) ==
          status::invalid_argument);
    CHECK(message.find("row 1") != std::string::npos);
    CHECK(status_of([&] {
              (void)io::pack_weight(huge, {.group_size = 32, .scale_type = dtype::bf16});
          }) == status::ok);
}

TEST_CASE("compressed-tensors: importance lowers the weighted error; any thread count") {
    // Each 32-column group has an outlier column the importance says does not matter.
    tensor w = random_weight(64, 128, 11);
    std::vector<float> importance(128, 1.0f);
    for (std::int64_t r = 0; r < 64; ++r)
        for (std::int64_t c = 5; c < 128; c += 32)
            w.span<float>()[static_cast<std::size_t>(r * 128 + c)] = r % 2 ? 0.6f : -0.6f;
    for (std::int64_t c = 5; c < 128; c += 32)
        importance[static_cast<std::size_t>(c)] = 1e-4f;
    for (const bool symmetric : {true, false})
        for (const int bits : {4, 8}) {
            CAPTURE(symmetric);
            CAPTURE(bits);
            const compressed_tensors_scheme scheme{
                .bits = bits, .group_size = 32, .symmetric = symmetric};
            const tensor plain = io::unpack_weight(io::pack_weight(w, scheme), scheme);
            const tensor weighted =
                io::unpack_weight(io::pack_weight(w, scheme, importance), scheme);
            const double e_plain = weighted_error(w, plain, importance);
            const double e_weighted = weighted_error(w, weighted, importance);
            MESSAGE("weighted error: min-max " << e_plain << ", with importance " << e_weighted);
            CHECK(e_weighted < e_plain);
            // One ratio scales both ends: symmetric ranges gain most (an asymmetric range
            // clipped toward its outlier also clips the other end).
            if (symmetric) CHECK(e_weighted < 0.5 * e_plain);
            // Uniform importance never does worse than min-max either.
            const std::vector<float> ones(128, 1.0f);
            const tensor uniform = io::unpack_weight(io::pack_weight(w, scheme, ones), scheme);
            CHECK(weighted_error(w, uniform, ones) <= weighted_error(w, plain, ones));
        }

    const tensor big = random_weight(256, 256, 12);
    const std::vector<float> imp(256, 0.5f);
    const compressed_tensors_scheme scheme{.bits = 4, .group_size = 64, .symmetric = false};
    set_num_threads(1);
    const packed_weight one = io::pack_weight(big, scheme, imp);
    const tensor unpacked_one = io::unpack_weight(one, scheme);
    set_num_threads(4);
    const packed_weight four = io::pack_weight(big, scheme, imp);
    const tensor unpacked_four = io::unpack_weight(one, scheme);
    set_num_threads(0);
    CHECK(same_bytes(unpacked_one, unpacked_four));
    CHECK(same_bytes(one.weight_packed, four.weight_packed));
    CHECK(same_bytes(one.weight_scale, four.weight_scale));
    CHECK(same_bytes(one.weight_zero_point, four.weight_zero_point));
}

TEST_CASE("compressed-tensors: quantization_config has every field") {
    const std::string j = io::quantization_config_json({.bits = 4, .group_size = 128}, {"lm_head"});
    MESSAGE(j);
    for (const char* field : {R"("quant_method": "compressed-tensors")",
                              R"("format": "pack-quantized")",
                              R"("quantization_status": "compressed")",
                              R"("config_groups": {)",
                              R"("group_0": {)",
                              R"("targets": [)",
                              R"("Linear")",
                              R"("weights": {)",
                              R"("num_bits": 4)",
                              R"("type": "int")",
                              R"("symmetric": true)",
                              R"("strategy": "group")",
                              R"("group_size": 128)",
                              R"("dynamic": false)",
                              R"("actorder": null)",
                              R"("block_structure": null)",
                              R"("observer": "minmax")",
                              R"("observer_kwargs": {})",
                              R"("input_activations": null)",
                              R"("output_activations": null)",
                              R"("ignore": [)",
                              R"("lm_head")",
                              R"("kv_cache_scheme": null)",
                              R"("global_compression_ratio": null)"}) {
        CAPTURE(field);
        CHECK(j.find(field) != std::string::npos);
    }
    // Left out for older readers (see the implementation): absent means the same.
    for (const char* field :
         {"sparsity_config", "transform_config", "version", "scale_dtype", "zp_dtype"})
        CHECK(j.find(field) == std::string::npos);
    // Keys sorted, as llm-compressor writes them.
    CHECK(j.find("\"config_groups\"") < j.find("\"format\""));
    CHECK(j.find("\"quant_method\"") < j.find("\"quantization_status\""));

    const std::string channel =
        io::quantization_config_json({.bits = 8, .group_size = 0, .symmetric = false}, {});
    CHECK(channel.find(R"("strategy": "channel")") != std::string::npos);
    CHECK(channel.find(R"("group_size": null)") != std::string::npos);
    CHECK(channel.find(R"("symmetric": false)") != std::string::npos);
    CHECK(channel.find(R"("num_bits": 8)") != std::string::npos);
    CHECK(channel.find(R"("ignore": [])") != std::string::npos);

    // Parsed back, the same scheme.
    for (const compressed_tensors_scheme s :
         {compressed_tensors_scheme{.bits = 4, .group_size = 32, .symmetric = false},
          compressed_tensors_scheme{.bits = 8, .group_size = 0}}) {
        const auto c = io::parse_compressed_tensors_config(
            R"({"quantization_config": )" + io::quantization_config_json(s, {"lm_head", "x"}) +
            "}");
        REQUIRE(c.groups.size() == 1);
        CHECK(c.groups[0].name == "group_0");
        CHECK(c.groups[0].targets == std::vector<std::string>{"Linear"});
        CHECK(c.groups[0].scheme.bits == s.bits);
        CHECK(c.groups[0].scheme.group_size == s.group_size);
        CHECK(c.groups[0].scheme.symmetric == s.symmetric);
        CHECK(c.ignore == std::vector<std::string>{"lm_head", "x"});
    }

    // config.json with the quantization_config added: other fields kept, in order.
    const std::string original = read_file(lm_file("hf/config.json"));
    const std::string updated = io::with_quantization_config(original, {}, {"lm_head"});
    CHECK(updated.back() == '\n');
    CHECK(updated.find("\"architectures\"") < updated.find("\"vocab_size\""));
    CHECK(updated.find("\"max_position_embeddings\": 64") <
          updated.find("\"quantization_config\""));
    CHECK(updated.find("\"rms_norm_eps\": 1e-05") != std::string::npos);
    const auto a = llama_config::parse(original, "a"), b = llama_config::parse(updated, "b");
    CHECK(a.hidden_size == b.hidden_size);
    CHECK(a.num_key_value_heads == b.num_key_value_heads);
    CHECK(a.rms_norm_eps == b.rms_norm_eps);
    CHECK(io::parse_compressed_tensors_config(updated).groups[0].scheme.group_size == 128);
    std::string message;
    CHECK(status_of([&] { (void)io::with_quantization_config(updated, {}, {}, "q.json"); },
                    &message) == status::invalid_argument);
    CHECK(message.find("q.json") != std::string::npos);
    CHECK(status_of([&] { (void)io::with_quantization_config("[1]", {}, {}, "q.json"); }) ==
          status::format_error);
}

TEST_CASE("compressed-tensors: a compressed copy of the fixture checkpoint reads back exactly") {
    const temp_dir dir;
    const auto src = io::checkpoint::open(lm_file("hf"));
    const auto config = llama_config::parse(src.config_text(), "config.json");
    const compressed_tensors_scheme scheme{.bits = 4, .group_size = 32, .symmetric = false};

    std::vector<packed_weight> packed;
    std::vector<tensor> plain;
    std::vector<io::safetensors_entry> entries;
    std::vector<std::string> packed_names;
    packed.reserve(src.names().size());
    plain.reserve(src.names().size());
    for (const auto& name : src.names()) {
        if (is_linear(name, config)) {
            packed.push_back(io::pack_weight(src.read_f32(name), scheme, {}, name));
            packed_names.push_back(name);
            for (auto& e : io::packed_weight_entries(name, packed.back()))
                entries.push_back(std::move(e));
        } else {
            plain.push_back(tensor::copy_of(src.view(name)));
            entries.push_back({name, plain.back().view()});
        }
    }
    CHECK(packed.size() == 7 * 4);
    io::save_safetensors(dir.path / "model.safetensors", entries);
    write_file_atomic(dir.path / "config.json",
                      io::with_quantization_config(src.config_text(), scheme, {"lm_head"}));

    const auto ckpt = io::checkpoint::open(dir.path);
    CHECK(ckpt.contains("model.layers.0.self_attn.q_proj.weight_packed"));
    CHECK(ckpt.contains("model.layers.3.mlp.down_proj.weight_zero_point"));
    CHECK_FALSE(ckpt.contains("model.layers.0.self_attn.q_proj.weight"));
    CHECK(ckpt.info("model.layers.0.mlp.down_proj.weight_packed").dims == shape{128, 40});
    CHECK(ckpt.info("model.layers.0.mlp.down_proj.weight_scale").dims == shape{128, 10});
    CHECK(ckpt.info("model.layers.0.mlp.down_proj.weight_zero_point").dims == shape{16, 10});
    CHECK(ckpt.info("model.layers.0.mlp.down_proj.weight_shape").type == dtype::i64);
    const auto weights = io::compressed_tensors_weights(ckpt);
    for (std::size_t i = 0; i < packed.size(); ++i) {
        CAPTURE(packed_names[i]);
        CHECK(same_bytes(weights(packed_names[i]), io::unpack_weight(packed[i], scheme)));
    }
    for (const auto& name : src.names())
        if (!is_linear(name, config)) {
            CAPTURE(name);
            CHECK(same_bytes(weights(name), src.read_f32(name)));
        }
    CHECK(status_of([&] { (void)weights("model.layers.9.mlp.up_proj.weight"); }) ==
          status::not_found);

    // The unpacked weights run: logits close to the dense checkpoint's.
    tensor tokens(dtype::i64, {1, 12});
    for (std::int64_t i = 0; i < 12; ++i)
        tokens.span<std::int64_t>()[static_cast<std::size_t>(i)] = (i * 37 + 11) % 256;
    const llama_weights dense = [&src](const std::string& n) { return src.read_f32(n); };
    const tensor ref = llama_forward(config, dense, tokens);
    const tensor got = llama_forward(config, weights, tokens);
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < ref.span<float>().size(); ++i) {
        scale = std::max(scale, std::fabs(double(ref.span<float>()[i])));
        err = std::max(err, std::fabs(double(got.span<float>()[i]) - ref.span<float>()[i]));
    }
    MESSAGE("int4 g32 asymmetric logits: max error / max |logit| = " << err / scale);
    CHECK(err / scale < 0.1);
}

TEST_CASE("compressed-tensors: malformed quantization_config refused by field") {
    const std::string good = io::quantization_config_json({.bits = 4, .group_size = 32}, {});
    struct bad_config {
        std::string from, to, field;
        status code;
    };
    const bad_config cases[] = {
        {R"("quant_method": "compressed-tensors")", R"("quant_method": "gptq")", "quant_method",
         status::unsupported},
        {R"("quant_method": "compressed-tensors")", R"("quant_method": 3)", "quant_method",
         status::format_error},
        {R"("format": "pack-quantized")", R"("format": "int-quantized")", "format",
         status::unsupported},
        {R"("quantization_status": "compressed")", R"("quantization_status": "frozen")",
         "quantization_status", status::unsupported},
        {R"("kv_cache_scheme": null)", R"("kv_cache_scheme": {"num_bits": 8})", "kv_cache_scheme",
         status::unsupported},
        {R"("quant_method": "compressed-tensors")",
         R"("quant_method": "compressed-tensors", "sparsity_config": {"format": "dense"})",
         "sparsity_config", status::unsupported},
        {R"("quant_method": "compressed-tensors")",
         R"("quant_method": "compressed-tensors", "transform_config": {"config_groups": {}})",
         "transform_config", status::unsupported},
        {R"("ignore": [])", R"("ignore": "lm_head")", "ignore", status::format_error},
        {R"("num_bits": 4)", R"("num_bits": 3)", "group_0.weights.num_bits", status::unsupported},
        {R"("num_bits": 4)", R"("num_bits": "4")", "group_0.weights.num_bits",
         status::format_error},
        {R"("type": "int")", R"("type": "float")", "weights.type", status::unsupported},
        {R"("type": "int")", R"("type": "uint")", "weights.type", status::format_error},
        {R"("symmetric": true)", R"("symmetric": 1)", "weights.symmetric", status::format_error},
        {R"("strategy": "group")", R"("strategy": "tensor")", "weights.strategy",
         status::unsupported},
        {R"("strategy": "group")", R"("strategy": "rows")", "weights.strategy",
         status::format_error},
        {R"("group_size": 32)", R"("group_size": null)", "weights.group_size",
         status::format_error},
        {R"("dynamic": false)", R"("dynamic": true)", "weights.dynamic", status::unsupported},
        {R"("actorder": null)", R"("actorder": "group")", "weights.actorder", status::unsupported},
        {R"("block_structure": null)", R"("block_structure": [128, 128])",
         "weights.block_structure", status::unsupported},
        {R"("input_activations": null)", R"("input_activations": {"num_bits": 8})",
         "group_0.input_activations", status::unsupported},
        {R"("output_activations": null)", R"("output_activations": {"num_bits": 8})",
         "group_0.output_activations", status::unsupported},
        {R"("targets": [)", R"("targets": 5, "x": [)", "group_0.x", status::unsupported},
        {R"("observer": "minmax")", R"("observer": "minmax", "nbits": 4)", "weights.nbits",
         status::unsupported},
    };
    std::string message;
    for (const auto& c : cases) {
        CAPTURE(c.to);
        const auto at = good.find(c.from);
        REQUIRE(at != std::string::npos);
        std::string text = good;
        text.replace(at, c.from.size(), c.to);
        text = R"({"model_type": "llama", "quantization_config": )" + text + "}";
        CHECK(status_of([&] { (void)io::parse_compressed_tensors_config(text, "c.json"); },
                        &message) == c.code);
        CHECK(message.find("c.json") != std::string::npos);
        CHECK(message.find(c.field) != std::string::npos);
    }
    // What llm-compressor writes today (sorted keys, newer fields) reads too.
    const auto written = io::parse_compressed_tensors_config(R"({"quantization_config": {
        "config_groups": {"group_0": {"format": "pack-quantized", "input_activations": null,
          "output_activations": null, "targets": ["Linear"], "weights": {"actorder": null,
          "block_structure": null, "dynamic": false, "group_size": 128, "num_bits": 4,
          "observer": "memoryless_minmax", "observer_kwargs": {}, "scale_dtype": null,
          "strategy": "group", "symmetric": true, "type": "int", "zp_dtype": null}}},
        "format": "pack-quantized", "global_compression_ratio": null, "ignore": ["lm_head"],
        "kv_cache_scheme": null, "quant_method": "compressed-tensors",
        "quantization_status": "compressed", "sparsity_config": {}, "transform_config": {},
        "version": "0.12.2"}})");
    CHECK(written.groups.at(0).scheme.group_size == 128);
    CHECK(written.ignore == std::vector<std::string>{"lm_head"});
    // Strategy inferred from group_size as QuantizationArgs does; defaults filled in.
    const auto c = io::parse_compressed_tensors_config(
        R"({"quantization_config": {"quant_method": "compressed-tensors",
            "config_groups": {"g": {"targets": ["Linear"], "format": "pack-quantized",
            "weights": {"num_bits": 4, "group_size": -1, "symmetric": false}},
            "h": {"targets": ["re:.*down_proj"], "format": "pack-quantized",
            "weights": {"group_size": 64}}}}})");
    REQUIRE(c.groups.size() == 2);
    CHECK(c.groups[0].scheme.group_size == 0);
    CHECK_FALSE(c.groups[0].scheme.symmetric);
    CHECK(c.groups[1].scheme.bits == 8);
    CHECK(c.groups[1].scheme.group_size == 64);
    CHECK(c.groups[1].targets == std::vector<std::string>{"re:.*down_proj"});
    CHECK(status_of([&] { (void)io::parse_compressed_tensors_config(R"({"a": 1})", "c.json"); },
                    &message) == status::not_found);
    CHECK(message.find("quantization_config") != std::string::npos);
    CHECK(status_of([&] { (void)io::parse_compressed_tensors_config("{", "c.json"); }) ==
          status::format_error);
}

TEST_CASE("compressed-tensors: malformed tensors refused, naming the folder, tensor and field") {
    const temp_dir dir;
    const compressed_tensors_scheme scheme{.bits = 4, .group_size = 32, .symmetric = false};
    const packed_weight good = io::pack_weight(random_weight(16, 64, 21), scheme);
    const tensor norm = random_weight(1, 64, 22);

    // Writes the folder with `tensors` (name → tensor) and reads "m.weight".
    auto read_back = [&](const std::vector<std::pair<std::string, const tensor*>>& tensors,
                         const compressed_tensors_scheme& s, std::string* message) {
        fs::remove_all(dir.path);
        fs::create_directories(dir.path);
        std::vector<io::safetensors_entry> entries;
        for (const auto& t : tensors)
            entries.push_back({t.first, t.second->view()});
        io::save_safetensors(dir.path / "model.safetensors", entries);
        write_file_atomic(dir.path / "config.json", io::with_quantization_config("{}", s, {}));
        return status_of(
            [&] {
                const auto w = io::compressed_tensors_weights(io::checkpoint::open(dir.path));
                (void)w("m.weight");
            },
            message);
    };
    const tensor wrong_dtype = tensor(dtype::i64, good.weight_packed.dims());
    const tensor narrow = tensor(dtype::i32, {16, 7});
    const tensor shape3 = tensor(dtype::i64, {3});
    const tensor shape_f32 = tensor(dtype::f32, {2});
    const tensor scale_i32 = tensor(dtype::i32, {16, 2});
    const tensor scale_wide = tensor(dtype::f16, {16, 4});
    const tensor zero_unpacked_i32 = tensor(dtype::i32, {16, 2});
    const tensor scale_inf = [&] {
        tensor t = tensor::copy_of(good.weight_scale.view());
        t.span<half>()[3] = to_half(INFINITY);
        return t;
    }();
    const tensor zero_shape = [] {
        tensor t(dtype::i64, {2});
        t.span<std::int64_t>()[0] = 16;
        t.span<std::int64_t>()[1] = 0;
        return t;
    }();
    struct bad_tensors {
        std::string replace; // the tensor replaced ("" = removed when `with` is null)
        const tensor* with;
        std::string needle;
    };
    const bad_tensors cases[] = {
        {"weight_packed", &wrong_dtype, "dtype I64"},
        {"weight_packed", &narrow, "[16, 7]"},
        {"weight_shape", &shape3, "shape [3]"},
        {"weight_shape", &shape_f32, "dtype F32"},
        {"weight_shape", &zero_shape, "positive"},
        {"weight_shape", nullptr, "missing"},
        {"weight_scale", &scale_i32, "dtype I32"},
        {"weight_scale", &scale_wide, "[16, 4]"},
        {"weight_scale", &scale_inf, "non-finite"},
        {"weight_scale", nullptr, "missing"},
        {"weight_zero_point", &zero_unpacked_i32, "[16, 2]"},
        {"weight_zero_point", nullptr, "missing"},
        {"weight", &norm, "present beside"},
    };
    std::string message;
    for (const auto& c : cases) {
        CAPTURE(c.replace);
        CAPTURE(c.needle);
        std::vector<std::pair<std::string, const tensor*>> tensors = {
            {"m.weight_packed", &good.weight_packed},
            {"m.weight_scale", &good.weight_scale},
            {"m.weight_zero_point", &good.weight_zero_point},
            {"m.weight_shape", &good.weight_shape}};
        const std::string target = "m." + c.replace;
        bool found = false;
        for (auto it = tensors.begin(); it != tensors.end(); ++it)
            if (it->first == target) {
                found = true;
                if (c.with)
                    it->second = c.with;
                else
                    tensors.erase(it);
                break;
            }
        if (!found) tensors.push_back({target, c.with});
        CHECK(read_back(tensors, scheme, &message) == status::format_error);
        CHECK(message.find(dir.path.string()) != std::string::npos);
        CHECK(message.find("'" + target + "'") != std::string::npos);
        CHECK(message.find(c.needle) != std::string::npos);
    }
    // The untouched tensors read fine; symmetric schemes accept zero zero points only.
    const std::vector<std::pair<std::string, const tensor*>> all = {
        {"m.weight_packed", &good.weight_packed},
        {"m.weight_scale", &good.weight_scale},
        {"m.weight_zero_point", &good.weight_zero_point},
        {"m.weight_shape", &good.weight_shape}};
    CHECK(read_back(all, scheme, nullptr) == status::ok);
    CHECK(read_back(all, {.bits = 4, .group_size = 32}, &message) == status::format_error);
    CHECK(message.find("symmetric") != std::string::npos);
    // A legacy unpacked I8 zero point reads as the packed one does.
    tensor legacy(dtype::i8, {16, 2});
    {
        const decoded d = decode(good, 4, 32, false);
        for (std::int64_t r = 0; r < 16; ++r)
            for (std::int64_t g = 0; g < 2; ++g)
                legacy.span<std::int8_t>()[static_cast<std::size_t>(r * 2 + g)] =
                    static_cast<std::int8_t>(d.z[static_cast<std::size_t>(r * 64 + g * 32)]);
    }
    packed_weight legacy_packed;
    legacy_packed.weight_packed = tensor::copy_of(good.weight_packed.view());
    legacy_packed.weight_scale = tensor::copy_of(good.weight_scale.view());
    legacy_packed.weight_shape = tensor::copy_of(good.weight_shape.view());
    legacy_packed.weight_zero_point = std::move(legacy);
    CHECK(same_bytes(io::unpack_weight(legacy_packed, scheme), io::unpack_weight(good, scheme)));
    // Another writer's file with the tensors at offsets not aligned for their types: read from
    // copies (a one-byte tensor first shifts the rest by one).
    {
        const tensor pad(dtype::u8, {1});
        const std::vector<std::pair<std::string, const tensor*>> order = {
            {"m.weight_shape", &good.weight_shape},
            {"m.pad", &pad},
            {"m.weight_packed", &good.weight_packed},
            {"m.weight_scale", &good.weight_scale},
            {"m.weight_zero_point", &good.weight_zero_point}};
        std::string header = "{", buffer;
        for (const auto& [name, t] : order) {
            header += (header.size() > 1 ? "," : "") + ("\"" + name + "\": {\"dtype\": \"") +
                      std::string(io::safetensors_dtype_name(t->type())) + "\", \"shape\": [";
            for (std::size_t a = 0; a < t->dims().rank(); ++a)
                header += (a ? ", " : "") + std::to_string(t->dims()[a]);
            header += "], \"data_offsets\": [" + std::to_string(buffer.size()) + ", " +
                      std::to_string(buffer.size() + t->nbytes()) + "]}";
            buffer.append(static_cast<const char*>(t->data()), t->nbytes());
        }
        header += "}";
        header.resize((header.size() + 7) / 8 * 8, ' ');
        const std::uint64_t n = header.size();
        fs::remove_all(dir.path);
        fs::create_directories(dir.path);
        write_file_atomic(dir.path / "model.safetensors",
                          std::string(reinterpret_cast<const char*>(&n), 8) + header + buffer);
        write_file_atomic(dir.path / "config.json", io::with_quantization_config("{}", scheme, {}));
        const auto ckpt = io::checkpoint::open(dir.path);
        CHECK(status_of([&] { (void)ckpt.view("m.weight_packed"); }) == status::unsupported);
        CHECK(same_bytes(io::compressed_tensors_weights(ckpt)("m.weight"),
                         io::unpack_weight(good, scheme)));
    }
    // In memory, the name given names the tensors.
    packed_weight no_zero;
    no_zero.weight_packed = tensor::copy_of(good.weight_packed.view());
    no_zero.weight_scale = tensor::copy_of(good.weight_scale.view());
    no_zero.weight_shape = tensor::copy_of(good.weight_shape.view());
    CHECK(status_of([&] { (void)io::unpack_weight(no_zero, scheme, "fc.weight"); }, &message) ==
          status::format_error);
    CHECK(message.find("'fc.weight_zero_point'") != std::string::npos);
}

TEST_CASE("compressed-tensors: several config groups, each tensor read with the one that fits") {
    const temp_dir dir;
    const compressed_tensors_scheme a{.bits = 4, .group_size = 32};
    const compressed_tensors_scheme b{.bits = 8, .group_size = 0, .symmetric = false};
    const compressed_tensors_scheme c{.bits = 4, .group_size = 32, .symmetric = false};
    const packed_weight pa = io::pack_weight(random_weight(8, 64, 31), a);
    const packed_weight pb = io::pack_weight(random_weight(8, 64, 32), b);
    const packed_weight pc = io::pack_weight(random_weight(8, 64, 33), c);
    std::vector<io::safetensors_entry> entries;
    for (const auto& [name, p] :
         {std::pair{"x.q_proj.weight", &pa}, std::pair{"x.down_proj.weight", &pb},
          std::pair{"x.up_proj.weight", &pc}})
        for (auto& e : io::packed_weight_entries(name, *p))
            entries.push_back(std::move(e));
    io::save_safetensors(dir.path / "model.safetensors", entries);
    write_file_atomic(dir.path / "config.json", R"({"quantization_config": {
        "quant_method": "compressed-tensors", "format": "pack-quantized",
        "config_groups": {
          "group_0": {"targets": ["re:.*q_proj"], "weights": {"num_bits": 4, "type": "int",
                      "strategy": "group", "group_size": 32, "symmetric": true}},
          "group_1": {"targets": ["re:.*down_proj"], "weights": {"num_bits": 8, "type": "int",
                      "strategy": "channel", "symmetric": false}},
          "group_2": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int",
                      "strategy": "group", "group_size": 32, "symmetric": false}}}}})");
    const auto ckpt = io::checkpoint::open(dir.path);
    const auto config = io::parse_compressed_tensors_config(ckpt.config_text());
    REQUIRE(config.groups.size() == 3);
    CHECK(config.groups[0].name == "group_0"); // file order
    CHECK(config.groups[2].name == "group_2");
    const auto weights = io::compressed_tensors_weights(ckpt);
    CHECK(same_bytes(weights("x.q_proj.weight"), io::unpack_weight(pa, a)));
    CHECK(same_bytes(weights("x.down_proj.weight"), io::unpack_weight(pb, b)));
    CHECK(same_bytes(weights("x.up_proj.weight"), io::unpack_weight(pc, c)));
}
