// Palettized weights: pack/unpack round trips, the byte layout, decode and GEMV/GEMM.
#include "hone/kernels/palettized.hpp"
#include "isa_tiers.hpp"

#include "hone/core/error.hpp"
#include "hone/core/half.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace hk = hone::kernels;

namespace {

struct fixture {
    std::int64_t rows, cols;
    int bits;
    std::int64_t rows_per_group;
    std::vector<std::uint8_t> idx, packed;
    std::vector<float> codebooks;
    std::vector<std::byte> cb_bytes;

    fixture(std::int64_t r, std::int64_t c, int b, std::int64_t g, unsigned seed,
            hone::dtype type = hone::dtype::f32)
        : rows(r), cols(c), bits(b), rows_per_group(g) {
        std::mt19937 rng(seed);
        idx.resize(std::size_t(r * c));
        for (auto& i : idx)
            i = std::uint8_t(rng() % (1u << b));
        packed.resize(std::size_t(r) * hk::packed_row_bytes(c, b));
        hk::pack_indices(idx, r, c, b, packed);
        const std::int64_t gr = g > 0 ? g : std::max<std::int64_t>(r, 1);
        const std::int64_t groups = r == 0 ? 0 : (r + gr - 1) / gr;
        std::normal_distribution<float> normal;
        codebooks.resize(std::size_t(groups << b));
        for (auto& x : codebooks)
            x = normal(rng);
        if (type == hone::dtype::f16) {
            cb_bytes.resize(codebooks.size() * 2);
            for (std::size_t i = 0; i < codebooks.size(); ++i) {
                const auto h = hone::to_half(codebooks[i]);
                codebooks[i] = hone::to_float(h);
                std::memcpy(cb_bytes.data() + 2 * i, &h.bits, 2);
            }
        } else {
            cb_bytes.resize(codebooks.size() * 4);
            if (!codebooks.empty()) std::memcpy(cb_bytes.data(), codebooks.data(), cb_bytes.size());
        }
        type_ = type;
    }
    hone::dtype type_;
    float weight(std::int64_t r, std::int64_t c) const {
        const std::int64_t gr = rows_per_group > 0 ? rows_per_group : rows;
        return codebooks[std::size_t(((r / gr) << bits) + idx[std::size_t(r * cols + c)])];
    }
    hk::palettized_matrix view() const {
        return {rows, cols, bits, rows_per_group, type_, packed, cb_bytes};
    }
};

} // namespace

TEST_CASE("pack/unpack round trip for every bit width and odd lengths") {
    for (int bits = 1; bits <= 8; ++bits)
        for (std::int64_t cols : {0, 1, 3, 7, 8, 9, 15, 17, 31, 33, 100})
            for (std::int64_t rows : {0, 1, 3}) {
                CAPTURE(bits);
                CAPTURE(cols);
                fixture f(rows, cols, bits, 1, unsigned(bits * 1000 + cols));
                CHECK(f.packed.size() == std::size_t(rows) * std::size_t((cols * bits + 7) / 8));
                std::vector<std::uint8_t> back(f.idx.size(), 0xff);
                hk::unpack_indices(f.packed, rows, cols, bits, back);
                REQUIRE(back == f.idx);
                // padding bits of each row's last byte are zero
                const std::size_t rb = hk::packed_row_bytes(cols, bits);
                const unsigned used = unsigned(cols * bits) % 8;
                for (std::int64_t r = 0; r < rows && used != 0; ++r)
                    CHECK((f.packed[std::size_t(r + 1) * rb - 1] >> used) == 0);
            }
}

TEST_CASE("packed bytes follow docs/formats.md (LSB-first bitstream per row)") {
    // 3-bit indices 1..5 of one row: stream 001 010 011 100 101 (LSB first per index):
    // bits 0-2 = 1, 3-5 = 2, 6-8 = 3, 9-11 = 4, 12-14 = 5 → byte0 = 0b11010001, byte1 = 0b01011000
    const std::vector<std::uint8_t> idx = {1, 2, 3, 4, 5};
    std::vector<std::uint8_t> packed(2);
    hk::pack_indices(idx, 1, 5, 3, packed);
    CHECK(packed[0] == 0xD1); // 1 | 2<<3 | (3&3)<<6
    CHECK(packed[1] == 0x58); // 3>>2 | 4<<1 | 5<<4
    // 4-bit: element 2k in the low nibble, as the i4/u4 dtypes
    const std::vector<std::uint8_t> nib = {0x3, 0xA, 0xF};
    std::vector<std::uint8_t> p4(2);
    hk::pack_indices(nib, 1, 3, 4, p4);
    CHECK(p4[0] == 0xA3);
    CHECK(p4[1] == 0x0F);
    // rows start on byte boundaries: two rows of 3 one-bit indices take one byte each
    const std::vector<std::uint8_t> ones = {1, 0, 1, 1, 1, 0};
    std::vector<std::uint8_t> p1(2);
    hk::pack_indices(ones, 2, 3, 1, p1);
    CHECK(p1[0] == 0x05);
    CHECK(p1[1] == 0x03);
}

TEST_CASE("pack: errors") {
    std::vector<std::uint8_t> idx = {0, 1, 2, 3, 4, 5, 6, 8};
    std::vector<std::uint8_t> packed(4, 0xab);
    std::string msg;
    try {
        hk::pack_indices(idx, 2, 4, 3, packed);
    } catch (const hone::error& e) {
        msg = e.what();
    }
    CHECK(msg.find("index 8 at row 1, column 3") != std::string::npos);
    CHECK(packed[0] == 0xab); // nothing written
    CHECK_THROWS_AS(hk::pack_indices(idx, 2, 4, 9, packed), hone::error);
    CHECK_THROWS_AS(hk::pack_indices(idx, 2, 4, 0, packed), hone::error);
    std::vector<std::uint8_t> three(3);
    CHECK_THROWS_AS(hk::pack_indices(idx, 2, 4, 4, three), hone::error); // needs 4 bytes
    CHECK_THROWS_AS(hk::unpack_indices(three, 2, 4, 4, idx), hone::error);
}

TEST_CASE("decode and GEMV match a naive reference on edge shapes, every bit width and tier") {
    const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
        {1, 1}, {1, 7}, {3, 8}, {5, 16}, {2, 17}, {7, 33}, {1, 64}, {9, 100}, {33, 257}};
    for (int bits = 1; bits <= 8; ++bits)
        for (const auto& shape : shapes)
            for (std::int64_t g : {std::int64_t(0), std::int64_t(1), std::int64_t(2)})
                for (auto type : {hone::dtype::f32, hone::dtype::f16}) {
                    const std::int64_t rows = shape.first, cols = shape.second; // captured
                    if (type == hone::dtype::f16 && g != 2) continue;
                    fixture f(rows, cols, bits, g, unsigned(rows * 31 + cols + bits), type);
                    std::vector<float> x(static_cast<std::size_t>(cols)),
                        bias(static_cast<std::size_t>(rows));
                    std::mt19937 rng(3);
                    std::normal_distribution<float> normal;
                    for (auto& v : x)
                        v = normal(rng);
                    for (auto& v : bias)
                        v = normal(rng);
                    hone::test::for_each_tier([&](hone::isa) {
                        CAPTURE(bits);
                        CAPTURE(rows);
                        CAPTURE(cols);
                        CAPTURE(g);
                        std::vector<float> dense(std::size_t(rows * cols));
                        hk::palettized_decode(f.view(), dense);
                        for (std::int64_t r = 0; r < rows; ++r)
                            for (std::int64_t c = 0; c < cols; ++c)
                                REQUIRE(dense[std::size_t(r * cols + c)] == f.weight(r, c));
                        std::vector<float> y(std::size_t(rows), 99.0f);
                        hk::palettized_gemv(f.view(), x, y, bias);
                        for (std::int64_t r = 0; r < rows; ++r) {
                            double exact = bias[std::size_t(r)],
                                   mag = std::fabs(bias[std::size_t(r)]);
                            for (std::int64_t c = 0; c < cols; ++c) {
                                exact += double(f.weight(r, c)) * x[std::size_t(c)];
                                mag += std::fabs(double(f.weight(r, c)) * x[std::size_t(c)]);
                            }
                            REQUIRE(std::fabs(y[std::size_t(r)] - exact) <=
                                    2.0 * double(cols + 1) * 0x1p-24 * mag + 1e-30);
                        }
                    });
                }
}

TEST_CASE("GEMV: large shape, no bias, special values propagate") {
    fixture f(64, 4096, 4, 1, 5);
    std::vector<float> x(4096, 0.5f), y(64);
    hone::test::for_each_tier([&](hone::isa) {
        hk::palettized_gemv(f.view(), x, y);
        for (std::int64_t r = 0; r < 64; ++r) {
            double exact = 0, mag = 0;
            for (std::int64_t c = 0; c < 4096; ++c) {
                exact += f.weight(r, c) * 0.5;
                mag += std::fabs(f.weight(r, c) * 0.5);
            }
            REQUIRE(std::fabs(y[std::size_t(r)] - exact) <= 2.0 * 4097 * 0x1p-24 * mag);
        }
        auto xn = x;
        xn[4000] = std::nanf("");
        hk::palettized_gemv(f.view(), xn, y);
        for (float v : y)
            CHECK(std::isnan(v));
    });
}

TEST_CASE("palettized_matmul: M > 1 goes through matmul_f32 and agrees with the GEMV") {
    fixture f(37, 70, 3, 4, 8);
    const std::int64_t m = 5;
    std::vector<float> x(std::size_t(m * 70)), bias(37);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (auto& v : x)
        v = normal(rng);
    for (auto& v : bias)
        v = normal(rng);
    std::vector<float> y(std::size_t(m * 37));
    hk::palettized_matmul(f.view(), x, m, y, bias);
    for (std::int64_t i = 0; i < m; ++i) {
        std::vector<float> row(37);
        hk::palettized_gemv(f.view(), std::span(x).subspan(std::size_t(i * 70), 70), row, bias);
        for (std::size_t r = 0; r < 37; ++r)
            CHECK(y[std::size_t(i * 37) + r] == doctest::Approx(row[r]).epsilon(1e-4));
    }
    std::vector<float> empty;
    hk::palettized_matmul(f.view(), empty, 0, empty);
}

TEST_CASE("palettized_matrix: validation names the wrong field") {
    fixture f(4, 10, 4, 1, 2);
    auto w = f.view();
    CHECK(w.groups() == 4);
    CHECK(w.bytes() == 4 * 5 + 4 * 16 * 4);
    w.indices = w.indices.first(19);
    CHECK_THROWS_AS(w.validate(), hone::error);
    w = f.view();
    w.codebooks = w.codebooks.first(10);
    CHECK_THROWS_AS(w.validate(), hone::error);
    w = f.view();
    w.rows_per_group = 3; // 2 codebooks needed, 4 given
    CHECK_THROWS_AS(w.validate(), hone::error);
    w = f.view();
    w.codebook_type = hone::dtype::bf16;
    CHECK_THROWS_AS(w.validate(), hone::error);
    w = f.view();
    std::vector<float> x(9), y(4), bias(3);
    CHECK_THROWS_AS(hk::palettized_gemv(w, x, y), hone::error);
    x.resize(10);
    CHECK_THROWS_AS(hk::palettized_gemv(w, x, y, bias), hone::error);
    y.resize(5);
    CHECK_THROWS_AS(hk::palettized_gemv(w, x, y), hone::error);
}
