// IDX and NPY readers: known bytes, round trips, and hostile input.
#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/data/arrays.hpp"

#include <cstring>
#include <doctest/doctest.h>
#include <filesystem>
#include <unistd.h>
#include <zlib.h>

namespace fs = std::filesystem;
using namespace std::string_literals;

namespace {

std::string gzip(const std::string& data) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, data.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::string format_error_of(auto&& fn) {
    try {
        fn();
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::format_error);
        return e.what();
    }
    FAIL("no error");
    return {};
}

fs::path scratch(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("hone-arrays-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir / name;
}

} // namespace

TEST_CASE("IDX: known bytes of each element type") {
    const std::string u8 = "\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03"
                           "\x01\x02\x03\xfd\xfe\xff"s;
    const auto t = hone::parse_idx(u8, "u8.idx");
    CHECK(t.type() == hone::dtype::u8);
    CHECK(t.dims() == hone::shape{2, 3});
    CHECK(static_cast<const std::uint8_t*>(t.data())[5] == 255);
    const std::string i32 = "\x00\x00\x0c\x01\x00\x00\x00\x02\xff\xff\xff\xfe\x00\x01\x00\x00"s;
    const auto a = hone::parse_idx(i32, "i32.idx");
    CHECK(a.span<std::int32_t>()[0] == -2);
    CHECK(a.span<std::int32_t>()[1] == 65536);
    const std::string f32 = "\x00\x00\x0d\x01\x00\x00\x00\x01\x3f\xc0\x00\x00"s; // 1.5
    CHECK(hone::parse_idx(f32, "f.idx").span<float>()[0] == 1.5f);
    const std::string f64 = "\x00\x00\x0e\x01\x00\x00\x00\x01\xc0\x04\x00\x00\x00\x00\x00\x00"s;
    CHECK(hone::parse_idx(f64, "d.idx").span<float>()[0] == -2.5f);
    const std::string i16 = "\x00\x00\x0b\x01\x00\x00\x00\x01\x80\x00"s;
    CHECK(hone::parse_idx(i16, "s.idx").span<std::int32_t>()[0] == -32768);
}

TEST_CASE("IDX: hostile headers are refused, naming the file and the field") {
    CHECK(format_error_of([] { hone::parse_idx("\x00\x00"s, "a.idx"); }).find("'a.idx'") !=
          std::string::npos);
    CHECK(format_error_of([] { hone::parse_idx("\x01\x00\x08\x01"s, "a.idx"); }).find("magic") !=
          std::string::npos);
    CHECK(format_error_of([] {
              hone::parse_idx("\x00\x00\x07\x01\x00\x00\x00\x00"s, "a.idx");
          }).find("type 0x07") != std::string::npos);
    CHECK(format_error_of([] { hone::parse_idx("\x00\x00\x08\x00"s, "a.idx"); }).find("rank 0") !=
          std::string::npos);
    CHECK(format_error_of([] {
              hone::parse_idx("\x00\x00\x08\x02\x00\x00\x00\x02"s, "a.idx");
          }).find("too short") != std::string::npos);
    const std::string huge = "\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"s;
    CHECK(format_error_of([&] { hone::parse_idx(huge, "a.idx"); }).find("2^40") !=
          std::string::npos);
    const std::string truncated = "\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02"s;
    CHECK(format_error_of([&] {
              hone::parse_idx(truncated, "a.idx");
          }).find("need 5 data bytes, the file has 2") != std::string::npos);
}

TEST_CASE("gzip files are inflated; corrupt or oversized ones are refused") {
    const std::string idx = "\x00\x00\x08\x01\x00\x00\x00\x03\x07\x08\x09"s;
    const auto path = scratch("labels.idx.gz");
    hone::write_file_atomic(path, gzip(idx));
    CHECK(hone::read_maybe_gzip(path) == idx);
    const auto t = hone::parse_idx(hone::read_maybe_gzip(path), path.string());
    CHECK(static_cast<const std::uint8_t*>(t.data())[2] == 9);
    std::string broken = gzip(idx);
    broken.resize(broken.size() / 2);
    hone::write_file_atomic(path, broken);
    CHECK(format_error_of([&] { hone::read_maybe_gzip(path); }).find("labels.idx.gz") !=
          std::string::npos);
    hone::write_file_atomic(path, gzip(std::string(100000, 'x')));
    CHECK(format_error_of([&] { hone::read_maybe_gzip(path, 1000); }).find("limit") !=
          std::string::npos);
    CHECK_THROWS_AS(hone::read_maybe_gzip(scratch("absent.gz")), hone::error);
}

TEST_CASE("NPY: save and parse round-trip every supported dtype") {
    hone::tensor f(hone::dtype::f32, {2, 3});
    for (std::size_t i = 0; i < 6; ++i)
        f.span<float>()[i] = 0.5f * float(i) - 1.0f;
    hone::tensor labels(hone::dtype::i64, {4});
    for (std::size_t i = 0; i < 4; ++i)
        labels.span<std::int64_t>()[i] = std::int64_t(i) * 1000000007;
    for (const hone::tensor* t : {&f, &labels}) {
        const auto path = scratch("a.npy");
        hone::save_npy(path, *t);
        const std::string bytes = hone::read_file(path);
        CHECK((bytes.find('\n') + 1) % 64 == 0); // data starts on a 64-byte boundary
        const auto back = hone::parse_npy(bytes, "a.npy");
        CHECK(back.type() == t->type());
        CHECK(back.dims() == t->dims());
        CHECK(std::memcmp(back.data(), t->data(), t->nbytes()) == 0);
    }
}

TEST_CASE("NPY: header variants NumPy writes, and hostile ones") {
    auto npy = [](const std::string& header, const std::string& data) {
        std::string h = header;
        std::string out = "\x93NUMPY\x01\x00"s;
        out += static_cast<char>(h.size() & 0xff);
        out += static_cast<char>(h.size() >> 8);
        return out + h + data;
    };
    const std::string one_f8(8, '\0');
    auto v = hone::parse_npy(
        npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", one_f8), "x.npy");
    CHECK(v.type() == hone::dtype::f32);
    CHECK(v.dims() == hone::shape{1});
    auto scalar = hone::parse_npy(
        npy("{\"descr\":\"|u1\",\"shape\":(),\"fortran_order\":False}", "\x2a"), "s.npy");
    CHECK(scalar.dims().rank() == 0);
    CHECK(static_cast<const std::uint8_t*>(scalar.data())[0] == 42);
    auto msg = [&](const std::string& header, const std::string& data = "") {
        return format_error_of([&] { hone::parse_npy(npy(header, data), "bad.npy"); });
    };
    CHECK(msg("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "abcd").find("Fortran") !=
          std::string::npos);
    CHECK(msg("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "abcd")
              .find("big-endian") != std::string::npos);
    CHECK(msg("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "abcdabcd")
              .find("not supported") != std::string::npos);
    CHECK(msg("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "abcd")
              .find("needs 8 data bytes, the file has 4") != std::string::npos);
    CHECK(msg("{'descr': '<f4', 'fortran_order': False}").find("no 'shape'") != std::string::npos);
    CHECK(msg("{'descr': '<f4', 'descr': '<f4'}").find("duplicate") != std::string::npos);
    CHECK(msg("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }").find("integers") !=
          std::string::npos);
    CHECK(msg("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}")
              .find("overflows") != std::string::npos);
    CHECK(msg("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}")
              .find("bad.npy") != std::string::npos);
    CHECK(msg("{'descr': '<f4'").find("expected") != std::string::npos);
    CHECK(format_error_of([] {
              hone::parse_npy("\x93NUMPY\x01\x00\xff\x7f{}"s, "t.npy");
          }).find("runs past the end") != std::string::npos);
    CHECK(format_error_of([] { hone::parse_npy("not numpy at all", "t.npy"); }).find("magic") !=
          std::string::npos);
    CHECK(format_error_of([] {
              hone::parse_npy("\x93NUMPY\x09\x00\x00\x00"s, "t.npy");
          }).find("version 9") != std::string::npos);
}
