// The executor's activation layouts: values passed only between Convs on the oneDNN kernel and
// the 2-D pools between them are held NHWC (executor_options::conv_nhwc), so a conv chain
// reorders only at its edges. Checked
// by the plan (report() paths, last_run_reorders() against what kernels::conv2d says each layer
// needs, no allocation once warm) and by the values (the same bytes as the NCHW plan at 1 and 2
// threads, observers still see NCHW, ONNX semantics of the unfused graph within 1e-5).
#include "../../src/graph/ops/ops.hpp"
#include "../status_of.hpp"
#include "graph_builder.hpp"

#include <hone/core/error.hpp>
#include <hone/core/threads.hpp>
#include <hone/graph/executor.hpp>
#include <hone/kernels/conv.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/kernels/quantize.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace hone;
using kernels::conv_layout;
using ops_test::pseudo_random;
using ops_test::same_bytes;

namespace {

// max |a − b| / max |b|.
double relative_error(const tensor& got, const tensor& ref) {
    REQUIRE(got.dims() == ref.dims());
    const auto g = got.span<const float>();
    const auto r = ref.span<const float>();
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
        scale = std::max(scale, std::fabs(static_cast<double>(r[i])));
        err = std::max(err, std::fabs(static_cast<double>(g[i]) - r[i]));
    }
    return err / std::max(scale, 1e-30);
}

// x [N, 3, 8, 8] → conv1 (16 filters 3×3, pad 1) → Relu → a; conv2 (16 → 16, 3×3, pad 1) → b;
// c = Relu(b + a); conv3 (16 → 8, 1×1) → d; y = GlobalAveragePool(d).
// a is read by conv2 and the residual Add (fused into conv2), c by conv3 only, d by the pool
// (which reads NHWC; its [N, 8, 1, 1] result is the same bytes in both layouts).
ops_test::graph conv_chain() {
    ops_test::graph g;
    g.input("x", pseudo_random(shape{4, 3, 8, 8}, 1), {0});
    g.constant("w1", pseudo_random(shape{16, 3, 3, 3}, 2));
    g.constant("b1", pseudo_random(shape{16}, 3));
    g.constant("w2", pseudo_random(shape{16, 16, 3, 3}, 4));
    g.constant("b2", pseudo_random(shape{16}, 5));
    g.constant("w3", pseudo_random(shape{8, 16, 1, 1}, 6));
    const auto pads = attribute::of_ints({1, 1, 1, 1});
    g.node("conv1", "Conv", {"x", "w1", "b1"}, {"c1"}, {{"pads", pads}});
    g.node("relu1", "Relu", {"c1"}, {"a"});
    g.node("conv2", "Conv", {"a", "w2", "b2"}, {"b"}, {{"pads", pads}});
    g.node("add", "Add", {"b", "a"}, {"s"});
    g.node("relu2", "Relu", {"s"}, {"c"});
    g.node("conv3", "Conv", {"c", "w3"}, {"d"});
    g.node("pool", "GlobalAveragePool", {"d"}, {"y"});
    g.output("y");
    return g;
}

kernels::conv2d_params params(std::int64_t in, std::int64_t out, std::int64_t k) {
    kernels::conv2d_params p;
    p.in_channels = in;
    p.out_channels = out;
    p.kernel_h = p.kernel_w = k;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = k / 2;
    return p;
}

// The reorders kernels::conv2d does for one run of each conv of conv_chain() with the layouts
// the plan should choose (batch n).
int expected_reorders(std::int64_t n) {
    auto p1 = params(3, 16, 3), p2 = params(16, 16, 3), p3 = params(16, 8, 1);
    p1.relu = true;
    p2.sum = p2.relu = true;
    const auto w1 = pseudo_random(shape{16, 3, 3, 3}, 2),
               w2 = pseudo_random(shape{16, 16, 3, 3}, 4),
               w3 = pseudo_random(shape{8, 16, 1, 1}, 6);
    const kernels::conv2d c1(p1, w1.span<const float>()), c2(p2, w2.span<const float>()),
        c3(p3, w3.span<const float>());
    const auto nhwc = conv_layout::nhwc, nchw = conv_layout::nchw;
    return c1.reorders(shape{n, 3, 8, 8}, {nchw, nhwc, nchw}) +
           c2.reorders(shape{n, 16, 8, 8}, {nhwc, nhwc, nhwc}) +
           c3.reorders(shape{n, 16, 8, 8}, {nhwc, nhwc, nchw});
}

// Whether oneDNN's f32 convolution runs NHWC itself on this CPU (AVX-512; on AVX2 it prefers a
// blocked layout, so holding values NHWC saves no reorder there and the counts differ).
bool onednn_convs_run_nhwc() {
    const auto p = params(16, 16, 3);
    const auto w = pseudo_random(shape{16, 16, 3, 3}, 4);
    const kernels::conv2d probe(p, w.span<const float>());
    return probe.reorders(shape{4, 16, 8, 8}, {conv_layout::nhwc, conv_layout::nhwc}) == 0;
}

} // namespace

TEST_CASE("executor: values between oneDNN convolutions are held NHWC, reordered at the edges") {
    const auto g = conv_chain();
    const executor nhwc(g.m);
    const executor nchw(g.m, {.conv_nhwc = false});
    const executor onnx(g.m,
                        {.fuse_relu = false, .fuse_conv_activations = false, .conv_nhwc = false});
    CHECK(g.path(nhwc, "conv1").find(", NCHW in, NHWC out") != std::string::npos);
    CHECK(g.path(nhwc, "conv2").find(", NHWC in, NHWC out") != std::string::npos);
    CHECK(g.path(nhwc, "conv3").find(", NHWC in, NHWC out") != std::string::npos);
    CHECK(g.path(nhwc, "pool") == "ops::global_average_pool (NHWC)");
    CHECK(g.path(nchw, "pool") == "ops::global_average_pool");
    CHECK(g.path(nhwc, "add") == "fused into Conv 'conv2' (oneDNN sum post-op)");
    for (const char* c : {"conv1", "conv2", "conv3"})
        CHECK(g.path(nchw, c).find("NHWC") == std::string::npos);

    const auto ref = std::move(g.run(onnx).at(0));
    const auto plain = std::move(g.run(nchw).at(0));
    const auto first = std::move(g.run(nhwc).at(0));
    REQUIRE(first.dims() == shape({4, 8, 1, 1}));
    CHECK(same_bytes(first, plain)); // reorders only move values
    CHECK(relative_error(first, ref) <= 1e-5);
    CHECK(nhwc.last_run_allocations() > 0);
    CHECK(same_bytes(first, g.run(nhwc).at(0)));
    CHECK(nhwc.last_run_allocations() == 0);

    // The reorders are exactly those the kernel needs for the chosen layouts; where oneDNN's
    // convolution runs NHWC itself (AVX-512), only the chain's input edge remains (the pool
    // reads NHWC).
    const int want = expected_reorders(4);
    CHECK(nhwc.last_run_reorders() == static_cast<std::uint64_t>(want));
    CHECK(nhwc.last_run_reorders() <= nchw.last_run_reorders());
    if (onednn_convs_run_nhwc()) {
        CHECK(want == 1);
        CHECK(nchw.last_run_reorders() > 1);
    }
}

TEST_CASE("executor: NHWC values reach observers as NCHW; kept values and outputs stay NCHW") {
    const auto g = conv_chain();
    const executor nhwc(g.m);
    const executor nchw(g.m, {.conv_nhwc = false});
    std::vector<const_tensor_view> in;
    for (const auto& f : g.feeds)
        in.push_back(f.view());
    const std::vector<std::string> names{"a", "c", "d"};
    auto got = nhwc.run_observed(in, names);
    auto want = nchw.run_observed(in, names);
    for (const auto& n : names) {
        CAPTURE(n);
        REQUIRE(got.count(n) == 1);
        CHECK(got.at(n).dims() == want.at(n).dims());
        CHECK(same_bytes(got.at(n), want.at(n)));
    }
    CHECK(got.at("c").dims() == shape({4, 16, 8, 8}));
    // A kept value stays NCHW (its producer writes NCHW, its reader reads NCHW).
    const executor kept(g.m, {.keep = {"c"}});
    CHECK(g.path(kept, "conv2").find("NHWC in, NCHW out") != std::string::npos);
    CHECK(g.path(kept, "conv3").find("NCHW in, NHWC out") != std::string::npos);
    CHECK(same_bytes(std::move(g.run(kept).at(0)), std::move(g.run(nchw).at(0))));
    // A conv output that is a graph output is NCHW.
    auto g2 = conv_chain();
    g2.output("c");
    const executor two(g2.m);
    const auto outs = g2.run(two);
    REQUIRE(outs.size() == 2);
    CHECK(same_bytes(outs[1], want.at("c")));
}

// x [N, 4, 13, 12] → conv1 (8 filters 3×3, pad 1) → Relu → a; MaxPool 3×3 stride 2 pad 1 →
// p; conv2 (8 → 8, 3×3, pad 1) → b; AveragePool 2×2 stride 2 (ceil_mode, count_include_pad) → q;
// y = Flatten(q): the pools read NHWC, the first also writes it (conv2 reads it), the second
// transposes its result for the Flatten.
ops_test::graph pool_chain() {
    ops_test::graph g;
    g.input("x", pseudo_random(shape{3, 4, 13, 12}, 11), {0});
    g.constant("w1", pseudo_random(shape{8, 4, 3, 3}, 12));
    g.constant("w2", pseudo_random(shape{8, 8, 3, 3}, 13));
    const auto pads = attribute::of_ints({1, 1, 1, 1});
    g.node("conv1", "Conv", {"x", "w1"}, {"c1"}, {{"pads", pads}});
    g.node("relu1", "Relu", {"c1"}, {"a"});
    g.node("maxpool", "MaxPool", {"a"}, {"p"},
           {{"kernel_shape", attribute::of_ints({3, 3})},
            {"strides", attribute::of_ints({2, 2})},
            {"pads", pads}});
    g.node("conv2", "Conv", {"p", "w2"}, {"b"}, {{"pads", pads}});
    g.node("avgpool", "AveragePool", {"b"}, {"q"},
           {{"kernel_shape", attribute::of_ints({2, 2})},
            {"strides", attribute::of_ints({2, 2})},
            {"ceil_mode", attribute::of_int(1)},
            {"count_include_pad", attribute::of_int(1)}});
    g.node("flatten", "Flatten", {"q"}, {"y"});
    g.output("y");
    return g;
}

TEST_CASE("executor: MaxPool and AveragePool between convolutions run NHWC") {
    const auto g = pool_chain();
    const executor nhwc(g.m);
    const executor nchw(g.m, {.conv_nhwc = false});
    CHECK(g.path(nhwc, "maxpool") == "ops::max_pool (NHWC)");
    CHECK(g.path(nhwc, "avgpool") == "ops::average_pool (NHWC), result transposed to NCHW");
    CHECK(g.path(nhwc, "conv1").find(", NCHW in, NHWC out") != std::string::npos);
    CHECK(g.path(nhwc, "conv2").find(", NHWC in, NHWC out") != std::string::npos);
    CHECK(g.path(nchw, "maxpool") == "ops::max_pool");
    const auto plain = std::move(g.run(nchw).at(0));
    const auto first = std::move(g.run(nhwc).at(0));
    CHECK(first.dims() == shape({3, 8 * 4 * 3}));
    CHECK(same_bytes(first, plain));
    CHECK(same_bytes(first, g.run(nhwc).at(0))); // warm: nothing allocated, the same bytes
    CHECK(nhwc.last_run_allocations() == 0);
    if (onednn_convs_run_nhwc()) CHECK(nchw.last_run_reorders() > nhwc.last_run_reorders());
    // Observers see the pooled value in NCHW.
    std::vector<const_tensor_view> in;
    for (const auto& f : g.feeds)
        in.push_back(f.view());
    const std::vector<std::string> names{"p"};
    CHECK(same_bytes(nhwc.run_observed(in, names).at("p"), nchw.run_observed(in, names).at("p")));
    // A pool whose value is kept reads NHWC and writes NCHW.
    const executor kept(g.m, {.keep = {"p"}});
    CHECK(g.path(kept, "maxpool") == "ops::max_pool (NHWC), result transposed to NCHW");
    CHECK(g.path(kept, "conv2").find("NCHW in") != std::string::npos);
    CHECK(same_bytes(std::move(g.run(kept).at(0)), plain));
}

// Squeeze-excitation: x [N, 4, 9, 10] → conv1 (8 filters 3×3, pad 1) → a; GlobalAveragePool(a)
// → conv2 (1×1, 8 → 8) → HardSigmoid → s [N, 8, 1, 1]; m = s·a (scale first) or a − s;
// conv3 (1×1) reads m, and y = Relu(m) reads it too when `elsewhere`.
ops_test::graph excitation(bool scale_first, const char* op, bool elsewhere) {
    ops_test::graph g;
    g.input("x", pseudo_random(shape{2, 4, 9, 10}, 21), {0});
    g.constant("w1", pseudo_random(shape{8, 4, 3, 3}, 22));
    g.constant("w2", pseudo_random(shape{8, 8, 1, 1}, 23));
    g.constant("w3", pseudo_random(shape{6, 8, 1, 1}, 24));
    g.node("conv1", "Conv", {"x", "w1"}, {"a"}, {{"pads", attribute::of_ints({1, 1, 1, 1})}});
    g.node("gap", "GlobalAveragePool", {"a"}, {"g"});
    g.node("conv2", "Conv", {"g", "w2"}, {"e"});
    g.node("gate", "HardSigmoid", {"e"}, {"s"});
    g.node("scale", op,
           scale_first ? std::vector<std::string>{"s", "a"} : std::vector<std::string>{"a", "s"},
           {"m"});
    g.node("conv3", "Conv", {"m", "w3"}, {"y"});
    g.output("y");
    if (elsewhere) {
        g.node("relu", "Relu", {"m"}, {"r"});
        g.output("r");
    }
    return g;
}

TEST_CASE("executor: a per-channel Mul/Sub (squeeze-excitation) between convolutions runs NHWC") {
    for (const bool scale_first : {true, false})
        for (const char* op : {"Mul", "Sub"})
            for (const bool elsewhere : {false, true}) {
                CAPTURE(scale_first);
                CAPTURE(op);
                CAPTURE(elsewhere);
                const auto g = excitation(scale_first, op, elsewhere);
                const executor nhwc(g.m);
                const executor nchw(g.m, {.conv_nhwc = false});
                CHECK(g.path(nhwc, "scale") == "per-channel ops::binary (NHWC)");
                CHECK(g.path(nhwc, "gap") == "ops::global_average_pool (NHWC)");
                // m read by the Relu too: it reads NHWC and transposes its result (an output).
                CHECK(g.path(nhwc, "conv3").find("NHWC in") != std::string::npos);
                if (elsewhere)
                    CHECK(g.path(nhwc, "relu") == "ops::relu (NHWC), result transposed to NCHW");
                const auto want = g.run(nchw);
                const auto got = g.run(nhwc);
                REQUIRE(got.size() == want.size());
                for (std::size_t i = 0; i < got.size(); ++i)
                    CHECK(same_bytes(got[i], want[i]));
                (void)g.run(nhwc);
                CHECK(nhwc.last_run_allocations() == 0);
                if (onednn_convs_run_nhwc())
                    CHECK(nhwc.last_run_reorders() <= nchw.last_run_reorders());
            }
}

// A dense block as DenseNet exports it: x → conv0 → a; conv1(a) → b; c = Concat(a, b) on the
// channel axis → BatchNormalization → Relu → Pad (all zeros) → AveragePool 2×2 → conv2 → d;
// conv3(d) → Relu → e; y = Add(d, e) (equal shapes; not fused into conv3, which has its Relu);
// Concat on another axis and a non-zero Pad would not qualify (checked on variants).
ops_test::graph dense_block(std::int64_t concat_axis, std::int64_t pad) {
    ops_test::graph g;
    g.input("x", pseudo_random(shape{2, 3, 8, 8}, 31), {0});
    g.constant("w0", pseudo_random(shape{4, 3, 3, 3}, 32));
    g.constant("w1", pseudo_random(shape{4, 4, 3, 3}, 33));
    const std::int64_t channels = concat_axis == 1 ? 8 : 4;
    g.constant("w2", pseudo_random(shape{6, channels, 1, 1}, 34));
    g.constant("w3", pseudo_random(shape{6, 6, 3, 3}, 35));
    for (const char* k : {"scale", "bias", "mean"})
        g.constant(k, pseudo_random(shape{channels}, 36));
    auto var = pseudo_random(shape{channels}, 37);
    for (auto& v : var.span<float>())
        v = std::fabs(v) + 0.5f;
    g.constant("var", std::move(var));
    tensor pads(dtype::i64, shape{8});
    pads.span<std::int64_t>()[3] = pad; // before W
    g.constant("pads", std::move(pads));
    const auto same = attribute::of_ints({1, 1, 1, 1});
    g.node("conv0", "Conv", {"x", "w0"}, {"a"}, {{"pads", same}});
    g.node("conv1", "Conv", {"a", "w1"}, {"b"}, {{"pads", same}});
    g.node("concat", "Concat", {"a", "b"}, {"c"}, {{"axis", attribute::of_int(concat_axis)}});
    g.node("bn", "BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"n"});
    g.node("relu", "Relu", {"n"}, {"r"});
    g.node("pad", "Pad", {"r", "pads"}, {"p"});
    g.node("pool", "AveragePool", {"p"}, {"q"},
           {{"kernel_shape", attribute::of_ints({2, 2})}, {"strides", attribute::of_ints({2, 2})}});
    g.node("conv2", "Conv", {"q", "w2"}, {"d"});
    g.node("conv3", "Conv", {"d", "w3"}, {"e3"}, {{"pads", same}});
    g.node("relu3", "Relu", {"e3"}, {"e"});
    g.node("add", "Add", {"d", "e"}, {"y"});
    g.output("y");
    return g;
}

TEST_CASE("executor: Concat, BatchNormalization, activations, zero Pad and equal-shape Add run "
          "NHWC between convolutions") {
    const auto g = dense_block(1, 0);
    const executor nhwc(g.m);
    const executor nchw(g.m, {.conv_nhwc = false});
    for (const char* n : {"concat", "bn", "relu", "pad", "pool"}) {
        CAPTURE(n);
        CHECK(g.path(nhwc, n).find("(NHWC)") != std::string::npos);
        CHECK(g.path(nhwc, n).find("transposed") == std::string::npos);
        CHECK(g.path(nchw, n).find("NHWC") == std::string::npos);
    }
    CHECK(g.path(nhwc, "add").find("(NHWC), result transposed to NCHW") != std::string::npos);
    CHECK(g.path(nhwc, "conv1").find("NHWC in, NHWC out") != std::string::npos);
    CHECK(g.path(nhwc, "conv2").find("NHWC in, NHWC out") != std::string::npos);
    const auto want = std::move(g.run(nchw).at(0));
    CHECK(same_bytes(g.run(nhwc).at(0), want));
    CHECK(same_bytes(g.run(nhwc).at(0), want));
    CHECK(nhwc.last_run_allocations() == 0);
    if (onednn_convs_run_nhwc()) CHECK(nhwc.last_run_reorders() < nchw.last_run_reorders());
    // Concat on another axis, or a Pad that pads, keeps NCHW there (still the same bytes).
    for (const auto& [axis, pad] : {std::pair<std::int64_t, std::int64_t>{2, 0}, {1, 1}}) {
        const auto v = dense_block(axis, pad);
        const executor a(v.m), b(v.m, {.conv_nhwc = false});
        CHECK(v.path(a, pad ? "pad" : "concat").find("NHWC") == std::string::npos);
        CHECK(same_bytes(v.run(a).at(0), v.run(b).at(0)));
    }
}

TEST_CASE("ops::batch_normalization channels_last: the NCHW values, transposed") {
    const auto x = pseudo_random(shape{2, 5, 3, 4}, 41);
    const auto sc = pseudo_random(shape{5}, 42), bi = pseudo_random(shape{5}, 43),
               mu = pseudo_random(shape{5}, 44);
    auto va = pseudo_random(shape{5}, 45);
    for (auto& v : va.span<float>())
        v = std::fabs(v);
    const std::int64_t to_nhwc[] = {0, 2, 3, 1}, to_nchw[] = {0, 3, 1, 2};
    const auto want = ops::batch_normalization(x, sc, bi, mu, va, 1e-3f);
    const auto got =
        ops::batch_normalization(ops::transpose(x, to_nhwc), sc, bi, mu, va, 1e-3f, true);
    CHECK(same_bytes(ops::transpose(got, to_nchw), want));
}

TEST_CASE("executor: the NHWC plan gives the same bytes at 1 and 2 threads, f32 and int8") {
    const auto g = conv_chain();
    executor_options q;
    q.precision = exec_precision::int8_static;
    q.activation_ranges = {{"x", {-2.0f, 2.0f}}, {"a", {0.0f, 8.0f}}, {"c", {0.0f, 16.0f}}};
    for (const auto& o : {executor_options{}, q}) {
        auto off = o;
        off.conv_nhwc = false;
        const executor nhwc(g.m, o), nchw(g.m, off);
        CHECK(nhwc.uses_int8() == (o.precision == exec_precision::int8_static));
        const int before = num_threads();
        set_num_threads(1);
        const auto one = std::move(g.run(nhwc).at(0));
        set_num_threads(2);
        const auto two = std::move(g.run(nhwc).at(0));
        set_num_threads(before);
        CHECK(same_bytes(one, two));
        CHECK(same_bytes(one, std::move(g.run(nchw).at(0))));
    }
}

TEST_CASE("kernels::conv2d: NHWC src, dst and addend give the NCHW results; misuse is named") {
    auto p = params(3, 5, 3);
    p.sum = true;
    const auto w = pseudo_random(shape{5, 3, 3, 3}, 7);
    const auto bias = pseudo_random(shape{5}, 8);
    const kernels::conv2d conv(p, w.span<const float>(), bias.span<const float>());
    const auto x = pseudo_random(shape{2, 3, 6, 7}, 9);
    const auto r = pseudo_random(shape{2, 5, 6, 7}, 10);
    tensor ref(dtype::f32, shape{2, 5, 6, 7});
    conv.run(x.view(), ref.view(), r.view());
    const std::int64_t to_nhwc[] = {0, 2, 3, 1}, to_nchw[] = {0, 3, 1, 2};
    const auto xh = ops::transpose(x.view(), to_nhwc);
    const auto rh = ops::transpose(r.view(), to_nhwc);
    const auto nhwc = conv_layout::nhwc, nchw = conv_layout::nchw;
    tensor yh(dtype::f32, shape{2, 6, 7, 5});
    conv.run(xh.view(), yh.view(), rh.view(), {nhwc, nhwc, nhwc});
    CHECK(same_bytes(ops::transpose(yh.view(), to_nchw), ref));
    tensor y(dtype::f32, shape{2, 5, 6, 7});
    conv.run(xh.view(), y.view(), rh.view(), {nhwc, nchw, nhwc}); // mixed
    CHECK(same_bytes(y, ref));
    auto inplace = rh.clone(); // the addend is dst itself, both NHWC
    conv.run(x.view(), inplace.view(), inplace.view(), {nchw, nhwc, nhwc});
    CHECK(same_bytes(ops::transpose(inplace.view(), to_nchw), ref));

    tensor wrong(dtype::f32, shape{2, 5, 6, 7}); // NCHW dims given as NHWC dst
    CHECK_THROWS_WITH_AS(conv.run(xh.view(), wrong.view(), rh.view(), {nhwc, nhwc, nhwc}),
                         doctest::Contains("the addend is f32 [2, 6, 7, 5]"), hone::error);
    p.sum = false;
    const kernels::conv2d no_sum(p, w.span<const float>(), bias.span<const float>());
    CHECK_THROWS_WITH_AS(no_sum.run(xh.view(), wrong.view(), {nhwc, nhwc}),
                         doctest::Contains("gives [2, 6, 7, 5] (NHWC)"), hone::error);
    auto same = r.clone();
    CHECK_THROWS_WITH_AS(conv.run(x.view(), same.view(), same.view(), {nchw, nchw, nhwc}),
                         doctest::Contains("must have dst's layout"), hone::error);
    CHECK_THROWS_WITH_AS(conv.run(x.view(), y.view(), xh.view(), {nchw, nchw, nhwc}),
                         doctest::Contains("the addend is f32 [2, 6, 7, 3]"), hone::error);
}

namespace {
tensor scalar_f32(float v) {
    tensor t(dtype::f32, shape{});
    t.span<float>()[0] = v;
    return t;
}
template <class T> tensor scalar_int(dtype type, T v) {
    tensor t(type, shape{});
    t.span<T>()[0] = v;
    return t;
}

// A QDQ chain as `hone optimize --recipe int8` writes it: x → Q → DQ → conv1 → Q(g1) → DQ → Clip
// [0, 6] → Q(g2) → DQ → conv2 → y; grids g1 / g2 u8, or i8 when `signed_grid`.
ops_test::graph qdq_chain(bool signed_grid) {
    ops_test::graph g;
    g.input("x", pseudo_random(shape{2, 3, 8, 8}, 21), {0});
    g.constant("w1", pseudo_random(shape{16, 3, 3, 3}, 22));
    g.constant("b1", pseudo_random(shape{16}, 23));
    g.constant("w2", pseudo_random(shape{8, 16, 3, 3}, 24));
    g.constant("s0", scalar_f32(4.0f / 255));
    g.constant("z0", scalar_int<std::uint8_t>(dtype::u8, 128));
    g.constant("s1", scalar_f32(0.11f));
    g.constant("s2", scalar_f32(6.0f / 255));
    g.constant("lo", scalar_f32(0.0f));
    g.constant("hi", scalar_f32(6.0f));
    if (signed_grid) {
        g.constant("z1", scalar_int<std::int8_t>(dtype::i8, 3));
        g.constant("z2", scalar_int<std::int8_t>(dtype::i8, -128));
    } else {
        g.constant("z1", scalar_int<std::uint8_t>(dtype::u8, 131));
        g.constant("z2", scalar_int<std::uint8_t>(dtype::u8, 0));
    }
    const auto pads = attribute::of_ints({1, 1, 1, 1});
    g.node("q0", "QuantizeLinear", {"x", "s0", "z0"}, {"xq"});
    g.node("dq0", "DequantizeLinear", {"xq", "s0", "z0"}, {"xd"});
    g.node("conv1", "Conv", {"xd", "w1", "b1"}, {"c1"}, {{"pads", pads}});
    g.node("q1", "QuantizeLinear", {"c1", "s1", "z1"}, {"c1q"});
    g.node("dq1", "DequantizeLinear", {"c1q", "s1", "z1"}, {"c1d"});
    g.node("clip", "Clip", {"c1d", "lo", "hi"}, {"r"});
    g.node("q2", "QuantizeLinear", {"r", "s2", "z2"}, {"rq"});
    g.node("dq2", "DequantizeLinear", {"rq", "s2", "z2"}, {"rd"});
    g.node("conv2", "Conv", {"rd", "w2"}, {"y"}, {{"pads", pads}});
    g.output("y");
    return g;
}
} // namespace

TEST_CASE("executor: int8 QDQ chains stay quantized between convolutions, same bytes") {
    for (const bool signed_grid : {false, true}) {
        CAPTURE(signed_grid);
        const auto g = qdq_chain(signed_grid);
        executor_options o;
        o.precision = exec_precision::int8_static;
        const executor fused(g.m, o);
        // Keeping conv1's quantized output and the values after it runs DQ, Clip and Q as
        // separate operators (ONNX semantics; conv2 then reads the Q's output).
        auto apart = o;
        apart.keep = {"r", "c1q", "c1d"};
        apart.conv_nhwc = false;
        const executor steps(g.m, apart);
        // conv1 writes its result on q1's grid; DQ → Clip → Q becomes a table in front of conv2.
        CHECK(g.path(fused, "q1") == "fused into Conv 'conv1' (it writes its result on this grid)");
        for (const char* n : {"dq1", "clip", "q2"})
            CHECK(g.path(fused, n) ==
                  "fused into Conv 'conv2' (a 256-entry table on its quantized input)");
        CHECK(g.path(fused, "dq2") == "fused into Conv 'conv2' (activation grid)");
        CHECK(g.path(fused, "conv2")
                  .find("table (DequantizeLinear → Clip → QuantizeLinear) on "
                        "its input") != std::string::npos);
        CHECK(g.path(fused, "conv1")
                  .find(std::string("result written ") + (signed_grid ? "i8" : "u8")) !=
              std::string::npos);
        CHECK(g.path(fused, "conv1").find("NCHW in, NHWC out") != std::string::npos);
        CHECK(g.path(fused, "q0") == "kernels::quantize_linear");
        CHECK(g.path(steps, "clip") == "ops::clip");
        CHECK(g.path(steps, "conv2").find("table (DequantizeLinear") == std::string::npos);
        CHECK(g.path(steps, "conv1").find("result written") != std::string::npos);
        const int before = num_threads();
        set_num_threads(1);
        const auto one = std::move(g.run(fused).at(0));
        set_num_threads(2);
        const auto two = std::move(g.run(fused).at(0));
        set_num_threads(before);
        const auto ref = std::move(g.run(steps).at(0));
        CHECK(same_bytes(one, ref));
        CHECK(same_bytes(two, ref));
        CHECK(fused.last_run_allocations() == 0);
    }
    // The Clip's output read elsewhere too: the chain stays apart.
    auto g = qdq_chain(false);
    g.node("extra", "Relu", {"r"}, {"e"});
    g.output("e");
    executor_options o;
    o.precision = exec_precision::int8_static;
    const executor ex(g.m, o); // the Clip's f32 result: a table of floats
    CHECK(g.path(ex, "clip").rfind("table of 256 floats (DequantizeLinear → Clip;", 0) == 0);
    CHECK(g.path(ex, "q2") == "kernels::quantize_linear (NHWC)");
}

// A residual block as a QDQ file has it: x → Q → [DQ → conv1 → Q(g1) → DQ] + DQ(xq) → Relu →
// Q(g2) → DQ → conv2 → y.
TEST_CASE("executor: the int8 Add of a QDQ residual block reads and writes quantized values, "
          "same bytes") {
    for (const bool signed_sum : {false, true}) {
        CAPTURE(signed_sum);
        ops_test::graph g;
        g.input("x", pseudo_random(shape{2, 8, 6, 6}, 31), {0});
        g.constant("w1", pseudo_random(shape{8, 8, 3, 3}, 32));
        g.constant("b1", pseudo_random(shape{8}, 33));
        g.constant("w2", pseudo_random(shape{4, 8, 1, 1}, 34));
        g.constant("s0", scalar_f32(4.0f / 255));
        g.constant("z0", scalar_int<std::uint8_t>(dtype::u8, 128));
        g.constant("s1", scalar_f32(0.09f));
        g.constant("z1", scalar_int<std::uint8_t>(dtype::u8, 120));
        g.constant("s2", scalar_f32(0.05f));
        if (signed_sum)
            g.constant("z2", scalar_int<std::int8_t>(dtype::i8, -128));
        else
            g.constant("z2", scalar_int<std::uint8_t>(dtype::u8, 0));
        const auto pads = attribute::of_ints({1, 1, 1, 1});
        g.node("q0", "QuantizeLinear", {"x", "s0", "z0"}, {"xq"});
        g.node("dq0", "DequantizeLinear", {"xq", "s0", "z0"}, {"xd"});
        g.node("conv1", "Conv", {"xd", "w1", "b1"}, {"c1"}, {{"pads", pads}});
        g.node("q1", "QuantizeLinear", {"c1", "s1", "z1"}, {"c1q"});
        g.node("dq1", "DequantizeLinear", {"c1q", "s1", "z1"}, {"a"});
        g.node("dqx", "DequantizeLinear", {"xq", "s0", "z0"}, {"b"});
        g.node("add", "Add", {"a", "b"}, {"s"});
        g.node("relu", "Relu", {"s"}, {"r"});
        g.node("q2", "QuantizeLinear", {"r", "s2", "z2"}, {"rq"});
        g.node("dq2", "DequantizeLinear", {"rq", "s2", "z2"}, {"rd"});
        g.node("conv2", "Conv", {"rd", "w2"}, {"y"});
        g.output("y");
        executor_options o;
        o.precision = exec_precision::int8_static;
        const executor fused(g.m, o);
        auto apart = o;
        apart.keep = {"s"}; // the f32 sum kept: DQ, Add, Relu and Q run as operators
        const executor steps(g.m, apart);
        for (const char* n : {"dq1", "dqx", "relu", "q2"})
            CHECK(g.path(fused, n) == "fused into Add 'add' (int8 Add)");
        CHECK(g.path(fused, "add")
                  .rfind(std::string("int8 Add (u8 + u8 → ") + (signed_sum ? "i8" : "u8") +
                             ", clipped to [0, inf]",
                         0) == 0);
        CHECK(g.path(fused, "q1") == "fused into Conv 'conv1' (it writes its result on this grid)");
        CHECK(g.path(fused, "q0") == "kernels::quantize_linear"); // xq read by conv1 and the Add
        // conv2 reads the sum's grid: u8 as it is, i8 through the shift onto u8.
        CHECK((g.path(fused, "conv2").find("table (i8 grid)") != std::string::npos) == signed_sum);
        CHECK(g.path(steps, "add") == "ops::binary");
        g.run(fused);
        const auto got = std::move(g.run(fused).at(0)); // a second run: nothing allocated
        CHECK(fused.last_run_allocations() == 0);
        const auto want = std::move(g.run(steps).at(0));
        CHECK(same_bytes(got, want));
    }
}

TEST_CASE("ops::quantized_add and kernels::byte_table: the bytes of the operators they replace") {
    const auto a = pseudo_random(shape{3, 5, 7, 11}, 41), b = pseudo_random(shape{3, 5, 7, 11}, 42);
    for (const auto ta : {dtype::u8, dtype::i8})
        for (const bool clip : {false, true}) {
            CAPTURE(name_of(ta));
            CAPTURE(clip);
            const ops::quant_grid ga{0.02f, ta == dtype::u8 ? 130 : 3, ta}, gb{0.03f, 0, dtype::u8},
                gy{0.045f, ta == dtype::u8 ? 10 : -20, ta};
            // QuantizeLinear / DequantizeLinear on grid g, through the kernels the operators run.
            auto params = [](const ops::quant_grid& g, tensor& scale, tensor& zero) {
                scale = scalar_f32(g.scale);
                zero = g.type == dtype::u8
                           ? scalar_int<std::uint8_t>(dtype::u8, std::uint8_t(g.zero_point))
                           : scalar_int<std::int8_t>(dtype::i8, std::int8_t(g.zero_point));
                kernels::quant_params p;
                p.scale = scale.view();
                p.zero_point = zero.view();
                return p;
            };
            auto quantize = [&](const tensor& x, const ops::quant_grid& g) {
                tensor scale, zero, q(g.type, x.dims());
                kernels::quantize_linear(x, params(g, scale, zero), q.view());
                return q;
            };
            auto dequantize = [&](const tensor& q, const ops::quant_grid& g) {
                tensor scale, zero, x(dtype::f32, q.dims());
                kernels::dequantize_linear(q, params(g, scale, zero), x.view());
                return x;
            };
            const auto qa = quantize(a, ga), qb = quantize(b, gb);
            const auto got = ops::quantized_add(qa, ga, qb, gb, gy, clip, -0.5f, 0.7f);
            auto sum = ops::add(dequantize(qa, ga), dequantize(qb, gb));
            if (clip) sum = ops::clip(sum, -0.5f, 0.7f);
            CHECK(same_bytes(got, quantize(sum, gy)));
        }
    // Every byte through a table on each ISA tier, lengths around the 64-byte steps.
    std::array<std::uint8_t, 256> table;
    for (std::size_t i = 0; i < 256; ++i)
        table[i] = std::uint8_t(i * 37 + 11);
    std::vector<std::uint8_t> src(64 * 9 + 13), dst(src.size());
    for (std::size_t i = 0; i < src.size(); ++i)
        src[i] = std::uint8_t(i * 101 + i / 256);
    const auto before = active_isa();
    for (const auto tier : {isa::scalar, isa::avx2, isa::avx512}) {
        set_max_isa(tier);
        for (const std::size_t n : {std::size_t(0), std::size_t(63), std::size_t(64), src.size()}) {
            std::fill(dst.begin(), dst.end(), std::uint8_t(0));
            kernels::byte_table(std::span<const std::uint8_t>(src.data(), n), table,
                                std::span<std::uint8_t>(dst.data(), n));
            bool ok = true;
            for (std::size_t i = 0; i < n; ++i)
                ok &= dst[i] == table[src[i]];
            CAPTURE(n);
            CHECK(ok);
        }
    }
    set_max_isa(before);
    CHECK(status_of([&] {
              kernels::byte_table(std::span<const std::uint8_t>(src.data(), 3), table,
                                  std::span<std::uint8_t>(dst.data(), 2));
          }) == status::shape_mismatch);
}

// x → Q → DQ → conv1 → Q(g1) → DQ → HardSigmoid, Mul (x·HardSigmoid(x), as torchvision exports
// HardSwish) → h; with_pool: h → GlobalAveragePool → p (an f32 output); h → Q(g2, i8) →
// [DQ → conv2 → y2, DQ → conv3 → y3] (the quantized h read by two convolutions).
ops_test::graph hardswish_graph(bool with_pool) {
    ops_test::graph g;
    g.input("x", pseudo_random(shape{2, 4, 6, 6}, 51), {0});
    g.constant("w1", pseudo_random(shape{8, 4, 3, 3}, 52));
    g.constant("w2", pseudo_random(shape{4, 8, 1, 1}, 53));
    g.constant("w3", pseudo_random(shape{3, 8, 3, 3}, 54));
    g.constant("s0", scalar_f32(4.0f / 255));
    g.constant("z0", scalar_int<std::uint8_t>(dtype::u8, 128));
    g.constant("s1", scalar_f32(0.07f));
    g.constant("z1", scalar_int<std::uint8_t>(dtype::u8, 140));
    g.constant("s2", scalar_f32(0.03f));
    g.constant("z2", scalar_int<std::int8_t>(dtype::i8, -90));
    const auto pads = attribute::of_ints({1, 1, 1, 1});
    g.node("q0", "QuantizeLinear", {"x", "s0", "z0"}, {"xq"});
    g.node("dq0", "DequantizeLinear", {"xq", "s0", "z0"}, {"xd"});
    g.node("conv1", "Conv", {"xd", "w1"}, {"c1"}, {{"pads", pads}});
    g.node("q1", "QuantizeLinear", {"c1", "s1", "z1"}, {"c1q"});
    g.node("dq1", "DequantizeLinear", {"c1q", "s1", "z1"}, {"a"});
    g.node("hs", "HardSigmoid", {"a"}, {"hsa"},
           {{"alpha", attribute::of_float(1.0f / 6)}, {"beta", attribute::of_float(0.5f)}});
    g.node("mul", "Mul", {"a", "hsa"}, {"h"});
    if (with_pool) g.node("gap", "GlobalAveragePool", {"h"}, {"p"});
    g.node("q2", "QuantizeLinear", {"h", "s2", "z2"}, {"hq"});
    g.node("dq2", "DequantizeLinear", {"hq", "s2", "z2"}, {"hd"});
    g.node("dq3", "DequantizeLinear", {"hq", "s2", "z2"}, {"hd3"});
    g.node("conv2", "Conv", {"hd", "w2"}, {"y2"});
    g.node("conv3", "Conv", {"hd3", "w3"}, {"y3"}, {{"pads", pads}});
    if (with_pool) g.output("p");
    g.output("y2");
    g.output("y3");
    return g;
}

TEST_CASE("executor: activations between quantized values become byte or float tables, same "
          "bytes") {
    executor_options o;
    o.precision = exec_precision::int8_static;
    auto apart = o;
    apart.keep = {"hsa"}; // HardSigmoid's result kept: DQ, HardSigmoid and Mul run as operators
    // h read by the pool too: DQ, HardSigmoid and Mul become a table of floats.
    const auto g = hardswish_graph(true);
    const executor fused(g.m, o);
    const executor steps(g.m, apart);
    CHECK(g.path(fused, "mul") ==
          "table of 256 floats (DequantizeLinear → HardSigmoid → Mul; ops::float_table) (NHWC)");
    for (const char* n : {"dq1", "hs"})
        CHECK(g.path(fused, n) == "fused into Mul 'mul' (a 256-entry table)");
    CHECK(g.path(fused, "q2") == "kernels::quantize_linear (NHWC)");
    CHECK(g.path(steps, "mul").rfind("ops::binary", 0) == 0);
    g.run(fused);
    const auto got = g.run(fused);
    CHECK(fused.last_run_allocations() == 0);
    const auto want = g.run(steps);
    REQUIRE(got.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(same_bytes(got[i], want[i]));

    // Without the pool the quantized h is one table (the two convolutions read it): DQ,
    // HardSigmoid, Mul and Q fold into it.
    const auto g2 = hardswish_graph(false);
    const executor tabled(g2.m, o);
    const executor apart2(g2.m, apart);
    CHECK(g2.path(tabled, "q2") ==
          "int8 table (DequantizeLinear → HardSigmoid → Mul → QuantizeLinear; ops::byte_table) "
          "(NHWC)");
    CHECK(g2.path(tabled, "conv2").find("table (i8 grid) on its input") != std::string::npos);
    const auto got2 = g2.run(tabled);
    const auto want2 = g2.run(apart2);
    REQUIRE(got2.size() == 2);
    for (std::size_t i = 0; i < 2; ++i)
        CHECK(same_bytes(got2[i], want2[i]));
}

// conv1 → Q(g1) → DQ → MaxPool (3×3 stride 2, pads 1) → Q(g2) → DQ → conv2: the pool runs on
// the quantized values (the max commutes with DequantizeLinear), then the table g1 → g2.
TEST_CASE("executor: MaxPool between DequantizeLinear and QuantizeLinear runs on the bytes, "
          "same bytes") {
    for (const bool same_grid : {false, true})
        for (const bool signed_grid : {false, true}) {
            CAPTURE(same_grid);
            CAPTURE(signed_grid);
            ops_test::graph g;
            g.input("x", pseudo_random(shape{2, 3, 9, 9}, 61), {0});
            g.constant("w1", pseudo_random(shape{6, 3, 3, 3}, 62));
            g.constant("w2", pseudo_random(shape{4, 6, 1, 1}, 63));
            g.constant("s0", scalar_f32(4.0f / 255));
            g.constant("z0", scalar_int<std::uint8_t>(dtype::u8, 128));
            g.constant("s1", scalar_f32(0.06f));
            g.constant("s2", scalar_f32(same_grid ? 0.06f : 0.045f));
            if (signed_grid) {
                g.constant("z1", scalar_int<std::int8_t>(dtype::i8, -7));
                g.constant("z2", scalar_int<std::int8_t>(dtype::i8, same_grid ? -7 : 5));
            } else {
                g.constant("z1", scalar_int<std::uint8_t>(dtype::u8, 121));
                g.constant("z2", scalar_int<std::uint8_t>(dtype::u8, same_grid ? 121 : 133));
            }
            const auto pads = attribute::of_ints({1, 1, 1, 1});
            g.node("q0", "QuantizeLinear", {"x", "s0", "z0"}, {"xq"});
            g.node("dq0", "DequantizeLinear", {"xq", "s0", "z0"}, {"xd"});
            g.node("conv1", "Conv", {"xd", "w1"}, {"c1"}, {{"pads", pads}});
            g.node("q1", "QuantizeLinear", {"c1", "s1", "z1"}, {"c1q"});
            g.node("dq1", "DequantizeLinear", {"c1q", "s1", "z1"}, {"a"});
            g.node("pool", "MaxPool", {"a"}, {"m"},
                   {{"kernel_shape", attribute::of_ints({3, 3})},
                    {"strides", attribute::of_ints({2, 2})},
                    {"pads", pads}});
            g.node("q2", "QuantizeLinear", {"m", "s2", "z2"}, {"mq"});
            g.node("dq2", "DequantizeLinear", {"mq", "s2", "z2"}, {"md"});
            g.node("conv2", "Conv", {"md", "w2"}, {"y"});
            g.output("y");
            executor_options o;
            o.precision = exec_precision::int8_static;
            for (const bool nhwc : {true, false}) {
                CAPTURE(nhwc);
                o.conv_nhwc = nhwc;
                const executor fused(g.m, o);
                auto apart = o;
                apart.keep = {"a"}; // the dequantized input kept: the pool runs on f32
                const executor steps(g.m, apart);
                CHECK(g.path(fused, "pool")
                          .rfind(std::string("MaxPool on quantized values (ops::max_pool_nhwc on "
                                             "bytes, ") +
                                     (same_grid ? "equal grids" : "then a table"),
                                 0) == 0);
                CHECK(g.path(fused, "dq1") ==
                      "fused into MaxPool 'pool' (pooled on quantized values)");
                CHECK(g.path(steps, "pool").rfind("ops::max_pool", 0) == 0);
                const auto got = std::move(g.run(fused).at(0));
                const auto want = std::move(g.run(steps).at(0));
                CHECK(same_bytes(got, want));
            }
        }
}
