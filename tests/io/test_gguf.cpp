// GGUF: bit-exact round trips of every value and tensor type, the layout the writer promises
// (ggml's), a hand-assembled file, every malformed input the reader must refuse with a message
// naming the file and the field, and a writer that leaves nothing behind when it fails.
#include "hone/io/gguf.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;
using hone::status;
using hone::io::gguf_array;
using hone::io::gguf_file;
using hone::io::gguf_metadata;
using hone::io::gguf_tensor_spec;
using hone::io::gguf_type;
using hone::io::gguf_value;
using hone::io::gguf_value_type;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_test_gguf_" + std::to_string(::getpid()) + "_" +
                                            std::to_string(std::random_device{}()));
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::size_t entries() const {
        return static_cast<std::size_t>(
            std::distance(fs::directory_iterator(path), fs::directory_iterator()));
    }
};

// The byte the test fill writes at position k of tensor i.
std::byte pattern(std::size_t i, std::size_t k) {
    return static_cast<std::byte>((i * 37 + k * 13 + 5) & 0xff);
}

void fill_pattern(std::size_t i, std::span<std::byte> dst) {
    for (std::size_t k = 0; k < dst.size(); ++k)
        dst[k] = pattern(i, k);
}

bool has_pattern(std::size_t i, std::span<const std::byte> data) {
    for (std::size_t k = 0; k < data.size(); ++k)
        if (data[k] != pattern(i, k)) return false;
    return true;
}

gguf_file parse(const std::string& bytes, std::string_view source = "mem.gguf") {
    return gguf_file::parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
        source);
}

bool contains(const std::string& text, const char* needle) {
    return text.find(needle) != std::string::npos;
}

// Expects parse(bytes) to fail with `code` and a message containing each needle.
void refuses(const std::string& bytes, status code, std::initializer_list<const char*> needles) {
    try {
        (void)parse(bytes);
        FAIL_CHECK("accepted a malformed file");
    } catch (const hone::error& e) {
        const std::string what = e.what();
        CAPTURE(what);
        CHECK(e.code() == code);
        CHECK(contains(what, "mem.gguf"));
        for (const char* n : needles)
            CHECK(contains(what, n));
    }
}

// Expects fn() to throw hone::error with `code` and a message containing each needle.
template <class Fn> void throws(Fn&& fn, status code, std::initializer_list<const char*> needles) {
    try {
        fn();
        FAIL_CHECK("did not throw");
    } catch (const hone::error& e) {
        const std::string what = e.what();
        CAPTURE(what);
        CHECK(e.code() == code);
        for (const char* n : needles)
            CHECK(contains(what, n));
    }
}

// Assembles GGUF bytes field by field, little-endian.
struct builder {
    std::string s;
    builder& raw(std::string_view v) {
        s.append(v);
        return *this;
    }
    template <class T> builder& put(T v) {
        s.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    builder& u8(std::uint8_t v) { return put(v); }
    builder& u32(std::uint32_t v) { return put(v); }
    builder& u64(std::uint64_t v) { return put(v); }
    builder& str(std::string_view v) { return u64(v.size()).raw(v); }
    builder& header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
        return raw("GGUF").u32(version).u64(tensors).u64(kvs);
    }
    builder& kv_u32(std::string_view key, std::uint32_t v) { return str(key).u32(4).u32(v); }
    builder& tensor(std::string_view name, std::initializer_list<std::uint64_t> dims,
                    std::uint32_t type, std::uint64_t offset) {
        str(name).u32(static_cast<std::uint32_t>(dims.size()));
        for (const auto d : dims)
            u64(d);
        return u32(type).u64(offset);
    }
    builder& pad(std::size_t alignment = 32) {
        while (s.size() % alignment != 0)
            s.push_back('\0');
        return *this;
    }
    builder& zeros(std::size_t n) {
        s.append(n, '\0');
        return *this;
    }
};

// Metadata with every value type, arrays of every element type, edge values.
gguf_metadata every_value() {
    return {
        {"general.architecture", std::string("llama")},
        {"t.u8", std::uint8_t{255}},
        {"t.i8", std::int8_t{-128}},
        {"t.u16", std::uint16_t{65535}},
        {"t.i16", std::int16_t{-32768}},
        {"t.u32", std::uint32_t{4000000000u}},
        {"t.i32", std::int32_t{-2000000000}},
        {"t.f32", 1.5f},
        {"t.f32_inf", -std::numeric_limits<float>::infinity()},
        {"t.bool_true", true},
        {"t.bool_false", false},
        {"t.string_empty", std::string()},
        {"t.string_utf8", std::string("gr\xc3\xbc\xc3\x9f dich \xe2\x82\xac")},
        {"t.u64", std::numeric_limits<std::uint64_t>::max()},
        {"t.i64", std::numeric_limits<std::int64_t>::min()},
        {"t.f64", 0.1},
        {"a.u8", gguf_array{std::vector<std::uint8_t>{0, 1, 255}}},
        {"a.i8", gguf_array{std::vector<std::int8_t>{-1, 127}}},
        {"a.u16", gguf_array{std::vector<std::uint16_t>{1, 65535}}},
        {"a.i16", gguf_array{std::vector<std::int16_t>{-7}}},
        {"a.u32", gguf_array{std::vector<std::uint32_t>{1, 2, 3}}},
        {"a.i32", gguf_array{std::vector<std::int32_t>{-1, 0, 1}}},
        {"a.f32", gguf_array{std::vector<float>{0.25f, -1e30f, 3.0f}}},
        {"a.bool", gguf_array{std::vector<bool>{true, false, true}}},
        {"a.string", gguf_array{std::vector<std::string>{"<s>", "", "\xe2\x96\x81the"}}},
        {"a.u64", gguf_array{std::vector<std::uint64_t>{1ull << 63}}},
        {"a.i64", gguf_array{std::vector<std::int64_t>{-5, 5}}},
        {"a.f64", gguf_array{std::vector<double>{1e300, -0.5}}},
        {"a.empty", gguf_array{std::vector<float>{}}},
        {"a.empty_strings", gguf_array{std::vector<std::string>{}}},
    };
}

std::vector<gguf_tensor_spec> every_type() {
    return {
        {"token_embd.weight", {3, 5}, gguf_type::f32},
        {"f16", {7}, gguf_type::f16},
        {"q4_0", {64, 2}, gguf_type::q4_0},
        {"q4_1", {32}, gguf_type::q4_1},
        {"q5_0", {32, 3}, gguf_type::q5_0},
        {"q5_1", {96}, gguf_type::q5_1},
        {"blk.0.attn_q.weight", {32, 2, 2}, gguf_type::q8_0},
        {"q2_k", {256}, gguf_type::q2_k},
        {"q3_k", {256, 2}, gguf_type::q3_k},
        {"q4_k", {512, 1, 1, 2}, gguf_type::q4_k},
        {"q5_k", {256}, gguf_type::q5_k},
        {"q6_k", {256, 3}, gguf_type::q6_k},
        {"q8_k", {256}, gguf_type::q8_k},
        {"i8", {5}, gguf_type::i8},
        {"i16", {3}, gguf_type::i16},
        {"i32", {2, 2}, gguf_type::i32},
        {"i64", {1}, gguf_type::i64},
        {"f64", {3}, gguf_type::f64},
        {"bf16", {9, 1}, gguf_type::bf16},
        {"empty", {0, 4}, gguf_type::f32},
    };
}

std::string read_bytes(const fs::path& path) { return hone::read_file(path); }

} // namespace

TEST_CASE("ggml type table") {
    struct row {
        gguf_type type;
        std::uint32_t number;
        const char* name;
        std::uint64_t block, bytes;
    };
    const row rows[] = {
        {gguf_type::f32, 0, "F32", 1, 4},        {gguf_type::f16, 1, "F16", 1, 2},
        {gguf_type::q4_0, 2, "Q4_0", 32, 18},    {gguf_type::q4_1, 3, "Q4_1", 32, 20},
        {gguf_type::q5_0, 6, "Q5_0", 32, 22},    {gguf_type::q5_1, 7, "Q5_1", 32, 24},
        {gguf_type::q8_0, 8, "Q8_0", 32, 34},    {gguf_type::q2_k, 10, "Q2_K", 256, 84},
        {gguf_type::q3_k, 11, "Q3_K", 256, 110}, {gguf_type::q4_k, 12, "Q4_K", 256, 144},
        {gguf_type::q5_k, 13, "Q5_K", 256, 176}, {gguf_type::q6_k, 14, "Q6_K", 256, 210},
        {gguf_type::q8_k, 15, "Q8_K", 256, 292}, {gguf_type::i8, 24, "I8", 1, 1},
        {gguf_type::i16, 25, "I16", 1, 2},       {gguf_type::i32, 26, "I32", 1, 4},
        {gguf_type::i64, 27, "I64", 1, 8},       {gguf_type::f64, 28, "F64", 1, 8},
        {gguf_type::bf16, 30, "BF16", 1, 2},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(static_cast<std::uint32_t>(r.type) == r.number);
        CHECK(hone::io::gguf_type_known(r.type));
        CHECK(hone::io::gguf_type_name(r.type) == r.name);
        CHECK(hone::io::gguf_type_from_name(r.name) == r.type);
        CHECK(hone::io::gguf_block_size(r.type) == r.block);
        CHECK(hone::io::gguf_block_bytes(r.type) == r.bytes);
        const std::uint64_t dims[] = {r.block * 2, 3};
        CHECK(hone::io::gguf_tensor_bytes(r.type, dims) == 6 * r.bytes);
    }
    const auto q8_1 = static_cast<gguf_type>(9);
    CHECK_FALSE(hone::io::gguf_type_known(q8_1));
    CHECK(hone::io::gguf_type_name(q8_1) == "unknown");
    CHECK_FALSE(hone::io::gguf_type_from_name("q4_k").has_value());
    throws([&] { (void)hone::io::gguf_block_size(q8_1); }, status::unsupported, {"9"});

    const std::uint64_t ok[] = {4096, 11008};
    CHECK(hone::io::gguf_tensor_bytes(gguf_type::q4_k, ok) == 4096ull / 256 * 144 * 11008);
    const std::uint64_t not_multiple[] = {33, 2};
    throws([&] { (void)hone::io::gguf_tensor_bytes(gguf_type::q4_0, not_multiple); },
           status::invalid_argument, {"dims[0] = 33", "block size 32", "Q4_0"});
    throws([&] { (void)hone::io::gguf_tensor_bytes(gguf_type::f32, {}); }, status::invalid_argument,
           {"no dimensions"});
    const std::uint64_t five[] = {1, 1, 1, 1, 1};
    throws([&] { (void)hone::io::gguf_tensor_bytes(gguf_type::f32, five); },
           status::invalid_argument, {"5 dimensions"});
    const std::uint64_t huge[] = {1ull << 40, 1ull << 40};
    throws([&] { (void)hone::io::gguf_tensor_bytes(gguf_type::f32, huge); },
           status::invalid_argument, {"element count"});
    const std::uint64_t big_bytes[] = {1ull << 62};
    throws([&] { (void)hone::io::gguf_tensor_bytes(gguf_type::f64, big_bytes); },
           status::invalid_argument, {"byte size"});
    const std::uint64_t negative[] = {1ull << 63};
    throws([&] { (void)hone::io::gguf_tensor_bytes(gguf_type::i8, negative); },
           status::invalid_argument, {"2^63"});
    const std::uint64_t zero[] = {0, 5};
    CHECK(hone::io::gguf_tensor_bytes(gguf_type::q4_k, zero) == 0);
}

TEST_CASE("values: the variant index is the GGUF value type") {
    const auto kv = every_value();
    CHECK(hone::io::gguf_type_of(gguf_value(std::uint32_t{1})) == gguf_value_type::uint32);
    CHECK(hone::io::gguf_type_of(gguf_value(true)) == gguf_value_type::boolean);
    CHECK(hone::io::gguf_type_of(gguf_value(std::string("x"))) == gguf_value_type::string);
    CHECK(hone::io::gguf_type_of(gguf_value(0.5)) == gguf_value_type::float64);
    CHECK(hone::io::gguf_type_of(gguf_value(0.5f)) == gguf_value_type::float32);
    CHECK(hone::io::gguf_type_of(gguf_value(std::int64_t{1})) == gguf_value_type::int64);
    const gguf_array strings{std::vector<std::string>{"a", "b"}};
    CHECK(strings.element_type() == gguf_value_type::string);
    CHECK(strings.size() == 2);
    CHECK(gguf_array{std::vector<std::uint64_t>{}}.element_type() == gguf_value_type::uint64);
    CHECK(gguf_array{std::vector<double>{1}}.element_type() == gguf_value_type::float64);
    CHECK(gguf_array{std::vector<bool>{true}}.element_type() == gguf_value_type::boolean);
    CHECK(hone::io::gguf_value_type_name(gguf_value_type::float32) == "FLOAT32");
    CHECK(hone::io::gguf_value_type_name(static_cast<gguf_value_type>(13)) == "unknown");
    REQUIRE(hone::io::gguf_find(kv, "t.u16") != nullptr);
    CHECK(std::get<std::uint16_t>(*hone::io::gguf_find(kv, "t.u16")) == 65535);
    CHECK(hone::io::gguf_find(kv, "nope") == nullptr);
}

TEST_CASE("round trip of every value type and tensor type, bit-exact") {
    temp_dir dir;
    const auto kv = every_value();
    const auto specs = every_type();
    const auto path = dir.path / "model.gguf";
    std::vector<std::size_t> calls;
    hone::io::write_gguf(path, kv, specs, [&](std::size_t i, std::span<std::byte> dst) {
        calls.push_back(i);
        CHECK(dst.size() == hone::io::gguf_tensor_bytes(specs[i].type, specs[i].dims));
        bool zeroed = true;
        for (const auto b : dst)
            zeroed = zeroed && b == std::byte{0};
        CHECK(zeroed);
        fill_pattern(i, dst);
    });
    CHECK(calls.size() == specs.size());
    for (std::size_t i = 0; i < calls.size(); ++i)
        CHECK(calls[i] == i);
    CHECK(dir.entries() == 1); // no temporary left behind

    const auto f = gguf_file::open(path);
    CHECK(f.source() == path.string());
    CHECK(f.version() == 3);
    CHECK(f.alignment() == 32);
    CHECK(f.metadata() == kv);
    CHECK(f.get<std::string>("general.architecture") == "llama");
    CHECK(f.get<std::uint32_t>("t.u32") == 4000000000u);
    CHECK(std::isinf(f.get<float>("t.f32_inf")));
    const auto& strings = std::get<std::vector<std::string>>(f.get<gguf_array>("a.string").values);
    CHECK(strings == std::vector<std::string>{"<s>", "",
                                              "\xe2\x96\x81th"
                                              "e"});
    const auto& floats = std::get<std::vector<float>>(f.get<gguf_array>("a.f32").values);
    CHECK(floats == std::vector<float>{0.25f, -1e30f, 3.0f});

    const auto layout = hone::io::plan_gguf(kv, specs);
    CHECK(f.file_size() == layout.file_bytes);
    CHECK(fs::file_size(path) == layout.file_bytes);
    CHECK(f.data_offset() == layout.data_offset);
    CHECK(f.data_offset() % 32 == 0);
    REQUIRE(f.tensors().size() == specs.size());
    std::uint64_t expected_offset = 0;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const auto& t = f.tensors()[i];
        CAPTURE(t.name);
        CHECK(t.name == specs[i].name);
        CHECK(t.dims == specs[i].dims);
        CHECK(t.type == specs[i].type);
        CHECK(t.bytes == hone::io::gguf_tensor_bytes(specs[i].type, specs[i].dims));
        CHECK(t.bytes == layout.bytes[i]);
        CHECK(t.offset == layout.offsets[i]);
        CHECK(t.offset == expected_offset); // ggml's layout: back to back, each padded
        CHECK(t.offset % 32 == 0);
        expected_offset += (t.bytes + 31) / 32 * 32;
        CHECK(&f.info(t.name) == &t);
        CHECK(f.contains(t.name));
        const auto data = f.data(t.name);
        CHECK(data.size() == t.bytes);
        CHECK(has_pattern(i, data));
    }
    CHECK(layout.data_offset + expected_offset == layout.file_bytes);

    // In memory: the same bytes; read → write gives the same bytes again.
    const std::string file_bytes = read_bytes(path);
    CHECK(hone::io::serialize_gguf(kv, specs, fill_pattern) == file_bytes);
    std::vector<gguf_tensor_spec> again;
    for (const auto& t : f.tensors())
        again.push_back({t.name, t.dims, t.type});
    const auto rewritten =
        hone::io::serialize_gguf(f.metadata(), again, [&](std::size_t i, std::span<std::byte> d) {
            const auto src = f.data(f.tensors()[i].name);
            std::copy(src.begin(), src.end(), d.begin());
        });
    CHECK(rewritten == file_bytes);
    const auto g = parse(file_bytes);
    CHECK(g.metadata() == kv);
    CHECK(g.tensors().size() == specs.size());
}

TEST_CASE("alignment: default 32, general.alignment 8, 32, 64, 4096") {
    for (const std::uint32_t a : {0u, 8u, 32u, 64u, 4096u}) {
        CAPTURE(a);
        temp_dir dir;
        gguf_metadata kv{{"general.name", std::string("x")}};
        if (a != 0) kv.emplace_back("general.alignment", a);
        const std::uint64_t want = a == 0 ? 32 : a;
        const std::vector<gguf_tensor_spec> specs = {
            {"a", {3}, gguf_type::f32}, {"b", {32}, gguf_type::q8_0}, {"c", {1}, gguf_type::i8}};
        const auto path = dir.path / "aligned.gguf";
        hone::io::write_gguf(path, kv, specs, fill_pattern);
        const auto f = gguf_file::open(path);
        CHECK(f.alignment() == want);
        CHECK(f.data_offset() % want == 0);
        CHECK(f.file_size() % want == 0);
        for (std::size_t i = 0; i < specs.size(); ++i) {
            const auto& t = f.tensors()[i];
            CHECK(t.offset % want == 0);
            // The mapping is page-aligned, so the data is aligned in memory too.
            CHECK(reinterpret_cast<std::uintptr_t>(f.data(t.name).data()) % want == 0);
            CHECK(has_pattern(i, f.data(t.name)));
        }
        CHECK(f.tensors()[1].offset == want * ((12 + want - 1) / want));
    }
}

TEST_CASE("a hand-assembled file as the spec describes it") {
    // Two metadata entries, one F32 tensor [out 2, in 2] (ggml dims {2, 2}) and a Q8_0 row.
    builder b;
    b.header(2, 3)
        .str("general.architecture")
        .u32(8)
        .str("llama")
        .kv_u32("general.alignment", 32)
        .str("tokenizer.ggml.scores")
        .u32(9)
        .u32(6)
        .u64(2)
        .put(0.5f)
        .put(-1.0f);
    b.tensor("output.weight", {2, 2}, 0, 0).tensor("q", {32}, 8, 32).pad();
    const std::size_t data_start = b.s.size();
    b.put(1.0f).put(2.0f).put(-3.0f).put(4.5f).pad();
    for (int k = 0; k < 34; ++k)
        b.u8(static_cast<std::uint8_t>(k));
    b.pad();

    const auto f = parse(b.s);
    CHECK(f.version() == 3);
    CHECK(f.alignment() == 32);
    CHECK(f.data_offset() == data_start);
    REQUIRE(f.metadata().size() == 3);
    CHECK(f.metadata()[0].first == "general.architecture");
    CHECK(f.get<std::string>("general.architecture") == "llama");
    CHECK(std::get<std::vector<float>>(f.get<gguf_array>("tokenizer.ggml.scores").values) ==
          std::vector<float>{0.5f, -1.0f});
    REQUIRE(f.tensors().size() == 2);
    const auto& w = f.info("output.weight");
    CHECK(w.dims == std::vector<std::uint64_t>{2, 2});
    CHECK(w.type == gguf_type::f32);
    CHECK(w.offset == 0);
    CHECK(w.bytes == 16);
    float values[4];
    std::memcpy(values, f.data("output.weight").data(), 16);
    CHECK(values[0] == 1.0f);
    CHECK(values[3] == 4.5f);
    CHECK(f.info("q").bytes == 34);
    CHECK(f.data("q")[33] == std::byte{33});

    // The writer produces exactly these bytes.
    const gguf_metadata kv{
        {"general.architecture", std::string("llama")},
        {"general.alignment", std::uint32_t{32}},
        {"tokenizer.ggml.scores", gguf_array{std::vector<float>{0.5f, -1.0f}}},
    };
    const std::vector<gguf_tensor_spec> specs = {{"output.weight", {2, 2}, gguf_type::f32},
                                                 {"q", {32}, gguf_type::q8_0}};
    const auto written =
        hone::io::serialize_gguf(kv, specs, [&](std::size_t i, std::span<std::byte> dst) {
            const auto src = f.data(specs[i].name);
            std::copy(src.begin(), src.end(), dst.begin());
        });
    CHECK(written == b.s);
}

TEST_CASE("files the spec allows are accepted") {
    SUBCASE("no tensors, no metadata, no padding") {
        builder b;
        b.header(0, 0);
        const auto f = parse(b.s);
        CHECK(f.tensors().empty());
        CHECK(f.metadata().empty());
        CHECK(hone::io::serialize_gguf({}, {}, {}) == builder{}.header(0, 0).pad().s);
    }
    SUBCASE("version 2 (same layout)") {
        builder b;
        b.header(1, 0, 2).tensor("t", {4}, 0, 0).pad().zeros(16);
        CHECK(parse(b.s).version() == 2);
    }
    SUBCASE("a 64-byte name, a zero-element tensor, gaps and trailing bytes") {
        const std::string name64(64, 'n');
        builder b;
        b.header(3, 0)
            .tensor(name64, {4}, 0, 64)
            .tensor("empty", {0, 3}, 12, 0)
            .tensor("last", {1}, 24, 128)
            .pad()
            .zeros(200);
        const auto f = parse(b.s);
        CHECK(f.info(name64).bytes == 16);
        CHECK(f.info("empty").bytes == 0);
        CHECK(f.data("empty").empty());
        CHECK(f.data("last").size() == 1);
    }
    SUBCASE("bytes after the last tensor without its padding") {
        builder b;
        b.header(1, 0).tensor("t", {3}, 0, 0).pad().zeros(12);
        CHECK(parse(b.s).data("t").size() == 12);
    }
}

TEST_CASE("malformed files are refused with the file and field named") {
    SUBCASE("magic and version") {
        refuses("", status::format_error, {"truncated", "magic"});
        refuses("GGU", status::format_error, {"truncated", "magic"});
        builder bad_magic;
        bad_magic.raw("GGUX").u32(3).u64(0).u64(0);
        refuses(bad_magic.s, status::format_error, {"magic", "GGUX"});
        refuses(builder{}.header(0, 0, 1).s, status::unsupported, {"version", "v1"});
        refuses(builder{}.header(0, 0, 4).s, status::unsupported, {"version", "4"});
        refuses(builder{}.header(0, 0, 0).s, status::format_error, {"version", "0"});
        refuses(builder{}.header(0, 0, 0x03000000u).s, status::unsupported, {"big-endian"});
    }
    SUBCASE("hostile counts and lengths allocate nothing") {
        refuses(builder{}.header(0, 1ull << 60).s, status::format_error,
                {"metadata_kv_count", "1152921504606846976"});
        refuses(builder{}.header(1ull << 60, 0).s, status::format_error, {"tensor_count"});
        refuses(builder{}.header(~0ull, ~0ull).s, status::format_error, {"metadata_kv_count"});
        // Enough bytes for the header's bound, not after the metadata.
        builder after;
        after.header(2, 1).kv_u32("k", 1).zeros(55);
        refuses(after.s, status::format_error, {"tensor_count", "after the metadata"});
        builder key;
        key.header(0, 1).u64(1ull << 62).zeros(32);
        refuses(key.s, status::format_error, {"truncated", "metadata entry 0", "key"});
        builder value;
        value.header(0, 1).str("k").u32(8).u64(~0ull).zeros(32);
        refuses(value.s, status::format_error, {"truncated", "metadata key 'k'"});
        builder count;
        count.header(0, 1).str("k").u32(9).u32(4).u64(1ull << 61).zeros(32);
        refuses(count.s, status::format_error, {"metadata key 'k'", "array count"});
        builder strings;
        strings.header(0, 1).str("k").u32(9).u32(8).u64(5).zeros(39);
        refuses(strings.s, status::format_error, {"array count", "5 elements of STRING"});
        builder element;
        element.header(0, 1).str("k").u32(9).u32(8).u64(2).str("a").u64(1ull << 40).zeros(32);
        refuses(element.s, status::format_error, {"truncated", "metadata key 'k': element 1"});
        builder name;
        name.header(1, 0).u64(1ull << 63).zeros(40);
        refuses(name.s, status::format_error, {"truncated", "tensor 0", "name"});
    }
    SUBCASE("truncated anywhere: every prefix of a valid file") {
        const auto kv = every_value();
        const std::vector<gguf_tensor_spec> specs = {{"a", {3}, gguf_type::f32},
                                                     {"b", {32}, gguf_type::q4_0}};
        const auto bytes = hone::io::serialize_gguf(kv, specs, fill_pattern);
        const auto full = parse(bytes);
        const auto& last = full.tensors().back();
        const std::size_t needed = full.data_offset() + last.offset + last.bytes;
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            const std::string prefix = bytes.substr(0, n);
            try {
                const auto f = parse(prefix);
                CHECK_MESSAGE(n >= needed, "accepted a prefix of ", n, " bytes");
            } catch (const hone::error& e) {
                CHECK_MESSAGE(n < needed, "refused a complete prefix of ", n, " bytes");
                CHECK(e.code() == status::format_error);
                CHECK(contains(e.what(), "mem.gguf"));
            }
        }
    }
    SUBCASE("metadata") {
        refuses(builder{}.header(0, 1).str("k").u32(13).u32(0).s, status::format_error,
                {"metadata key 'k'", "value type", "13"});
        refuses(builder{}.header(0, 1).str("k").u32(9).u32(99).u64(0).zeros(8).s,
                status::format_error, {"metadata key 'k'", "array element type", "99"});
        refuses(builder{}.header(0, 1).str("k").u32(9).u32(9).u64(1).zeros(20).s,
                status::unsupported, {"metadata key 'k'", "arrays of arrays"});
        refuses(builder{}.header(0, 1).str("k").u32(7).u8(2).zeros(8).s, status::format_error,
                {"metadata key 'k'", "BOOL", "2"});
        refuses(builder{}.header(0, 1).str("k").u32(9).u32(7).u64(2).u8(1).u8(7).zeros(8).s,
                status::format_error, {"metadata key 'k': element 1", "BOOL"});
        refuses(builder{}.header(0, 1).str("").u32(4).u32(1).zeros(8).s, status::format_error,
                {"metadata entry 0", "empty"});
        refuses(builder{}.header(0, 2).kv_u32("k", 1).kv_u32("k", 2).s, status::format_error,
                {"duplicate key 'k'", "entry 1"});
        const std::string long_key(65536, 'k');
        refuses(builder{}.header(0, 1).kv_u32(long_key, 1).s, status::format_error,
                {"65536 bytes", "65535"});
        refuses(builder{}.header(0, 1).str("general.alignment").u32(5).put(std::int32_t{32}).s,
                status::format_error, {"general.alignment", "INT32", "UINT32"});
        refuses(builder{}.header(0, 1).kv_u32("general.alignment", 48).s, status::format_error,
                {"general.alignment", "48", "power of two"});
        refuses(builder{}.header(0, 1).kv_u32("general.alignment", 0).s, status::format_error,
                {"general.alignment", "power of two"});
    }
    SUBCASE("tensor infos") {
        const auto one = [](auto&& add) {
            builder b;
            b.header(1, 0);
            add(b);
            return b.pad().zeros(256).s;
        };
        refuses(one([](builder& b) { b.tensor("", {4}, 0, 0); }), status::format_error,
                {"tensor 0", "name", "empty"});
        refuses(one([](builder& b) { b.tensor(std::string(65, 'x'), {4}, 0, 0); }),
                status::format_error, {"tensor 0", "65 bytes", "64"});
        refuses(one([](builder& b) { b.tensor("w", {}, 0, 0); }), status::format_error,
                {"tensor 'w'", "n_dimensions", "0"});
        refuses(one([](builder& b) {
                    b.tensor("w", {1, 1, 1, 1, 1}, 0, 0);
                }),
                status::unsupported, {"tensor 'w'", "n_dimensions", "5"});
        refuses(one([](builder& b) {
                    b.tensor("w", {4, 1ull << 63}, 0, 0);
                }),
                status::format_error, {"tensor 'w'", "dims[1]", "2^63"});
        refuses(one([](builder& b) {
                    b.tensor("w", {1ull << 40, 1ull << 40}, 0, 0);
                }),
                status::format_error, {"tensor 'w'", "dims", "element count"});
        refuses(one([](builder& b) { b.tensor("w", {4}, 99, 0); }), status::unsupported,
                {"tensor 'w'", "type", "99"});
        refuses(one([](builder& b) { b.tensor("w", {32}, 20, 0); }), status::unsupported,
                {"tensor 'w'", "type", "20", "IQ4_NL"});
        refuses(one([](builder& b) {
                    b.tensor("w", {33, 2}, 2, 0);
                }),
                status::format_error, {"tensor 'w'", "dims", "Q4_0", "block size 32", "33"});
        refuses(one([](builder& b) { b.tensor("w", {128}, 12, 0); }), status::format_error,
                {"tensor 'w'", "Q4_K", "block size 256"});
        refuses(one([](builder& b) { b.tensor("w", {4}, 0, 4); }), status::format_error,
                {"tensor 'w'", "offset", "4", "multiple of the alignment 32"});
        builder dup;
        dup.header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad().zeros(64);
        refuses(dup.s, status::format_error, {"tensor 1", "duplicate tensor name 'w'"});
    }
    SUBCASE("tensor data") {
        builder overlap;
        overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().zeros(128);
        refuses(overlap.s, status::format_error, {"tensor 'b'", "overlap", "tensor 'a'"});
        builder same;
        same.header(2, 0).tensor("a", {4}, 0, 32).tensor("b", {8}, 0, 32).pad().zeros(128);
        refuses(same.s, status::format_error, {"overlap"});
        builder past;
        past.header(1, 0).tensor("a", {16}, 0, 0).pad().zeros(63);
        refuses(past.s, status::format_error, {"tensor 'a'", "offset", "63-byte data section"});
        builder far;
        far.header(1, 0).tensor("a", {1}, 0, ~0ull << 5).pad().zeros(64);
        refuses(far.s, status::format_error, {"tensor 'a'", "offset", "beyond"});
        builder unpadded; // the data section would start past the end of the file
        unpadded.header(1, 0).tensor("a", {0}, 0, 0);
        refuses(unpadded.s, status::format_error, {"data section starts"});
        builder aligned64; // general.alignment moves the data section and the offset rule
        aligned64.header(1, 1).kv_u32("general.alignment", 64).tensor("a", {4}, 0, 32).pad(64);
        aligned64.zeros(128);
        refuses(aligned64.s, status::format_error, {"multiple of the alignment 64"});
    }
}

TEST_CASE("metadata and tensor lookups") {
    const auto bytes = hone::io::serialize_gguf(
        {{"general.architecture", std::string("llama")}, {"llama.block_count", std::uint32_t{2}}},
        std::vector<gguf_tensor_spec>{{"w", {4}, gguf_type::f32}}, fill_pattern);
    const auto f = parse(bytes);
    REQUIRE(f.find("llama.block_count") != nullptr);
    CHECK(std::get<std::uint32_t>(*f.find("llama.block_count")) == 2);
    CHECK(f.find("llama.context_length") == nullptr);
    throws([&] { (void)f.get("llama.context_length"); }, status::not_found,
           {"mem.gguf", "llama.context_length"});
    throws([&] { (void)f.get<std::uint64_t>("llama.block_count"); }, status::format_error,
           {"mem.gguf", "llama.block_count", "UINT32", "not UINT64"});
    throws([&] { (void)f.get<gguf_array>("general.architecture"); }, status::format_error,
           {"STRING", "not ARRAY"});
    throws([&] { (void)f.info("v"); }, status::not_found, {"mem.gguf", "tensor 'v'"});
    throws([&] { (void)f.data("v"); }, status::not_found, {"tensor 'v'"});
    CHECK_FALSE(f.contains("v"));
}

TEST_CASE("open: missing files, folders and empty files") {
    temp_dir dir;
    throws([&] { (void)gguf_file::open(dir.path / "missing.gguf"); }, status::io_error,
           {"missing.gguf", "cannot open"});
    throws([&] { (void)gguf_file::open(dir.path); }, status::io_error, {"not a regular file"});
    hone::write_file_atomic(dir.path / "empty.gguf", "");
    throws([&] { (void)gguf_file::open(dir.path / "empty.gguf"); }, status::format_error,
           {"empty.gguf", "truncated", "magic"});
}

TEST_CASE("the writer refuses what it cannot represent and leaves no file") {
    temp_dir dir;
    const auto path = dir.path / "bad.gguf";
    const auto refuses_write = [&](const gguf_metadata& kv,
                                   const std::vector<gguf_tensor_spec>& specs, status code,
                                   std::initializer_list<const char*> needles) {
        throws([&] { hone::io::write_gguf(path, kv, specs, fill_pattern); }, code, needles);
        throws([&] { (void)hone::io::plan_gguf(kv, specs); }, code, needles);
        CHECK(dir.entries() == 0);
    };
    const gguf_metadata none;
    refuses_write(none, {{"w", {4}, gguf_type::f32}, {"w", {8}, gguf_type::f32}},
                  status::invalid_argument, {"'w'", "twice"});
    refuses_write(none, {{"", {4}, gguf_type::f32}}, status::invalid_argument, {"empty name"});
    refuses_write(none, {{std::string(64, 'x'), {4}, gguf_type::f32}}, status::invalid_argument,
                  {"64 bytes", "63"});
    refuses_write(none, {{"w", {}, gguf_type::f32}}, status::invalid_argument,
                  {"tensor 'w'", "no dimensions"});
    refuses_write(none, {{"w", {1, 1, 1, 1, 1}, gguf_type::f32}}, status::invalid_argument,
                  {"tensor 'w'", "5 dimensions"});
    refuses_write(none, {{"w", {100, 2}, gguf_type::q4_k}}, status::invalid_argument,
                  {"tensor 'w'", "Q4_K", "block size 256"});
    refuses_write(none, {{"w", {1ull << 62, 4}, gguf_type::f32}}, status::invalid_argument,
                  {"tensor 'w'", "element count"});
    refuses_write(none, {{"w", {32}, static_cast<gguf_type>(9)}}, status::unsupported,
                  {"tensor 'w'", "9"});
    refuses_write({{"k", std::uint8_t{1}}, {"k", std::uint8_t{2}}}, {}, status::invalid_argument,
                  {"key 'k'", "twice"});
    refuses_write({{"", std::uint8_t{1}}}, {}, status::invalid_argument, {"empty"});
    refuses_write({{"gr\xc3\xbc\xc3\x9f", std::uint8_t{1}}}, {}, status::invalid_argument,
                  {"ASCII"});
    refuses_write({{std::string(65536, 'k'), std::uint8_t{1}}}, {}, status::invalid_argument,
                  {"65535"});
    refuses_write({{"general.alignment", std::int32_t{32}}}, {}, status::invalid_argument,
                  {"general.alignment", "INT32"});
    refuses_write({{"general.alignment", std::uint32_t{48}}}, {}, status::invalid_argument,
                  {"general.alignment", "48"});
    refuses_write({{"general.alignment", std::uint32_t{4}}}, {}, status::invalid_argument,
                  {"multiple of 8"});
    throws(
        [&] {
            hone::io::write_gguf(path, {}, std::vector<gguf_tensor_spec>{{"w", {4}}}, nullptr);
        },
        status::invalid_argument, {"fill"});
    CHECK(dir.entries() == 0);
    throws([&] { hone::io::write_gguf(dir.path / "no" / "such" / "dir.gguf", {}, {}, {}); },
           status::io_error, {"dir.gguf"});
}

TEST_CASE("a fill that throws leaves no file and no temporary; an old file stays") {
    temp_dir dir;
    const auto path = dir.path / "model.gguf";
    const std::vector<gguf_tensor_spec> specs = {
        {"a", {64}, gguf_type::f32}, {"b", {256}, gguf_type::q4_k}, {"c", {4}, gguf_type::f32}};
    const auto throw_at_1 = [](std::size_t i, std::span<std::byte> dst) {
        if (i == 1) throw std::runtime_error("quantization failed");
        fill_pattern(i, dst);
    };
    CHECK_THROWS_WITH_AS(hone::io::write_gguf(path, {}, specs, throw_at_1), "quantization failed",
                         std::runtime_error);
    CHECK(dir.entries() == 0);
    const auto hone_error_at_2 = [](std::size_t i, std::span<std::byte> dst) {
        if (i == 2) hone::fail(status::cancelled, "stopped");
        fill_pattern(i, dst);
    };
    throws([&] { hone::io::write_gguf(path, {}, specs, hone_error_at_2); }, status::cancelled,
           {"stopped"});
    CHECK(dir.entries() == 0);

    hone::write_file_atomic(path, "old contents");
    CHECK_THROWS_AS(hone::io::write_gguf(path, {}, specs, throw_at_1), std::runtime_error);
    CHECK(dir.entries() == 1);
    CHECK(read_bytes(path) == "old contents");
    hone::io::write_gguf(path, {}, specs, fill_pattern); // replaces it
    CHECK(dir.entries() == 1);
    CHECK(gguf_file::open(path).tensors().size() == 3);
}

TEST_CASE("the streaming writer holds one tensor at a time") {
    // A 64 MiB file written with a 16 MiB fill buffer at a time: each call gets exactly its
    // tensor's buffer, in order.
    temp_dir dir;
    std::vector<gguf_tensor_spec> specs;
    for (int i = 0; i < 4; ++i)
        specs.push_back({"blk." + std::to_string(i) + ".weight", {4096, 1024}, gguf_type::f32});
    std::size_t largest = 0;
    hone::io::write_gguf(dir.path / "big.gguf", {}, specs,
                         [&](std::size_t i, std::span<std::byte> dst) {
                             largest = std::max(largest, dst.size());
                             dst[0] = static_cast<std::byte>(i + 1);
                         });
    CHECK(largest == 4096u * 1024 * 4);
    const auto f = gguf_file::open(dir.path / "big.gguf");
    for (std::size_t i = 0; i < 4; ++i)
        CHECK(f.data(specs[i].name)[0] == static_cast<std::byte>(i + 1));
}
