// GGUF block formats Q8_0, Q4_0, Q4_K: hand-built blocks decode to known values (including the
// Q4_K 6-bit scale packing), dequantization against a byte-level decoder written here from
// the layout diagrams, quantization error bounds and the measured RMSE, importance, zeros,
// thread-count independence and every error path.
#include "../status_of.hpp"
#include "hone/core/half.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/gguf_blocks.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

namespace hk = hone::kernels;
using hk::gguf_block_type;
using hone::dtype;
using hone::status;

constexpr gguf_block_type all_types[] = {gguf_block_type::q8_0, gguf_block_type::q4_0,
                                         gguf_block_type::q4_k};

hone::tensor gaussian(std::int64_t rows, std::int64_t cols, unsigned seed, float sigma = 1.0f) {
    hone::tensor t(dtype::f32, {rows, cols});
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, sigma);
    for (float& v : t.span<float>())
        v = normal(rng);
    return t;
}

std::vector<std::byte> quantize(gguf_block_type type, const hone::tensor& src,
                                std::span<const float> importance = {}) {
    std::vector<std::byte> q(std::size_t(src.dims()[0]) * hk::gguf_row_bytes(type, src.dims()[1]));
    hk::quantize_gguf_rows(type, src, importance, q);
    return q;
}

hone::tensor dequantize(gguf_block_type type, std::span<const std::byte> q,
                        const hone::shape& dims) {
    hone::tensor t(dtype::f32, dims);
    hk::dequantize_gguf_rows(type, q, t);
    return t;
}

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
    std::vector<std::byte> b;
    for (int x : v)
        b.push_back(std::byte(x));
    return b;
}

std::uint8_t u8(std::span<const std::byte> p, std::size_t i) { return std::uint8_t(p[i]); }

/// A little-endian f16 field at byte i, as f32.
float f16_at(std::span<const std::byte> p, std::size_t i) {
    return hone::to_float(hone::half{std::uint16_t(u8(p, i) | (u8(p, i + 1) << 8))});
}

void put_f16(std::vector<std::byte>& p, std::size_t i, float v) {
    const std::uint16_t bits = hone::to_half(v).bits;
    p[i] = std::byte(bits & 0xff);
    p[i + 1] = std::byte(bits >> 8);
}

/// Decoder written from the diagrams in gguf_blocks.hpp (independent of the library's structs):
/// the weights of one row, in double.
std::vector<double> decode_row(gguf_block_type type, std::span<const std::byte> p,
                               std::int64_t cols) {
    std::vector<double> w(static_cast<std::size_t>(cols));
    const std::size_t bs = std::size_t(hk::gguf_block_size(type));
    const std::size_t nb = std::size_t(cols) / bs, bb = hk::gguf_block_bytes(type);
    for (std::size_t b = 0; b < nb; ++b) {
        const auto blk = p.subspan(b * bb, bb);
        double* out = w.data() + b * bs;
        if (type == gguf_block_type::q8_0) {
            for (std::size_t i = 0; i < 32; ++i)
                out[i] = double(f16_at(blk, 0)) * double(std::int8_t(u8(blk, 2 + i)));
        } else if (type == gguf_block_type::q4_0) {
            for (std::size_t j = 0; j < 16; ++j) {
                out[j] = double(f16_at(blk, 0)) * ((u8(blk, 2 + j) & 15) - 8);
                out[j + 16] = double(f16_at(blk, 0)) * ((u8(blk, 2 + j) >> 4) - 8);
            }
        } else {
            const double d = f16_at(blk, 0), dmin = f16_at(blk, 2);
            int sc[8], m[8];
            for (int k = 0; k < 4; ++k) {
                const int lo_s = u8(blk, 4 + std::size_t(k)), lo_m = u8(blk, 8 + std::size_t(k));
                const int mix = u8(blk, 12 + std::size_t(k));
                sc[k] = lo_s & 63;
                m[k] = lo_m & 63;
                sc[k + 4] = (mix & 15) | ((lo_s >> 6) << 4);
                m[k + 4] = (mix >> 4) | ((lo_m >> 6) << 4);
            }
            for (std::size_t c = 0; c < 4; ++c)
                for (std::size_t l = 0; l < 32; ++l) {
                    const int q = u8(blk, 16 + 32 * c + l);
                    out[64 * c + l] = d * sc[2 * c] * (q & 15) - dmin * m[2 * c];
                    out[64 * c + 32 + l] = d * sc[2 * c + 1] * (q >> 4) - dmin * m[2 * c + 1];
                }
        }
    }
    return w;
}

/// sqrt(mean (x − x̂)²) / sqrt(mean x²), optionally weighted per column.
double relative_rmse(const hone::tensor& x, const hone::tensor& y,
                     std::span<const float> col_weight = {}) {
    const auto a = x.span<float>(), b = y.span<float>();
    const std::size_t cols = std::size_t(x.dims()[1]);
    double e = 0, s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double w = col_weight.empty() ? 1.0 : double(col_weight[i % cols]);
        e += w * (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        s += w * double(a[i]) * a[i];
    }
    return std::sqrt(e / s);
}

} // namespace

TEST_CASE("gguf blocks: traits, ggml type ids and struct layouts") {
    static_assert(hk::gguf_block_size(gguf_block_type::q8_0) == 32);
    static_assert(hk::gguf_block_size(gguf_block_type::q4_0) == 32);
    static_assert(hk::gguf_block_size(gguf_block_type::q4_k) == 256);
    static_assert(hk::gguf_block_bytes(gguf_block_type::q8_0) == 34);
    static_assert(hk::gguf_block_bytes(gguf_block_type::q4_0) == 18);
    static_assert(hk::gguf_block_bytes(gguf_block_type::q4_k) == 144);
    static_assert(static_cast<int>(gguf_block_type::q4_0) == 2);  // GGML_TYPE_Q4_0
    static_assert(static_cast<int>(gguf_block_type::q8_0) == 8);  // GGML_TYPE_Q8_0
    static_assert(static_cast<int>(gguf_block_type::q4_k) == 12); // GGML_TYPE_Q4_K
    static_assert(hk::name_of(gguf_block_type::q4_k) == "Q4_K");
    CHECK(hk::gguf_block_size(static_cast<gguf_block_type>(5)) == 0);
    CHECK(hk::gguf_row_bytes(gguf_block_type::q8_0, 4096) == 128 * 34);
    CHECK(hk::gguf_row_bytes(gguf_block_type::q4_0, 4096) == 128 * 18);
    CHECK(hk::gguf_row_bytes(gguf_block_type::q4_k, 4096) == 16 * 144);
    CHECK(hk::gguf_row_bytes(gguf_block_type::q4_k, 0) == 0);
    CHECK(status_of([] { (void)hk::gguf_row_bytes(gguf_block_type::q4_k, 4000); }) ==
          status::invalid_argument);
    CHECK(status_of([] { (void)hk::gguf_row_bytes(gguf_block_type::q4_0, -32); }) ==
          status::invalid_argument);
    CHECK(status_of([] { (void)hk::gguf_row_bytes(static_cast<gguf_block_type>(3), 32); }) ==
          status::invalid_argument);
    // Empty tensors: no rows, or rows of no weights, take no bytes.
    for (const auto type : all_types) {
        hone::tensor none(dtype::f32, {0, 256}), empty_rows(dtype::f32, {3, 0});
        CHECK(status_of([&] { hk::quantize_gguf_rows(type, none, {}, {}); }) == status::ok);
        CHECK(status_of([&] { hk::quantize_gguf_rows(type, empty_rows, {}, {}); }) == status::ok);
        CHECK(status_of([&] { hk::dequantize_gguf_rows(type, {}, empty_rows); }) == status::ok);
    }
}

TEST_CASE("gguf blocks: a hand-built Q8_0 block") {
    auto b = bytes_of({0x00, 0x38}); // d = 0.5
    for (int i = 0; i < 32; ++i)
        b.push_back(std::byte(std::uint8_t(std::int8_t(i * 8 - 128)))); // −128 … 120
    std::vector<float> w(32);
    hk::dequantize_gguf_row(gguf_block_type::q8_0, b, w);
    for (int i = 0; i < 32; ++i)
        CHECK(w[std::size_t(i)] == 0.5f * float(i * 8 - 128));
}

TEST_CASE("gguf blocks: a hand-built Q4_0 block") {
    auto b = bytes_of({0x00, 0xb4}); // d = −0.25
    for (int j = 0; j < 16; ++j)
        b.push_back(std::byte(j | ((15 - j) << 4)));
    std::vector<float> w(32);
    hk::dequantize_gguf_row(gguf_block_type::q4_0, b, w);
    for (int j = 0; j < 16; ++j) {
        CHECK(w[std::size_t(j)] == -0.25f * float(j - 8));
        CHECK(w[std::size_t(j + 16)] == -0.25f * float(7 - j));
    }
}

TEST_CASE("gguf blocks: a hand-built Q4_K super-block (6-bit scales, also j ≥ 4)") {
    const int sc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
    const int m[8] = {0, 5, 10, 15, 20, 40, 48, 63};
    // d = 1, dmin = 0.5; scales packed by hand from the table in gguf_blocks.hpp.
    auto b = bytes_of({0x00, 0x3c, 0x00, 0x38, //
                       0x41, 0x82, 0xc3, 0xc4, 0x40, 0x85, 0xca, 0xcf, 0x41, 0x81, 0x02, 0xff});
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l)
            b.push_back(std::byte((l % 16) | ((15 - l % 16) << 4)));
    REQUIRE(b.size() == 144);

    std::array<std::uint8_t, 12> scales{};
    for (std::size_t k = 0; k < 12; ++k)
        scales[k] = u8(b, 4 + k);
    for (int j = 0; j < 8; ++j) {
        const auto sm = hk::q4_k_scale_min(scales, j);
        CHECK(int(sm[0]) == sc[j]);
        CHECK(int(sm[1]) == m[j]);
    }

    std::vector<float> w(256);
    hk::dequantize_gguf_row(gguf_block_type::q4_k, b, w);
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) {
            CHECK(w[std::size_t(64 * c + l)] == float(sc[2 * c] * (l % 16)) - 0.5f * m[2 * c]);
            CHECK(w[std::size_t(64 * c + 32 + l)] ==
                  float(sc[2 * c + 1] * (15 - l % 16)) - 0.5f * m[2 * c + 1]);
        }
}

TEST_CASE("gguf blocks: dequantization equals a byte-level decoder on random blocks") {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> mant(1.0f, 2.0f);
    for (const auto type : all_types) {
        CAPTURE(hk::name_of(type));
        const std::int64_t rows = 3, cols = 512;
        std::vector<std::byte> b(rows * hk::gguf_row_bytes(type, cols));
        for (auto& x : b)
            x = std::byte(rng());
        // Finite scales over many octaves, both signs (a negative Q4_K d is valid bytes too).
        const std::size_t bb = hk::gguf_block_bytes(type);
        for (std::size_t i = 0; i < b.size(); i += bb) {
            put_f16(b, i, std::ldexp(mant(rng), int(rng() % 30) - 20) * (rng() % 2 ? 1 : -1));
            if (type == gguf_block_type::q4_k)
                put_f16(b, i + 2, std::ldexp(mant(rng), int(rng() % 30) - 20));
        }
        const auto w = dequantize(type, b, {rows, cols});
        bool same = true;
        for (std::int64_t r = 0; r < rows; ++r) {
            const auto row_bytes = std::span<const std::byte>(b).subspan(
                std::size_t(r) * hk::gguf_row_bytes(type, cols), hk::gguf_row_bytes(type, cols));
            const auto ref = decode_row(type, row_bytes, cols);
            for (std::int64_t c = 0; c < cols; ++c)
                // One f32 rounding of the exact value (the exact value itself for Q8_0/Q4_0).
                same = same &&
                       w.span<float>()[std::size_t(r * cols + c)] == float(ref[std::size_t(c)]);
        }
        CHECK(same);
    }
}

TEST_CASE("gguf blocks: Q8_0 and Q4_0 error bounds per weight") {
    const std::int64_t rows = 16, cols = 1024;
    const auto x = gaussian(rows, cols, 3);
    for (const auto type : {gguf_block_type::q8_0, gguf_block_type::q4_0}) {
        CAPTURE(hk::name_of(type));
        const auto q = quantize(type, x);
        const auto y = dequantize(type, q, {rows, cols});
        const std::size_t bb = hk::gguf_block_bytes(type);
        bool ok = true;
        for (std::size_t i = 0; i < std::size_t(rows * cols); ++i) {
            const float d = std::fabs(f16_at(q, (i / 32) * bb));
            const float xi = x.span<float>()[i], err = std::fabs(xi - y.span<float>()[i]);
            // Q4_0 clamps weights of the sign opposite to the block's max beyond 7.5·d to 7·d.
            const float bound = type == gguf_block_type::q4_0 && std::fabs(xi) > 7.5f * d
                                    ? d * (1.0f + 1.0f / 256)
                                    : d / 2;
            ok = ok && err <= bound;
        }
        CHECK(ok);
    }
}

TEST_CASE("gguf blocks: RMSE on Gaussian rows; Q4_K below Q4_0; importance helps") {
    const std::int64_t rows = 32, cols = 4096;
    const auto x = gaussian(rows, cols, 5);
    // Skewed importance (an imatrix): every 37th column matters 100×.
    std::vector<float> imp(std::size_t(cols), 1.0f);
    for (std::size_t c = 0; c < imp.size(); c += 37)
        imp[c] = 100.0f;
    const std::vector<float> flat(std::size_t(cols), 1.0f);
    double plain[3] = {}, weighted[3] = {}, weighted_imp[3] = {}, plain_imp[3] = {},
           plain_flat[3] = {};
    for (int t = 0; t < 3; ++t) {
        const auto type = all_types[t];
        const auto y = dequantize(type, quantize(type, x), {rows, cols});
        const auto yi = dequantize(type, quantize(type, x, imp), {rows, cols});
        const auto yf = dequantize(type, quantize(type, x, flat), {rows, cols});
        plain[t] = relative_rmse(x, y);
        weighted[t] = relative_rmse(x, y, imp);
        weighted_imp[t] = relative_rmse(x, yi, imp);
        plain_imp[t] = relative_rmse(x, yi);
        plain_flat[t] = relative_rmse(x, yf);
        MESSAGE(hk::name_of(type), ": relative RMSE ", plain[t], " (", plain_flat[t],
                " with a flat importance, ", plain_imp[t],
                " with the skewed one); importance-weighted ", weighted[t], " without importance, ",
                weighted_imp[t], " with");
    }
    CHECK(plain[0] < 0.0056); // Q8_0
    CHECK(plain[1] < 0.088);  // Q4_0
    CHECK(plain[2] < 0.073);  // Q4_K
    CHECK(plain[2] < plain[1]);
    CHECK(weighted_imp[0] == weighted[0]); // Q8_0 ignores importance
    CHECK(weighted_imp[1] < 0.9 * weighted[1]);
    CHECK(weighted_imp[2] < 0.9 * weighted[2]);
    CHECK(plain_flat[1] < plain[1] * 1.01); // a flat importance costs nothing measurable
    CHECK(plain_flat[2] < plain[2] * 1.01);
}

TEST_CASE("gguf blocks: extreme importance values (0, tiny, huge) still give finite weights") {
    const auto x = gaussian(4, 512, 23);
    std::vector<float> imp(512);
    for (std::size_t c = 0; c < imp.size(); ++c)
        imp[c] = c % 3 == 0 ? 0.0f : (c % 3 == 1 ? 1e-38f : 3e38f);
    std::vector<float> none(512, 0.0f);
    for (const auto type : all_types)
        for (const auto* im : {&imp, &none}) {
            CAPTURE(hk::name_of(type));
            const auto y = dequantize(type, quantize(type, x, *im), {4, 512});
            bool finite = true;
            for (const float v : y.span<float>())
                finite = finite && std::isfinite(v);
            CHECK(finite);
            CHECK(relative_rmse(x, y) < 0.2);
        }
}

TEST_CASE("gguf blocks: zeros quantize to zero q and decode to exact zeros") {
    auto x = gaussian(2, 512, 9);
    auto xs = x.span<float>();
    std::fill(xs.begin(), xs.begin() + 512, 0.0f);              // row 0
    std::fill(xs.begin() + 512, xs.begin() + 512 + 256, -0.0f); // first Q4_K block of row 1
    std::vector<float> imp(512, 2.0f);
    for (const auto type : all_types)
        for (const bool with_importance : {false, true}) {
            CAPTURE(hk::name_of(type));
            CAPTURE(with_importance);
            const auto q = quantize(
                type, x, with_importance ? std::span<const float>(imp) : std::span<const float>());
            const std::size_t row0 = hk::gguf_row_bytes(type, 512);
            bool bytes_ok = true;
            for (std::size_t i = 0; i < row0; ++i) {
                const std::size_t in_block = i % hk::gguf_block_bytes(type);
                const int want = type == gguf_block_type::q4_0 && in_block >= 2 ? 0x88 : 0;
                bytes_ok = bytes_ok && u8(q, i) == want;
            }
            CHECK(bytes_ok);
            const auto y = dequantize(type, q, {2, 512});
            bool zeros = true;
            for (std::size_t i = 0; i < 512 + 256; ++i)
                zeros = zeros && y.span<float>()[i] == 0.0f;
            CHECK(zeros);
        }
}

TEST_CASE("gguf blocks: constant and one-sided blocks") {
    hone::tensor x(dtype::f32, {3, 256});
    auto xs = x.span<float>();
    std::fill(xs.begin(), xs.begin() + 256, 0.75f);
    std::fill(xs.begin() + 256, xs.begin() + 512, -1.5f);
    for (std::size_t i = 512; i < 768; ++i)
        xs[i] = -1.0f - float(i % 16) / 16; // all negative: the min carries the offset
    for (const auto type : all_types) {
        CAPTURE(hk::name_of(type));
        const auto y = dequantize(type, quantize(type, x), {3, 256});
        // Constant rows: off by the f16 rounding of the one scale at most (exact for Q4_0,
        // whose d = x/−8 is an f16 here).
        bool constant_ok = true;
        for (std::size_t i = 0; i < 512; ++i)
            constant_ok = constant_ok && std::fabs(y.span<float>()[i] - xs[i]) <=
                                             (type == gguf_block_type::q4_0 ? 0.0f : 0x1p-10f);
        CHECK(constant_ok);
        const double rmse = relative_rmse(x, y);
        MESSAGE(hk::name_of(type), ": relative RMSE on constant and one-sided rows ", rmse);
        CHECK(rmse < (type == gguf_block_type::q4_0 ? 0.04 : 0.005));
    }
}

TEST_CASE("gguf blocks: the bytes do not depend on the thread count; row API and rank 3") {
    const auto x = gaussian(64, 1024, 13);
    std::vector<float> imp(1024);
    std::mt19937 rng(1);
    for (float& v : imp)
        v = std::uniform_real_distribution<float>(0.0f, 4.0f)(rng);
    const int before = hone::num_threads();
    for (const auto type : all_types)
        for (const bool with_importance : {false, true}) {
            CAPTURE(hk::name_of(type));
            const std::span<const float> im =
                with_importance ? std::span<const float>(imp) : std::span<const float>();
            hone::set_num_threads(1);
            const auto one = quantize(type, x, im);
            hone::set_num_threads(4);
            const auto four = quantize(type, x, im);
            CHECK(one == four);
            const auto y1 = dequantize(type, one, {64, 1024});
            hone::set_num_threads(1);
            const auto y4 = dequantize(type, one, {64, 1024});
            CHECK(std::memcmp(y1.data(), y4.data(), y1.nbytes()) == 0);

            // Row 5 alone, and the same data seen as [4, 16, 1024].
            const std::size_t rb = hk::gguf_row_bytes(type, 1024);
            std::vector<std::byte> row(rb);
            hk::quantize_gguf_row(type, x.span<float>().subspan(5 * 1024, 1024), im, row);
            CHECK(std::equal(row.begin(), row.end(), one.begin() + std::ptrdiff_t(5 * rb)));
            std::vector<float> back(1024);
            hk::dequantize_gguf_row(type, row, back);
            CHECK(std::memcmp(back.data(), y1.span<float>().data() + 5 * 1024, 4096) == 0);
            const auto x3 = hone::make_view(x.data(), x.nbytes(), dtype::f32, {4, 16, 1024});
            std::vector<std::byte> q3(one.size());
            hk::quantize_gguf_rows(type, x3, im, q3);
            CHECK(q3 == one);
        }
    hone::set_num_threads(before);
}

TEST_CASE("gguf blocks: quantization error paths") {
    const auto x = gaussian(4, 256, 17);
    std::vector<std::byte> dst(4 * hk::gguf_row_bytes(gguf_block_type::q4_k, 256), std::byte{0xab});
    const auto untouched = dst;
    std::vector<float> imp(256, 1.0f);
    const auto q4k = gguf_block_type::q4_k;
    std::string msg;

    CHECK(status_of([&] { hk::quantize_gguf_rows(static_cast<gguf_block_type>(7), x, {}, dst); },
                    &msg) == status::invalid_argument);
    CHECK(msg.find("unknown gguf_block_type 7") != std::string::npos);

    const auto x100 = gaussian(2, 100, 1);
    CHECK(status_of([&] { hk::quantize_gguf_rows(q4k, x100, {}, dst); }, &msg) ==
          status::invalid_argument);
    CHECK(msg.find("not a multiple of the Q4_K block size 256") != std::string::npos);

    CHECK(status_of([&] {
              hk::quantize_gguf_rows(q4k, x, {}, std::span<std::byte>(dst).first(dst.size() - 1));
          }) == status::shape_mismatch);
    CHECK(status_of([&] {
              hk::quantize_gguf_rows(q4k, x, std::span<const float>(imp).first(255), dst);
          }) == status::shape_mismatch);
    for (const float bad :
         {-1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        auto imp_bad = imp;
        imp_bad[200] = bad;
        CHECK(status_of([&] { hk::quantize_gguf_rows(q4k, x, imp_bad, dst); }, &msg) ==
              status::invalid_argument);
        CHECK(msg.find("importance[200]") != std::string::npos);
    }

    for (const float bad : {std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::infinity(), 2.0e6f}) {
        auto xb = hone::tensor::copy_of(x);
        xb.span<float>()[2 * 256 + 7] = bad;
        CHECK(status_of([&] { hk::quantize_gguf_rows(q4k, xb, {}, dst); }, &msg) ==
              status::invalid_argument);
        CHECK(msg.find("row 2 column 7") != std::string::npos);
    }
    // Just inside each type's limit is fine.
    for (const auto type : all_types) {
        auto xb = hone::tensor::copy_of(x);
        xb.span<float>()[3] = -hk::gguf_max_abs(type);
        std::vector<std::byte> q(4 * hk::gguf_row_bytes(type, 256));
        CHECK(status_of([&] { hk::quantize_gguf_rows(type, xb, {}, q); }) == status::ok);
        const auto y = dequantize(type, q, {4, 256});
        CHECK(std::isfinite(y.span<float>()[3]));
        CHECK(std::fabs(y.span<float>()[3] / xb.span<float>()[3] - 1) < 0.07);
    }

    const std::int64_t strides[] = {512, 1};
    hone::tensor wide(dtype::f32, {4, 512});
    const auto strided = hone::make_view(wide.data(), wide.nbytes(), dtype::f32, {4, 256}, strides);
    CHECK(status_of([&] { hk::quantize_gguf_rows(q4k, strided, {}, dst); }, &msg) ==
          status::invalid_argument);
    CHECK(msg.find("contiguous") != std::string::npos);

    hone::tensor f16(dtype::f16, {4, 256});
    CHECK(status_of([&] { hk::quantize_gguf_rows(q4k, f16, {}, dst); }) == status::dtype_mismatch);
    hone::tensor scalar(dtype::f32, hone::shape{});
    CHECK(status_of([&] { hk::quantize_gguf_rows(q4k, scalar, {}, dst); }) ==
          status::shape_mismatch);
    const std::vector<float> row100(100);
    CHECK(status_of([&] { hk::quantize_gguf_row(q4k, row100, {}, dst); }) ==
          status::invalid_argument);

    CHECK(dst == untouched); // every check runs before a byte is written
}

TEST_CASE("gguf blocks: dequantization error paths") {
    const auto x = gaussian(2, 256, 19);
    for (const auto type : all_types) {
        CAPTURE(hk::name_of(type));
        auto q = quantize(type, x);
        hone::tensor y(dtype::f32, {2, 256});
        CHECK(status_of([&] {
                  hk::dequantize_gguf_rows(type, std::span<const std::byte>(q).first(q.size() - 2),
                                           y);
              }) == status::shape_mismatch);
        hone::tensor y16(dtype::f16, {2, 256});
        CHECK(status_of([&] { hk::dequantize_gguf_rows(type, q, y16); }) == status::dtype_mismatch);
        hone::tensor y100(dtype::f32, {2, 96});
        if (type != gguf_block_type::q4_k) continue;
        CHECK(status_of([&] { hk::dequantize_gguf_rows(type, q, y100); }) ==
              status::invalid_argument);
    }
    for (const auto type : all_types) {
        auto q = quantize(type, x);
        const std::size_t bb = hk::gguf_block_bytes(type);
        const std::size_t blocks_per_row = 256 / std::size_t(hk::gguf_block_size(type));
        // The last block of row 1: its d (or, for Q4_K, dmin) becomes +inf.
        const std::size_t at =
            (2 * blocks_per_row - 1) * bb + (type == gguf_block_type::q4_k ? 2 : 0);
        q[at] = std::byte{0x00};
        q[at + 1] = std::byte{0x7c};
        hone::tensor y(dtype::f32, {2, 256});
        std::string msg;
        CHECK(status_of([&] { hk::dequantize_gguf_rows(type, q, y); }, &msg) ==
              status::format_error);
        CHECK(msg.find("row 1 block " + std::to_string(blocks_per_row - 1)) != std::string::npos);
    }
}
