// Integer-operator ONNX forms (hone/io/onnx_integer.hpp) and the executor's integer operators:
// ONNX's own examples for DynamicQuantizeLinear / MatMulInteger / ConvInteger, MatMulNBits bytes
// against hand-made layouts, save → load round trips, and the Fashion-MNIST fixtures.
#include "../model/fixture_path.hpp"

#include <hone/core/error.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/io/onnx_integer.hpp>
#include <hone/io/qdq.hpp>
#include <hone/quantize/quantizer.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unistd.h>

using namespace hone;
namespace fs = std::filesystem;

namespace {

template <class T> tensor make(dtype t, shape dims, std::vector<T> v) {
    tensor x(t, std::move(dims));
    REQUIRE(static_cast<std::size_t>(x.numel()) == v.size());
    std::copy(v.begin(), v.end(), x.span<T>().begin());
    return x;
}

// A one-node model: graph inputs `ins` (f32 except as given), weights by name.
model one_node(node n, std::vector<value_info> ins, std::vector<std::string> outs) {
    model m;
    m.opset = 13;
    m.inputs = std::move(ins);
    for (auto& o : outs)
        m.outputs.push_back({o, dtype::f32, {}, false});
    m.nodes.push_back(std::move(n));
    return m;
}

node make_node(std::string op, std::vector<std::string> in, std::vector<std::string> out) {
    node n;
    n.name = op + "_0";
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

std::vector<tensor> run1(const model& m, std::vector<const_tensor_view> in) {
    executor ex(m);
    return ex.run(in);
}

std::string path_of(const executor& ex, const std::string& op) {
    for (const auto& r : ex.report())
        if (r.op_type == op) return r.path;
    return {};
}

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_test_onnx_integer_" + std::to_string(::getpid()));
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

model round_trip(const model& m, const std::string& name) {
    temp_dir d;
    const auto p = d.path / name;
    save_onnx(m, p);
    return load_onnx(p);
}

} // namespace

TEST_CASE("DynamicQuantizeLinear: the ONNX spec's examples") {
    auto m = one_node(make_node("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"}),
                      {{"x", dtype::f32, {{6, ""}}}}, {"y", "s", "z"});
    m.outputs[0].type = dtype::u8;
    m.outputs[2].type = dtype::u8;
    auto x = make<float>(dtype::f32, shape{6}, {0, 2, -3, -2.5f, 1.34f, 0.5f});
    auto r = run1(m, {x.view()});
    const std::vector<std::uint8_t> y1{153, 255, 0, 26, 221, 179};
    CHECK(std::equal(y1.begin(), y1.end(), r[0].span<const std::uint8_t>().begin()));
    CHECK(r[1].span<const float>()[0] == doctest::Approx(0.019607844).epsilon(1e-7));
    CHECK(r[2].span<const std::uint8_t>()[0] == 153);
    x = make<float>(dtype::f32, shape{6}, {-1.0f, -2.1f, -1.3f, -2.5f, -3.34f, -4.0f});
    r = run1(m, {x.view()});
    const std::vector<std::uint8_t> y2{191, 121, 172, 96, 42, 0};
    CHECK(std::equal(y2.begin(), y2.end(), r[0].span<const std::uint8_t>().begin()));
    CHECK(r[2].span<const std::uint8_t>()[0] == 255);
    // All zero: scale 1, zero point 0.
    x = make<float>(dtype::f32, shape{6}, {0, 0, 0, 0, 0, 0});
    r = run1(m, {x.view()});
    CHECK(r[1].span<const float>()[0] == 1.0f);
    CHECK(r[2].span<const std::uint8_t>()[0] == 0);
}

TEST_CASE("MatMulInteger: the ONNX spec's example, per-column zero points, errors") {
    auto m = one_node(make_node("MatMulInteger", {"a", "b", "az", "bz"}, {"y"}),
                      {{"a", dtype::u8, {{4, ""}, {3, ""}}}}, {"y"});
    m.outputs[0].type = dtype::i32;
    m.set_weight("b", make<std::uint8_t>(dtype::u8, shape{3, 2}, {1, 4, 2, 5, 3, 6}));
    m.set_weight("az", make<std::uint8_t>(dtype::u8, shape{}, {12}));
    m.set_weight("bz", make<std::uint8_t>(dtype::u8, shape{}, {0}));
    const auto a =
        make<std::uint8_t>(dtype::u8, shape{4, 3}, {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0});
    auto r = run1(m, {a.view()});
    const std::vector<std::int32_t> want{-38, -83, -44, -98, -50, -113, -56, -128};
    CHECK(std::equal(want.begin(), want.end(), r[0].span<const std::int32_t>().begin()));
    // i8 B with a zero point per column: y[:, c] = Σ (a − 12)(b − bz[c]).
    m.set_weight("b", make<std::int8_t>(dtype::i8, shape{3, 2}, {1, -4, 2, 5, -3, 6}));
    m.set_weight("bz", make<std::int8_t>(dtype::i8, shape{2}, {1, -2}));
    r = run1(m, {a.view()});
    for (std::int64_t i = 0; i < 4; ++i) {
        const std::int32_t a0 = 11 - i - 12, a1 = 7 - i - 12, a2 = 3 - i - 12;
        CHECK(r[0].span<const std::int32_t>()[static_cast<std::size_t>(i * 2)] ==
              a0 * 0 + a1 * 1 + a2 * -4);
        CHECK(r[0].span<const std::int32_t>()[static_cast<std::size_t>(i * 2 + 1)] ==
              a0 * -2 + a1 * 7 + a2 * 8);
    }
    // K disagreeing: the error names the node.
    m.set_weight("b", make<std::int8_t>(dtype::i8, shape{2, 2}, {1, 2, 3, 4}));
    try {
        (void)run1(m, {a.view()});
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(std::string(e.what()).find("MatMulInteger 'MatMulInteger_0'") != std::string::npos);
    }
}

TEST_CASE("ConvInteger: the ONNX spec's examples (no padding, padding)") {
    auto n = make_node("ConvInteger", {"x", "w", "xz"}, {"y"});
    auto m = one_node(n, {{"x", dtype::u8, {{1, ""}, {1, ""}, {3, ""}, {3, ""}}}}, {"y"});
    m.outputs[0].type = dtype::i32;
    m.set_weight("w", make<std::uint8_t>(dtype::u8, shape{1, 1, 2, 2}, {1, 1, 1, 1}));
    m.set_weight("xz", make<std::uint8_t>(dtype::u8, shape{}, {1}));
    const auto x = make<std::uint8_t>(dtype::u8, shape{1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10});
    auto r = run1(m, {x.view()});
    CHECK(r[0].dims() == shape{1, 1, 2, 2});
    const std::vector<std::int32_t> want{12, 16, 24, 28};
    CHECK(std::equal(want.begin(), want.end(), r[0].span<const std::int32_t>().begin()));
    m.nodes[0].attributes["pads"] = attribute::of_ints({1, 1, 1, 1});
    r = run1(m, {x.view()});
    const std::vector<std::int32_t> padded{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9};
    REQUIRE(r[0].dims() == shape{1, 1, 4, 4});
    CHECK(std::equal(padded.begin(), padded.end(), r[0].span<const std::int32_t>().begin()));
    // Two output channels, i8 weights with a zero point per channel, stride 2.
    m.nodes[0].attributes.clear();
    m.nodes[0].attributes["strides"] = attribute::of_ints({2, 2});
    m.nodes[0].inputs.push_back("wz");
    m.set_weight("w", make<std::int8_t>(dtype::i8, shape{2, 1, 1, 1}, {3, -1}));
    m.set_weight("wz", make<std::int8_t>(dtype::i8, shape{2}, {1, -3}));
    r = run1(m, {x.view()});
    const std::vector<std::int32_t> s2{2, 6, 14, 18, 2, 6, 14, 18}; // (x−1)·2 at (0,0),(0,2)...
    CHECK(std::equal(s2.begin(), s2.end(), r[0].span<const std::int32_t>().begin()));
}

namespace {
// ConvInteger written out directly: one int64 sum per output over the window, positions outside
// X skipped (X padded with its zero point). 1-D to 3-D; w_zp scalar or per output channel.
struct conv_case {
    std::vector<std::int64_t> x_dims, w_dims, strides, pads, dilations;
    std::int64_t group = 1;
    dtype x_type = dtype::u8, w_type = dtype::i8;
    bool per_channel_wz = false;
};

std::vector<std::int64_t> direct_conv_integer(const conv_case& cc, const std::vector<int>& x,
                                              const std::vector<int>& w, int xz,
                                              const std::vector<int>& wz,
                                              std::vector<std::int64_t>& out_dims) {
    const auto k = cc.x_dims.size() - 2;
    std::array<std::int64_t, 3> in{1, 1, 1}, ke{1, 1, 1}, st{1, 1, 1}, di{1, 1, 1}, pb{0, 0, 0},
        out{1, 1, 1};
    out_dims = {cc.x_dims[0], cc.w_dims[0]};
    for (std::size_t i = 0; i < k; ++i) {
        in[i] = cc.x_dims[2 + i], ke[i] = cc.w_dims[2 + i], st[i] = cc.strides[i];
        di[i] = cc.dilations[i], pb[i] = cc.pads[i];
        out[i] = (in[i] + cc.pads[i] + cc.pads[k + i] - di[i] * (ke[i] - 1) - 1) / st[i] + 1;
        out_dims.push_back(out[i]);
    }
    const auto n = cc.x_dims[0], c = cc.x_dims[1], m = cc.w_dims[0], cg = cc.w_dims[1];
    std::vector<std::int64_t> y;
    for (std::int64_t b = 0; b < n; ++b)
        for (std::int64_t oc = 0; oc < m; ++oc)
            for (std::int64_t o0 = 0; o0 < out[0]; ++o0)
                for (std::int64_t o1 = 0; o1 < out[1]; ++o1)
                    for (std::int64_t o2 = 0; o2 < out[2]; ++o2) {
                        const auto g = oc / (m / cc.group);
                        std::int64_t acc = 0;
                        for (std::int64_t ci = 0; ci < cg; ++ci)
                            for (std::int64_t a = 0; a < ke[0]; ++a)
                                for (std::int64_t bb = 0; bb < ke[1]; ++bb)
                                    for (std::int64_t e = 0; e < ke[2]; ++e) {
                                        const auto i0 = o0 * st[0] - pb[0] + a * di[0];
                                        const auto i1 = o1 * st[1] - pb[1] + bb * di[1];
                                        const auto i2 = o2 * st[2] - pb[2] + e * di[2];
                                        if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] ||
                                            i2 < 0 || i2 >= in[2])
                                            continue;
                                        const auto xi =
                                            (((b * c + g * cg + ci) * in[0] + i0) * in[1] + i1) *
                                                in[2] +
                                            i2;
                                        const auto wi =
                                            (((oc * cg + ci) * ke[0] + a) * ke[1] + bb) * ke[2] + e;
                                        acc += std::int64_t(x[std::size_t(xi)] - xz) *
                                               (w[std::size_t(wi)] - wz[wz.size() == 1 ? 0 : oc]);
                                    }
                        y.push_back(acc);
                    }
    return y;
}

template <class T>
tensor filled(dtype t, const std::vector<std::int64_t>& dims, const std::vector<int>& v) {
    tensor x(t, shape(std::span<const std::int64_t>(dims)));
    std::transform(v.begin(), v.end(), x.span<T>().begin(), [](int e) { return T(e); });
    return x;
}

tensor int8_tensor(dtype t, const std::vector<std::int64_t>& dims, const std::vector<int>& v) {
    return t == dtype::u8 ? filled<std::uint8_t>(t, dims, v) : filled<std::int8_t>(t, dims, v);
}
} // namespace

TEST_CASE("ConvInteger: exact against the direct sum (1-D to 3-D, groups, strides, dilations, "
          "pads, zero points, extreme values, reductions longer than 4096)") {
    const std::vector<conv_case> cases{
        {{2, 4, 9, 7}, {6, 2, 3, 3}, {2, 1}, {1, 0, 2, 1}, {1, 2}, 2, dtype::u8, dtype::i8, true},
        {{1, 3, 20}, {5, 3, 4}, {3}, {2, 1}, {2}, 1, dtype::i8, dtype::u8, false},
        {{1, 2, 4, 5, 3},
         {4, 1, 2, 3, 2},
         {1, 2, 1},
         {1, 0, 1, 0, 1, 1},
         {1, 1, 2},
         2,
         dtype::u8,
         dtype::u8,
         true},
        {{3, 6, 8, 8}, {6, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 6, dtype::u8, dtype::i8, false},
        {{1, 520, 3, 3},
         {7, 520, 3, 3},
         {1, 1},
         {1, 1, 1, 1},
         {1, 1},
         1,
         dtype::u8,
         dtype::i8,
         false}, // K = 4680 > 4096 at the extremes: one int32 partial sum would overflow
    };
    std::uint32_t seed = 7;
    const auto next = [&seed](int lo, int hi) {
        seed = seed * 1664525u + 1013904223u;
        return lo + int((seed >> 8) % std::uint32_t(hi - lo + 1));
    };
    for (std::size_t ci = 0; ci < cases.size(); ++ci) {
        CAPTURE(ci);
        const auto& cc = cases[ci];
        const bool last = ci + 1 == cases.size();
        const auto range = [](dtype t) {
            return t == dtype::u8 ? std::pair{0, 255} : std::pair{-128, 127};
        };
        const auto [xlo, xhi] = range(cc.x_type);
        const auto [wlo, whi] = range(cc.w_type);
        std::int64_t xn = 1, wn = 1;
        for (auto d : cc.x_dims)
            xn *= d;
        for (auto d : cc.w_dims)
            wn *= d;
        std::vector<int> x, w, wz;
        for (std::int64_t i = 0; i < xn; ++i)
            x.push_back(last ? xhi : next(xlo, xhi));
        for (std::int64_t i = 0; i < wn; ++i)
            w.push_back(last ? wlo : next(wlo, whi));
        const int xz = last ? xlo : next(xlo, xhi);
        for (std::int64_t i = 0; i < (cc.per_channel_wz ? cc.w_dims[0] : 1); ++i)
            wz.push_back(last ? whi : next(wlo, whi));
        std::vector<std::int64_t> out_dims;
        const auto want = direct_conv_integer(cc, x, w, xz, wz, out_dims);

        auto n = make_node("ConvInteger", {"x", "w", "xz", "wz"}, {"y"});
        n.attributes["strides"] = attribute::of_ints(cc.strides);
        n.attributes["pads"] = attribute::of_ints(cc.pads);
        n.attributes["dilations"] = attribute::of_ints(cc.dilations);
        n.attributes["group"] = attribute::of_int(cc.group);
        std::vector<dimension> xd;
        for (auto d : cc.x_dims)
            xd.push_back({d, ""});
        auto m = one_node(n, {{"x", cc.x_type, xd}}, {"y"});
        m.outputs[0].type = dtype::i32;
        m.set_weight("w", int8_tensor(cc.w_type, cc.w_dims, w));
        m.set_weight("xz", int8_tensor(cc.x_type, {}, {xz}));
        m.set_weight("wz", int8_tensor(cc.w_type, {std::int64_t(wz.size())}, wz));
        const auto xt = int8_tensor(cc.x_type, cc.x_dims, x);
        const auto r = run1(m, {xt.view()});
        REQUIRE(r[0].dims() == shape(std::span<const std::int64_t>(out_dims)));
        const auto got = r[0].span<const std::int32_t>();
        REQUIRE(got.size() == want.size());
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < want.size(); ++i)
            wrong += std::int64_t(got[i]) != want[i];
        CHECK(wrong == 0);
    }
}

namespace {
// A [N, K] signed symmetric int4 per-group weight with q[n][k] = (3n + k) mod 16 − 8.
quantized_tensor int4_weight(std::int64_t nn, std::int64_t kk, std::int64_t group, bool affine) {
    quant_spec spec;
    spec.bits = 4;
    spec.is_signed = !affine;
    spec.symmetric = !affine;
    spec.granularity = quant_granularity::per_group;
    spec.group_axis = 1;
    spec.group_size = group;
    std::vector<std::int32_t> q;
    for (std::int64_t n = 0; n < nn; ++n)
        for (std::int64_t k = 0; k < kk; ++k)
            q.push_back(static_cast<std::int32_t>((3 * n + k) % 16) - (affine ? 0 : 8));
    std::vector<float> s;
    std::vector<std::int32_t> z;
    for (std::int64_t i = 0; i < nn * kk / group; ++i) {
        s.push_back(0.25f * static_cast<float>(i + 1));
        z.push_back(static_cast<std::int32_t>(i % 16));
    }
    return quantized_tensor::from_values(spec, shape{nn, kk}, q, s, z, "w");
}
} // namespace

TEST_CASE("MatMulNBits bytes: symmetric int4 without zero points, byte by byte") {
    const auto w = int4_weight(2, 32, 16, false);
    const auto p = pack_matmul_nbits(w, 1, 0, "w");
    CHECK(p.k == 32);
    CHECK(p.n == 2);
    CHECK(p.block_size == 16);
    REQUIRE(p.b.dims() == shape{2, 2, 8});
    CHECK(!p.has_zero_points());
    // nibble = q + 8 = (3n + k) mod 16; byte j of block b: element 2j low, 2j+1 high.
    const auto bytes = p.b.span<const std::uint8_t>();
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t blk = 0; blk < 2; ++blk)
            for (std::int64_t j = 0; j < 8; ++j) {
                const auto k0 = blk * 16 + 2 * j;
                const int lo = static_cast<int>((3 * n + k0) % 16),
                          hi = static_cast<int>((3 * n + k0 + 1) % 16);
                CHECK(bytes[static_cast<std::size_t>((n * 2 + blk) * 8 + j)] == (lo | (hi << 4)));
            }
    CHECK(bytes[0] == 0x10);  // row 0: k = 0 → 0, k = 1 → 1
    CHECK(bytes[16] == 0x43); // row 1: k = 0 → 3, k = 1 → 4
    const std::vector<float> scales{0.25f, 0.5f, 0.75f, 1.0f};
    CHECK(std::equal(scales.begin(), scales.end(), p.scales.span<const float>().begin()));
    // And back: the same integers (signed symmetric again).
    const auto back = unpack_matmul_nbits(p.b.view(), p.scales.view(), std::nullopt, 32, 2, 16);
    CHECK(back.values() == w.values());
    CHECK(back.spec.is_signed);
}

TEST_CASE("MatMulNBits bytes: unsigned with zero points, K padded, [K, N] weights") {
    // Unsigned affine, 3 blocks per row (odd: the last zero-point byte has a free high nibble).
    const auto w = int4_weight(2, 48, 16, true);
    const auto p = pack_matmul_nbits(w, 1, 0, "w");
    REQUIRE(p.zero_points.dims() == shape{4}); // N · ⌈3/2⌉
    const auto z = p.zero_points.span<const std::uint8_t>();
    CHECK(z[0] == (0 | (1 << 4)));
    CHECK(z[1] == 2);
    CHECK(z[2] == (3 | (4 << 4)));
    CHECK(z[3] == 5);
    CHECK(p.b.span<const std::uint8_t>()[0] == 0x10);
    const auto back =
        unpack_matmul_nbits(p.b.view(), p.scales.view(), p.zero_points.view(), 48, 2, 16);
    CHECK(back.values() == w.values());
    CHECK(back.zero_point_values() == w.zero_point_values());

    // Per channel, K = 20 with blocks of 16: the second block holds 4 values and 12 padding
    // nibbles equal to the zero point (8 when signed symmetric: dequantizes to 0).
    quant_spec pc;
    pc.bits = 4;
    pc.granularity = quant_granularity::per_channel;
    pc.channel_axis = 1; // [K, N] = MatMul layout, channels = N
    std::vector<std::int32_t> q;
    for (int k = 0; k < 20; ++k)
        for (int n = 0; n < 3; ++n)
            q.push_back((k + n) % 16 - 8);
    const auto wk =
        quantized_tensor::from_values(pc, shape{20, 3}, q, std::vector<float>{1, 2, 4}, {}, "wk");
    const auto pk = pack_matmul_nbits(wk, 0, 16, "wk");
    CHECK(pk.k == 20);
    CHECK(pk.n == 3);
    REQUIRE(pk.b.dims() == shape{3, 2, 8});
    const auto b = pk.b.span<const std::uint8_t>();
    for (int n = 0; n < 3; ++n) {
        // block 0, byte 0: k = 0, 1 of row n → nibbles (n) and (n + 1) mod 16.
        CHECK(b[static_cast<std::size_t>(n * 16)] == (n | (((n + 1) % 16) << 4)));
        // block 1: k = 16..19 then padding 8.
        CHECK(b[static_cast<std::size_t>(n * 16 + 8)] ==
              (((16 + n) % 16) | (((17 + n) % 16) << 4)));
        for (int j = 2; j < 8; ++j)
            CHECK(b[static_cast<std::size_t>(n * 16 + 8 + j)] == 0x88);
    }
    const std::vector<float> ks{1, 1, 2, 2, 4, 4};
    CHECK(std::equal(ks.begin(), ks.end(), pk.scales.span<const float>().begin()));
    // Forms MatMulNBits cannot hold: refused, naming the weight.
    CHECK_THROWS_WITH_AS(pack_matmul_nbits(wk, 0, 24, "wk"), doctest::Contains("wk"), hone::error);
    CHECK_THROWS_AS(pack_matmul_nbits(int4_weight(2, 32, 8, false), 1, 0), hone::error);
}

namespace {
// x [M, K] · W + b as a MatMul + Add or a Gemm (transB=1) model.
model linear_model(const std::string& op, std::int64_t kk, std::int64_t nn, std::uint32_t seed) {
    model m;
    m.opset = 13;
    m.inputs.push_back({"x", dtype::f32, {{-1, "batch"}, {kk, ""}}});
    m.outputs.push_back({"y", dtype::f32, {{-1, "batch"}, {nn, ""}}});
    const bool gemm = op == "Gemm";
    tensor w(dtype::f32, gemm ? shape{nn, kk} : shape{kk, nn});
    tensor b(dtype::f32, shape{nn});
    std::uint32_t s = seed;
    auto rnd = [&] {
        s = s * 1664525u + 1013904223u;
        return static_cast<float>((s >> 8) % 2001) / 1000.0f - 1.0f;
    };
    for (auto& v : w.span<float>())
        v = rnd();
    for (auto& v : b.span<float>())
        v = rnd();
    m.set_weight("W", std::move(w));
    m.set_weight("B", std::move(b));
    if (gemm) {
        auto n = make_node("Gemm", {"x", "W", "B"}, {"y"});
        n.name = "fc";
        n.attributes["transB"] = attribute::of_int(1);
        m.nodes.push_back(n);
    } else {
        auto n = make_node("MatMul", {"x", "W"}, {"xw"});
        n.name = "fc";
        m.nodes.push_back(n);
        m.nodes.push_back(make_node("Add", {"xw", "B"}, {"y"}));
    }
    return m;
}
tensor inputs(std::int64_t mm, std::int64_t kk) {
    tensor x(dtype::f32, shape{mm, kk});
    auto p = x.span<float>();
    for (std::size_t i = 0; i < p.size(); ++i)
        p[i] = std::sin(0.37f * static_cast<float>(i)) * 2.0f;
    return x;
}
} // namespace

TEST_CASE("to_dynamic_int8: MatMul and Gemm give exactly the integer product times the scales") {
    for (const char* op : {"MatMul", "Gemm"}) {
        CAPTURE(std::string(op));
        const std::int64_t kk = 7, nn = 5, mm = 3;
        const auto m = linear_model(op, kk, nn, 11);
        const auto d = to_dynamic_int8(m);
        const auto d2 = round_trip(d, "dyn.onnx");
        CHECK(!d2.has_weight("W"));
        const auto& wq = d2.weight("W_quantized");
        CHECK(wq.type() == dtype::i8);
        CHECK(wq.dims() == shape{kk, nn}); // [K, N], transposed for the Gemm
        const auto& ws = d2.weight("W_scale");
        executor ex(d2);
        CHECK(path_of(ex, "MatMulInteger").find("integer reference") != std::string::npos);
        const auto x = inputs(mm, kk);
        const auto ys = ex.run(x.view());
        const auto& y = ys.at(0);
        // Expected: DynamicQuantizeLinear by hand, then Σ (xq − zp)·q, Cast, ·(xs·ws), + b.
        const auto xs = x.span<const float>();
        float lo = 0, hi = 0;
        for (const float v : xs)
            lo = std::min(lo, v), hi = std::max(hi, v);
        const float sc = (hi - lo) / 255.0f;
        const float zp = std::nearbyint(std::clamp(-lo / sc, 0.0f, 255.0f));
        const auto q = wq.span<const std::int8_t>();
        const auto bias = m.weight("B").span<const float>();
        for (std::int64_t i = 0; i < mm; ++i)
            for (std::int64_t j = 0; j < nn; ++j) {
                std::int32_t acc = 0;
                for (std::int64_t k = 0; k < kk; ++k) {
                    const float xq = std::clamp(
                        std::nearbyint(xs[static_cast<std::size_t>(i * kk + k)] / sc) + zp, 0.0f,
                        255.0f);
                    acc += (static_cast<std::int32_t>(xq) - static_cast<std::int32_t>(zp)) *
                           q[static_cast<std::size_t>(k * nn + j)];
                }
                const float want = static_cast<float>(acc) *
                                       (sc * ws.span<const float>()[static_cast<std::size_t>(j)]) +
                                   bias[static_cast<std::size_t>(j)];
                CHECK(y.span<const float>()[static_cast<std::size_t>(i * nn + j)] == want);
            }
    }
}

TEST_CASE("to_dynamic_int8: refusals name the node") {
    auto m = linear_model("Gemm", 4, 3, 5);
    m.nodes[0].attributes["transA"] = attribute::of_int(1);
    CHECK_THROWS_WITH_AS(to_dynamic_int8(m), doctest::Contains("Gemm 'fc'"), hone::error);
    auto g = linear_model("MatMul", 32, 4, 5);
    dynamic_int8_options o;
    quantizer_config qc; // a form it cannot hold: int4 per group along K
    qc.spec.bits = 4;
    qc.spec.granularity = quant_granularity::per_group;
    qc.spec.group_axis = 0;
    qc.spec.group_size = 16;
    o.weights.emplace("W", quantizer(qc).quantize(g.weight("W").view(), "W"));
    CHECK_THROWS_WITH_AS(to_dynamic_int8(g, o), doctest::Contains("MatMul 'fc'"), hone::error);
    // f32_nodes: left alone.
    dynamic_int8_options keep;
    keep.f32_nodes = {"fc"};
    const auto same = to_dynamic_int8(g, keep);
    CHECK(same.nodes.size() == g.nodes.size());
    CHECK(same.has_weight("W"));
}

TEST_CASE("to_matmul_nbits: MatMul / Gemm on hone's int4 kernel and the padded reference path") {
    for (const char* op : {"MatMul", "Gemm"}) {
        for (const std::int64_t kk : {32, 40, 48}) {
            CAPTURE(std::string(op));
            CAPTURE(kk);
            const bool affine = kk == 48; // unsigned with zero points: the u4 kernel
            const std::int64_t nn = 6, mm = 4;
            const auto m = linear_model(op, kk, nn, 3);
            const bool gemm = std::string(op) == "Gemm";
            // 4-bit weights: per group of 16 along K when it divides K, else per channel.
            quant_spec spec;
            spec.bits = 4;
            spec.is_signed = !affine;
            spec.symmetric = !affine;
            if (kk % 16 == 0) {
                spec.granularity = quant_granularity::per_group;
                spec.group_axis = gemm ? 1 : 0;
                spec.group_size = 16;
            } else {
                spec.channel_axis = gemm ? 0 : 1;
            }
            quantizer_config qc;
            qc.spec = spec;
            matmul_nbits_options o;
            o.block_size = 16;
            o.weights.emplace("W", quantizer(qc).quantize(m.weight("W").view(), "W"));
            const auto nb = round_trip(to_matmul_nbits(m, o), "nbits.onnx");
            CHECK(nb.domain_opsets.at("com.microsoft") == 1);
            CHECK(!nb.has_weight("W"));
            executor ex(nb);
            const auto path = path_of(ex, "MatMulNBits");
            CHECK(path.find(kk % 16 == 0 ? "int4 weight-only linear"
                                         : "dequantized exactly at load") != std::string::npos);
            CHECK((path.find("u4") != std::string::npos) == affine);
            // Inputs: A, B, scales[, zero_points]; a Gemm's bias is input 5.
            CHECK(nb.nodes[0].inputs.size() == (gemm ? 6u : affine ? 4u : 3u));
            // Reference: the f32 model with the dequantized weights.
            auto ref = m.clone();
            ref.weight("W") = o.weights.at("W").dequantize();
            const auto x = inputs(mm, kk);
            const auto wants = executor(ref).run(x.view());
            const auto gots = ex.run(x.view());
            const auto& want = wants.at(0);
            const auto& got = gots.at(0);
            REQUIRE(got.dims() == want.dims());
            for (std::int64_t i = 0; i < got.numel(); ++i)
                CHECK(got.span<const float>()[static_cast<std::size_t>(i)] ==
                      doctest::Approx(want.span<const float>()[static_cast<std::size_t>(i)])
                          .epsilon(1e-5));
        }
    }
}

TEST_CASE("MatMulNBits in the executor: malformed nodes are refused naming the node") {
    auto m = linear_model("MatMul", 32, 4, 9);
    quantizer_config qc;
    qc.spec.bits = 4;
    qc.spec.granularity = quant_granularity::per_group;
    qc.spec.group_axis = 0;
    qc.spec.group_size = 16;
    matmul_nbits_options o;
    o.weights.emplace("W", quantizer(qc).quantize(m.weight("W").view(), "W"));
    auto nb = to_matmul_nbits(m, o);
    auto* mm = &nb.nodes[0];
    REQUIRE(mm->op_type == "MatMulNBits");
    mm->attributes["K"] = attribute::of_int(48); // B no longer fits
    CHECK_THROWS_WITH_AS(executor{nb}, doctest::Contains("MatMulNBits 'fc_MatMulNBits'"),
                         hone::error);
    mm->attributes["K"] = attribute::of_int(32);
    mm->attributes["bits"] = attribute::of_int(3);
    CHECK_THROWS_WITH_AS(executor{nb}, doctest::Contains("bits = 3"), hone::error);
}

TEST_CASE("ConvInteger / DynamicQuantizeLinear: malformed inputs are refused naming the node") {
    auto m = one_node(make_node("ConvInteger", {"x", "w", "xz"}, {"y"}),
                      {{"x", dtype::u8, {{1, ""}, {1, ""}, {3, ""}, {3, ""}}}}, {"y"});
    m.set_weight("w", make<std::uint8_t>(dtype::u8, shape{1, 1, 2, 2}, {1, 1, 1, 1}));
    m.set_weight("xz", make<std::int8_t>(dtype::i8, shape{}, {1})); // X is u8
    const auto x = make<std::uint8_t>(dtype::u8, shape{1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10});
    CHECK_THROWS_WITH_AS(run1(m, {x.view()}), doctest::Contains("ConvInteger 'ConvInteger_0'"),
                         hone::error);
    auto d = one_node(make_node("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"}),
                      {{"x", dtype::u8, {{9, ""}}}}, {"y", "s", "z"});
    const auto u = make<std::uint8_t>(dtype::u8, shape{9}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK_THROWS_WITH_AS(run1(d, {u.view()}),
                         doctest::Contains("DynamicQuantizeLinear 'DynamicQuantizeLinear_0'"),
                         hone::error);
}

namespace {
std::vector<std::int64_t> top1(const executor& ex, const tensor& x, const shape& sample) {
    std::vector<std::int64_t> dims{x.dims()[0]};
    dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
    const auto v = make_view(const_cast<void*>(x.data()), x.nbytes(), dtype::f32,
                             shape(std::span<const std::int64_t>(dims)));
    const auto ys = ex.run(v);
    const auto& y = ys.at(0);
    std::vector<std::int64_t> out;
    const auto c = y.dims()[1];
    for (std::int64_t i = 0; i < y.dims()[0]; ++i) {
        const auto* row = y.span<const float>().data() + i * c;
        out.push_back(std::max_element(row, row + c) - row);
    }
    return out;
}
double agreement(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        same += a[i] == b[i];
    return static_cast<double>(same) / static_cast<double>(a.size());
}
} // namespace

TEST_CASE("Fashion-MNIST fixtures: the integer forms run in hone within quantization error") {
    const auto test = dataset::fashion_mnist("test");
    const auto x = tensor::copy_of(test.inputs().view().slice(0, 0, 500));
    for (const char* f : {"mlp.onnx", "cnn.onnx"}) {
        CAPTURE(std::string(f));
        const auto m = load_onnx(test::fashion_fixture(f));
        const shape sample = std::string(f) == "mlp.onnx" ? shape{784} : shape{1, 28, 28};
        const auto ref = top1(executor(m), x, sample);
        const auto d = round_trip(to_dynamic_int8(m), "dyn.onnx");
        executor ex(d);
        int integer_layers = 0;
        for (const auto& r : ex.report())
            integer_layers += r.op_type == "MatMulInteger" || r.op_type == "ConvInteger";
        CHECK(integer_layers >= 3);
        // The CNN's BatchNormalizations fold into the ConvInteger epilogues.
        CHECK(std::none_of(d.nodes.begin(), d.nodes.end(),
                           [](const node& n) { return n.op_type == "BatchNormalization"; }));
        const auto a = agreement(ref, top1(ex, x, sample));
        MESSAGE(std::string(f), " dynamic int8 top-1 agreement ", a);
        CHECK(a >= 0.97);
        if (std::string(f) == "mlp.onnx") {
            // to_qdq for every layer with int4 weights in blocks of 16 along K, then MatMulNBits.
            qdq_options qo;
            qo.weight_spec.bits = 4;
            qo.weight_spec.granularity = quant_granularity::per_group;
            qo.weight_spec.group_size = 16;
            const auto nb = round_trip(to_matmul_nbits(to_qdq(m, qo)), "nbits.onnx");
            int nbits = 0, dql = 0;
            for (const auto& n : nb.nodes)
                nbits += n.op_type == "MatMulNBits", dql += n.op_type == "DequantizeLinear";
            CHECK(nbits == 3);
            CHECK(dql == 0);
            executor en(nb);
            CHECK(path_of(en, "MatMulNBits").find("int4 weight-only linear") != std::string::npos);
            const auto b = agreement(ref, top1(en, x, sample));
            MESSAGE("mlp MatMulNBits top-1 agreement ", b);
            CHECK(b >= 0.9);
        }
    }
}
