// The executor's run-time plan: buffers reused across runs (no allocation once warm, also with
// concurrent runs) and the oneDNN post-op fusions, each checked against the same graph run with
// the fusion disabled (the operator library's ONNX semantics) and by the path report() names.
#include "../model/fixture_path.hpp"
#include "graph_builder.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/data/arrays.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/kernels/conv.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <thread>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace hone;
using ops_test::pseudo_random;
using ops_test::same_bytes;

namespace {} // namespace

TEST_CASE("executor: a second run at the same shape allocates no intermediate buffers") {
    const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
    const executor ex(m);
    const auto x8 = pseudo_random(shape{8, 1, 28, 28}, 1);
    const auto x3 = pseudo_random(shape{3, 1, 28, 28}, 2);
    CHECK(ex.last_run_allocations() == 0); // before any run
    const auto first = std::move(ex.run(x8.view()).at(0));
    CHECK(ex.last_run_allocations() > 0); // conv outputs, first time
    const auto second = std::move(ex.run(x8.view()).at(0));
    CHECK(ex.last_run_allocations() == 0);
    CHECK(same_bytes(first, second));
    // Another batch needs other buffers once, then none again; the first shape's results stay.
    const auto other = std::move(ex.run(x3.view()).at(0));
    CHECK(ex.last_run_allocations() > 0);
    CHECK(same_bytes(other, ex.run(x3.view()).at(0)));
    CHECK(ex.last_run_allocations() == 0);
    CHECK(same_bytes(first, ex.run(x8.view()).at(0)));
    // A fresh executor (fresh buffers) gives the same bytes.
    CHECK(same_bytes(first, executor(m).run(x8.view()).at(0)));
}

TEST_CASE("executor: concurrent runs each use their own buffers") {
    const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
    const executor ex(m);
    const auto xa = pseudo_random(shape{4, 1, 28, 28}, 3);
    const auto xb = pseudo_random(shape{4, 1, 28, 28}, 4);
    const auto ya = std::move(ex.run(xa.view()).at(0));
    const auto yb = std::move(ex.run(xb.view()).at(0));
    bool ok_a = true, ok_b = true;
    std::thread ta([&] {
        for (int i = 0; i < 20; ++i)
            ok_a &= same_bytes(ya, ex.run(xa.view()).at(0));
    });
    std::thread tb([&] {
        for (int i = 0; i < 20; ++i)
            ok_b &= same_bytes(yb, ex.run(xb.view()).at(0));
    });
    ta.join();
    tb.join();
    CHECK(ok_a);
    CHECK(ok_b);
}

namespace {

node make_node(std::string name, std::string op, std::vector<std::string> in,
               std::vector<std::string> out) {
    node n;
    n.name = std::move(name);
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

tensor scalar(float v) {
    tensor t(dtype::f32, shape{});
    t.span<float>()[0] = v;
    return t;
}

// x [N, 3, 8, 8] → Conv (4 filters 3×3, pad 1, bias) → `act` → y. `act` gets the conv output
// "c" and writes "y"; helper nodes may use "a".
model conv_then(const std::vector<node>& act) {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {3, ""}, {8, ""}, {8, ""}}, true});
    m.outputs.push_back({"y", dtype::f32, {}, false});
    m.set_weight("w", pseudo_random(shape{4, 3, 3, 3}, 7));
    m.set_weight("b", pseudo_random(shape{4}, 8));
    m.set_weight("lo", scalar(-0.5f));
    m.set_weight("hi", scalar(1.5f));
    auto conv = make_node("conv", "Conv", {"x", "w", "b"}, {"c"});
    conv.attributes["pads"] = attribute::of_ints({1, 1, 1, 1});
    m.nodes.push_back(conv);
    for (const auto& n : act)
        m.nodes.push_back(n);
    return m;
}

// max |a − b| / max |b|.
double relative_error(const tensor& got, const tensor& ref) {
    REQUIRE(got.dims() == ref.dims());
    const auto g = got.span<float>();
    const auto r = ref.span<float>();
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
        scale = std::max(scale, std::fabs(static_cast<double>(r[i])));
        err = std::max(err, std::fabs(static_cast<double>(g[i]) - r[i]));
    }
    return err / std::max(scale, 1e-30);
}

std::string path_of(const executor& ex, const std::string& node_name) {
    for (const auto& r : ex.report())
        if (r.node == node_name) return r.path;
    return {};
}

} // namespace

TEST_CASE("executor: activations after a Conv become oneDNN post-ops, with the same values") {
    auto with = [](const char* op, std::vector<std::string> extra_in = {}) {
        std::vector<std::string> in{"c"};
        in.insert(in.end(), extra_in.begin(), extra_in.end());
        return make_node("act", op, in, {"y"});
    };
    auto hard_sigmoid = make_node("act", "HardSigmoid", {"c"}, {"a"});
    hard_sigmoid.attributes["alpha"] = attribute::of_float(1.0f / 6.0f);
    hard_sigmoid.attributes["beta"] = attribute::of_float(0.5f);
    auto leaky = with("LeakyRelu");
    leaky.attributes["alpha"] = attribute::of_float(0.1f);
    auto gelu_tanh = with("Gelu");
    gelu_tanh.attributes["approximate"] = attribute::of_string("tanh");
    struct fusion_case {
        const char* name;
        std::vector<node> nodes;
        const char* fused; // what the Conv's path names
    };
    const std::vector<fusion_case> cases{
        {"LeakyRelu", {leaky}, "+ fused LeakyRelu"},
        {"Clip", {with("Clip", {"lo", "hi"})}, "+ fused Clip"},
        {"HardSigmoid", {with("HardSigmoid")}, "+ fused HardSigmoid"},
        {"HardSwish", {with("HardSwish")}, "+ fused HardSwish"},
        {"Sigmoid", {with("Sigmoid")}, "+ fused Sigmoid"},
        {"Tanh", {with("Tanh")}, "+ fused Tanh"},
        {"Gelu", {with("Gelu")}, "+ fused Gelu"},
        {"Gelu tanh", {gelu_tanh}, "+ fused Gelu"},
        {"SiLU",
         {make_node("sig", "Sigmoid", {"c"}, {"a"}), make_node("mul", "Mul", {"c", "a"}, {"y"})},
         "+ fused SiLU (x·Sigmoid(x))"},
        {"x·HardSigmoid(x)",
         {hard_sigmoid, make_node("mul", "Mul", {"a", "c"}, {"y"})},
         "+ fused HardSwish (x·HardSigmoid(x))"},
    };
    const auto x = pseudo_random(shape{2, 3, 8, 8}, 9);
    for (const auto& fc : cases) {
        CAPTURE(fc.name);
        const auto m = conv_then(fc.nodes);
        const executor fused(m);
        const executor plain(m, {.fuse_conv_activations = false});
        CHECK(path_of(fused, "conv").find(fc.fused) != std::string::npos);
        CHECK(path_of(plain, "conv").find("fused") == std::string::npos);
        for (const auto& n : fc.nodes)
            CHECK(path_of(fused, n.name).find("fused into Conv 'conv' (oneDNN post-op)") == 0);
        const auto got = std::move(fused.run(x.view()).at(0));
        const auto ref = std::move(plain.run(x.view()).at(0));
        CHECK(relative_error(got, ref) <= 1e-5);
    }
}

TEST_CASE("executor: activations stay separate when their input is needed elsewhere") {
    const auto x = pseudo_random(shape{1, 3, 8, 8}, 10);
    // The conv output is kept: nothing fuses.
    {
        const auto m = conv_then({make_node("act", "Sigmoid", {"c"}, {"y"})});
        const executor ex(m, {.keep = {"c"}});
        CHECK(path_of(ex, "act") == "ops::sigmoid");
        CHECK(ex.run_observed(std::span<const const_tensor_view>(std::vector{x.view()}),
                              std::vector<std::string>{"c"})
                  .count("c") == 1);
    }
    // x·Sigmoid(x) with another reader of the Sigmoid: not SiLU.
    {
        auto m = conv_then({make_node("sig", "Sigmoid", {"c"}, {"a"}),
                            make_node("mul", "Mul", {"c", "a"}, {"p"}),
                            make_node("add", "Add", {"p", "a"}, {"y"})});
        const executor ex(m);
        CHECK(path_of(ex, "mul") == "ops::binary (NHWC)"); // c and a held NHWC (conv_nhwc)
        const executor plain(m, {.fuse_conv_activations = false});
        CHECK(relative_error(std::move(ex.run(x.view()).at(0)),
                             std::move(plain.run(x.view()).at(0))) <= 1e-5);
    }
    // HardSigmoid with other coefficients times x: a HardSigmoid post-op is not HardSwish, and
    // the Mul (which needs x) stays.
    {
        auto hs = make_node("hs", "HardSigmoid", {"c"}, {"a"});
        hs.attributes["alpha"] = attribute::of_float(0.2f);
        const auto m = conv_then({hs, make_node("mul", "Mul", {"c", "a"}, {"y"})});
        const executor ex(m);
        CHECK(path_of(ex, "mul") == "ops::binary (NHWC), result transposed to NCHW");
        CHECK(path_of(ex, "hs") == "ops::hard_sigmoid (NHWC)");
    }
    // Reversed Clip bounds: ONNX semantics (everything at max), not fused.
    {
        auto m = conv_then({make_node("act", "Clip", {"c", "hi", "lo"}, {"y"})});
        const executor ex(m);
        CHECK(path_of(ex, "act") == "ops::clip (NHWC), result transposed to NCHW");
    }
}

TEST_CASE("kernels::conv2d: post-op arguments are checked") {
    kernels::conv2d_params p;
    p.in_channels = 1;
    p.out_channels = 1;
    const std::vector<float> w{1.0f};
    p.post_ops = {{kernels::conv_activation::clip, 2.0f, 1.0f}};
    CHECK_THROWS_WITH_AS(kernels::conv2d(p, w), doctest::Contains("clip post-op bounds"),
                         hone::error);
    p.post_ops = {{kernels::conv_activation::linear, std::numeric_limits<float>::infinity(), 0.0f}};
    CHECK_THROWS_WITH_AS(kernels::conv2d(p, w), doctest::Contains("must be finite"), hone::error);
}

TEST_CASE("executor: corpus CNNs give the same outputs with and without the post-op fusions") {
    // mobilenet_v2 (Clip = ReLU6), mobilenet_v3_small (x·HardSigmoid(x), HardSigmoid),
    // efficientnet_b0 (x·Sigmoid(x) = SiLU), resnet18 (residual Add + Relu).
    for (const char* name : {"mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "resnet18"}) {
        const auto dir = test::fixtures_dir() / "corpus";
        const auto m = load_onnx(dir / (std::string(name) + ".onnx"));
        const auto xp = dir / (std::string(name) + ".input.npy");
        REQUIRE(std::filesystem::exists(xp));
        const auto x = parse_npy(read_file(xp), xp.string());
        const executor fused(m);
        const executor plain(m, {.fuse_conv_activations = false});
        int post_ops = 0;
        for (const auto& r : fused.report())
            post_ops += r.path.find("(oneDNN post-op)") != std::string::npos ||
                        r.path.find("(oneDNN sum post-op)") != std::string::npos;
        MESSAGE(std::string(name) << ": " << post_ops << " nodes fused as post-ops");
        CHECK(post_ops > 0);
        CHECK(relative_error(std::move(fused.run(x.view()).at(0)),
                             std::move(plain.run(x.view()).at(0))) <= 1e-5);
    }
}

TEST_CASE("executor: Clip in a buffer of the run's pool keeps ONNX semantics (NaN, ±inf, −0)") {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{6, ""}}, true});
    m.outputs.push_back({"y", dtype::f32, {}, false});
    m.set_weight("lo", scalar(-1.0f));
    m.set_weight("hi", scalar(2.0f));
    m.nodes.push_back(make_node("clip", "Clip", {"x", "lo", "hi"}, {"c"}));
    m.nodes.push_back(make_node("copy", "Identity", {"c"}, {"y"}));
    const executor ex(m);
    const float inf = std::numeric_limits<float>::infinity();
    tensor x(dtype::f32, shape{6});
    const float in[6] = {std::nanf(""), -inf, inf, -0.0f, 1.5f, -3.0f};
    std::copy(in, in + 6, x.span<float>().begin());
    for (int run = 0; run < 2; ++run) { // the second run reuses the first one's buffer
        const auto y = std::move(ex.run(x.view()).at(0));
        const auto v = y.span<const float>();
        CHECK(std::isnan(v[0]));
        CHECK(v[1] == -1.0f);
        CHECK(v[2] == 2.0f);
        CHECK((v[3] == 0.0f && std::signbit(v[3])));
        CHECK(v[4] == 1.5f);
        CHECK(v[5] == -1.0f);
    }
}

namespace {
// x [N, 4, 8, 8]; c = Conv(x) (4 → 4 channels, pad 1). kind 0: y = Relu(Add(x, c)); kind 1:
// y = Add(Neg(x), c), the addend computed after the Conv; kind 2: as 0 with c also an output.
model residual_model(int kind) {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {4, ""}, {8, ""}, {8, ""}}, true});
    m.outputs.push_back({"y", dtype::f32, {}, false});
    if (kind == 2) m.outputs.push_back({"c", dtype::f32, {}, false});
    m.set_weight("w", pseudo_random(shape{4, 4, 3, 3}, 11));
    m.set_weight("b", pseudo_random(shape{4}, 12));
    auto conv = make_node("conv", "Conv", {"x", "w", "b"}, {"c"});
    conv.attributes["pads"] = attribute::of_ints({1, 1, 1, 1});
    m.nodes.push_back(conv);
    if (kind == 1) {
        m.nodes.push_back(make_node("neg", "Neg", {"x"}, {"n"}));
        m.nodes.push_back(make_node("add", "Add", {"n", "c"}, {"y"}));
        return m;
    }
    m.nodes.push_back(make_node("add", "Add", {"x", "c"}, {"s"}));
    m.nodes.push_back(make_node("relu", "Relu", {"s"}, {"y"}));
    return m;
}
} // namespace

TEST_CASE("executor: Conv + residual Add (+ Relu) runs as one oneDNN convolution") {
    const auto m = residual_model(0);
    const auto x = pseudo_random(shape{3, 4, 8, 8}, 13);
    const executor fused(m);
    const executor plain(m, {.fuse_conv_activations = false});
    CHECK(path_of(fused, "conv").find("+ fused residual Add + fused Relu") != std::string::npos);
    CHECK(path_of(fused, "add") == "fused into Conv 'conv' (oneDNN sum post-op)");
    CHECK(path_of(plain, "add") == "ops::binary");
    for (int run = 0; run < 2; ++run)
        CHECK(relative_error(std::move(fused.run(x.view()).at(0)),
                             std::move(plain.run(x.view()).at(0))) <= 1e-5);
    // The addend computed after the Conv: the Add stays (the Conv would run before it exists).
    CHECK(path_of(executor(residual_model(1)), "add") == "ops::binary");
    // The Conv's output also read elsewhere: not fused.
    CHECK(path_of(executor(residual_model(2)), "add") == "ops::binary");
}

TEST_CASE("kernels::conv2d: the sum post-op adds the addend before the ReLU") {
    kernels::conv2d_params p;
    p.in_channels = 3;
    p.out_channels = 5;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    const auto w = pseudo_random(shape{5, 3, 3, 3}, 14);
    const auto bias = pseudo_random(shape{5}, 15);
    const auto x = pseudo_random(shape{2, 3, 6, 6}, 16);
    const auto r = pseudo_random(shape{2, 5, 6, 6}, 17);
    const kernels::conv2d plain(p, w.span<const float>(), bias.span<const float>());
    tensor ref(dtype::f32, shape{2, 5, 6, 6});
    plain.run(x.view(), ref.view());
    for (auto [v, a] = std::pair{ref.span<float>().begin(), r.span<const float>().begin()};
         v != ref.span<float>().end(); ++v, ++a)
        *v = std::max(*v + *a, 0.0f);
    p.sum = true;
    p.relu = true;
    const kernels::conv2d summed(p, w.span<const float>(), bias.span<const float>());
    tensor got(dtype::f32, shape{2, 5, 6, 6});
    summed.run(x.view(), got.view(), r.view());
    CHECK(relative_error(got, ref) <= 1e-6);
    // In place: the addend is dst itself.
    auto inplace = r.clone();
    summed.run(x.view(), inplace.view(), inplace.view());
    CHECK(relative_error(inplace, ref) <= 1e-6);
    // Misuse.
    CHECK_THROWS_WITH_AS(summed.run(x.view(), got.view()), doctest::Contains("pass the addend"),
                         hone::error);
    CHECK_THROWS_WITH_AS(plain.run(x.view(), got.view(), r.view()),
                         doctest::Contains("needs params.sum"), hone::error);
    const auto small = pseudo_random(shape{1, 5, 6, 6}, 18);
    CHECK_THROWS_WITH_AS(summed.run(x.view(), got.view(), small.view()),
                         doctest::Contains("the addend is f32 [1, 5, 6, 6]"), hone::error);
    p.type = kernels::gemm_type::int8;
    CHECK_THROWS_WITH_AS(kernels::conv2d(p, w.span<const float>()), doctest::Contains("f32 only"),
                         hone::error);
}

TEST_CASE("executor: Add/Sub/Mul/Div of equal shapes or a per-channel scale, in pooled buffers") {
    // y = (s·x − x) / (x + x) − s with s [N, C, 1, 1] (a squeeze-excitation scale) as first and
    // as second operand; checked element by element against the same float arithmetic.
    model m;
    m.inputs.push_back({"x", dtype::f32, {{2, ""}, {3, ""}, {4, ""}, {5, ""}}, true});
    m.inputs.push_back({"s", dtype::f32, {{2, ""}, {3, ""}, {1, ""}, {1, ""}}, true});
    m.outputs.push_back({"y", dtype::f32, {}, false});
    m.nodes.push_back(make_node("mul", "Mul", {"s", "x"}, {"p"}));
    m.nodes.push_back(make_node("sub", "Sub", {"p", "x"}, {"q"}));
    m.nodes.push_back(make_node("add", "Add", {"x", "x"}, {"r"}));
    m.nodes.push_back(make_node("div", "Div", {"q", "r"}, {"t"}));
    m.nodes.push_back(make_node("sub2", "Sub", {"t", "s"}, {"y"}));
    const executor ex(m);
    const auto x = pseudo_random(shape{2, 3, 4, 5}, 19);
    const auto sc = pseudo_random(shape{2, 3, 1, 1}, 20);
    const std::vector<const_tensor_view> in{x.view(), sc.view()};
    for (int run = 0; run < 2; ++run) {
        const auto y = std::move(ex.run(in).at(0));
        REQUIRE(y.dims() == shape({2, 3, 4, 5}));
        bool same = true;
        for (std::int64_t i = 0; i < 120; ++i) {
            const float xv = x.span<const float>()[static_cast<std::size_t>(i)];
            const float sv = sc.span<const float>()[static_cast<std::size_t>(i / 20)];
            const float p = sv * xv, q = p - xv, r = xv + xv, t = q / r;
            same &= y.span<const float>()[static_cast<std::size_t>(i)] == t - sv;
        }
        CHECK(same);
    }
    CHECK(ex.last_run_allocations() == 0);
}
