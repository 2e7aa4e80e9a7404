// safetensors: bit-exact round trips, the layout the writer promises, a hand-made file, and
// every malformed input the reader must refuse with a message naming the file and the field.
#include "hone/io/safetensors.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/core/half.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;
using hone::dtype;
using hone::shape;
using hone::status;
using hone::io::safetensors_entry;
using hone::io::safetensors_file;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_test_safetensors_" + std::to_string(::getpid()) +
                                            "_" + std::to_string(std::random_device{}()));
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

hone::tensor random_tensor(dtype type, const shape& dims, unsigned seed) {
    hone::tensor t(type, dims);
    std::mt19937 rng(seed);
    auto* p = static_cast<unsigned char*>(t.data());
    for (std::size_t i = 0; i < t.nbytes(); ++i)
        p[i] = static_cast<unsigned char>(rng());
    if (type == dtype::boolean)
        for (std::size_t i = 0; i < t.nbytes(); ++i)
            p[i] &= 1;
    return t;
}

bool same_bytes(hone::const_tensor_view a, const hone::tensor& b) {
    const hone::tensor ac = hone::tensor::copy_of(a);
    return ac.type() == b.type() && ac.dims() == b.dims() && ac.nbytes() == b.nbytes() &&
           (ac.nbytes() == 0 || std::memcmp(ac.data(), b.data(), b.nbytes()) == 0);
}

// A file from a header text and a buffer; header_size overrides N when given.
std::string file_bytes(const std::string& header, const std::string& buffer,
                       std::optional<std::uint64_t> header_size = std::nullopt) {
    const std::uint64_t n = header_size.value_or(header.size());
    std::string out(reinterpret_cast<const char*>(&n), 8);
    return out + header + buffer;
}

safetensors_file parse(const std::string& bytes, std::string_view source = "mem.safetensors") {
    return safetensors_file::parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
        source);
}

// Expects parse(bytes) to fail with `code` and a message containing each needle.
void refuses(const std::string& bytes, status code, std::initializer_list<const char*> needles) {
    try {
        (void)parse(bytes);
        FAIL_CHECK("accepted a malformed file");
    } catch (const hone::error& e) {
        CAPTURE(e.what());
        CHECK(e.code() == code);
        CHECK(std::string(e.what()).find("mem.safetensors") != std::string::npos);
        for (const char* n : needles)
            CHECK(std::string(e.what()).find(n) != std::string::npos);
    }
}

std::string floats(std::initializer_list<float> v) {
    return {reinterpret_cast<const char*>(v.begin()), v.size() * sizeof(float)};
}

} // namespace

TEST_CASE("round trip of every dtype, bit-exact, with metadata") {
    temp_dir dir;
    std::vector<hone::tensor> ts;
    const dtype types[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::i8,
                           dtype::u8,  dtype::i32, dtype::i64,  dtype::boolean};
    unsigned seed = 1;
    for (const auto t : types)
        ts.push_back(random_tensor(t, {3, 5}, seed++));
    ts.push_back(random_tensor(dtype::f32, {}, seed++));       // scalar
    ts.push_back(random_tensor(dtype::f32, {0, 7}, seed++));   // empty
    ts.push_back(random_tensor(dtype::u8, {1, 1, 3}, seed++)); // odd size
    std::vector<safetensors_entry> entries;
    for (std::size_t i = 0; i < ts.size(); ++i)
        entries.push_back({"layer." + std::to_string(i) + ".w", ts[i].view()});
    // A strided (transposed) view is gathered.
    const auto base = random_tensor(dtype::f32, {4, 6}, 99);
    const std::array<std::int64_t, 2> st{1, 6};
    entries.push_back(
        {"transposed", hone::make_view(base.data(), base.nbytes(), dtype::f32, shape{6, 4}, st)});
    const hone::io::safetensors_metadata meta{
        {"format", "pt"}, {"hone.spec", "{\"bits\":4}"}, {"empty", ""}};
    const auto path = dir.path / "model.safetensors";
    hone::io::save_safetensors(path, entries, meta);

    const auto f = safetensors_file::open(path);
    CHECK(f.source() == path.string());
    CHECK(f.metadata() == meta);
    CHECK(f.tensors().size() == entries.size());
    CHECK((8 + f.header_bytes()) % 8 == 0);
    for (const auto& e : entries) {
        CAPTURE(e.name);
        REQUIRE(f.contains(e.name));
        const auto v = f.view(e.name); // aligned: the writer's layout guarantees it
        CHECK(same_bytes(e.data, f.read(e.name)));
        CHECK(same_bytes(v, f.read(e.name)));
        CHECK(f.info(e.name).type == e.data.type());
    }
    // Offsets are multiples of each tensor's element size, larger elements first.
    std::size_t last_size = 8;
    for (const auto& t : f.tensors()) {
        CHECK(t.begin % hone::size_of(t.type) == 0);
        CHECK(hone::size_of(t.type) <= last_size);
        last_size = hone::size_of(t.type);
    }
    // load → save → load: identical files.
    std::vector<safetensors_entry> again;
    for (const auto& n : f.names())
        again.push_back({n, f.view(n)});
    const auto path2 = dir.path / "again.safetensors";
    hone::io::save_safetensors(path2, again, f.metadata());
    CHECK(hone::read_file(path) == hone::read_file(path2));
    // The same bytes parse from memory.
    const auto m = parse(hone::read_file(path));
    CHECK(m.names() == f.names());
    // An empty file list is a valid file.
    const auto empty = parse(hone::io::serialize_safetensors({}));
    CHECK(empty.tensors().empty());
    CHECK(empty.metadata().empty());
    CHECK_THROWS_AS((void)f.view("missing"), hone::error);
    try {
        (void)f.read("missing");
    } catch (const hone::error& err) {
        CHECK(err.code() == status::not_found);
        CHECK(std::string(err.what()).find("'missing'") != std::string::npos);
    }
}

TEST_CASE("take() and release(): the same bytes as read(), the file's pages let go") {
    temp_dir dir;
    // 70 MiB: more than take()'s 64 MiB step, and not a whole number of pages.
    const auto big = random_tensor(dtype::f32, {70 * 1024 * 1024 / 4 + 3}, 5);
    const auto small = random_tensor(dtype::i64, {3, 5}, 6);
    const safetensors_entry entries[] = {{"big", big.view()}, {"small", small.view()}};
    const auto path = dir.path / "model.safetensors";
    hone::io::save_safetensors(path, entries);
    const auto f = safetensors_file::open(path);
    for (const char* name : {"big", "small"}) {
        CAPTURE(name);
        const auto a = f.read(name);
        const auto b = f.take(name);
        REQUIRE(a.nbytes() == b.nbytes());
        CHECK(std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
        f.release(name); // the view reads the file again afterwards
        const auto v = f.view(name);
        CHECK(std::memcmp(v.data(), a.data(), a.nbytes()) == 0);
    }
    CHECK_THROWS_AS((void)f.take("none"), hone::error);
    // A parse()d buffer has no mapping: take() is read().
    const auto bytes = hone::io::serialize_safetensors(entries);
    const auto m = safetensors_file::parse(std::as_bytes(std::span(bytes)));
    const auto c = m.take("small");
    CHECK(std::memcmp(c.data(), small.data(), small.nbytes()) == 0);
}

TEST_CASE("a hand-made file as the spec describes it") {
    // Header in the spec's own form, tensors out of name order, padding spaces after the JSON.
    const std::string header =
        R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
        R"("a":{"dtype":"I8","shape":[2,2],"data_offsets":[12,16]},)"
        R"("__metadata__":{"k":"v"},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}   )";
    std::string padded = header;
    while ((8 + padded.size()) % 8 != 1)
        padded += ' '; // the buffer starts misaligned
    const std::string buffer = floats({7.5f, 1.0f, -2.0f}) + std::string("\x01\xff\x02\x80", 4);
    const auto f = parse(file_bytes(padded, buffer));
    CHECK(f.names() == std::vector<std::string>{"s", "b", "a"});
    CHECK(f.metadata().at("k") == "v");
    const auto b = f.read("b");
    CHECK(b.dims() == shape{2});
    CHECK(b.span<float>()[0] == 1.0f);
    CHECK(b.span<float>()[1] == -2.0f);
    const auto s = f.read("s");
    CHECK(s.dims() == shape{});
    CHECK(s.span<float>()[0] == 7.5f);
    const auto a = f.read("a");
    CHECK(a.span<std::int8_t>()[1] == -1);
    CHECK(a.span<std::int8_t>()[3] == -128);
    // The buffer starts at an odd offset: view() refuses f32 there, read() copies (above), and
    // byte-sized data views fine.
    try {
        (void)f.view("b");
        FAIL_CHECK("misaligned view accepted");
    } catch (const hone::error& e) {
        CHECK(e.code() == status::unsupported);
        CHECK(std::string(e.what()).find("'b'") != std::string::npos);
    }
    CHECK(f.view("a").dims() == shape{2, 2});
}

TEST_CASE("malformed files are refused with the file, tensor and field named") {
    const std::string ok_entry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    const std::string ok_buffer = floats({1, 2});
    REQUIRE_NOTHROW(parse(file_bytes("{" + ok_entry + "}", ok_buffer)));

    SUBCASE("truncated before the size field") {
        refuses(std::string("\x05\x00\x00", 3), status::format_error, {"8-byte"});
        refuses("", status::format_error, {"0 bytes"});
    }
    SUBCASE("header size beyond the file") {
        refuses(file_bytes("{" + ok_entry + "}", ok_buffer, 1000), status::format_error,
                {"header size 1000 exceeds"});
        refuses(file_bytes("{}", "", ~0ull), status::format_error, {"exceeds"});
    }
    SUBCASE("truncated data") {
        refuses(file_bytes("{" + ok_entry + "}", ok_buffer.substr(0, 5)), status::format_error,
                {"'w'", "data_offsets", "beyond"});
    }
    SUBCASE("not JSON, not an object, bad start") {
        refuses(file_bytes("{\"w\":", ""), status::format_error, {"not valid JSON"});
        refuses(file_bytes("[]", ""), status::format_error, {"start with '{'"});
        refuses(file_bytes(" {}", ""), status::format_error, {"start with '{'"});
        refuses(file_bytes("{}x", ""), status::format_error, {"not valid JSON"});
        refuses(file_bytes("{", ""), status::format_error, {"too small"});
    }
    SUBCASE("duplicates") {
        refuses(file_bytes("{" + ok_entry + "," + ok_entry + "}", ok_buffer), status::format_error,
                {"duplicate key 'w'"});
        refuses(
            file_bytes(R"({"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                       ok_buffer),
            status::format_error, {"duplicate key 'dtype'"});
    }
    SUBCASE("dtypes") {
        refuses(file_bytes(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", ok_buffer),
                status::format_error, {"'w'", "dtype", "'F33'"});
        refuses(file_bytes(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", ok_buffer),
                status::unsupported, {"'w'", "F64"});
        refuses(file_bytes(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", ok_buffer),
                status::format_error, {"'w'", "'dtype'"});
    }
    SUBCASE("shapes") {
        refuses(file_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", ok_buffer),
                status::format_error, {"'w'", "'shape'", "-2"});
        refuses(
            file_bytes(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", ok_buffer),
            status::format_error, {"'shape'"});
        refuses(
            file_bytes(R"({"w":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", ok_buffer),
            status::format_error, {"nests"});
        refuses(
            file_bytes(R"({"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}})",
                       ok_buffer),
            status::unsupported, {"'w'", "rank 9"});
        refuses(
            file_bytes(
                R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})",
                ok_buffer),
            status::format_error, {"'w'", "overflow"});
        refuses(file_bytes(
                    R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})",
                    ok_buffer),
                status::format_error, {"'w'", "'shape'"});
    }
    SUBCASE("byte counts and offsets") {
        refuses(file_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", ok_buffer),
                status::format_error, {"'w'", "spans 8 bytes", "need 12"});
        refuses(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", ok_buffer),
                status::format_error, {"'w'", "begin 8 is after end 0"});
        refuses(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", ok_buffer),
                status::format_error, {"'w'", "data_offsets"});
        refuses(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}})", ok_buffer),
                status::format_error, {"'w'", "data_offsets"});
        // Overlap: b starts inside a.
        refuses(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                           ok_buffer),
                status::format_error, {"overlaps"});
        // Hole at the start, hole in the middle, trailing bytes.
        refuses(file_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", ok_buffer),
                status::format_error, {"'w'", "hole of 4 bytes"});
        refuses(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                           floats({1, 2, 3})),
                status::format_error, {"'b'", "hole"});
        refuses(file_bytes("{" + ok_entry + "}", ok_buffer + "junk"), status::format_error,
                {"4 bytes", "belong to no tensor"});
        // Same region for two tensors.
        refuses(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                           ok_buffer),
                status::format_error, {"overlaps"});
    }
    SUBCASE("entries and metadata") {
        refuses(file_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", ok_buffer), status::format_error,
                {"'w'", "'data_offsets' is missing"});
        refuses(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})",
                           ok_buffer),
                status::format_error, {"'w'", "unknown field 'x'"});
        refuses(file_bytes(R"({"w":[1,2]})", ""), status::format_error, {"'w'", "not an object"});
        refuses(file_bytes(R"({"__metadata__":{"k":1}})", ""), status::format_error,
                {"__metadata__", "'k'", "not a string"});
        refuses(file_bytes(R"({"__metadata__":{"k":{"x":"y"}}})", ""), status::format_error,
                {"__metadata__"});
        refuses(file_bytes(R"({"__metadata__":"x"})", ""), status::format_error,
                {"'__metadata__' is not an object"});
        refuses(file_bytes(R"({"":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})", ""),
                status::format_error, {"empty name"});
    }
}

TEST_CASE("the header size bound is checked before the header is read") {
    temp_dir dir;
    const auto path = dir.path / "sparse.safetensors";
    // A sparse file larger than the bound whose size field claims the whole file as header.
    const std::uint64_t n = hone::io::safetensors_max_header_bytes + 16;
    {
        const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, &n, 8) == 8);
        REQUIRE(::ftruncate(fd, static_cast<off_t>(8 + n)) == 0);
        ::close(fd);
    }
    try {
        (void)safetensors_file::open(path);
        FAIL_CHECK("accepted");
    } catch (const hone::error& e) {
        CHECK(e.code() == status::format_error);
        CHECK(std::string(e.what()).find("limit") != std::string::npos);
        CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
    }
    try {
        (void)safetensors_file::open(dir.path / "absent.safetensors");
        FAIL_CHECK("opened a missing file");
    } catch (const hone::error& e) {
        CHECK(e.code() == status::io_error);
        CHECK(std::string(e.what()).find("absent.safetensors") != std::string::npos);
    }
}

TEST_CASE("the writer refuses what it cannot represent") {
    const auto t = random_tensor(dtype::f32, {2}, 1);
    const auto packed = hone::tensor(dtype::i4, {4});
    const std::vector<safetensors_entry> dup{{"a", t.view()}, {"a", t.view()}};
    CHECK_THROWS_AS((void)hone::io::serialize_safetensors(dup), hone::error);
    const std::vector<safetensors_entry> reserved{{"__metadata__", t.view()}};
    CHECK_THROWS_AS((void)hone::io::serialize_safetensors(reserved), hone::error);
    const std::vector<safetensors_entry> unnamed{{"", t.view()}};
    CHECK_THROWS_AS((void)hone::io::serialize_safetensors(unnamed), hone::error);
    const std::vector<safetensors_entry> nibbles{{"q", packed.view()}};
    try {
        (void)hone::io::serialize_safetensors(nibbles);
        FAIL_CHECK("wrote i4");
    } catch (const hone::error& e) {
        CHECK(e.code() == status::unsupported);
        CHECK(std::string(e.what()).find("'q'") != std::string::npos);
    }
    const std::vector<safetensors_entry> bad_utf8{{"\xff\xfe", t.view()}};
    CHECK_THROWS_AS((void)hone::io::serialize_safetensors(bad_utf8), hone::error);
    CHECK(hone::io::safetensors_dtype_name(dtype::bf16) == "BF16");
    CHECK(hone::io::safetensors_dtype_name(dtype::boolean) == "BOOL");
}
