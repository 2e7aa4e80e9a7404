// hone_fashion_mnist — the main job on its embedded default, with what the library has today:
// train a small MLP on Fashion-MNIST (the baseline), record the baseline, make an int8
// candidate (per-channel weights, per-row dynamic activations), validate both on the 10,000
// test images with per-class slices and latency, decide by risk tier, write the candidate
// atomically, append signed records to the ledger, verify it, and print the report.
//
//   hone_fashion_mnist [--out DIR] [--tier low|medium|high|critical] [--epochs N]
#include "mlp.hpp"

#include <hone/core/threads.hpp>
#include <hone/core/version.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/ledger/ledger.hpp>
#include <hone/policy/policy.hpp>
#include <hone/validate/validator.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;

namespace {

struct arguments {
    fs::path out = "out/fashion-mnist";
    hone::risk_tier tier = hone::risk_tier::medium;
    int epochs = 10;
};

arguments parse(int argc, char** argv) {
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string key = argv[i];
        if (i + 1 >= argc) throw std::runtime_error("missing value after " + key);
        const std::string value = argv[++i];
        if (key == "--out")
            a.out = value;
        else if (key == "--epochs")
            a.epochs = std::stoi(value);
        else if (key == "--tier") {
            const auto t = hone::risk_tier_from_name(value);
            if (!t) throw std::runtime_error("unknown tier '" + value + "'");
            a.tier = *t;
        } else
            throw std::runtime_error("unknown option " + key);
    }
    return a;
}

std::string environment_json() {
    return "{\"hone\":\"" + std::string(hone::version().text) + "\",\"onednn\":\"" +
           hone::kernels::onednn_version() + "\",\"isa\":\"" +
           std::string(hone::name_of(hone::active_isa())) + "\",\"onednn_isa\":\"" +
           hone::kernels::onednn_isa() + "\",\"threads\":" + std::to_string(hone::num_threads()) +
           "}";
}

std::string data_json(const std::string& calibration, const std::string& evaluation) {
    const fs::path root = hone::dataset::fashion_mnist_root;
    auto h = [&](const char* f) { return hone::hash_file(root / f).sha256; };
    return "{\"" + calibration + "\":{\"images\":\"" + h("train-images-idx3-ubyte.gz") +
           "\",\"labels\":\"" + h("train-labels-idx1-ubyte.gz") + "\"},\"" + evaluation +
           "\":{\"images\":\"" + h("t10k-images-idx3-ubyte.gz") + "\",\"labels\":\"" +
           h("t10k-labels-idx1-ubyte.gz") + "\"}}";
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

int main(int argc, char** argv) try {
    const arguments args = parse(argc, argv);
    fs::create_directories(args.out / "keys");
    std::printf("hone %s — Fashion-MNIST: baseline f32 MLP vs int8 candidate, tier '%s'\n",
                hone::version().text.data(), hone::name_of(args.tier).data());
    std::printf("SIMD tier %s, oneDNN %s on %s, %d threads\n\n",
                hone::name_of(hone::active_isa()).data(), hone::kernels::onednn_version().c_str(),
                hone::kernels::onednn_isa().c_str(), hone::num_threads());

    auto start = std::chrono::steady_clock::now();
    const auto train = hone::dataset::fashion_mnist("train");
    const auto test = hone::dataset::fashion_mnist("test");
    const demo::mlp_weights weights = demo::train(train, {.epochs = args.epochs});
    std::printf("trained the baseline (784-128-10 MLP, %d epochs of SGD) in %.1f s\n", args.epochs,
                seconds_since(start));

    // Identity and ledger.
    const fs::path key_file = args.out / "keys" / "operator.pem";
    const auto key = fs::exists(key_file) ? hone::signing_key::load_pem(key_file)
                                          : hone::signing_key::generate();
    if (!fs::exists(key_file)) key.save_pem(key_file);
    hone::ledger ledger(args.out / "ledger.jsonl");
    const std::string actor = "fashion-mnist-demo";
    const std::string data = data_json("calibration", "evaluation");

    // Baseline first: measured and recorded before anything changes.
    auto baseline = demo::f32_runner(weights);
    hone::metric_collector baseline_metrics;
    baseline_metrics.add(baseline->run(test.inputs()), test.labels());
    const auto b = baseline_metrics.summary();
    hone::change_record base_record;
    base_record.action = hone::ledger_action::baseline;
    base_record.actor = actor;
    base_record.data = data;
    base_record.metrics = "{\"accuracy\":" + std::to_string(b.accuracy) +
                          ",\"model_bytes\":" + std::to_string(weights.bytes()) + "}";
    base_record.environment = environment_json();
    base_record.note = "f32 baseline, trained by the demo";
    const auto base_entry = ledger.append(base_record, &key);

    // The candidate, validated against the baseline on the same 10,000 test images.
    start = std::chrono::steady_clock::now();
    const demo::int8_weights quantized = demo::quantize_per_channel(weights);
    auto candidate = demo::int8_runner(quantized);
    hone::evaluation_set eval{
        test.name(), test.inputs(), test.labels(), {}, hone::dataset::fashion_mnist_classes()};
    hone::validator_options options;
    options.latency_batch_sizes = {1, 64};
    const auto report = hone::validate(*baseline, *candidate, eval, options);
    const auto policy = hone::policy::for_tier(args.tier);
    const auto decision = hone::decide(policy, report.comparison);
    std::printf("made and validated the int8 candidate in %.1f s\n\n", seconds_since(start));

    const auto files = demo::save(quantized, args.out / "candidate");
    hone::change_record record;
    record.action = hone::ledger_action::optimize;
    record.actor = actor;
    record.subject = std::nullopt;
    for (const auto& f : files)
        record.artifacts.push_back(hone::hash_file(f));
    record.recipe = R"({"name":"int8-dynamic","weights":{"bits":8,"scheme":"symmetric",)"
                    R"("granularity":"per_channel"},"activations":"dynamic_per_row_7bit"})";
    record.data = data;
    record.metrics = report.to_json();
    record.policy = policy.to_json();
    record.decision = decision.to_json();
    record.environment = environment_json();
    record.note = "baseline record " + std::to_string(base_entry.seq);
    const auto entry = ledger.append(record, &key);

    // Report.
    const auto& c = report.comparison;
    std::printf("%-28s %14s %14s\n", "", "baseline f32", "candidate int8");
    std::printf("%-28s %13.2f%% %13.2f%%\n", "top-1 accuracy", 100 * c.baseline_accuracy,
                100 * c.candidate_accuracy);
    std::printf("%-28s %14s %+13.2f%%  [%+.2f%%, %+.2f%%] 95%%\n", "accuracy change", "",
                100 * (c.candidate_accuracy - c.baseline_accuracy), 100 * c.accuracy_delta.low,
                100 * c.accuracy_delta.high);
    std::printf("%-28s %14s %14llu  (%llu regressions, %llu improvements, McNemar p=%.3f)\n",
                "changed answers", "",
                static_cast<unsigned long long>(report.paired.only_baseline_correct +
                                                report.paired.only_candidate_correct),
                static_cast<unsigned long long>(report.paired.only_baseline_correct),
                static_cast<unsigned long long>(report.paired.only_candidate_correct), c.mcnemar_p);
    std::printf("%-28s %14s %13.2f%%\n", "top-1 agreement", "", 100 * c.agreement.value_or(0));
    std::printf("%-28s %14llu %14llu  (%.2fx smaller)\n", "model bytes",
                static_cast<unsigned long long>(*c.baseline_bytes),
                static_cast<unsigned long long>(*c.candidate_bytes),
                double(*c.baseline_bytes) / double(*c.candidate_bytes));
    for (const auto& l : report.latency)
        std::printf("latency p50, batch %-8lld %11.3f ms %11.3f ms  (paired ratio %.3f [%.3f, "
                    "%.3f]; utilisation %.1f%% vs %.1f%%)\n",
                    static_cast<long long>(l.batch), l.baseline.p50_ms, l.candidate.p50_ms, l.ratio,
                    l.ratio_interval.low, l.ratio_interval.high, 100 * l.baseline_utilisation,
                    100 * l.candidate_utilisation);
    std::printf("\nper class (accuracy change, 95%% interval):\n");
    for (const auto& s : report.slices)
        std::printf("  %-24s %6.2f%% → %6.2f%%  [%+.2f%%, %+.2f%%]\n", s.figures.name.c_str(),
                    100 * s.figures.baseline_accuracy, 100 * s.figures.candidate_accuracy,
                    100 * s.figures.delta.low, 100 * s.figures.delta.high);
    std::printf("\ndecision (%s tier): %s\n", hone::name_of(args.tier).data(),
                hone::name_of(decision.verdict).data());
    for (const auto& r : decision.reasons)
        if (!r.passed || r.slice.empty())
            std::printf("  %s %s\n", r.passed ? "ok " : "FAIL", r.text.c_str());
    const auto verified = ledger.verify({{{actor, key.public_key_hex()}}, true});
    const auto status =
        ledger.check_artifact(files.front(), {{{actor, key.public_key_hex()}}, true});
    std::printf("\nledger %s: %s, %llu records (this run: %llu and %llu, signed by %s…)\n",
                ledger.path().c_str(), verified.ok ? "verifies" : verified.problem.c_str(),
                static_cast<unsigned long long>(verified.records),
                static_cast<unsigned long long>(base_entry.seq),
                static_cast<unsigned long long>(entry.seq),
                key.public_key_hex().substr(0, 16).c_str());
    std::printf("candidate %s: %s (%s)\n", (args.out / "candidate").c_str(),
                hone::name_of(status.verdict).data(), status.reason.c_str());
    return verified.ok ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "hone_fashion_mnist: %s\n", e.what());
    return 2;
}
