// The graph executor against the fixtures' reference outputs and accuracy, and its planning
// (folding, fusion, observation, int8 paths, errors at load).
#include "../model/fixture_path.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/data/arrays.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

// executor_options are given as designated initializers naming only what a test changes; the
// rest keep their defaults on purpose (GCC 12 warns about every member left out).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace hone;

namespace {

// The committed fixture `name`; the test fails, naming it, when it is missing.
std::filesystem::path fixture(const char* name) {
    const auto path = test::fashion_fixture(name);
    REQUIRE_MESSAGE(std::filesystem::exists(path),
                    "fixture tests/fixtures/fashion_mnist/"
                        << name << " missing (looked for " << path.string()
                        << "; HONE_FIXTURES overrides tests/fixtures): it is committed, restore "
                           "it with git or run scripts/make_fixtures.py");
    return path;
}

tensor read_npy(const char* name) {
    const auto path = fixture(name);
    return parse_npy(read_file(path), path.string());
}

// max |a − b| / max |ref|.
double relative_error(const_tensor_view got, const_tensor_view ref) {
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

tensor first_rows(const tensor& all, std::int64_t n) {
    std::vector<std::int64_t> dims(all.dims().dims().begin(), all.dims().dims().end());
    dims[0] = n;
    return tensor::copy_of(all.view().slice(0, 0, n));
}

double accuracy(executor& ex, const dataset& data, const shape& sample) {
    std::int64_t right = 0;
    const std::int64_t batch = 500;
    for (std::int64_t b = 0; b < data.size(); b += batch) {
        const auto e = std::min(data.size(), b + batch);
        auto x = tensor::copy_of(data.inputs().view().slice(0, b, e));
        std::vector<std::int64_t> dims{e - b};
        dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
        const auto v =
            make_view(x.data(), x.nbytes(), dtype::f32, shape(std::span<const std::int64_t>(dims)));
        const auto outs = ex.run(v);
        const auto& y = outs.at(0);
        const auto classes = y.dims()[1];
        const auto p = y.span<float>();
        for (std::int64_t i = 0; i < e - b; ++i) {
            const auto* row = p.data() + i * classes;
            const auto arg = std::max_element(row, row + classes) - row;
            right += arg == data.labels()[static_cast<std::size_t>(b + i)];
        }
    }
    return static_cast<double>(right) / static_cast<double>(data.size());
}

double fixture_accuracy(const char* file) {
    std::ifstream in(fixture("fixtures.json"));
    std::string text((std::istreambuf_iterator<char>(in)), {});
    // "test_accuracy_fp32": value, within the entry of `file`.
    const auto at = text.find(std::string("\"") + file + "\"");
    REQUIRE(at != std::string::npos);
    const auto key = text.find("\"test_accuracy_fp32\":", at);
    REQUIRE(key != std::string::npos);
    return std::stod(text.substr(key + 21));
}

} // namespace

TEST_CASE("executor: mlp.onnx matches the reference logits and the fp32 test accuracy") {
    const auto m = load_onnx(fixture("mlp.onnx"));
    executor ex(m);
    const auto ref = read_npy("mlp_ref_logits.npy");
    const auto test = dataset::fashion_mnist("test");
    const auto x = first_rows(test.inputs(), ref.dims()[0]);
    const auto y = ex.run(x.view());
    REQUIRE(y.size() == 1);
    const auto err = relative_error(y[0].view(), ref.view());
    MESSAGE("mlp relative max error " << err);
    CHECK(err <= 1e-4);
    // Every Relu fused into its Gemm, every Gemm on the oneDNN linear kernel.
    for (const auto& r : ex.report()) {
        if (r.op_type == "Gemm") CHECK(r.path.find("f32 linear") == 0);
        if (r.op_type == "Relu") CHECK(r.path.find("fused into Gemm") == 0);
    }
    const double acc = accuracy(ex, test, shape{784});
    MESSAGE("mlp fp32 accuracy " << acc << " (fixtures.json " << fixture_accuracy("mlp.onnx")
                                 << ")");
    CHECK(std::fabs(acc - fixture_accuracy("mlp.onnx")) < 0.5e-4 + 1e-9);
    CHECK(ex.ops_per_sample() == doctest::Approx(2.0 * (784 * 256 + 256 * 128 + 128 * 10)));
}

TEST_CASE("executor: the MLP variants (Constant nodes, external data) give the same logits") {
    const auto ref = read_npy("mlp_ref_logits.npy");
    const auto x = first_rows(dataset::fashion_mnist("test").inputs(), ref.dims()[0]);
    for (const char* f : {"mlp_constants.onnx", "mlp_external.onnx"}) {
        const std::string file = f;
        CAPTURE(file);
        executor ex(load_onnx(fixture(f)));
        CHECK(relative_error(ex.run(x.view()).at(0).view(), ref.view()) <= 1e-4);
    }
}

TEST_CASE("executor: observation by name, unfused when kept") {
    const auto m = load_onnx(fixture("mlp.onnx"));
    const auto x = first_rows(dataset::fashion_mnist("test").inputs(), 8);
    // With fusion, the Gemm outputs before the Relus are not produced.
    executor fused(m);
    executor plain(m, {.fuse_relu = false});
    const auto names_fused = fused.observable();
    const auto names_plain = plain.observable();
    CHECK(names_plain.size() == 5);
    CHECK(names_fused.size() == 3);
    std::map<std::string, tensor> seen;
    const auto out = plain.run(x.view(), [&](const std::string& n, const_tensor_view v) {
        seen.emplace(n, tensor::copy_of(v));
    });
    CHECK(seen.size() == 5);
    // Relu outputs observed by the fused plan equal those of the unfused plan.
    const auto got = fused.run_observed(
        std::span<const const_tensor_view>(std::vector<const_tensor_view>{x.view()}), names_fused);
    for (const auto& n : names_fused) {
        REQUIRE(seen.count(n));
        CHECK(relative_error(got.at(n).view(), seen.at(n).view()) <= 1e-6);
    }
    // A fused-away value is not observable: the error says why.
    std::vector<std::string> gone;
    for (const auto& n : names_plain)
        if (std::find(names_fused.begin(), names_fused.end(), n) == names_fused.end())
            gone.push_back(n);
    REQUIRE(!gone.empty());
    const std::vector<const_tensor_view> in{x.view()};
    CHECK_THROWS_WITH_AS(fused.run_observed(in, std::vector<std::string>{gone[0]}),
                         doctest::Contains("keep"), hone::error);
    executor kept(m, {.keep = {gone[0]}});
    CHECK(kept.run_observed(in, std::vector<std::string>{gone[0]}).count(gone[0]) == 1);
}

TEST_CASE("executor: int8 dynamic linear layers agree with fp32 on the test set") {
    const auto m = load_onnx(fixture("mlp.onnx"));
    executor f32(m);
    executor q(m, {.precision = exec_precision::int8_dynamic});
    CHECK(q.uses_int8());
    for (const auto& r : q.report())
        if (r.op_type == "Gemm") CHECK(r.path.find("int8 dynamic linear") == 0);
    const auto test = dataset::fashion_mnist("test");
    const double a32 = accuracy(f32, test, shape{784}), a8 = accuracy(q, test, shape{784});
    MESSAGE("mlp accuracy fp32 " << a32 << ", int8 dynamic " << a8);
    CHECK(std::fabs(a32 - a8) < 0.01);
}

TEST_CASE("executor: mobile_block.onnx matches its reference output") {
    const auto m = load_onnx(fixture("mobile_block.onnx"));
    const auto x = read_npy("mobile_block_input.npy");
    const auto ref = read_npy("mobile_block_output.npy");
    for (const bool fold : {true, false}) {
        executor ex(m, {.fold_batch_norm = fold, .fuse_relu = fold});
        const auto err = relative_error(ex.run(x.view()).at(0).view(), ref.view());
        MESSAGE("mobile_block (folding " << fold << ") relative max error " << err);
        CHECK(err <= 1e-4);
        if (fold) {
            int folded = 0;
            for (const auto& r : ex.report())
                folded += r.path.find("folded into Conv") == 0;
            CHECK(folded == 2);
        }
    }
}

TEST_CASE("executor: tiny_encoder.onnx matches its reference output") {
    const auto m = load_onnx(fixture("tiny_encoder.onnx"));
    executor ex(m);
    const auto x = read_npy("tiny_encoder_input.npy");
    const auto ref = read_npy("tiny_encoder_output.npy");
    const auto err = relative_error(ex.run(x.view()).at(0).view(), ref.view());
    MESSAGE("tiny_encoder relative max error " << err << "\n" << ex.report_text());
    CHECK(err <= 1e-4);
    int bias_fused = 0;
    for (const auto& r : ex.report())
        bias_fused += r.path.find("fused into MatMul") == 0;
    CHECK(bias_fused == 6);
    // Unfused, the same numbers.
    executor plain(m, {.fuse_relu = false});
    CHECK(relative_error(plain.run(x.view()).at(0).view(), ref.view()) <= 1e-4);
    // Dynamic int8 on the six projections: close to the reference (a figure, not a contract).
    executor q(m, {.precision = exec_precision::int8_dynamic});
    const auto qerr = relative_error(q.run(x.view()).at(0).view(), ref.view());
    MESSAGE("tiny_encoder int8 dynamic relative max error " << qerr);
    CHECK(qerr < 0.1);
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
tensor i64s(std::vector<std::int64_t> v, bool scalar = false) {
    tensor t(dtype::i64, scalar ? shape{} : shape{static_cast<std::int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.span<std::int64_t>().begin());
    return t;
}
// x [N, 2, 3, 4] → y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), gather_index)), [-1]))
model flatten_by_shape(std::int64_t gather_index) {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {2, ""}, {3, ""}, {4, ""}}, true});
    m.outputs.push_back({"y", dtype::f32, {}, false});
    m.set_weight("index", i64s({gather_index}, true));
    m.set_weight("axes0", i64s({0}));
    m.set_weight("minus1", i64s({-1}));
    m.nodes.push_back(make_node("shape", "Shape", {"x"}, {"s"}));
    m.nodes.push_back(make_node("gather", "Gather", {"s", "index"}, {"g"}));
    m.nodes.push_back(make_node("unsq", "Unsqueeze", {"g", "axes0"}, {"u"}));
    auto concat = make_node("concat", "Concat", {"u", "minus1"}, {"target"});
    concat.attributes["axis"] = attribute::of_int(0);
    m.nodes.push_back(concat);
    m.nodes.push_back(make_node("reshape", "Reshape", {"x", "target"}, {"y"}));
    return m;
}
} // namespace

TEST_CASE("executor: shape subgraphs fold at load, with the batch dim dynamic") {
    tensor x(dtype::f32, shape{5, 2, 3, 4});
    for (std::size_t i = 0; i < 120; ++i)
        x.span<float>()[i] = static_cast<float>(i);
    // Gather(Shape(x), 0) is the dynamic batch: the target becomes the constant [0, -1].
    {
        executor ex(flatten_by_shape(0));
        std::map<std::string, std::string> path;
        for (const auto& r : ex.report())
            path[r.node] = r.path;
        CHECK(path["reshape"] == "ops::reshape");
        for (const char* n : {"shape", "gather", "unsq", "concat"}) {
            CAPTURE(n);
            CHECK((path[n].find("folded") == 0 || path[n].find("removed") == 0));
        }
        CHECK(ex.observable() == std::vector<std::string>{"y"});
        const auto y = ex.run(x.view());
        CHECK(y.at(0).dims() == shape({5, 24}));
        CHECK(y.at(0).span<float>()[119] == 119.0f);
    }
    // Gather(Shape(x), 2) is static (3): everything folds to [3, -1].
    {
        executor ex(flatten_by_shape(2));
        CHECK(ex.observable() == std::vector<std::string>{"y"});
        CHECK(ex.run(x.view()).at(0).dims() == shape({3, 40}));
    }
    // Folding off: the same answer, computed at run time.
    {
        executor ex(flatten_by_shape(0), {.fold_constants = false});
        CHECK(ex.observable().size() == 5);
        CHECK(ex.run(x.view()).at(0).dims() == shape({5, 24}));
    }
}

TEST_CASE("executor: errors at load name the nodes; errors at run name the input or node") {
    model m = flatten_by_shape(0);
    m.nodes.push_back(make_node("mystery", "FancyOp", {"y"}, {"z1"}));
    m.nodes.push_back(make_node("custom", "Relu", {"y"}, {"z2"}));
    m.nodes.back().domain = "com.example";
    m.outputs.push_back({"z1", dtype::f32, {}, false});
    try {
        executor ex(m);
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == status::unsupported);
        const std::string msg = e.what();
        CHECK(msg.find("FancyOp 'mystery'") != std::string::npos);
        CHECK(msg.find("Relu 'custom' (domain 'com.example')") != std::string::npos);
    }
    executor ex(flatten_by_shape(0));
    tensor wrong(dtype::f32, shape{5, 2, 3, 5});
    CHECK_THROWS_WITH_AS(ex.run(wrong.view()), doctest::Contains("'x'"), hone::error);
    tensor ints(dtype::i32, shape{5, 2, 3, 4});
    CHECK_THROWS_AS(ex.run(ints.view()), hone::error);
    const std::vector<const_tensor_view> none;
    CHECK_THROWS_AS(ex.run(std::span<const const_tensor_view>(none)), hone::error);
}

TEST_CASE("graph_runner: a validation runner over the executor") {
    const auto m = load_onnx(fixture("mlp.onnx"));
    graph_runner r(m);
    CHECK(r.name() == "hone f32");
    const auto x = first_rows(dataset::fashion_mnist("test").inputs(), 4);
    const auto y = r.run(x.view());
    CHECK(y.dims() == shape({4, 10}));
    CHECK(r.work_per_sample().ops_per_sample > 4e5);
    CHECK(!r.work_per_sample().int8);
    CHECK(r.model_bytes() >= 235146 * 4);
    graph_runner q(m, {.precision = exec_precision::int8_dynamic});
    CHECK(q.name() == "hone int8");
    CHECK(q.model_bytes() < r.model_bytes() / 2);
}

namespace {
// Min/max of every value the plan produces (and the input), over `n` training images.
std::map<std::string, tensor_range, std::less<>> calibrate(const model& m, std::int64_t n) {
    executor ex(m);
    const auto train = dataset::fashion_mnist("train").subset(n, 7);
    auto x = tensor::copy_of(train.inputs().view());
    const auto v = make_view(x.data(), x.nbytes(), dtype::f32, shape{n, 1, 28, 28});
    std::map<std::string, tensor_range, std::less<>> r;
    auto note = [&](const std::string& name, const_tensor_view t) {
        const auto s = tensor::copy_of(t);
        const auto p = s.span<float>();
        auto [lo, hi] = std::minmax_element(p.begin(), p.end());
        auto& e = r[name];
        e.lo = std::min(e.lo, *lo);
        e.hi = std::max(e.hi, *hi);
    };
    note(m.inputs[0].name, v);
    (void)ex.run(v, note);
    return r;
}
} // namespace

TEST_CASE("executor: cnn.onnx (opsets 13, 9, 17) matches the reference logits and accuracy") {
    const auto ref = read_npy("cnn_ref_logits.npy");
    const auto test = dataset::fashion_mnist("test");
    auto x = first_rows(test.inputs(), ref.dims()[0]);
    const auto v = make_view(x.data(), x.nbytes(), dtype::f32, shape{ref.dims()[0], 1, 28, 28});
    for (const char* f : {"cnn.onnx", "cnn_opset9.onnx", "cnn_opset17.onnx"}) {
        const std::string file = f;
        CAPTURE(file);
        const auto m = load_onnx(fixture(f));
        executor ex(m);
        const auto err = relative_error(ex.run(v).at(0).view(), ref.view());
        MESSAGE(file << " relative max error " << err);
        CHECK(err <= 1e-4);
        int folded = 0, conv_kernel = 0;
        for (const auto& r : ex.report()) {
            folded += r.path.find("folded into Conv") == 0;
            conv_kernel += r.path.find("f32 conv2d (oneDNN) + fused ReLU") == 0;
        }
        CHECK(folded == 2);
        CHECK(conv_kernel == 2);
        executor unfolded(m, {.fold_batch_norm = false});
        CHECK(relative_error(unfolded.run(v).at(0).view(), ref.view()) <= 1e-4);
    }
    executor ex(load_onnx(fixture("cnn.onnx")));
    const double acc = accuracy(ex, test, shape{1, 28, 28});
    MESSAGE("cnn fp32 accuracy " << acc << " (fixtures.json " << fixture_accuracy("cnn.onnx")
                                 << ")");
    CHECK(std::fabs(acc - fixture_accuracy("cnn.onnx")) < 0.5e-4 + 1e-9);
}

TEST_CASE("executor: cnn.onnx in static int8 with calibrated ranges") {
    const auto m = load_onnx(fixture("cnn.onnx"));
    executor_options o;
    o.precision = exec_precision::int8_static;
    o.activation_ranges = calibrate(m, 1000);
    executor q(m, o);
    int convs = 0, linears = 0;
    for (const auto& r : q.report()) {
        convs += r.path.find("int8 static conv2d") == 0;
        linears += r.path.find("int8 static linear") == 0;
    }
    MESSAGE(q.report_text());
    CHECK(convs == 2);
    CHECK(linears == 2);
    executor f(m);
    const auto test = dataset::fashion_mnist("test");
    const double a32 = accuracy(f, test, shape{1, 28, 28});
    const double a8 = accuracy(q, test, shape{1, 28, 28});
    MESSAGE("cnn accuracy fp32 " << a32 << ", static int8 " << a8);
    CHECK(std::fabs(a32 - a8) < 0.01);
}

TEST_CASE("executor: int8 fallbacks are reported — no range, f32_nodes") {
    const auto m = load_onnx(fixture("cnn.onnx"));
    executor_options o;
    o.precision = exec_precision::int8_static; // no ranges at all
    o.f32_nodes = {"/fc2/Gemm"};
    executor q(m, o);
    std::map<std::string, std::string> path;
    for (const auto& r : q.report())
        path[r.node] = r.path;
    CHECK(path["/conv1/Conv"].find("f32 conv2d") == 0);
    CHECK(path["/conv1/Conv"].find("needs a static activation range for 'input'") !=
          std::string::npos);
    CHECK(path["/fc1/Gemm"].find("int8 dynamic linear") == 0);
    CHECK(path["/fc1/Gemm"].find("no activation range") != std::string::npos);
    CHECK(path["/fc2/Gemm"].find("f32 linear") == 0);
    CHECK(q.uses_int8());
    // fp32 nodes in an int8 plan still give the right answer on the f32 layers.
    const auto ref = read_npy("cnn_ref_logits.npy");
    auto x = first_rows(dataset::fashion_mnist("test").inputs(), ref.dims()[0]);
    const auto v = make_view(x.data(), x.nbytes(), dtype::f32, shape{ref.dims()[0], 1, 28, 28});
    const auto y = q.run(v);
    std::int64_t same = 0;
    for (std::int64_t i = 0; i < ref.dims()[0]; ++i) {
        const auto* a = y[0].span<float>().data() + i * 10;
        const auto* b = ref.span<float>().data() + i * 10;
        same += (std::max_element(a, a + 10) - a) == (std::max_element(b, b + 10) - b);
    }
    CHECK(same >= ref.dims()[0] * 97 / 100);
}
