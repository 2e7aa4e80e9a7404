// Quantize / dequantize (ONNX QuantizeLinear / DequantizeLinear): hand-computed values, special
// values, every granularity against an independent oracle, every tier bit-identical, the round
// trip bound, scale / zero-point choice, 4-bit packing and error paths.
#include "../status_of.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/quantize.hpp"
#include "hone/kernels/reduce.hpp"
#include "isa_tiers.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

using hone::dtype;
using hone::kernels::granularity;
using hone::kernels::quant_axis;
using hone::kernels::quant_params;
using hone::kernels::quant_scheme;

namespace {

constexpr float inf = std::numeric_limits<float>::infinity();
const float qnan = std::numeric_limits<float>::quiet_NaN();

hone::tensor make_f32(const std::vector<float>& v, const hone::shape& dims) {
    hone::tensor t(dtype::f32, dims);
    std::copy(v.begin(), v.end(), t.span<float>().begin());
    return t;
}

/// A tensor of integer type `type` (packing i4/u4) holding `v`.
hone::tensor make_ints(const std::vector<int>& v, dtype type, const hone::shape& dims) {
    hone::tensor t(type, dims);
    auto* p = static_cast<std::uint8_t*>(t.data());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (hone::is_packed(type))
            p[i / 2] |= static_cast<std::uint8_t>((v[i] & 15) << (4 * (i % 2)));
        else
            p[i] = static_cast<std::uint8_t>(v[i]);
    }
    return t;
}

/// The integer values of a quantized tensor (unpacking i4/u4).
std::vector<int> ints_of(const hone::tensor& t) {
    const auto* p = static_cast<const std::uint8_t*>(t.data());
    const bool is_signed = hone::is_signed_integer(t.type());
    std::vector<int> out(static_cast<std::size_t>(t.numel()));
    for (std::size_t i = 0; i < out.size(); ++i) {
        int v = hone::is_packed(t.type()) ? (p[i / 2] >> (4 * (i % 2))) & 15 : p[i];
        if (is_signed) v = hone::is_packed(t.type()) ? (v ^ 8) - 8 : static_cast<std::int8_t>(v);
        out[i] = v;
    }
    return out;
}

/// Quantize x (1-D or any shape) per tensor and return the integers.
std::vector<int> quantize_values(const std::vector<float>& x, float scale, int zp, dtype type) {
    const hone::shape dims{static_cast<std::int64_t>(x.size())};
    const hone::tensor src = make_f32(x, dims);
    const hone::tensor s = make_f32({scale}, {});
    const hone::tensor z = make_ints({zp}, type, {});
    hone::tensor y(type, dims);
    hone::kernels::quantize_linear(src, {s.view(), z.view()}, y);
    return ints_of(y);
}

/// Where element e of x reads its parameter (per ONNX), as an independent oracle.
std::size_t param_index(std::size_t e, const hone::shape& dims, const quant_axis& g) {
    if (g.kind == granularity::per_tensor) return 0;
    const int rank = static_cast<int>(dims.rank());
    const int axis = g.axis < 0 ? g.axis + rank : g.axis;
    std::vector<std::int64_t> idx(dims.rank());
    auto rem = static_cast<std::int64_t>(e);
    for (int d = rank - 1; d >= 0; --d) {
        idx[d] = rem % dims[d];
        rem /= dims[d];
    }
    if (g.kind == granularity::per_channel) return static_cast<std::size_t>(idx[axis]);
    std::size_t p = 0;
    for (int d = 0; d < rank; ++d) {
        const std::int64_t extent = d == axis ? dims[d] / g.group_size : dims[d];
        p = p * static_cast<std::size_t>(extent) +
            static_cast<std::size_t>(d == axis ? idx[d] / g.group_size : idx[d]);
    }
    return p;
}

/// ONNX QuantizeLinear written directly from the spec (default rounding mode is nearest-even).
int oracle_quantize(float x, float scale, int zp, dtype type) {
    const auto r = hone::kernels::quant_range_of(type);
    const float q = x / scale;
    if (std::isnan(q)) return zp;
    const double v = static_cast<double>(std::nearbyint(q)) + zp;
    return static_cast<int>(std::clamp(v, double(r.min), double(r.max)));
}

std::vector<float> special_data(std::size_t n, unsigned seed, float spread) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, spread);
    const float specials[] = {0.0f,    -0.0f, std::numeric_limits<float>::denorm_min(),
                              -1e-40f, inf,   -inf,
                              qnan,    1e30f, -1e30f,
                              0.5f,    1.5f,  -2.5f};
    std::vector<float> v(n);
    for (auto& x : v) {
        const unsigned r = rng() % 48;
        x = r < 12 ? specials[r] : normal(rng);
        if (r >= 12 && r < 20) x = std::nearbyint(x * 4.0f) / 4.0f + 0.5f; // ties of x / 0.25..
    }
    return v;
}

struct case_params {
    hone::tensor scale;
    std::optional<hone::tensor> zp;
    std::vector<float> s;
    std::vector<int> z;
};

case_params random_params(const hone::shape& pshape, dtype type, bool with_zp, unsigned seed) {
    std::mt19937 rng(seed);
    const auto n = static_cast<std::size_t>(pshape.numel());
    const auto r = hone::kernels::quant_range_of(type);
    case_params p{hone::tensor(dtype::f32, pshape), std::nullopt, std::vector<float>(n),
                  std::vector<int>(n, 0)};
    for (std::size_t i = 0; i < n; ++i) {
        // powers of two make exact ties frequent; others exercise real division
        p.s[i] = (rng() % 2) ? std::ldexp(1.0f, int(rng() % 6) - 4)
                             : std::uniform_real_distribution<float>(0.01f, 2.0f)(rng);
        if (with_zp) p.z[i] = r.min + int(rng() % unsigned(r.max - r.min + 1));
    }
    std::copy(p.s.begin(), p.s.end(), p.scale.span<float>().begin());
    if (with_zp) p.zp.emplace(make_ints(p.z, type, pshape));
    return p;
}

quant_params params_of(const case_params& c, const quant_axis& g) {
    quant_params p{c.scale.view(), std::nullopt, g.axis, 0};
    if (c.zp) p.zero_point = c.zp->view();
    if (g.kind == granularity::per_group) p.block_size = g.group_size;
    return p;
}

/// Quantizes and dequantizes x with g on the active tier; checks both against the oracle.
void check_against_oracle(const std::vector<float>& x, const hone::shape& dims, const quant_axis& g,
                          dtype type, bool with_zp) {
    CAPTURE(dims.to_string());
    CAPTURE(static_cast<int>(g.kind));
    CAPTURE(g.axis);
    CAPTURE(g.group_size);
    CAPTURE(hone::name_of(type));
    CAPTURE(with_zp);
    const auto c = random_params(hone::kernels::reduced_shape(dims, g), type, with_zp,
                                 static_cast<unsigned>(dims.numel()) + 3);
    const auto p = params_of(c, g);
    const hone::tensor src = make_f32(x, dims);
    hone::tensor q(type, dims);
    hone::kernels::quantize_linear(src, p, q);
    const auto got = ints_of(q);
    std::vector<int> want(x.size());
    for (std::size_t e = 0; e < x.size(); ++e) {
        const std::size_t k = param_index(e, dims, g);
        want[e] = oracle_quantize(x[e], c.s[k], c.z[k], type);
    }
    REQUIRE(got == want);
    if (hone::is_packed(type) && x.size() % 2 == 1) // the spare high nibble stays zero
        REQUIRE((static_cast<const std::uint8_t*>(q.data())[x.size() / 2] >> 4) == 0);
    hone::tensor d(dtype::f32, dims);
    hone::kernels::dequantize_linear(q, p, d);
    const auto f = d.span<float>();
    for (std::size_t e = 0; e < x.size(); ++e) {
        const std::size_t k = param_index(e, dims, g);
        const float expected = static_cast<float>(got[e] - c.z[k]) * c.s[k];
        REQUIRE(std::bit_cast<std::uint32_t>(f[e]) == std::bit_cast<std::uint32_t>(expected));
    }
}

} // namespace

TEST_CASE("quantize: round half to even, saturation and special values (hand-computed)") {
    hone::test::for_each_tier([](hone::isa) {
        // 16 values so the SIMD body is used; the same values again shifted to hit the tail
        const std::vector<float> x = {0.5f,  1.5f,   2.5f,   -0.5f, -1.5f,   -2.5f,  3.5f, -3.5f,
                                      0.49f, 126.5f, 127.5f, 200.f, -128.5f, -129.f, inf,  -inf};
        const std::vector<int> i8 = {0, 2,   2,   0,   -2,   -2,   4,   -4,
                                     0, 126, 127, 127, -128, -128, 127, -128};
        CHECK(quantize_values(x, 1.0f, 0, dtype::i8) == i8);
        std::vector<float> tail = {7.0f};
        tail.insert(tail.end(), x.begin(), x.end());
        auto i8_tail = quantize_values(tail, 1.0f, 0, dtype::i8);
        CHECK(std::vector<int>(i8_tail.begin() + 1, i8_tail.end()) == i8);

        // u8 with zero point 128, scale 0.5: y = clamp(round(2x) + 128, 0, 255)
        const std::vector<float> u = {1.0f,  0.25f,  0.75f, -0.25f, 63.5f, 64.0f,  -64.0f, -64.5f,
                                      -0.0f, 1e-45f, qnan,  inf,    -inf,  63.75f, 1e9f,   -1e9f};
        CHECK(quantize_values(u, 0.5f, 128, dtype::u8) == std::vector<int>{130, 128, 130, 128, 255,
                                                                           255, 0, 0, 128, 128, 128,
                                                                           255, 0, 255, 255, 0});
        // i4 / u4 saturation at -8/7 and 0/15, NaN → zero point
        CHECK(quantize_values({7.4f, 7.5f, -8.5f, -9.f, 0.5f, -0.5f, qnan, 2.5f}, 1.0f, 0,
                              dtype::i4) == std::vector<int>{7, 7, -8, -8, 0, 0, 0, 2});
        CHECK(quantize_values({14.5f, 15.5f, -0.6f, 3.f, qnan, inf, -inf, 1.5f, 2.5f}, 1.0f, 3,
                              dtype::u4) == std::vector<int>{15, 15, 2, 6, 3, 15, 0, 5, 5});
        // affine int8: scale 0.25, zero point -3 → round(x·4) - 3
        CHECK(quantize_values({0.625f, 0.375f, -0.125f, 31.0f, 32.5f, -31.0f}, 0.25f, -3,
                              dtype::i8) == std::vector<int>{-1, -1, -3, 121, 127, -127});
    });
}

TEST_CASE("quantize: the division by scale, not a multiplication by its reciprocal") {
    // Find x where round(x / s) differs from round(x · (1 / s)); hone must follow the division.
    const float s = 0.1f, inv = 1.0f / s;
    std::vector<float> x;
    for (int k = -2000; k < 2000 && x.size() < 32; ++k) {
        float v = (static_cast<float>(k) + 0.5f) * s;
        for (int i = 0; i < 4; ++i)
            v = std::nextafter(v, -inf);
        for (int ulp = -4; ulp <= 4; ++ulp, v = std::nextafter(v, inf))
            if (std::nearbyint(v / s) != std::nearbyint(v * inv)) x.push_back(v);
    }
    REQUIRE(!x.empty());
    hone::test::for_each_tier([&](hone::isa) {
        const auto q = quantize_values(x, s, 0, dtype::i8);
        for (std::size_t i = 0; i < x.size(); ++i)
            REQUIRE(q[i] == oracle_quantize(x[i], s, 0, dtype::i8));
    });
}

TEST_CASE("quantize: 4-bit packing is low nibble first") {
    const hone::tensor src = make_f32({1, -1, 7, -8, 3}, {5});
    const hone::tensor s = make_f32({1.0f}, {});
    hone::tensor y(dtype::i4, {5});
    hone::kernels::quantize_linear(src, {.scale = s.view()}, y);
    const auto* b = static_cast<const std::uint8_t*>(y.data());
    CHECK(b[0] == 0xF1);
    CHECK(b[1] == 0x87);
    CHECK(b[2] == 0x03);
    hone::tensor u(dtype::u4, {5});
    const hone::tensor z = make_ints({8}, dtype::u4, {1});
    hone::kernels::quantize_linear(src, {s.view(), z.view()}, u);
    const auto* c = static_cast<const std::uint8_t*>(u.data());
    CHECK(c[0] == 0x79); // 9, 7
    CHECK(c[1] == 0x0F); // 15, 0
    CHECK(c[2] == 0x0B); // 11, spare nibble 0
}

TEST_CASE("quantize/dequantize: every granularity and type matches the oracle on every tier") {
    struct shape_case {
        hone::shape dims;
        std::vector<quant_axis> axes;
    };
    const std::vector<shape_case> cases = {
        {{0}, {{granularity::per_tensor}}},
        {{1}, {{granularity::per_tensor}, {granularity::per_channel, 0}}},
        {{3, 0, 4}, {{granularity::per_channel, 2}, {granularity::per_group, 0, 3}}},
        {{7}, {{granularity::per_tensor}, {granularity::per_group, 0, 7}}},
        {{5, 33},
         {{granularity::per_tensor},
          {granularity::per_channel, 0},
          {granularity::per_channel, 1},
          {granularity::per_group, 1, 11},
          {granularity::per_group, 0, 5}}},
        {{4, 6, 9},
         {{granularity::per_channel, 0},
          {granularity::per_channel, 1},
          {granularity::per_channel, -1},
          {granularity::per_group, 1, 3},
          {granularity::per_group, 2, 3},
          {granularity::per_group, 0, 2}}},
        {{64, 130},
         {{granularity::per_channel, 0},
          {granularity::per_channel, 1},
          {granularity::per_group, 1, 65},
          {granularity::per_group, 0, 16}}},
        {{70007}, {{granularity::per_tensor}, {granularity::per_group, 0, 7}}},
        {{129, 257}, {{granularity::per_channel, 1}}},
    };
    for (const auto& c : cases) {
        const auto x = special_data(static_cast<std::size_t>(c.dims.numel()), 17, 20.0f);
        hone::test::for_each_tier([&](hone::isa) {
            for (const auto& g : c.axes)
                for (dtype type : {dtype::i8, dtype::u8, dtype::i4, dtype::u4})
                    for (bool with_zp : {false, true})
                        check_against_oracle(x, c.dims, g, type, with_zp);
        });
    }
}

TEST_CASE("quantize/dequantize: every tier equals the scalar tier bit for bit") {
    const hone::shape dims{37, 96};
    const auto x = special_data(37 * 96, 5, 50.0f);
    for (const quant_axis g :
         {quant_axis{granularity::per_channel, 0}, quant_axis{granularity::per_group, 1, 32}}) {
        for (dtype type : {dtype::i8, dtype::u8, dtype::i4, dtype::u4}) {
            const auto c = random_params(hone::kernels::reduced_shape(dims, g), type, true, 9);
            const auto p = params_of(c, g);
            const hone::tensor src = make_f32(x, dims);
            const auto run = [&] {
                hone::tensor q(type, dims);
                hone::kernels::quantize_linear(src, p, q);
                hone::tensor d(dtype::f32, dims);
                hone::kernels::dequantize_linear(q, p, d);
                std::vector<std::uint8_t> bytes(q.nbytes() + d.nbytes());
                std::memcpy(bytes.data(), q.data(), q.nbytes());
                std::memcpy(bytes.data() + q.nbytes(), d.data(), d.nbytes());
                return bytes;
            };
            hone::set_max_isa(hone::isa::scalar);
            const auto reference = run();
            hone::test::for_each_tier([&](hone::isa) { REQUIRE(run() == reference); });
        }
    }
}

TEST_CASE("quantize: |dequantize(quantize(x)) - x| ≤ scale / 2 with chosen parameters") {
    std::mt19937 rng(21);
    for (dtype type : {dtype::i8, dtype::u8, dtype::i4, dtype::u4}) {
        for (quant_scheme scheme : {quant_scheme::affine, quant_scheme::symmetric}) {
            CAPTURE(hone::name_of(type));
            CAPTURE(static_cast<int>(scheme));
            const hone::shape dims{16, 100};
            std::vector<float> x(1600);
            std::uniform_real_distribution<float> shift(-3.0f, 3.0f);
            const float offset = shift(rng);
            for (auto& v : x)
                v = offset + std::normal_distribution<float>(0.0f, 2.0f)(rng);
            const hone::tensor src = make_f32(x, dims);
            hone::test::for_each_tier([&](hone::isa) {
                for (const quant_axis g :
                     {quant_axis{granularity::per_tensor}, quant_axis{granularity::per_channel, 0},
                      quant_axis{granularity::per_group, 1, 20}}) {
                    const hone::shape ps = hone::kernels::reduced_shape(dims, g);
                    hone::tensor mn(dtype::f32, ps), mx(dtype::f32, ps), scale(dtype::f32, ps),
                        zp(type, ps);
                    hone::kernels::min_max(src, g, mn, mx);
                    hone::kernels::choose_qparams(mn, mx, type, scheme, scale, zp);
                    quant_params p{scale.view(), zp.view(), g.axis,
                                   g.kind == granularity::per_group ? g.group_size : 0};
                    hone::tensor q(type, dims), d(dtype::f32, dims);
                    hone::kernels::quantize_linear(src, p, q);
                    hone::kernels::dequantize_linear(q, p, d);
                    for (std::size_t e = 0; e < x.size(); ++e) {
                        const float s = scale.span<float>()[param_index(e, dims, g)];
                        CAPTURE(e);
                        REQUIRE(std::fabs(d.span<float>()[e] - x[e]) <= s * 0.5f * 1.0001f);
                    }
                }
            });
        }
    }
}

TEST_CASE("choose_qparams: ONNX DynamicQuantizeLinear examples and the symmetric scheme") {
    using hone::kernels::choose_qparams;
    // ONNX DynamicQuantizeLinear documentation examples (uint8)
    auto q = choose_qparams(-3.0f, 2.0f, dtype::u8, quant_scheme::affine);
    CHECK(q.scale == doctest::Approx(0.019607844f));
    CHECK(q.zero_point == 153);
    q = choose_qparams(-4.0f, -1.0f, dtype::u8, quant_scheme::affine);
    CHECK(q.scale == 4.0f / 255.0f);
    CHECK(q.zero_point == 255);
    q = choose_qparams(1.0f, 4.0f, dtype::u8, quant_scheme::affine);
    CHECK(q.scale == 4.0f / 255.0f);
    CHECK(q.zero_point == 0);
    // the zero point rounds half to even: width 255 gives scale 1, zero point 2.5 → 2, 3.5 → 4
    q = choose_qparams(-2.5f, 252.5f, dtype::u8, quant_scheme::affine);
    CHECK(q.scale == 1.0f);
    CHECK(q.zero_point == 2);
    q = choose_qparams(-3.5f, 251.5f, dtype::u8, quant_scheme::affine);
    CHECK(q.zero_point == 4);
    q = choose_qparams(-0.5f, 1.5f, dtype::i8, quant_scheme::affine);
    CHECK(q.scale == 2.0f / 255.0f);
    CHECK(q.zero_point == static_cast<int>(std::nearbyint(-128.0f - (-0.5f) / (2.0f / 255.0f))));
    q = choose_qparams(-1.0f, 1.0f, dtype::i4, quant_scheme::affine);
    CHECK(q.scale == 2.0f / 15.0f);
    CHECK(q.zero_point == static_cast<int>(std::nearbyint(-8.0f - (-1.0f) / (2.0f / 15.0f))));
    // the zero point saturates: a range of only positive values still includes 0
    q = choose_qparams(5.0f, 10.0f, dtype::i8, quant_scheme::affine);
    CHECK(q.zero_point == -128);
    // symmetric
    q = choose_qparams(-1.27f, 0.5f, dtype::i8, quant_scheme::symmetric);
    CHECK(q.scale == 1.27f / 127.0f);
    CHECK(q.zero_point == 0);
    q = choose_qparams(-0.5f, 1.27f, dtype::u8, quant_scheme::symmetric);
    CHECK(q.scale == 1.27f / 127.0f);
    CHECK(q.zero_point == 128);
    q = choose_qparams(-7.0f, 3.0f, dtype::i4, quant_scheme::symmetric);
    CHECK(q.scale == 1.0f);
    CHECK(q.zero_point == 0);
    q = choose_qparams(0.0f, 14.0f, dtype::u4, quant_scheme::symmetric);
    CHECK(q.scale == 2.0f);
    CHECK(q.zero_point == 8);
    // degenerate and empty ranges
    q = choose_qparams(0.0f, 0.0f, dtype::i8, quant_scheme::affine);
    CHECK(q.scale == 1.0f);
    CHECK(q.zero_point == -128);
    q = choose_qparams(inf, -inf, dtype::u8, quant_scheme::symmetric);
    CHECK(q.scale == 1.0f);
    CHECK(q.zero_point == 128);
    q = choose_qparams(0.0f, 1e-44f, dtype::u8, quant_scheme::affine); // scale underflows
    CHECK(q.scale > 0.0f);
    // errors
    std::string msg;
    CHECK(status_of([] { choose_qparams(qnan, 1.0f, dtype::i8, quant_scheme::affine); }, &msg) ==
          hone::status::invalid_argument);
    CHECK(msg.find("NaN") != std::string::npos);
    CHECK(status_of([] { choose_qparams(-inf, 1.0f, dtype::i8, quant_scheme::affine); }) ==
          hone::status::invalid_argument);
    CHECK(status_of([] { choose_qparams(2.0f, 1.0f, dtype::i8, quant_scheme::affine); }) ==
          hone::status::invalid_argument);
    CHECK(status_of([] { choose_qparams(-3e38f, 3e38f, dtype::i8, quant_scheme::affine); }) ==
          hone::status::invalid_argument);
    CHECK(status_of([] { choose_qparams(0.0f, 1.0f, dtype::f32, quant_scheme::affine); }) ==
          hone::status::dtype_mismatch);
    CHECK(status_of([] { choose_qparams(0.0f, 1.0f, dtype::i8, static_cast<quant_scheme>(5)); }) ==
          hone::status::invalid_argument);
    // span form: all or nothing
    const std::vector<float> lo = {-1.0f, qnan}, hi = {1.0f, 1.0f};
    std::vector<float> sc = {7.0f, 7.0f};
    std::vector<std::int32_t> zp = {7, 7};
    CHECK(status_of([&] { choose_qparams(lo, hi, dtype::i8, quant_scheme::affine, sc, zp); },
                    &msg) == hone::status::invalid_argument);
    CHECK(msg.find("(element 1)") != std::string::npos);
    CHECK(sc[0] == 7.0f);
}

TEST_CASE("quantize: span forms, strided views, thread count independence") {
    const auto x = special_data(100003, 3, 30.0f);
    std::vector<std::int8_t> a(x.size());
    std::vector<std::uint8_t> b(x.size());
    hone::kernels::quantize(x, 0.25f, -5, a);
    hone::kernels::quantize(x, 0.25f, 100, b);
    for (std::size_t i = 0; i < x.size(); ++i) {
        REQUIRE(a[i] == oracle_quantize(x[i], 0.25f, -5, dtype::i8));
        REQUIRE(b[i] == oracle_quantize(x[i], 0.25f, 100, dtype::u8));
    }
    std::vector<float> fa(x.size()), fb(x.size());
    hone::kernels::dequantize(a, 0.25f, -5, fa);
    hone::kernels::dequantize(b, 0.25f, 100, fb);
    CHECK(fa[0] == static_cast<float>(a[0] + 5) * 0.25f);
    CHECK(fb[7] == static_cast<float>(b[7] - 100) * 0.25f);

    // strided input (every other column) and strided i8 output
    const hone::tensor full =
        make_f32(std::vector<float>(x.begin(), x.begin() + 2 * 500), {10, 100});
    const std::int64_t in_strides[] = {100, 2};
    const auto in = hone::make_view(full.data(), full.nbytes(), dtype::f32, {10, 50}, in_strides);
    hone::tensor out_full(dtype::i8, {10, 100});
    const std::int64_t out_strides[] = {100, 2};
    const auto out =
        hone::make_view(out_full.data(), out_full.nbytes(), dtype::i8, {10, 50}, out_strides);
    const hone::tensor s = make_f32({0.5f}, {});
    hone::kernels::quantize_linear(in, {.scale = s.view()}, out);
    const auto* o = static_cast<const std::int8_t*>(out_full.data());
    for (int r = 0; r < 10; ++r)
        for (int c = 0; c < 50; ++c) {
            REQUIRE(
                o[r * 100 + 2 * c] ==
                oracle_quantize(x[static_cast<std::size_t>(r * 100 + 2 * c)], 0.5f, 0, dtype::i8));
            REQUIRE(o[r * 100 + 2 * c + 1] == 0);
        }

    // threads
    const hone::shape dims{300, 1001};
    const auto big = special_data(300 * 1001, 8, 10.0f);
    const hone::tensor src = make_f32(big, dims);
    const int saved = hone::num_threads();
    for (dtype type : {dtype::i8, dtype::u4}) {
        const auto c = random_params({300}, type, true, 4);
        const quant_params p{c.scale.view(), c.zp->view(), 0, 0};
        hone::tensor q1(type, dims), q7(type, dims);
        hone::set_num_threads(1);
        hone::kernels::quantize_linear(src, p, q1);
        hone::set_num_threads(7);
        hone::kernels::quantize_linear(src, p, q7);
        REQUIRE(std::memcmp(q1.data(), q7.data(), q1.nbytes()) == 0);
        hone::tensor d1(dtype::f32, dims), d7(dtype::f32, dims);
        hone::set_num_threads(1);
        hone::kernels::dequantize_linear(q1, p, d1);
        hone::set_num_threads(7);
        hone::kernels::dequantize_linear(q1, p, d7);
        REQUIRE(std::memcmp(d1.data(), d7.data(), d1.nbytes()) == 0);
    }
    hone::set_num_threads(saved);
}

TEST_CASE("quantize/dequantize: bad input gets a clear error") {
    const hone::tensor x = make_f32(std::vector<float>(24, 1.0f), {2, 3, 4});
    const hone::tensor s1 = make_f32({0.5f}, {1});
    const hone::tensor s3 = make_f32({1, 1, 1}, {3});
    hone::tensor y(dtype::i8, {2, 3, 4});
    std::string msg;
    using hone::kernels::dequantize_linear;
    using hone::kernels::quantize_linear;
    // per-axis scale length does not match dims[axis]
    CHECK(status_of(
              [&] {
                  quantize_linear(x, {s3.view(), std::nullopt, 2}, y);
              },
              &msg) == hone::status::shape_mismatch);
    CHECK(msg.find("shape [4] (per axis 2)") != std::string::npos);
    CHECK(status_of(
              [&] {
                  quantize_linear(x, {s3.view(), std::nullopt, 3}, y);
              },
              &msg) == hone::status::invalid_argument);
    CHECK(msg.find("axis 3 is out of range") != std::string::npos);
    CHECK_NOTHROW(quantize_linear(x, {s3.view(), std::nullopt, -2}, y)); // -2 = axis 1
    // blocked: block does not divide; scale shape wrong; negative block
    const hone::tensor sb = make_f32(std::vector<float>(12, 1.0f), {2, 3, 2});
    CHECK(status_of(
              [&] {
                  quantize_linear(x, {sb.view(), std::nullopt, 2, 3}, y);
              },
              &msg) == hone::status::invalid_argument);
    CHECK(msg.find("group size 3 does not divide dimension 4") != std::string::npos);
    CHECK_NOTHROW(quantize_linear(x, {sb.view(), std::nullopt, 2, 2}, y));
    CHECK(status_of(
              [&] {
                  quantize_linear(x, {sb.view(), std::nullopt, 1, 3}, y);
              },
              &msg) == hone::status::shape_mismatch);
    CHECK(msg.find("needs [2, 1, 4]") != std::string::npos);
    CHECK(status_of([&] {
              quantize_linear(x, {s1.view(), std::nullopt, 1, -1}, y);
          }) == hone::status::invalid_argument);
    // scale values and type
    for (float bad : {0.0f, -1.0f, inf, qnan, -0.0f}) {
        const hone::tensor sbad = make_f32({1, bad, 1}, {3});
        CHECK(status_of([&] { quantize_linear(x, {.scale = sbad.view()}, y); }, &msg) ==
              hone::status::invalid_argument);
        CHECK(msg.find("scale[1]") != std::string::npos);
        CHECK(status_of([&] {
                  dequantize_linear(y, {.scale = sbad.view()}, hone::tensor(dtype::f32, {2, 3, 4}));
              }) == hone::status::invalid_argument);
    }
    hone::tensor s_i32(dtype::i32, {});
    CHECK(status_of([&] { quantize_linear(x, {.scale = s_i32.view()}, y); }) ==
          hone::status::dtype_mismatch);
    // zero point type and shape
    const hone::tensor zp_u8 = make_ints({1}, dtype::u8, {1});
    CHECK(status_of(
              [&] {
                  quantize_linear(x, {s1.view(), zp_u8.view()}, y);
              },
              &msg) == hone::status::dtype_mismatch);
    CHECK(msg.find("zero point is u8, must be i8") != std::string::npos);
    const hone::tensor zp3 = make_ints({1, 2, 3}, dtype::i8, {3});
    CHECK(status_of([&] {
              quantize_linear(x, {s1.view(), zp3.view()}, y);
          }) == hone::status::shape_mismatch);
    // tensor types and shapes
    hone::tensor y_f16(dtype::f16, {2, 3, 4}), y_small(dtype::i8, {2, 3, 3});
    CHECK(status_of([&] { quantize_linear(x, {.scale = s1.view()}, y_f16); }) ==
          hone::status::dtype_mismatch);
    CHECK(status_of([&] { quantize_linear(x, {.scale = s1.view()}, y_small); }) ==
          hone::status::shape_mismatch);
    CHECK(status_of([&] { quantize_linear(y, {.scale = s1.view()}, y); }) ==
          hone::status::dtype_mismatch);
    hone::tensor f(dtype::f32, {2, 3, 4});
    CHECK(status_of([&] { dequantize_linear(x, {.scale = s1.view()}, f); }) ==
          hone::status::dtype_mismatch);
    CHECK(status_of([&] { dequantize_linear(y, {.scale = s1.view()}, y); }) ==
          hone::status::dtype_mismatch);
    // span forms
    std::vector<float> v(4, 1.0f);
    std::vector<std::int8_t> q(4);
    std::vector<std::uint8_t> u(3);
    CHECK(status_of([&] { hone::kernels::quantize(v, 1.0f, 200, q); }, &msg) ==
          hone::status::invalid_argument);
    CHECK(msg.find("zero point 200 is outside the i8 range") != std::string::npos);
    CHECK(status_of([&] { hone::kernels::quantize(v, 0.0f, 0, q); }) ==
          hone::status::invalid_argument);
    CHECK(status_of([&] { hone::kernels::quantize(v, 1.0f, 0, u); }) ==
          hone::status::shape_mismatch);
    std::vector<float> fu(3);
    CHECK(status_of([&] { hone::kernels::dequantize(u, 1.0f, -1, fu); }, &msg) ==
          hone::status::invalid_argument);
    CHECK(msg.find("zero point -1 is outside the u8 range [0, 255]") != std::string::npos);
}
