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

using namespace hone;

namespace {

tensor read_npy(const char* name) {
    const auto path = test::fashion_fixture(name);
    return parse_npy(read_file(path), path.string());
}

bool have(const char* name) { return std::filesystem::exists(test::fashion_fixture(name)); }

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
    std::ifstream in(test::fashion_fixture("fixtures.json"));
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
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
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
        if (!have(f)) continue;
        CAPTURE(f);
        executor ex(load_onnx(test::fashion_fixture(f)));
        CHECK(relative_error(ex.run(x.view()).at(0).view(), ref.view()) <= 1e-4);
    }
}

TEST_CASE("executor: observation by name, unfused when kept") {
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
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
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
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
    if (!have("mobile_block.onnx")) return;
    const auto m = load_onnx(test::fashion_fixture("mobile_block.onnx"));
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
    if (!have("tiny_encoder.onnx")) return;
    const auto m = load_onnx(test::fashion_fixture("tiny_encoder.onnx"));
    executor ex(m);
    const auto x = read_npy("tiny_encoder_input.npy");
    const auto ref = read_npy("tiny_encoder_output.npy");
    const auto err = relative_error(ex.run(x.view()).at(0).view(), ref.view());
    MESSAGE("tiny_encoder relative max error " << err << "\n" << ex.report_text());
    CHECK(err <= 1e-4);
}
