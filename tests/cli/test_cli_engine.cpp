// Validation on the engine's own runners (runner_factory, hone/pipeline/optimize.hpp): through
// hone::optimize and hone::validate_change, the engine is given each file's exact bytes, and
// the decision is made on its answers.
#include "cli_run.hpp"

#include "../model/fixture_path.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/pipeline/optimize.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

using namespace hone;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// An engine that runs the baseline on hone's executor, parsed from the bytes it is given, and
/// answers class 0 for every candidate sample; it keeps the bytes of each role.
struct test_engine {
    std::map<std::string, std::string> seen;

    runner_factory factory() {
        return [this](std::string_view role, std::span<const std::uint8_t> onnx) {
            const std::string bytes(reinterpret_cast<const char*>(onnx.data()), onnx.size());
            seen[std::string(role)] = bytes;
            std::unique_ptr<runner> r;
            if (role == "baseline") {
                auto exec = std::make_shared<executor>(parse_onnx(bytes, "engine baseline"));
                r = std::make_unique<function_runner>( // inputs come in the model's shape
                    "engine baseline",
                    [exec](const_tensor_view x) { return std::move(exec->run(x)[0]); });
            } else {
                r = std::make_unique<function_runner>("always class 0", [](const_tensor_view x) {
                    tensor y(dtype::f32, shape{x.dims()[0], 10});
                    auto v = y.span<float>();
                    for (std::size_t i = 0; i < v.size(); ++i)
                        v[i] = i % 10 == 0 ? 1.0f : 0.0f;
                    return y;
                });
            }
            return r;
        };
    }
};

// Gates accuracy only (latency is machine noise here, and #18's business).
fs::path accuracy_policy(const fs::path& dir) {
    const auto p = dir / "accuracy.json";
    write_file_atomic(p, R"({"tier": "low", "max_accuracy_drop": 0.05, "max_slice_accuracy_drop": 1,
        "min_agreement": 0, "max_latency_regression": null})");
    return p;
}

optimize_request int8_request(const fs::path& dir) {
    optimize_request o;
    o.model = hone::test::fashion_fixture("cnn.onnx");
    o.recipe = std::string("int8");
    o.calib = "fashion-mnist:train:128";
    o.eval = "fashion-mnist:test:256";
    o.policy = accuracy_policy(dir).string();
    o.out = dir / "cnn.int8.onnx";
    o.ledger = dir / "l.jsonl";
    o.validation.latency_batches = {1};
    o.validation.repeats = 2;
    return o;
}

} // namespace

TEST_CASE("optimize and validate_change decide on the engine's runners, given the files' bytes") {
    cli_test::temp_dir t("engine");
    auto o = int8_request(t.path);
    const auto own = hone::optimize(o); // hone's executor: the int8 CNN keeps its accuracy
    CHECK(own.decision.verdict == verdict::approved);

    test_engine e;
    o.out = t.path / "again.onnx";
    o.engine = e.factory();
    const auto engined = hone::optimize(o);
    CHECK(engined.decision.verdict == verdict::rejected); // the engine answers class 0
    CHECK(e.seen.at("candidate") == read_file(o.out));
    const auto m = json::parse(engined.report_json)["metrics"];
    CHECK(m["baseline_name"] == "engine baseline");
    CHECK(m["candidate_name"] == "always class 0");
    CHECK(m["accuracy"]["baseline"].get<double>() > 0.8);
    CHECK(m["accuracy"]["candidate"].get<double>() < 0.2);

    validate_request v;
    v.baseline = hone::test::fashion_fixture("cnn.onnx");
    v.candidate = t.path / "cnn.int8.onnx";
    v.eval = "fashion-mnist:test:256";
    v.policy = accuracy_policy(t.path).string();
    v.validation.latency_batches = {1};
    v.validation.repeats = 2;
    const auto plain = hone::validate_change(v);
    CHECK_MESSAGE(plain.decision.verdict == verdict::approved, plain.decision.to_json());
    test_engine e2;
    v.engine = e2.factory();
    const auto checked = hone::validate_change(v);
    CHECK(checked.decision.verdict == verdict::rejected);
    CHECK(e2.seen.at("baseline") == read_file(v.baseline)); // the files' exact bytes
    CHECK(e2.seen.at("candidate") == read_file(v.candidate));
    CHECK(json::parse(checked.report_json)["metrics"]["candidate_name"] == "always class 0");

    // A factory that gives no runner, and a file that runs on hone's packed weights.
    v.engine = [](std::string_view, std::span<const std::uint8_t>) {
        return std::unique_ptr<runner>();
    };
    CHECK_THROWS_WITH_AS(hone::validate_change(v),
                         doctest::Contains("gave no runner for the baseline"), hone::error);
    auto packed = int8_request(t.path);
    packed.model = hone::test::fashion_fixture("mlp.onnx");
    packed.recipe = std::string("int4");
    packed.format = "hone";
    packed.out = t.path / "mlp.int4.onnx";
    hone::optimize(packed);
    v.baseline = hone::test::fashion_fixture("mlp.onnx");
    v.candidate = packed.out;
    v.engine = e2.factory();
    CHECK_THROWS_WITH_AS(hone::validate_change(v),
                         doctest::Contains("runs on hone's packed weights"), hone::error);
}
