// quant_spec and quantized_tensor: hand-computed scales and zero points, round half to even,
// saturation, packed layouts (8/4/2 bits), exact dequantization, validation errors.
#include <hone/core/error.hpp>
#include <hone/core/half.hpp>
#include <hone/core/tensor.hpp>
#include <hone/kernels/quantize.hpp>
#include <hone/quantize/quantizer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

hone::tensor make(const hone::shape& dims, std::vector<float> v) {
    hone::tensor t(hone::dtype::f32, dims);
    REQUIRE(std::int64_t(v.size()) == t.numel());
    std::memcpy(t.data(), v.data(), v.size() * sizeof(float));
    return t;
}

hone::quantized_tensor rtn(const hone::tensor& w, const hone::quant_spec& spec) {
    return hone::quantizer({.spec = spec}).quantize(w, "w");
}

std::vector<std::uint8_t> bytes(const hone::tensor& t) {
    const auto* p = static_cast<const std::uint8_t*>(t.data());
    return {p, p + t.nbytes()};
}

template <class Fn> void expect_error(Fn&& fn, hone::status code, const char* needle) {
    try {
        fn();
        FAIL("no error thrown");
    } catch (const hone::error& e) {
        CHECK(e.code() == code);
        INFO(e.what());
        CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
}

} // namespace

TEST_CASE("quant_spec: ranges, storage types, scale shapes") {
    hone::quant_spec s;
    CHECK(s.qmin() == -128);
    CHECK(s.qmax() == 127);
    CHECK(s.storage_type() == hone::dtype::i8);
    s.bits = 4;
    CHECK(s.qmin() == -8);
    CHECK(s.qmax() == 7);
    CHECK(s.storage_type() == hone::dtype::i4);
    s.is_signed = false;
    CHECK(s.qmax() == 15);
    CHECK(s.storage_type() == hone::dtype::u4);
    s.bits = 2;
    CHECK(s.qmax() == 3);
    CHECK(s.storage_type() == hone::dtype::u8);
    CHECK(s.zero_point_type() == hone::dtype::u4);
    s.bits = 6;
    s.is_signed = true;
    CHECK(s.qmin() == -32);
    CHECK(s.qmax() == 31);
    CHECK(s.storage_type() == hone::dtype::i8);

    hone::quant_spec g{
        .bits = 4, .granularity = hone::quant_granularity::per_group, .group_size = 4};
    CHECK(hone::scale_shape(g, {3, 8}) == hone::shape{3, 2});
    hone::quant_spec c{.granularity = hone::quant_granularity::per_channel};
    CHECK(hone::scale_shape(c, {3, 8}) == hone::shape{3});
    c.channel_axis = 1;
    CHECK(hone::scale_shape(c, {3, 8}) == hone::shape{8});
    hone::quant_spec t{.granularity = hone::quant_granularity::per_tensor};
    CHECK(hone::scale_shape(t, {3, 8}) == hone::shape{1});
    CHECK(g.to_string().find("int4") != std::string::npos);
}

TEST_CASE("known values: int8 symmetric per tensor, round half to even, saturation") {
    // max |w| = 12.7 → scale = 12.7 / 127 = 0.1 (f32), zero point 0.
    const auto w = make({6}, {12.7f, -12.7f, 0.05f, 0.15f, -0.25f, 0.0f});
    const auto q = rtn(w, {.granularity = hone::quant_granularity::per_tensor});
    const float scale = 12.7f / 127.0f;
    CHECK(q.scale_values()[0] == scale);
    CHECK(q.zero_points.numel() == 0); // signed symmetric: none stored
    const auto v = q.values();
    CHECK(v[0] == 127);
    CHECK(v[1] == -127); // symmetric: −128 unused
    // 0.05 / 0.1 = 0.5 → 0 (even); 0.15/0.1 = 1.5 → 2; −0.25/0.1 = −2.5 → −2 (in f32 arithmetic)
    CHECK(v[2] == int(std::nearbyint(0.05f / scale)));
    CHECK(v[3] == int(std::nearbyint(0.15f / scale)));
    CHECK(v[4] == int(std::nearbyint(-0.25f / scale)));
    CHECK(v[5] == 0);
    // Exact halves with a power-of-two scale: max 127·0.5 → scale 0.5.
    const auto h = make({5}, {63.5f, 0.25f, 0.75f, -0.25f, -0.75f});
    const auto qh = rtn(h, {.granularity = hone::quant_granularity::per_tensor});
    CHECK(qh.scale_values()[0] == 0.5f);
    CHECK(qh.values() == std::vector<std::int32_t>{127, 0, 2, 0, -2}); // 0.5→0, 1.5→2, −0.5→0
    CHECK(bytes(qh.data) == std::vector<std::uint8_t>{0x7f, 0x00, 0x02, 0x00, 0xfe});
}

TEST_CASE("known values: affine zero points (u8, u4), unsigned symmetric, 6 bits") {
    // u8 affine over [−1, 3]: scale = 4/255, zp = round_half_even(0 + 1/scale) = 64 (63.75).
    const auto w = make({4}, {-1.0f, 3.0f, 0.0f, 1.0f});
    const auto q8 = rtn(w, {.is_signed = false,
                            .symmetric = false,
                            .granularity = hone::quant_granularity::per_tensor});
    const float s8 = 4.0f / 255.0f;
    CHECK(q8.scale_values()[0] == s8);
    CHECK(q8.zero_point_values()[0] == 64);
    CHECK(q8.value(0) == 0);   // −1/s + 64 = −63.75 + 64 → 0
    CHECK(q8.value(1) == 255); // 191.25 + 64 → 255
    CHECK(q8.value(2) == 64);  // zero is exact
    // Identical to the kernel layer's choose_qparams + quantize_linear.
    const auto kp = hone::kernels::choose_qparams(-1.0f, 3.0f, hone::dtype::u8,
                                                  hone::kernels::quant_scheme::affine);
    CHECK(kp.scale == s8);
    CHECK(kp.zero_point == 64);
    // u4 affine over [−1, 3]: scale = 4/15, zp = round_half_even(3.75) = 4.
    const auto q4 = rtn(w, {.bits = 4,
                            .is_signed = false,
                            .symmetric = false,
                            .granularity = hone::quant_granularity::per_tensor});
    CHECK(q4.scale_values()[0] == 4.0f / 15.0f);
    CHECK(q4.zero_point_values()[0] == 4);
    CHECK(q4.values() == std::vector<std::int32_t>{0, 15, 4, 8}); // 1/(4/15) = 3.75 → 4, +4
    CHECK(q4.zero_points.type() == hone::dtype::u4);
    // u4 symmetric: zp = 8, scale = max|w| / 7 = 3/7.
    const auto qs =
        rtn(w, {.bits = 4, .is_signed = false, .granularity = hone::quant_granularity::per_tensor});
    CHECK(qs.zero_point_values()[0] == 8);
    CHECK(qs.scale_values()[0] == 3.0f / 7.0f);
    CHECK(qs.value(1) == 15);
    CHECK(qs.value(2) == 8);
    // 6-bit signed symmetric: max 31 → scale 1; stored one byte each, two's complement.
    const auto w6 = make({3}, {31.0f, -31.0f, 1.0f});
    const auto q6 = rtn(w6, {.bits = 6, .granularity = hone::quant_granularity::per_tensor});
    CHECK(q6.scale_values()[0] == 1.0f);
    CHECK(q6.data.type() == hone::dtype::i8);
    CHECK(bytes(q6.data) == std::vector<std::uint8_t>{0x1f, 0xe1, 0x01});
}

TEST_CASE("packed layouts: int4 nibbles, 2-bit fields, group-wise scales") {
    // i4, max 7 → scale 1: [7, −2, 3] → nibbles 7, E, 3 → bytes E7 03.
    const auto q4 =
        rtn(make({3}, {7, -2, 3}), {.bits = 4, .granularity = hone::quant_granularity::per_tensor});
    CHECK(q4.data.type() == hone::dtype::i4);
    CHECK(bytes(q4.data) == std::vector<std::uint8_t>{0xe7, 0x03});
    // u2 affine over [0, 3]: scale 1, zp 0; element 4k+j in bits 2j of byte k.
    const auto q2 =
        rtn(make({6}, {0, 1, 2, 3, 3, 0}), {.bits = 2,
                                            .is_signed = false,
                                            .symmetric = false,
                                            .granularity = hone::quant_granularity::per_tensor});
    CHECK(q2.scale_values()[0] == 1.0f);
    CHECK(q2.zero_point_values()[0] == 0);
    CHECK(bytes(q2.data) == std::vector<std::uint8_t>{0xe4, 0x03});
    CHECK(q2.bytes() == 2 + 4 + 1);
    // i2 symmetric: range [−1, 1] used, fields two's complement: −1 → 0b11.
    const auto s2 =
        rtn(make({3}, {-1, 0, 1}), {.bits = 2, .granularity = hone::quant_granularity::per_tensor});
    CHECK(s2.values() == std::vector<std::int32_t>{-1, 0, 1});
    CHECK(bytes(s2.data) == std::vector<std::uint8_t>{0x13});
    const auto d2 = s2.dequantize();
    CHECK(d2.span<float>()[0] == -1.0f);
    // Group-wise int4 [2, 8], group 4: each (row, group) has its own scale max|w|/7.
    const auto g =
        rtn(make({2, 8}, {1, 2, 3, 7, 0.5f, 1, 3.5f, -3.5f, //
                          0, 0, 0, 0, 14, -7, 0, 7}),
            {.bits = 4, .granularity = hone::quant_granularity::per_group, .group_size = 4});
    CHECK(g.scale_values() == std::vector<float>{1.0f, 0.5f, 1.0f, 2.0f}); // zeros: scale 1
    CHECK(g.values() == std::vector<std::int32_t>{1, 2, 3, 7, 1, 2, 7, -7, 0, 0, 0, 0, 7, -4, 0,
                                                  4}); // −3.5 → −4 (even), 3.5 → 4
    // The kernel's int4 weight-only form is the same bytes; int4_dequantize agrees.
    const auto k4 = g.to_int4_weights();
    CHECK(bytes(k4.weights) == bytes(g.data));
    hone::tensor kd(hone::dtype::f32, {2, 8});
    hone::kernels::int4_dequantize(k4.view(), kd);
    const auto gd = g.dequantize();
    CHECK(std::memcmp(kd.data(), gd.data(), gd.nbytes()) == 0);
    CHECK(g.bytes() == 8 + 4 * 4);
}

TEST_CASE("from_values round trip, validation of parts") {
    const hone::quant_spec spec{.bits = 3,
                                .is_signed = false,
                                .symmetric = false,
                                .granularity = hone::quant_granularity::per_channel};
    const std::vector<std::int32_t> v{0, 7, 3, 5, 1, 2};
    const std::vector<float> scales{0.5f, 0.25f};
    const std::vector<std::int32_t> zps{3, 1};
    const auto q = hone::quantized_tensor::from_values(spec, {2, 3}, v, scales, zps, "w3");
    CHECK(q.values() == v);
    CHECK(q.data.type() == hone::dtype::u4);
    const auto d = q.dequantize();
    const auto ds = d.span<float>();
    CHECK(ds[0] == -1.5f); // (0 − 3)·0.5
    CHECK(ds[1] == 2.0f);  // (7 − 3)·0.5
    CHECK(ds[3] == 1.0f);  // (5 − 1)·0.25
    CHECK_NOTHROW(q.validate("w3"));
    const std::vector<std::int32_t> big{0, 8, 3, 5, 1, 2};
    expect_error(
        [&] {
            hone::quantized_tensor::from_values(spec, {2, 3}, big, scales, zps, "w3");
        },
        hone::status::out_of_range, "w3");
    const std::vector<float> bad_scale{0.5f, -1.0f};
    expect_error(
        [&] {
            hone::quantized_tensor::from_values(spec, {2, 3}, v, bad_scale, zps, "w3");
        },
        hone::status::invalid_argument, "scale");
    // f16 scales are stored as f16 and widened exactly.
    auto s16 = spec;
    s16.scale_type = hone::dtype::f16;
    const auto h = hone::quantized_tensor::from_values(s16, {2, 3}, v, scales, zps, "w3");
    CHECK(h.scales.type() == hone::dtype::f16);
    CHECK(h.scale_values() == scales);
    CHECK(std::memcmp(h.dequantize().data(), d.data(), d.nbytes()) == 0);
}

TEST_CASE("bad specs and weights name the tensor") {
    const auto w = make({2, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    for (int bits : {0, 1, 9, 16})
        expect_error([&] { rtn(w, {.bits = bits}); }, hone::status::invalid_argument, "bits");
    expect_error(
        [&] {
            hone::quantizer({.spec = {.bits = 4,
                                      .granularity = hone::quant_granularity::per_group,
                                      .group_size = 4}})
                .quantize(w, "fc1.weight");
        },
        hone::status::invalid_argument, "fc1.weight");
    expect_error(
        [&] {
            hone::quantizer({.spec = {.bits = 4,
                                      .granularity = hone::quant_granularity::per_group,
                                      .group_size = 4}})
                .quantize(w, "fc1.weight");
        },
        hone::status::invalid_argument, "does not divide");
    auto nan = make({2, 2}, {1, std::numeric_limits<float>::quiet_NaN(), 3, 4});
    expect_error([&] { hone::quantizer().quantize(nan, "fc2.weight"); },
                 hone::status::invalid_argument, "fc2.weight");
    auto inf = make({2, 2}, {1, 2, -std::numeric_limits<float>::infinity(), 4});
    expect_error([&] { hone::quantizer().quantize(inf, "fc3.weight"); },
                 hone::status::invalid_argument, "non-finite");
    hone::tensor empty(hone::dtype::f32, {0, 4});
    expect_error([&] { hone::quantizer().quantize(empty, "emb"); }, hone::status::invalid_argument,
                 "empty");
    expect_error([&] { rtn(w, {.channel_axis = 2}); }, hone::status::invalid_argument, "axis");
    expect_error([&] { hone::quantizer({.spec = {.scale_type = hone::dtype::i8}}); },
                 hone::status::invalid_argument, "scale_type");
    hone::tensor ints(hone::dtype::i8, {2, 2});
    expect_error([&] { hone::quantizer().quantize(ints, "ints"); }, hone::status::dtype_mismatch,
                 "ints");
}
