// Weight-only int4 group-wise: packed bytes, exact dequantization, GEMV/GEMM on every tier
// against a naive double reference computed here from the raw nibbles, and the error paths.
#include "hone/core/half.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/weight_only.hpp"
#include "isa_tiers.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

namespace hk = hone::kernels;
using hone::dtype;

constexpr float pinf = std::numeric_limits<float>::infinity();
constexpr float qnan = std::numeric_limits<float>::quiet_NaN();
const double u = std::ldexp(1.0, -24);

/// Random packed weights: every nibble value, positive scales over a few octaves, zero points.
hk::int4_weights random_weights(std::int64_t n, std::int64_t k, std::int64_t g, bool symmetric,
                                dtype scale_type, unsigned seed) {
    std::mt19937 rng(seed);
    const std::int64_t groups = k / g;
    hk::int4_weights w{
        hone::tensor(symmetric ? dtype::i4 : dtype::u4, {n, k}),
        hone::tensor(scale_type, {n, groups}),
        symmetric ? hone::tensor(dtype::u4, {0}) : hone::tensor(dtype::u4, {n, groups}), g};
    for (std::size_t i = 0; i < w.weights.nbytes(); ++i)
        static_cast<std::uint8_t*>(w.weights.data())[i] = static_cast<std::uint8_t>(rng());
    for (std::size_t i = 0; i < w.zero_points.nbytes(); ++i)
        static_cast<std::uint8_t*>(w.zero_points.data())[i] = static_cast<std::uint8_t>(rng());
    std::uniform_real_distribution<float> mant(1.0f, 2.0f);
    for (std::int64_t i = 0; i < n * groups; ++i) {
        const float s = std::ldexp(mant(rng), int(rng() % 6) - 9);
        if (scale_type == dtype::f16)
            w.scales.span<hone::half>()[std::size_t(i)] = hone::to_half(s);
        else
            w.scales.span<float>()[std::size_t(i)] = s;
    }
    return w;
}

int nib(const void* p, std::int64_t i) {
    return (static_cast<const std::uint8_t*>(p)[i >> 1] >> ((i & 1) * 4)) & 0xf;
}

/// w[r, c] from the raw bytes, as docs/formats.md defines it (independent of the library).
double weight_at(const hk::int4_weights& w, std::int64_t r, std::int64_t c) {
    const std::int64_t k = w.cols(), groups = k / w.group_size, j = r * groups + c / w.group_size;
    const int raw = nib(w.weights.data(), r * k + c);
    const int q = w.symmetric() ? (raw >= 8 ? raw - 16 : raw) : raw;
    const int zp = w.symmetric() ? 0 : nib(w.zero_points.data(), j);
    const double s = w.scales.type() == dtype::f16
                         ? hone::to_float(w.scales.span<hone::half>()[std::size_t(j)])
                         : w.scales.span<float>()[std::size_t(j)];
    return (q - zp) * s;
}

struct exact_row {
    double value;     ///< Σ w·x (+ bias) in double
    double magnitude; ///< Σ |w·x| + |bias|
};

exact_row exact(const hk::int4_weights& w, const float* x, std::int64_t r, const float* bias) {
    exact_row e{0, 0};
    for (std::int64_t c = 0; c < w.cols(); ++c) {
        const double t = weight_at(w, r, c) * x[c];
        e.value += t;
        e.magnitude += std::fabs(t);
    }
    if (bias) {
        e.value += bias[r];
        e.magnitude += std::fabs(bias[r]);
    }
    return e;
}

/// The documented GEMV bound (g + K/g + 16)·2⁻²⁴·magnitude, plus underflow slack.
double gemv_tolerance(const hk::int4_weights& w, double magnitude) {
    const std::int64_t k = w.cols(), g = w.group_size;
    return double(g + k / g + 16) * u * magnitude + double(k + 2) * std::ldexp(1.0, -140);
}

/// y matches the exact value: same NaN-ness, same infinity, else within tol.
void check_value(float y, const exact_row& e, double tol) {
    if (std::isnan(e.value)) {
        CHECK(std::isnan(y));
    } else if (std::isinf(e.value)) {
        CHECK(double(y) == e.value);
    } else {
        CHECK(std::isfinite(y));
        CHECK(std::fabs(double(y) - e.value) <= tol);
    }
}

std::vector<float> random_x(std::int64_t k, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> x(std::size_t(k + 0));
    for (float& v : x)
        v = normal(rng);
    return x;
}

template <class T>
hone::const_tensor_view view_of(const std::vector<T>& v, dtype t, hone::shape s) {
    return hone::make_view(v.data(), v.size() * sizeof(T), t, s);
}

struct case_shape {
    std::int64_t n, k, g;
};

const case_shape shapes[] = {{1, 2, 2},      {1, 32, 32},     {3, 64, 32},    {7, 96, 32},
                             {17, 128, 64},  {33, 256, 128},  {13, 160, 160}, {9, 48, 16},
                             {5, 100, 50},   {11, 72, 12},    {0, 64, 32},    {4, 0, 32},
                             {65, 384, 128}, {200, 1024, 256}};

} // namespace

TEST_CASE("int4 packed bytes: element 2i in the low nibble, two's complement i4") {
    // w = [1, -2, 7, -8] with scale 1 → q = the same → nibbles 1, e, 7, 8.
    const std::vector<float> w = {1, -2, 7, -8};
    const std::vector<float> s = {1.0f, 1.0f};
    const auto q =
        hk::int4_pack(view_of(w, dtype::f32, {1, 4}), view_of(s, dtype::f32, {1, 2}), {}, 2);
    REQUIRE(q.weights.type() == dtype::i4);
    REQUIRE(q.weights.nbytes() == 2);
    const auto* b = static_cast<const std::uint8_t*>(q.weights.data());
    CHECK(b[0] == 0xe1);
    CHECK(b[1] == 0x87);
    CHECK(q.zero_points.numel() == 0);
    CHECK(q.symmetric());
}

TEST_CASE("int4_pack: round half to even, saturation, asymmetric zero points packed as u4") {
    // Two rows, K = 6, g = 2 → 3 groups per row; zero points [[3, 0, 15], [1, 2, 9]].
    const std::vector<float> w = {0.25f, 0.75f,  -100.f, 100.f, 0.0f, -1.0f, //
                                  1.25f, -0.25f, 0.5f,   1.0f,  2.0f, 3.0f};
    const std::vector<float> s = {0.5f, 1.0f, 0.5f, 0.5f, 0.5f, 1.0f};
    const std::vector<std::uint8_t> zp = {3, 0, 15, 1, 2, 9};
    const auto q = hk::int4_pack(view_of(w, dtype::f32, {2, 6}), view_of(s, dtype::f32, {2, 3}),
                                 view_of(zp, dtype::u8, {2, 3}), 2);
    REQUIRE(q.weights.type() == dtype::u4);
    // row 0: 0.5→0 (+3)=3, 1.5→2 (+3)=5, -100→0 (sat), 100→15 (sat), 0→15, -2→13
    // row 1: 2.5→2 (+1)=3, -0.5→-0 (+1)=1, 1 (+2)=3, 2 (+2)=4, 2 (+9)=11, 3 (+9)=12
    const std::vector<std::uint8_t> want = {0x53, 0xf0, 0xdf, 0x13, 0x43, 0xcb};
    const auto* b = static_cast<const std::uint8_t*>(q.weights.data());
    for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        CHECK(b[i] == want[i]);
    }
    // Zero points: flat u4 [2, 3] → nibbles 3,0,15,1,2,9 → bytes 0x03, 0x1f, 0x92.
    REQUIRE(q.zero_points.nbytes() == 3);
    const auto* z = static_cast<const std::uint8_t*>(q.zero_points.data());
    CHECK(z[0] == 0x03);
    CHECK(z[1] == 0x1f);
    CHECK(z[2] == 0x92);
    // Same zero points given as u4.
    const auto q2 = hk::int4_pack(view_of(w, dtype::f32, {2, 6}), view_of(s, dtype::f32, {2, 3}),
                                  hone::make_view(z, 3, dtype::u4, {2, 3}), 2);
    CHECK(std::memcmp(q2.weights.data(), q.weights.data(), 6) == 0);
}

TEST_CASE(
    "int4_quantize chooses scales: symmetric max|w|/7, asymmetric over [min(0,lo), max(0,hi)]") {
    const std::vector<float> w = {-7.0f, 3.5f, 0.0f, 7.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    const auto sym = hk::int4_quantize(view_of(w, dtype::f32, {2, 4}), {4, true, dtype::f32});
    CHECK(sym.scales.span<float>()[0] == 1.0f);
    CHECK(sym.scales.span<float>()[1] == 1.0f); // all-zero group
    const auto* b = static_cast<const std::uint8_t*>(sym.weights.data());
    CHECK(b[0] == 0x49); // -7 → 0x9, 3.5 → 4 (half to even)
    CHECK(b[1] == 0x70);
    CHECK(b[2] == 0x00);

    const std::vector<float> a = {1.0f, 2.0f, 4.0f, 16.0f, -3.0f, 0.0f, 12.0f, 1.5f};
    const auto asym = hk::int4_quantize(view_of(a, dtype::f32, {1, 8}), {4, false, dtype::f16});
    REQUIRE(asym.scales.type() == dtype::f16);
    // group 0: [0, 16] → s = 16/15, zp 0; group 1: [-3, 12] → s = 1, zp 3.
    CHECK(asym.scales.span<hone::half>()[0] == hone::to_half(16.0f / 15.0f));
    CHECK(asym.scales.span<hone::half>()[1] == hone::to_half(1.0f));
    CHECK(nib(asym.zero_points.data(), 0) == 0);
    CHECK(nib(asym.zero_points.data(), 1) == 3);
    CHECK(nib(asym.weights.data(), 4) == 0);  // -3 + 3
    CHECK(nib(asym.weights.data(), 6) == 15); // 12 + 3
    CHECK(nib(asym.weights.data(), 7) == 5);  // 1.5 → 2 (half to even) + 3
}

TEST_CASE("int4 round trip: |dequantize(quantize(w)) − w| ≤ scale/2 unless saturated") {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    std::vector<float> w(64 * 256);
    for (float& v : w)
        v = normal(rng);
    for (bool symmetric : {true, false}) {
        const auto q = hk::int4_quantize(view_of(w, dtype::f32, {64, 256}), {64, symmetric});
        hone::tensor d(dtype::f32, {64, 256});
        hk::int4_dequantize(q.view(), d);
        for (std::int64_t i = 0; i < 64 * 256; ++i) {
            const float s = q.scales.span<float>()[std::size_t(i / 64)];
            CHECK(std::fabs(d.span<float>()[std::size_t(i)] - w[std::size_t(i)]) <=
                  0.5f * s * 1.0001f);
        }
    }
}

TEST_CASE("int4_dequantize: bit-exact (q − zp)·scale on every tier") {
    hone::test::for_each_tier([](hone::isa) {
        for (const auto& sh : shapes)
            for (bool symmetric : {true, false})
                for (dtype st : {dtype::f32, dtype::f16}) {
                    CAPTURE(sh.n);
                    CAPTURE(sh.k);
                    CAPTURE(sh.g);
                    CAPTURE(symmetric);
                    const auto w = random_weights(sh.n, sh.k, sh.g, symmetric, st, 11);
                    hone::tensor d(dtype::f32, {sh.n, sh.k});
                    hk::int4_dequantize(w.view(), d);
                    const auto got = d.span<float>();
                    bool all = true;
                    for (std::int64_t r = 0; r < sh.n; ++r)
                        for (std::int64_t c = 0; c < sh.k; ++c)
                            all = all && got[std::size_t(r * sh.k + c)] ==
                                             static_cast<float>(weight_at(w, r, c));
                    CHECK(all);
                }
    });
}

TEST_CASE("int4_gemv matches the exact product within the documented bound on every tier") {
    hone::test::for_each_tier([](hone::isa) {
        for (const auto& sh : shapes)
            for (bool symmetric : {true, false})
                for (dtype st : {dtype::f32, dtype::f16})
                    for (bool with_bias : {false, true}) {
                        CAPTURE(sh.n);
                        CAPTURE(sh.k);
                        CAPTURE(sh.g);
                        CAPTURE(symmetric);
                        CAPTURE(with_bias);
                        const auto w = random_weights(sh.n, sh.k, sh.g, symmetric, st, 3);
                        const auto x = random_x(sh.k, 4);
                        const auto bias = random_x(sh.n, 5);
                        std::vector<float> y(std::size_t(sh.n), -1.0f);
                        hk::int4_gemv(w.view(), x, y,
                                      with_bias ? std::span<const float>(bias)
                                                : std::span<const float>());
                        for (std::int64_t r = 0; r < sh.n; ++r) {
                            CAPTURE(r);
                            const auto e = exact(w, x.data(), r, with_bias ? bias.data() : nullptr);
                            check_value(y[std::size_t(r)], e, gemv_tolerance(w, e.magnitude));
                        }
                    }
    });
}

TEST_CASE("int4_gemv is bit-exact when every partial sum is exact, on every tier") {
    // Small-integer x and power-of-two scales: every product and sum is an exact f32, so every
    // tier must give exactly Σ w·x.
    hone::test::for_each_tier([](hone::isa) {
        std::mt19937 rng(8);
        for (const auto& sh : shapes) {
            CAPTURE(sh.k);
            CAPTURE(sh.g);
            auto w = random_weights(sh.n, sh.k, sh.g, sh.n % 2 == 0, dtype::f32, 9);
            for (float& s : w.scales.span<float>())
                s = std::ldexp(1.0f, int(rng() % 5) - 2);
            std::vector<float> x(std::size_t(sh.k));
            for (float& v : x)
                v = float(int(rng() % 17) - 8);
            std::vector<float> y(std::size_t(sh.n));
            hk::int4_gemv(w.view(), x, y);
            for (std::int64_t r = 0; r < sh.n; ++r)
                CHECK(double(y[std::size_t(r)]) == exact(w, x.data(), r, nullptr).value);
        }
    });
}

TEST_CASE("int4_gemv: special values in x propagate as the exact formula says") {
    const std::int64_t n = 24, k = 256, g = 64;
    hone::test::for_each_tier([&](hone::isa) {
        for (bool symmetric : {true, false}) {
            CAPTURE(symmetric);
            auto w = random_weights(n, k, g, symmetric, dtype::f32, 21);
            // Row 0: all-zero weights (0·inf = NaN); rows 1-2 keep random weights.
            auto* q = static_cast<std::uint8_t*>(w.weights.data());
            std::memset(q, symmetric ? 0x00 : 0x00, std::size_t(k / 2));
            if (!symmetric)
                for (std::int64_t j = 0; j < k / g; ++j) // zero point 0 → q − zp = 0
                    static_cast<std::uint8_t*>(w.zero_points.data())[j / 2] &=
                        static_cast<std::uint8_t>(j % 2 ? 0x0f : 0xf0);
            const float denorm = std::numeric_limits<float>::denorm_min();
            const std::vector<std::vector<float>> xs = {
                std::vector<float>(k, 0.0f),
                std::vector<float>(k, -0.0f),
                std::vector<float>(k, denorm),
                std::vector<float>(k, -3 * denorm),
                [&] {
                    auto v = random_x(k, 1);
                    v[5] = pinf;
                    return v;
                }(),
                [&] {
                    auto v = random_x(k, 2);
                    v[200] = -pinf;
                    return v;
                }(),
                [&] {
                    auto v = random_x(k, 3);
                    v[7] = pinf;
                    v[70] = -pinf;
                    return v;
                }(),
                [&] {
                    auto v = random_x(k, 4);
                    v[100] = qnan;
                    return v;
                }(),
                [&] {
                    auto v = random_x(k, 5);
                    v[0] = -0.0f;
                    v[1] = denorm;
                    return v;
                }(),
            };
            for (std::size_t t = 0; t < xs.size(); ++t) {
                CAPTURE(t);
                std::vector<float> y(n);
                hk::int4_gemv(w.view(), xs[t], y);
                for (std::int64_t r = 0; r < n; ++r) {
                    CAPTURE(r);
                    const auto e = exact(w, xs[t].data(), r, nullptr);
                    check_value(y[std::size_t(r)], e, gemv_tolerance(w, e.magnitude));
                    if (t < 2) CHECK_FALSE(std::signbit(y[std::size_t(r)])); // Σ from +0
                }
            }
        }
    });
}

TEST_CASE("int4_gemv: results do not depend on the thread count") {
    const auto w = random_weights(333, 4096, 128, false, dtype::f16, 31);
    const auto x = random_x(4096, 32);
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<float> first;
        for (int threads : {1, 2, 3, 7}) {
            hone::set_num_threads(threads);
            std::vector<float> y(333);
            hk::int4_gemv(w.view(), x, y);
            if (first.empty()) first = y;
            CHECK(std::memcmp(y.data(), first.data(), y.size() * 4) == 0);
        }
        hone::set_num_threads(0);
    });
}

TEST_CASE("int4_matmul: M = 1…33 (GEMV rows up to 16, then dequantize + oneDNN), rank-1 x, bias") {
    const case_shape mm_shapes[] = {{1, 32, 32}, {7, 96, 32}, {33, 256, 128}, {600, 4096, 128}};
    hone::test::for_each_tier([&](hone::isa) {
        for (const auto& sh : mm_shapes)
            for (std::int64_t m : {1, 2, 16, 17, 33}) {
                if (sh.n == 600 && m == 33) continue; // the block split is covered by m = 17
                CAPTURE(sh.n);
                CAPTURE(m);
                const auto w = random_weights(sh.n, sh.k, sh.g, m % 2 == 1, dtype::f32, 41);
                const auto x = random_x(m * sh.k, 42);
                const auto bias = random_x(sh.n, 43);
                hone::tensor y(dtype::f32, {m, sh.n});
                hk::int4_matmul(w.view(), view_of(x, dtype::f32, {m, sh.k}), y, bias);
                for (std::int64_t i = 0; i < m; ++i)
                    for (std::int64_t r = 0; r < sh.n; r += (sh.n > 100 ? 7 : 1)) {
                        const auto e = exact(w, x.data() + i * sh.k, r, bias.data());
                        const double tol = std::max(gemv_tolerance(w, e.magnitude),
                                                    double(sh.k + 2) * u * e.magnitude);
                        check_value(y.span<float>()[std::size_t(i * sh.n + r)], e, tol);
                    }
            }
        const auto w = random_weights(5, 64, 32, true, dtype::f32, 1);
        const auto x = random_x(64, 2);
        hone::tensor y1(dtype::f32, {5});
        hk::int4_matmul(w.view(), view_of(x, dtype::f32, {64}), y1);
        std::vector<float> y2(5);
        hk::int4_gemv(w.view(), x, y2);
        CHECK(std::memcmp(y1.data(), y2.data(), 20) == 0);
        hone::tensor empty(dtype::f32, {0, 5});
        hk::int4_matmul(w.view(), view_of(x, dtype::f32, {0, 64}), empty);
    });
}

TEST_CASE("int4_copy copies the packed parts exactly") {
    const auto w = random_weights(9, 96, 32, false, dtype::f16, 2);
    const auto c = hk::int4_copy(w.view());
    CHECK(c.group_size == 32);
    CHECK(c.nbytes() == w.nbytes());
    CHECK(std::memcmp(c.weights.data(), w.weights.data(), w.weights.nbytes()) == 0);
    CHECK(std::memcmp(c.scales.data(), w.scales.data(), w.scales.nbytes()) == 0);
    CHECK(std::memcmp(c.zero_points.data(), w.zero_points.data(), w.zero_points.nbytes()) == 0);
    CHECK(w.nbytes() == 9 * 48 + 9 * 3 * 2 + 14);
}

namespace {

template <class Fn> void check_error(Fn&& fn, hone::status code, const std::string& needle) {
    try {
        fn();
        FAIL("no error thrown; expected: " << needle);
    } catch (const hone::error& e) {
        CAPTURE(e.what());
        CHECK(e.code() == code);
        CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
}

} // namespace

TEST_CASE("weight-only errors: group size, shapes, dtypes, null buffers, bad values") {
    using hone::status;
    const std::vector<float> w(4 * 64, 0.5f);
    const auto wv = view_of(w, dtype::f32, {4, 64});
    check_error([&] { hk::int4_quantize(wv, {48}); }, status::invalid_argument,
                "group_size 48 does not divide K = 64");
    check_error([&] { hk::int4_quantize(wv, {3}); }, status::invalid_argument,
                "group_size 3 must be even");
    check_error([&] { hk::int4_quantize(wv, {0}); }, status::invalid_argument,
                "group_size 0 must be even");
    check_error([&] { hk::int4_quantize(view_of(w, dtype::f32, {256}), {32}); },
                status::shape_mismatch, "src must be [N, K]");
    check_error(
        [&] {
            hk::int4_quantize(wv, {32, true, dtype::bf16});
        },
        status::dtype_mismatch, "scale_type must be f32 or f16");
    std::vector<float> bad = w;
    bad[70] = qnan;
    check_error(
        [&] {
            hk::int4_quantize(view_of(bad, dtype::f32, {4, 64}), {32});
        },
        status::invalid_argument, "weight [1, 6] is nan, not finite");
    std::vector<float> huge(64, 1e6f);
    check_error(
        [&] {
            hk::int4_quantize(view_of(huge, dtype::f32, {1, 64}), {32, true, dtype::f16});
        },
        status::invalid_argument, "outside the f16 range");
    const std::vector<std::int32_t> ints(8, 1);
    check_error(
        [&] {
            hk::int4_quantize(view_of(ints, dtype::i32, {1, 8}), {4});
        },
        status::dtype_mismatch, "src must be f32, got i32");

    const std::vector<float> s2(4 * 2, 1.0f), s_neg = {1, 1, 1, -1, 1, 1, 1, 1}, s3(12, 1.0f);
    check_error(
        [&] {
            hk::int4_pack(wv, view_of(s3, dtype::f32, {4, 3}), {}, 32);
        },
        status::shape_mismatch, "scales must be [N, K/group_size] = [4, 2]");
    check_error(
        [&] {
            hk::int4_pack(wv, view_of(s_neg, dtype::f32, {4, 2}), {}, 32);
        },
        status::invalid_argument, "scale [1, 1] is -1");
    const std::vector<std::uint8_t> zp16(8, 16);
    check_error(
        [&] {
            hk::int4_pack(wv, view_of(s2, dtype::f32, {4, 2}), view_of(zp16, dtype::u8, {4, 2}),
                          32);
        },
        status::invalid_argument, "zero point [0, 0] is 16");
    check_error(
        [&] {
            hk::int4_pack(wv, view_of(s2, dtype::f32, {4, 2}), view_of(ints, dtype::i32, {4, 2}),
                          32);
        },
        status::dtype_mismatch, "zero_points must be u4 or u8");

    const auto good = random_weights(4, 64, 32, false, dtype::f32, 1);
    const std::vector<float> x(64, 1.0f);
    std::vector<float> y(4);
    auto v = good.view();
    v.group_size = 48;
    check_error([&] { hk::int4_gemv(v, x, y); }, status::invalid_argument,
                "group_size 48 does not divide K = 64");
    v = good.view();
    v.weights = view_of(w, dtype::f32, {4, 64});
    check_error([&] { hk::int4_gemv(v, x, y); }, status::dtype_mismatch,
                "weights must be i4 (symmetric) or u4 (asymmetric), got f32");
    v = good.view();
    v.scales = view_of(ints, dtype::i32, {4, 2});
    check_error([&] { hk::int4_gemv(v, x, y); }, status::dtype_mismatch,
                "scales must be f32 or f16, got i32");
    v = good.view();
    v.scales = view_of(s2, dtype::f32, {2, 4});
    check_error([&] { hk::int4_gemv(v, x, y); }, status::shape_mismatch,
                "scales must be [N, K/group_size] = [4, 2], got [2, 4]");
    v = good.view();
    v.zero_points = {};
    check_error([&] { hk::int4_gemv(v, x, y); }, status::invalid_argument,
                "asymmetric u4 weights need zero points");
    v = good.view();
    v.zero_points = good.scales.view();
    check_error([&] { hk::int4_gemv(v, x, y); }, status::dtype_mismatch,
                "zero_points must be u4, got f32");
    const auto sym = random_weights(4, 64, 32, true, dtype::f32, 1);
    v = sym.view();
    v.zero_points = good.zero_points.view();
    check_error([&] { hk::int4_gemv(v, x, y); }, status::invalid_argument,
                "symmetric i4 weights take no zero points");
    v = sym.view();
    v.weights = hone::const_tensor_view(nullptr, dtype::i4, {4, 64}, {64, 1});
    check_error([&] { hk::int4_gemv(v, x, y); }, status::invalid_argument,
                "weights have a null buffer");
    v = sym.view();
    v.scales = hone::const_tensor_view(nullptr, dtype::f32, {4, 2}, {2, 1});
    check_error([&] { hk::int4_gemv(v, x, y); }, status::invalid_argument,
                "scales has a null buffer");
    const std::vector<float> scales_t(8, 1.0f);
    v = sym.view();
    v.scales =
        hone::make_view(scales_t.data(), 32, dtype::f32, {4, 2}, std::vector<std::int64_t>{1, 4});
    check_error([&] { hk::int4_gemv(v, x, y); }, status::invalid_argument,
                "scales must be contiguous");

    check_error([&] { hk::int4_gemv(sym.view(), std::span<const float>(x).first(63), y); },
                status::shape_mismatch, "x has 63 values, expected K = 64");
    check_error([&] { hk::int4_gemv(sym.view(), x, std::span<float>(y).first(3)); },
                status::shape_mismatch, "y has 3 values, expected N = 4");
    check_error([&] { hk::int4_gemv(sym.view(), x, y, std::span<const float>(x).first(5)); },
                status::shape_mismatch, "bias has 5 values, expected N = 4");
    check_error(
        [&] {
            hk::int4_gemv(sym.view(),
                          std::span<const float>(static_cast<const float*>(nullptr), 64), y);
        },
        status::invalid_argument, "x or y is null");

    hone::tensor ym(dtype::f32, {2, 4}), x16(dtype::f16, {2, 64}), xm(dtype::f32, {2, 64});
    check_error([&] { hk::int4_matmul(sym.view(), x16, ym); }, status::dtype_mismatch,
                "x must be f32, got f16");
    check_error([&] { hk::int4_matmul(sym.view(), xm, x16); }, status::dtype_mismatch,
                "y must be f32, got f16");
    hone::tensor x3(dtype::f32, {2, 63});
    check_error([&] { hk::int4_matmul(sym.view(), x3, ym); }, status::shape_mismatch,
                "x is [2, 63] but the weights have K = 64");
    hone::tensor y3(dtype::f32, {3, 4});
    check_error([&] { hk::int4_matmul(sym.view(), xm, y3); }, status::shape_mismatch,
                "y must be [2, 4], got [3, 4]");
    hone::tensor big(dtype::f32, {2, 64});
    check_error([&] { hk::int4_matmul(sym.view(), big, big.view().slice(1, 0, 4)); },
                status::invalid_argument, "contiguous");
    auto alias = hone::make_view(big.data(), big.nbytes(), dtype::f32, {2, 4});
    check_error([&] { hk::int4_matmul(sym.view(), big, alias); }, status::invalid_argument,
                "y must not overlap x");
    hone::tensor d_bad(dtype::f32, {4, 63});
    check_error([&] { hk::int4_dequantize(sym.view(), d_bad); }, status::shape_mismatch,
                "dst must be [N, K] = [4, 64], got [4, 63]");
}
