// `hone optimize --recipe P` on the Fashion-MNIST MLP and CNN, for the presets int8,
// int8-dynamic, int4, cluster16, sparse50 and compact: ONNX Runtime (tests/ort) runs the
// written file on the 10,000 test images with the top-1 of hone running that same file, and
// the file is smaller than the input by the preset's promise (docs/onnxruntime.md).
#include "../model/fixture_path.hpp"
#include "../ort/top1.hpp"
#include "../ort_runner.hpp"
#include "cli_run.hpp"

#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using namespace hone;
namespace fs = std::filesystem;

namespace {

// True when a QuantizeLinear → DequantizeLinear pair feeds a Gemm / MatMul / Conv: hone then
// runs the file with exec_precision::int8_static (the pair fused into its int8 kernel).
bool has_qdq_activations(const model& m) {
    std::set<std::string> q_out, dq_out;
    for (const auto& n : m.nodes)
        if (n.op_type == "QuantizeLinear") q_out.insert(n.outputs.at(0));
    for (const auto& n : m.nodes)
        if (n.op_type == "DequantizeLinear" && q_out.count(n.inputs.at(0)))
            dq_out.insert(n.outputs.at(0));
    for (const auto& n : m.nodes)
        if (n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "Conv")
            for (const auto& in : n.inputs)
                if (dq_out.count(in)) return true;
    return false;
}

struct preset {
    const char* name;
    double min_ratio; // input file bytes / output file bytes; 0: stated, not asserted
};

void check_presets(const char* fixture, const std::vector<std::int64_t>& sample) {
    // Permissive bounds: every preset is approved and written; this test judges the file.
    cli_test::temp_dir dir(std::string("ort_presets_") + fixture);
    const auto policy = dir / "policy.json";
    std::ofstream(policy)
        << R"({"tier": "low", "max_accuracy_drop": 1, "max_slice_accuracy_drop": 1,)"
           R"( "min_agreement": 0, "max_latency_regression": 100,)"
           R"( "min_slice_samples": 100000})";
    const auto input = test::fashion_fixture(fixture);
    const auto data = dataset::fashion_mnist("test");
    const auto count = data.size();
    const auto x = test::images(data, 0, count, sample);

    for (const preset p : {preset{"int8", 3.5}, preset{"int8-dynamic", 3.5}, preset{"int4", 6},
                           preset{"compact", 3.5}, preset{"cluster16", 0}, preset{"sparse50", 0}}) {
        CAPTURE(std::string(fixture));
        CAPTURE(std::string(p.name));
        const auto out = dir.path / (std::string(p.name) + ".onnx");
        const auto r = cli_test::hone_cli(
            {"optimize", input.string(), "--recipe", p.name, "--calib", "fashion-mnist:train:512",
             "--eval", "fashion-mnist:test:500", "--policy", policy, "--out", out.string(),
             "--ledger", dir / "ledger.jsonl", "--latency-batch", "1", "--repeats", "1", "-q"});
        INFO("hone optimize stderr: " << r.err);
        REQUIRE(r.code == 0);
        REQUIRE(fs::exists(out));

        const auto m = load_onnx(out);
        executor_options o;
        const bool qdq = has_qdq_activations(m);
        if (qdq) o.precision = exec_precision::int8_static;
        const executor ex(m, o);
        const auto p_hone = test::top1(ex, data, sample, count);
        const auto p_ort = test::top1(test::ort_run(out, x.view()));
        const double agree = test::agreement(p_ort, p_hone);
        const double ratio = double(fs::file_size(input)) / double(fs::file_size(out));
        MESSAGE(std::string(fixture)
                << " " << std::string(p.name) << ": " << fs::file_size(out) << " bytes (" << ratio
                << "x smaller than " << fs::file_size(input) << "), ORT vs hone ("
                << std::string(qdq ? "int8_static" : "f32") << ") top-1 agreement " << agree
                << " over " << count << " images");
        CHECK(agree >= 0.995);
        if (p.min_ratio > 0) CHECK(ratio >= p.min_ratio);
    }
}

} // namespace

TEST_CASE("ort presets: the MLP's optimized files run in ONNX Runtime, smaller") {
    check_presets("mlp.onnx", {784});
}

TEST_CASE("ort presets: the CNN's optimized files run in ONNX Runtime, smaller") {
    check_presets("cnn.onnx", {1, 28, 28});
}
