// What optimize / validate / inspect / sweep share: option parsing, policies, the conclusion
// (ledger record, report, output, exit code).
#include "exit_codes.hpp"
#include "main_job.hpp"
#include "sample_report.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>

#include <doctest/doctest.h>

#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace hone::cli;
using json = nlohmann::json;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_cli_main_job_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

} // namespace

TEST_CASE("--policy: a tier or a file") {
    CHECK(hone::parse_policy_argument("high").tier == hone::risk_tier::high);
    CHECK(hone::parse_policy_argument("critical").required_approvals == 2);
    temp_dir t;
    hone::write_file_atomic(t.path / "p.json", R"({"tier": "low", "max_accuracy_drop": 0.001})");
    const auto p = hone::parse_policy_argument((t.path / "p.json").string());
    CHECK(p.tier == hone::risk_tier::low);
    CHECK(p.max_accuracy_drop == doctest::Approx(0.001));
    CHECK_THROWS_WITH_AS(hone::parse_policy_argument("extreme"),
                         doctest::Contains("--policy 'extreme': neither a risk tier"), hone::error);
    hone::write_file_atomic(t.path / "bad.json", R"({"tier": "low", "bogus": 1})");
    CHECK_THROWS_AS(hone::parse_policy_argument((t.path / "bad.json").string()), hone::error);
}

TEST_CASE("data and validation arguments") {
    data_arguments d;
    CHECK(d.options({784}).sample_shape == std::vector<std::int64_t>{784});
    // A model input with dynamic dims keeps them (−1) for the data to resolve.
    CHECK(d.options({3, -1, -1}).sample_shape == std::vector<std::int64_t>{3, -1, -1});
    d.input_shape = "1x28x28";
    d.mean = 0.5f;
    d.std = 0.25f;
    const auto o = d.options({1, -1, -1});
    CHECK(o.sample_shape == std::vector<std::int64_t>{1, 28, 28});
    CHECK(*o.mean == 0.5f);
    CHECK(d.options({}).sample_shape == std::vector<std::int64_t>{1, 28, 28});
    // --input-shape must agree with the model's fixed dims.
    CHECK_THROWS_WITH_AS(d.options({784}), doctest::Contains("does not fit the model's input 784"),
                         hone::error);
    CHECK_THROWS_WITH_AS(d.options({3, -1, -1}),
                         doctest::Contains("does not fit the model's input 3x?x?"), hone::error);
    validation_arguments v;
    CHECK(v.options().latency_batch_sizes == std::vector<std::int64_t>{1, 64});
    v.confidence = 1.5;
    CHECK_THROWS_WITH_AS(v.options(), doctest::Contains("--confidence"), hone::error);
    v = {};
    v.latency_batches = {0};
    CHECK_THROWS_WITH_AS(v.options(), doctest::Contains("--latency-batch"), hone::error);
}

TEST_CASE("main-job subcommands appear once their handlers are set, and parse") {
    main_job_handlers handlers;
    optimize_options seen;
    handlers.optimize = [&](const optimize_options& o, console&) {
        seen = o;
        return 10;
    };
    CLI::App app{"test"};
    main_job_storage storage;
    std::function<int(console&)> action;
    add_main_job_commands(app, handlers, storage, action);
    CHECK(app.get_subcommands({}).size() == 1);
    CHECK_THROWS(app.get_subcommand("validate"));
    const char* argv[] = {"hone",
                          "optimize",
                          "model.onnx",
                          "--recipe",
                          "int8",
                          "--calib",
                          "fashion-mnist:train:1000",
                          "--eval",
                          "fashion-mnist:test",
                          "--out",
                          "m.onnx",
                          "--ledger",
                          "l.jsonl",
                          "--policy",
                          "high",
                          "--latency-batch",
                          "1,32,64",
                          "--input-shape",
                          "1x28x28"};
    app.parse(static_cast<int>(std::size(argv)), argv);
    REQUIRE(action);
    std::ostringstream out, err;
    console c{out, err};
    CHECK(action(c) == 10);
    CHECK(seen.model == "model.onnx");
    CHECK(seen.recipe == "int8");
    CHECK(seen.calib == "fashion-mnist:train:1000");
    CHECK(seen.policy_value().tier == hone::risk_tier::high);
    CHECK(seen.validation.latency_batches == std::vector<std::int64_t>{1, 32, 64});
    CHECK(seen.data.options().sample_shape == std::vector<std::int64_t>{1, 28, 28});
    CHECK(seen.actor == "hone");

    CLI::App missing{"test"};
    main_job_storage storage2;
    add_main_job_commands(missing, handlers, storage2, action);
    const char* short_argv[] = {"hone", "optimize", "model.onnx", "--recipe", "int8"};
    CHECK_THROWS_AS(missing.parse(static_cast<int>(std::size(short_argv)), short_argv),
                    CLI::RequiredError);
}

TEST_CASE("conclude: baseline and optimize records, report, table or JSON, exit code") {
    temp_dir t;
    const auto key = hone::signing_key::generate();
    const auto made = sample::make(t.path / "scratch.jsonl", key);
    hone::write_file_atomic(t.path / "candidate.bin", "candidate weights");
    hone::write_file_atomic(t.path / "model.bin", "baseline weights");

    hone::ledger l(t.path / "ledger.jsonl");
    const auto base = record_baseline(l, "ci", &key, t.path / "model.bin", R"({"accuracy":0.9})",
                                      R"({"spec":"toy"})");
    CHECK(base.seq == 1);
    CHECK(json::parse(base.record.environment).contains("isa"));

    conclusion c;
    c.model = "toy.onnx";
    c.recipe_name = "int8";
    c.recipe = R"({"name":"int8"})";
    c.validation = made.inputs.validation;
    c.policy = made.inputs.policy;
    c.decision = made.inputs.decision;
    c.artifacts = {t.path / "candidate.bin"};
    c.ledger = l.path();
    c.actor = "ci";
    c.key = &key;
    c.baseline_seq = base.seq;
    c.report_dir = t.path / "report";

    std::ostringstream out, err;
    console text{out, err};
    json report;
    CHECK(conclude(c, text, &report) == exit_code_for(c.decision.verdict));
    CHECK(out.str().find("top-1 accuracy") != std::string::npos);
    CHECK(out.str().find("decision: approved (tier low)") != std::string::npos);
    CHECK(out.str().find("record 2 (signed)") != std::string::npos);
    CHECK(fs::exists(t.path / "report" / "report.html"));
    CHECK(report["ledger"]["seq"] == 2);
    CHECK(hone::ledger(l.path()).check_artifact(t.path / "candidate.bin").verdict ==
          hone::artifact_verdict::approved);

    std::ostringstream jout;
    console as_json{jout, err, true};
    c.report_dir.clear();
    CHECK(conclude(c, as_json) == 0);
    const json j = json::parse(jout.str());
    CHECK(j["decision"]["verdict"] == "approved");
    CHECK(j["metrics"]["latency"][0]["baseline_ms"]["p50"].is_number());
    CHECK(j["metrics"]["slices"].size() == c.validation.slices.size());
    // One evidence schema: the report's figures are the ledger record's metrics, member for member.
    CHECK(j["metrics"] == json::parse(hone::ledger(l.path()).read().back().record.metrics));
    CHECK(j["ledger"]["seq"] == 3);
    CHECK(hone::ledger(l.path()).verify().ok);

    // An unwritable report folder: nothing is appended.
    c.report_dir = t.path / "candidate.bin" / "report";
    auto before = hone::read_file(l.path());
    CHECK_THROWS_WITH_AS(conclude(c, as_json), doctest::Contains("report folder"), hone::error);
    CHECK(hone::read_file(l.path()) == before);
    c.report_dir.clear();
    // A missing artifact: nothing is appended.
    c.artifacts = {t.path / "absent.bin"};
    before = hone::read_file(l.path());
    CHECK_THROWS_AS(conclude(c, as_json), hone::error);
    CHECK(hone::read_file(l.path()) == before);
}
