// MaxPool, AveragePool (pads, strides, ceil_mode, count_include_pad), global pools, Resize.
#include "../../src/graph/ops/pool_reference.hpp"
#include "ops_test_util.hpp"

#include <hone/graph/executor.hpp>

#include <bit>
#include <numeric>

namespace ops = hone::ops;
using namespace ops_test;
using hone::shape;
using hone::status;

namespace {
hone::tensor iota_f32(const shape& dims, float start = 1) {
    std::vector<float> v(static_cast<std::size_t>(dims.numel()));
    std::iota(v.begin(), v.end(), start);
    return f32(dims, v);
}
ops::pool_params pool2(std::int64_t k, std::int64_t s, std::vector<std::int64_t> pads = {},
                       bool ceil = false, bool include_pad = false) {
    ops::pool_params p;
    p.spatial.kernel_shape = {k, k};
    p.spatial.strides = {s, s};
    p.spatial.pads = std::move(pads);
    p.ceil_mode = ceil;
    p.count_include_pad = include_pad;
    return p;
}
} // namespace

TEST_CASE("max_pool and average_pool: known values") {
    // 4x4 input 1..16.
    const auto x = iota_f32({1, 1, 4, 4});
    check_values(ops::max_pool(x, pool2(2, 2)), {1, 1, 2, 2}, {6, 8, 14, 16});
    check_values(ops::average_pool(x, pool2(2, 2)), {1, 1, 2, 2}, {3.5f, 5.5f, 11.5f, 13.5f});
    // 3x3 stride 2 with pad 1: windows clipped at the border.
    check_values(ops::max_pool(x, pool2(3, 2, {1, 1, 1, 1})), {1, 1, 2, 2}, {6, 8, 14, 16});
    // Average without pad counting: top-left window covers 1,2,5,6.
    check_values(ops::average_pool(x, pool2(3, 2, {1, 1, 1, 1})), {1, 1, 2, 2},
                 {3.5f, 5, 9.5f, 11});
    // count_include_pad: divide by 9.
    check_values(ops::average_pool(x, pool2(3, 2, {1, 1, 1, 1}, false, true)), {1, 1, 2, 2},
                 {14.0f / 9, 30.0f / 9, 57.0f / 9, 99.0f / 9});
    // ceil_mode: 4 wide, k 3, s 2: floor gives 1, ceil gives 2 (the last window clipped).
    check_values(ops::max_pool(x, pool2(3, 2)), {1, 1, 1, 1}, {11});
    check_values(ops::max_pool(x, pool2(3, 2, {}, true)), {1, 1, 2, 2}, {11, 12, 15, 16});
    check_values(ops::average_pool(x, pool2(3, 2, {}, true)), {1, 1, 2, 2}, {6, 7.5f, 12, 13.5f});
    // count_include_pad with ceil_mode: positions past the end padding do not count.
    check_values(ops::average_pool(x, pool2(3, 2, {}, true, true)), {1, 1, 2, 2},
                 {6, 7.5f, 12, 13.5f});
    // ceil_mode drops a last window that would start in the end padding: 5 wide, k 2, s 2,
    // pad 1/1 → (5 + 2 − 2)/2 = 2.5 → ceil 3 → 4 positions, the 4th starts at 6 ≥ 5 + 1.
    const auto y = iota_f32({1, 1, 1, 5});
    ops::pool_params p;
    p.spatial.kernel_shape = {1, 2};
    p.spatial.strides = {1, 2};
    p.spatial.pads = {0, 1, 0, 1};
    p.ceil_mode = true;
    check_values(ops::max_pool(y, p), {1, 1, 1, 3}, {1, 3, 5});
    // SAME_UPPER: 5 wide, k 2, s 2 → 3 outputs, pad 1 at the end.
    p.spatial.pads.clear();
    p.ceil_mode = false;
    p.spatial.padding = ops::auto_pad::same_upper;
    check_values(ops::max_pool(y, p), {1, 1, 1, 3}, {2, 4, 5});
    p.spatial.padding = ops::auto_pad::same_lower;
    check_values(ops::max_pool(y, p), {1, 1, 1, 3}, {1, 3, 5});
    // Dilated max pool, 1-D.
    ops::pool_params d;
    d.spatial.kernel_shape = {2};
    d.spatial.dilations = {2};
    check_values(ops::max_pool(f32({1, 1, 5}, {5, 1, 4, 2, 3}), d), {1, 1, 3}, {5, 2, 4});
    // NaN propagates through max.
    CHECK(
        std::isnan(ops::max_pool(f32({1, 1, 2, 2}, {1, NAN, 3, 4}), pool2(2, 2)).span<float>()[0]));
}

TEST_CASE("pools: errors and 3-D") {
    const auto x = iota_f32({1, 1, 4, 4});
    error_of([&] { (void)ops::max_pool(x, {}); }, status::invalid_argument);
    error_of([&] { (void)ops::max_pool(x, pool2(5, 1)); }, status::shape_mismatch);
    error_of(
        [&] {
            (void)ops::max_pool(f32({4}, {1, 2, 3, 4}), pool2(1, 1));
        },
        status::shape_mismatch);
    error_of([&] { (void)ops::average_pool(x, pool2(2, 1, {1, 1})); }, status::invalid_argument);
    ops::pool_params p3;
    p3.spatial.kernel_shape = {2, 2, 2};
    const auto v = iota_f32({1, 2, 2, 2, 2});
    check_values(ops::average_pool(v, p3), {1, 2, 1, 1, 1}, {4.5f, 12.5f});
    check_values(ops::max_pool(v, p3), {1, 2, 1, 1, 1}, {8, 16});
}

namespace {
std::size_t differing_bits(const hone::tensor& got, const hone::tensor& want) {
    REQUIRE(got.dims() == want.dims());
    const auto a = got.span<const float>(), b = want.span<const float>();
    std::size_t differ = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        differ += std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]);
    return differ;
}

const std::int64_t to_nhwc[] = {0, 2, 3, 1};
const std::int64_t to_nchw[] = {0, 3, 1, 2};

// Bitwise comparison of the fast row-wise pools, and for 2-D pools of the NHWC ones (on x
// transposed, the result transposed back), against the direct reference loops.
void check_same_as_reference(const hone::tensor& x, const ops::pool_params& p) {
    for (const bool max : {true, false}) {
        const auto fast = max ? ops::max_pool(x, p) : ops::average_pool(x, p);
        const auto ref = ops::detail::pool_reference(x, p, max);
        INFO("max=", max, " x ", x.dims().to_string(), " y ", fast.dims().to_string());
        CHECK(differing_bits(fast, ref) == 0);
        if (x.dims().rank() != 4) continue;
        const auto xt = ops::transpose(x, to_nhwc);
        const auto nhwc = max ? ops::max_pool_nhwc(xt, p) : ops::average_pool_nhwc(xt, p);
        CHECK(differing_bits(ops::transpose(nhwc, to_nchw), ref) == 0);
    }
}
} // namespace

TEST_CASE("pools: the row-wise path equals the direct loops bitwise on random inputs") {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    std::uniform_int_distribution<int> pick(0, 9);
    // Values with ties, signed zeros (as after Relu), infinities and NaNs in some cases.
    const auto fill = [&](const shape& dims, bool specials) {
        std::vector<float> v(static_cast<std::size_t>(dims.numel()));
        for (auto& e : v) {
            e = normal(rng);
            if (!specials) continue;
            switch (pick(rng)) {
            case 0: e = 0.0f; break;
            case 1: e = -0.0f; break;
            case 2: e = std::round(e); break;
            case 3:
                if (pick(rng) == 0) e = NAN;
                break;
            case 4:
                if (pick(rng) == 0) e = -INFINITY;
                break;
            default: break;
            }
        }
        return f32(dims, v);
    };
    std::int64_t cases = 0;
    for (const std::int64_t size : {1, 2, 5, 7, 14, 28})
        for (const std::int64_t k : {1, 2, 3})
            for (const std::int64_t s : {1, 2, 3})
                for (const std::int64_t pad : {0, 1, 2})
                    for (const bool ceil : {false, true})
                        for (const bool include : {false, true}) {
                            if (pad >= k) continue; // ONNX: pads must be smaller than the kernel
                            ops::pool_params p = pool2(k, s, {pad, 0, pad, pad}, ceil, include);
                            p.spatial.kernel_shape = {k, k + 1}; // unequal kernel per axis
                            if (pad >= k + 1 || size + 2 * pad < k + 1) continue;
                            const shape dims{2, 3, size + 1, size};
                            bool ok = true;
                            try {
                                (void)ops::detail::pool_reference(fill(dims, false), p, true);
                            } catch (const hone::error&) {
                                ok = false; // output would be empty for this combination
                            }
                            if (!ok) continue;
                            check_same_as_reference(fill(dims, (cases % 2) == 1), p);
                            ++cases;
                        }
    CHECK(cases > 300);
    // Dilations, strides per axis, 1-D and 3-D, SAME padding.
    ops::pool_params d;
    d.spatial.kernel_shape = {3, 2};
    d.spatial.dilations = {2, 3};
    d.spatial.strides = {1, 2};
    d.spatial.pads = {2, 1, 1, 2};
    d.ceil_mode = true;
    check_same_as_reference(fill({2, 2, 11, 13}, true), d);
    ops::pool_params one;
    one.spatial.kernel_shape = {4};
    one.spatial.strides = {3};
    one.spatial.pads = {2, 3};
    one.ceil_mode = true;
    one.count_include_pad = true;
    check_same_as_reference(fill({3, 2, 17}, true), one);
    ops::pool_params three;
    three.spatial.kernel_shape = {2, 3, 2};
    three.spatial.strides = {2, 1, 2};
    three.spatial.pads = {1, 1, 0, 0, 1, 1};
    three.count_include_pad = true;
    check_same_as_reference(fill({2, 3, 5, 6, 7}, true), three);
    ops::pool_params same;
    same.spatial.kernel_shape = {3, 3};
    same.spatial.strides = {2, 2};
    same.spatial.padding = ops::auto_pad::same_lower;
    check_same_as_reference(fill({1, 4, 9, 10}, true), same);
    same.spatial.padding = ops::auto_pad::same_upper;
    check_same_as_reference(fill({1, 4, 9, 10}, true), same);
    // The CNN fixture's shapes: 2x2 stride 2 on [64, 8, 28, 28] and [64, 16, 14, 14].
    check_same_as_reference(fill({64, 8, 28, 28}, true), pool2(2, 2));
    check_same_as_reference(fill({64, 16, 14, 14}, true), pool2(2, 2));
}

TEST_CASE("global pools") {
    const auto x = iota_f32({2, 3, 2, 2});
    const auto g = ops::global_average_pool(x);
    REQUIRE(g.dims() == shape{2, 3, 1, 1});
    check_values(g, {2, 3, 1, 1}, {2.5f, 6.5f, 10.5f, 14.5f, 18.5f, 22.5f});
    check_values(ops::global_max_pool(x), {2, 3, 1, 1}, {4, 8, 12, 16, 20, 24});
    // NHWC: the same bytes, NaN included, as [N, C, 1, 1].
    auto y = iota_f32({3, 5, 4, 6}, -40);
    y.span<float>()[7] = NAN;
    y.span<float>()[50] = -0.0f;
    const auto yt = ops::transpose(y, to_nhwc);
    CHECK(differing_bits(ops::global_average_pool_nhwc(yt), ops::global_average_pool(y)) == 0);
    CHECK(differing_bits(ops::global_max_pool_nhwc(yt), ops::global_max_pool(y)) == 0);
    CHECK(std::isnan(ops::global_max_pool_nhwc(yt).span<float>()[0]));
    error_of(
        [&] {
            (void)ops::global_average_pool_nhwc(iota_f32({3, 5, 24}));
        },
        status::shape_mismatch);
    ops::pool_params one_axis;
    one_axis.spatial.kernel_shape = {2};
    error_of([&] { (void)ops::max_pool_nhwc(yt, one_axis); }, status::invalid_argument);
    error_of(
        [&] {
            (void)ops::global_average_pool(f32({2, 2}, {1, 2, 3, 4}));
        },
        status::shape_mismatch);
}

TEST_CASE("resize nearest: the variants torch exports") {
    const auto x = f32({1, 1, 1, 3}, {1, 2, 3});
    ops::resize_params p;
    p.scales = {1, 1, 1, 2};
    // half_pixel + round_prefer_floor (ONNX defaults).
    check_values(ops::resize(x, p), {1, 1, 1, 6}, {1, 1, 2, 2, 3, 3});
    // asymmetric + floor (torch's nearest).
    p.transform = ops::coordinate_transform::asymmetric;
    p.nearest = ops::nearest_mode::floor;
    check_values(ops::resize(x, p), {1, 1, 1, 6}, {1, 1, 2, 2, 3, 3});
    // Downsampling, asymmetric floor: x/0.5 → 0, 2.
    p.scales = {1, 1, 1, 0.5f};
    check_values(ops::resize(f32({1, 1, 1, 4}, {1, 2, 3, 4}), p), {1, 1, 1, 2}, {1, 3});
    // round_prefer_ceil, half_pixel, scale 3 on 2 values: x_orig = (i+0.5)/3 − 0.5 = −1/3, 0,
    // 1/3, 2/3, 1, 4/3 → 0, 0, 0, 1, 1, 1.
    p.transform = ops::coordinate_transform::half_pixel;
    p.nearest = ops::nearest_mode::round_prefer_ceil;
    p.scales = {1, 1, 1, 3};
    check_values(ops::resize(f32({1, 1, 1, 2}, {5, 7}), p), {1, 1, 1, 6}, {5, 5, 5, 7, 7, 7});
    // Ties: sizes 5 → 2, asymmetric: x_orig = x / 0.4 = 0, 2.5.
    ops::resize_params s;
    s.sizes = {1, 1, 1, 2};
    s.transform = ops::coordinate_transform::asymmetric;
    s.nearest = ops::nearest_mode::round_prefer_ceil;
    const auto five = f32({1, 1, 1, 5}, {10, 11, 12, 13, 14});
    check_values(ops::resize(five, s), {1, 1, 1, 2}, {10, 13});
    s.nearest = ops::nearest_mode::round_prefer_floor;
    check_values(ops::resize(five, s), {1, 1, 1, 2}, {10, 12});
    s.nearest = ops::nearest_mode::floor;
    check_values(ops::resize(five, s), {1, 1, 1, 2}, {10, 12});
    // sizes 5 → 3: x / 0.6 = 0, 1.67, 3.33: ceil 0, 2, 4.
    s.sizes = {1, 1, 1, 3};
    s.nearest = ops::nearest_mode::ceil;
    check_values(ops::resize(five, s), {1, 1, 1, 3}, {10, 12, 14});
    // 2-D nearest ×2 on both spatial axes.
    ops::resize_params q;
    q.scales = {1, 1, 2, 2};
    q.transform = ops::coordinate_transform::asymmetric;
    q.nearest = ops::nearest_mode::floor;
    check_values(ops::resize(f32({1, 1, 2, 2}, {1, 2, 3, 4}), q), {1, 1, 4, 4},
                 {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
}

TEST_CASE("resize linear: half_pixel, pytorch_half_pixel, align_corners, asymmetric") {
    const auto x = f32({1, 1, 1, 2}, {1, 2});
    ops::resize_params p;
    p.mode = ops::resize_mode::linear;
    p.scales = {1, 1, 1, 2};
    check_values(ops::resize(x, p), {1, 1, 1, 4}, {1, 1.25f, 1.75f, 2});
    p.transform = ops::coordinate_transform::pytorch_half_pixel;
    check_values(ops::resize(x, p), {1, 1, 1, 4}, {1, 1.25f, 1.75f, 2});
    p.transform = ops::coordinate_transform::align_corners;
    check_values(ops::resize(x, p), {1, 1, 1, 4}, {1, 4.0f / 3, 5.0f / 3, 2});
    p.transform = ops::coordinate_transform::asymmetric;
    check_values(ops::resize(x, p), {1, 1, 1, 4}, {1, 1.5f, 2, 2});
    // pytorch_half_pixel to a single output gives x_orig = 0; half_pixel gives the middle.
    ops::resize_params one;
    one.mode = ops::resize_mode::linear;
    one.sizes = {1, 1, 1, 1};
    one.transform = ops::coordinate_transform::pytorch_half_pixel;
    check_values(ops::resize(f32({1, 1, 1, 4}, {1, 2, 3, 4}), one), {1, 1, 1, 1}, {1});
    one.transform = ops::coordinate_transform::half_pixel;
    check_values(ops::resize(f32({1, 1, 1, 4}, {1, 2, 3, 4}), one), {1, 1, 1, 1}, {2.5f});
    // Bilinear on a 2x2 → 3x3 with align_corners: the centre is the mean.
    ops::resize_params b;
    b.mode = ops::resize_mode::linear;
    b.sizes = {1, 1, 3, 3};
    b.transform = ops::coordinate_transform::align_corners;
    check_values(ops::resize(f32({1, 1, 2, 2}, {0, 2, 4, 6}), b), {1, 1, 3, 3},
                 {0, 1, 2, 2, 3, 4, 4, 5, 6});
}

TEST_CASE("resize: errors") {
    const auto x = f32({1, 1, 1, 2}, {1, 2});
    ops::resize_params p;
    error_of([&] { (void)ops::resize(x, p); }, status::invalid_argument); // neither
    p.scales = {1, 1, 1, 2};
    p.sizes = {1, 1, 1, 4};
    error_of([&] { (void)ops::resize(x, p); }, status::invalid_argument); // both
    p.sizes.clear();
    p.scales = {1, 1, 2};
    error_of([&] { (void)ops::resize(x, p); }, status::invalid_argument);
    p.scales = {1, 1, 1, -2};
    error_of([&] { (void)ops::resize(x, p); }, status::invalid_argument);
}

TEST_CASE("resize cubic: ONNX's backend test values (A = -0.75; A = -0.5 with exclude_outside)") {
    // Input 1×1×4×4 = 1…16, scales 2 (half_pixel): the first two output rows of ONNX's
    // resize_upsample_scales_cubic, and the first row of
    // resize_upsample_scales_cubic_A_n0p5_exclude_outside.
    std::vector<float> v(16);
    for (int i = 0; i < 16; ++i)
        v[static_cast<std::size_t>(i)] = static_cast<float>(i + 1);
    const auto x = f32({1, 1, 4, 4}, v);
    ops::resize_params p;
    p.mode = ops::resize_mode::cubic;
    p.scales = {1, 1, 2, 2};
    const auto y = ops::resize(x, p);
    REQUIRE(y.dims() == shape{1, 1, 8, 8});
    const std::vector<float> row0{0.47265625f, 0.76953125f, 1.24609375f, 1.875f,
                                  2.28125f,    2.91015625f, 3.38671875f, 3.68359375f};
    const std::vector<float> row1{1.66015625f, 1.95703125f, 2.43359375f, 3.0625f,
                                  3.46875f,    4.09765625f, 4.57421875f, 4.87109375f};
    const auto got = y.span<const float>();
    for (std::size_t i = 0; i < 8; ++i) {
        CHECK(got[i] == doctest::Approx(row0[i]).epsilon(1e-6));
        CHECK(got[8 + i] == doctest::Approx(row1[i]).epsilon(1e-6));
    }
    p.cubic_coeff_a = -0.5f;
    p.exclude_outside = true;
    const auto z = ops::resize(x, p);
    const std::vector<float> ex0{0.55882353f, 0.81494204f, 1.35698249f, 1.89705882f,
                                 2.39705882f, 2.93713516f, 3.47917561f, 3.73529412f};
    for (std::size_t i = 0; i < 8; ++i)
        CHECK(z.span<const float>()[i] == doctest::Approx(ex0[i]).epsilon(1e-6));
    // Scale 1 is the identity; downscaling keeps constants constant (weights sum to 1).
    ops::resize_params one;
    one.mode = ops::resize_mode::cubic;
    one.sizes = {1, 1, 4, 4};
    check_values(ops::resize(x, one), {1, 1, 4, 4}, v, 1e-6);
    ops::resize_params down;
    down.mode = ops::resize_mode::cubic;
    down.sizes = {1, 1, 3, 2};
    check_values(ops::resize(f32({1, 1, 4, 4}, std::vector<float>(16, 2.5f)), down), {1, 1, 3, 2},
                 std::vector<float>(6, 2.5f), 1e-6);
}

TEST_CASE(
    "resize cubic through the executor: cubic_coeff_a, exclude_outside; unsupported options") {
    hone::model m;
    m.inputs.push_back({"x", hone::dtype::f32, {{1, ""}, {1, ""}, {4, ""}, {4, ""}}});
    m.outputs.push_back({"y", hone::dtype::f32, {}});
    m.outputs.back().has_shape = false;
    auto sc = f32({4}, {1, 1, 2, 2});
    m.set_weight("scales", std::move(sc));
    hone::node r{"r", "Resize", "", {"x", "", "scales"}, {"y"}, {}};
    r.attributes["mode"] = hone::attribute::of_string("cubic");
    r.attributes["cubic_coeff_a"] = hone::attribute::of_float(-0.5f);
    r.attributes["exclude_outside"] = hone::attribute::of_int(1);
    m.nodes.push_back(r);
    std::vector<float> v(16);
    for (int i = 0; i < 16; ++i)
        v[static_cast<std::size_t>(i)] = static_cast<float>(i * i % 7);
    const auto x = f32({1, 1, 4, 4}, v);
    ops::resize_params p;
    p.mode = ops::resize_mode::cubic;
    p.scales = {1, 1, 2, 2};
    p.cubic_coeff_a = -0.5f;
    p.exclude_outside = true;
    hone::executor ex(m);
    check_close(ex.run(x.view()).at(0), ops::resize(x, p), 1e-6);
    m.nodes[0].attributes["antialias"] = hone::attribute::of_int(1);
    CHECK_THROWS_AS(hone::executor{m}, hone::error);
    m.nodes[0].attributes.erase("antialias");
    m.nodes[0].attributes["mode"] = hone::attribute::of_string("lanczos");
    CHECK_THROWS_AS(hone::executor{m}, hone::error);
}
