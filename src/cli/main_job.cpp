#include "main_job.hpp"

#include "exit_codes.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/core/threads.hpp>
#include <hone/core/version.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/ledger/digest.hpp>

#include <fmt/format.h>

namespace hone::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

data_options data_arguments::options(const std::vector<std::int64_t>& model_sample_shape) const {
    data_options o;
    o.sample_shape = model_sample_shape;
    if (!input_shape.empty()) {
        // --input-shape fixes the model's dynamic dimensions; its fixed ones must agree.
        o.sample_shape = parse_sample_shape(input_shape);
        const auto& want = model_sample_shape;
        bool fits = want.empty() || want.size() == o.sample_shape.size();
        for (std::size_t k = 0; fits && !want.empty() && k < want.size(); ++k)
            fits = want[k] < 0 || want[k] == o.sample_shape[k];
        if (!fits) {
            std::string w;
            for (const auto d : want)
                w += (w.empty() ? "" : "x") + (d < 0 ? std::string("?") : std::to_string(d));
            fail(status::shape_mismatch,
                 fmt::format("--input-shape {} does not fit the model's input {} (one sample; "
                             "'?' is dynamic)",
                             input_shape, w));
        }
    }
    o.mean = mean;
    o.std = std;
    o.slices_file = slices;
    o.seed = seed;
    return o;
}

validator_options validation_arguments::options() const {
    if (batch < 1)
        fail(status::invalid_argument, fmt::format("--batch must be at least 1, got {}", batch));
    for (const auto b : latency_batches)
        if (b < 1)
            fail(status::invalid_argument,
                 fmt::format("--latency-batch sizes must be at least 1, got {}", b));
    if (!(confidence > 0 && confidence < 1))
        fail(status::invalid_argument,
             fmt::format("--confidence must be between 0 and 1 (e.g. 0.95), got {}", confidence));
    if (repeats < 1)
        fail(status::invalid_argument,
             fmt::format("--repeats must be at least 1, got {}", repeats));
    validator_options o;
    o.batch_size = batch;
    o.latency_batch_sizes = latency_batches;
    o.confidence = confidence;
    o.repeats = repeats;
    return o;
}

policy parse_policy_argument(const std::string& value) {
    if (const auto tier = risk_tier_from_name(value)) return policy::for_tier(*tier);
    std::error_code ec;
    if (!fs::is_regular_file(value, ec))
        fail(status::invalid_argument,
             fmt::format("--policy '{}': neither a risk tier (low, medium, high, critical) nor a "
                         "policy file",
                         value));
    return policy::from_json(read_file(value), value);
}

std::optional<signing_key> load_signing_key(const fs::path& key) {
    if (key.empty()) return std::nullopt;
    return signing_key::load_pem(key);
}

namespace {

void add_data_arguments(CLI::App* s, data_arguments& d) {
    s->add_option("--input-shape", d.input_shape,
                  "Shape of one sample, e.g. 784 or 1x28x28 (default: the model's input)");
    s->add_option("--mean", d.mean, "Normalize inputs: (x - mean) / std");
    s->add_option("--std", d.std, "Normalize inputs: (x - mean) / std");
    s->add_option("--slices", d.slices,
                  "Named slices: JSON {name: [indices] or \"mask.npy\"} (docs/cli.md)");
    s->add_option("--seed", d.seed, "Seed of the :N subsets")->capture_default_str();
}

void add_validation_arguments(CLI::App* s, validation_arguments& v) {
    s->add_option("--batch", v.batch, "Evaluation batch size")->capture_default_str();
    s->add_option("--latency-batch", v.latency_batches, "Batch sizes timed for latency")
        ->delimiter(',')
        ->capture_default_str();
    s->add_option("--confidence", v.confidence, "Confidence of the intervals")
        ->capture_default_str();
    s->add_option("--repeats", v.repeats, "Timed runs per latency figure")->capture_default_str();
}

const char* const data_help =
    "DATA: fashion-mnist:train|test[:N], IMAGES.idx[.gz][,LABELS.idx[.gz]][:N] or "
    "INPUTS.npy[,LABELS.npy][:N]";

} // namespace

void add_main_job_commands(CLI::App& app, const main_job_handlers& h, main_job_storage& st,
                           std::function<int(console&)>& action) {
    if (h.inspect) {
        auto* s = app.add_subcommand("inspect", "Ops, weights and sizes of a model; which layers "
                                                "hone can optimize and run");
        s->add_option("MODEL", st.inspect.model, "ONNX model")->required();
        s->callback(
            [&, f = h.inspect] { action = [&, f](console& c) { return f(st.inspect, c); }; });
    }
    if (h.optimize) {
        auto& o = st.optimize;
        auto* s = app.add_subcommand(
            "optimize", "Baseline → recipe → candidate → validation → decision → ledger record "
                        "(exit 0 approved, 10 needs sign-off, 20 rejected)");
        s->add_option("MODEL", o.model, "ONNX model (the baseline)")->required();
        s->add_option("--recipe", o.recipe,
                      "Preset (int8, int8-dynamic, int4, sparse50, 2:4, "
                      "cluster16, compact, sparse90-ft) or recipe JSON file")
            ->required();
        s->add_option("--calib", o.calib, "Calibration DATA")->required();
        s->add_option("--eval", o.eval, "Evaluation DATA")->required();
        s->add_option("--policy", o.policy, "Risk tier or policy JSON file")->capture_default_str();
        s->add_option("--out", o.out, "The optimized model to write")->required();
        s->add_option("--format", o.format,
                      "What --out holds: qdq (standard ONNX that other engines run compressed: "
                      "QDQ int8, integer ops for int8-dynamic, int4 DequantizeLinear, palettes), "
                      "matmulnbits (qdq with 4-bit MatMul weights as com.microsoft.MatMulNBits), "
                      "hone (f32 ONNX + hone's packed safetensors)")
            ->check(CLI::IsMember({"qdq", "matmulnbits", "hone"}))
            ->capture_default_str();
        s->add_option("--ledger", o.ledger, "Change ledger (JSONL) to append to")->required();
        s->add_option("--report", o.report, "Folder for report.html and report.json");
        s->add_option("--actor", o.actor, "Identity recorded as acting")->capture_default_str();
        s->add_option("--key", o.key, "Ed25519 private key (PEM) to sign the records");
        add_data_arguments(s, o.data);
        add_validation_arguments(s, o.validation);
        s->footer(data_help);
        s->callback(
            [&, f = h.optimize] { action = [&, f](console& c) { return f(st.optimize, c); }; });
    }
    if (h.validate) {
        auto& o = st.validate;
        auto* s = app.add_subcommand("validate", "Validate a candidate made elsewhere against its "
                                                 "baseline (exit 0 approved, 10, 20)");
        s->add_option("BASELINE", o.baseline, "Baseline model")->required();
        s->add_option("CANDIDATE", o.candidate, "Candidate model")->required();
        s->add_option("--eval", o.eval, "Evaluation DATA")->required();
        s->add_option("--policy", o.policy, "Risk tier or policy JSON file")->capture_default_str();
        s->add_option("--ledger", o.ledger, "Change ledger to record the decision in");
        s->add_option("--report", o.report, "Folder for report.html and report.json");
        s->add_option("--actor", o.actor, "Identity recorded as acting")->capture_default_str();
        s->add_option("--key", o.key, "Ed25519 private key (PEM) to sign the record");
        add_data_arguments(s, o.data);
        add_validation_arguments(s, o.validation);
        s->footer(data_help);
        s->callback(
            [&, f = h.validate] { action = [&, f](console& c) { return f(st.validate, c); }; });
    }
    if (h.sweep) {
        auto& o = st.sweep;
        auto* s = app.add_subcommand("sweep", "Run several recipes; report the Pareto frontier of "
                                              "accuracy vs size vs latency");
        s->add_option("MODEL", o.model, "ONNX model (the baseline)")->required();
        s->add_option("--recipes", o.recipes, "Comma-separated presets or recipe files")
            ->delimiter(',')
            ->required();
        s->add_option("--calib", o.calib, "Calibration DATA")->required();
        s->add_option("--eval", o.eval, "Evaluation DATA")->required();
        s->add_option("--policy", o.policy, "Risk tier or policy JSON file")->capture_default_str();
        s->add_option("--out-dir", o.out_dir, "Folder for the candidates");
        s->add_option("--format", o.format, "What the candidates are written as (see optimize)")
            ->check(CLI::IsMember({"qdq", "matmulnbits", "hone"}))
            ->capture_default_str();
        s->add_option("--report", o.report, "Folder for report.html and report.json");
        add_data_arguments(s, o.data);
        add_validation_arguments(s, o.validation);
        s->footer(data_help);
        s->callback([&, f = h.sweep] { action = [&, f](console& c) { return f(st.sweep, c); }; });
    }
}

std::string environment_json() {
    return json{{"hone", std::string(version().text)},
                {"onednn", kernels::onednn_version()},
                {"isa", std::string(name_of(active_isa()))},
                {"onednn_isa", kernels::onednn_isa()},
                {"threads", num_threads()}}
        .dump();
}

ledger_entry record_baseline(ledger& l, const std::string& actor, const signing_key* key,
                             const fs::path& model, const std::string& metrics,
                             const std::string& data) {
    change_record r;
    r.action = ledger_action::baseline;
    r.actor = actor;
    r.artifacts.push_back(hash_file(model));
    r.metrics = metrics;
    r.data = data;
    r.environment = environment_json();
    r.note = "baseline, measured before any change";
    return l.append(r, key);
}

int conclude(const conclusion& c, console& out, json* report_out) {
    report_inputs in;
    in.title = fmt::format("hone: {} → {}", c.model, c.recipe_name);
    in.model = c.model;
    in.recipe = c.recipe_name;
    in.validation = c.validation;
    in.policy = c.policy;
    in.decision = c.decision;
    in.layers = c.layers;
    in.candidates = c.candidates;
    in.confidence = c.policy.confidence;
    // The report folder first: an unwritable --report must fail before the ledger changes.
    if (!c.report_dir.empty()) {
        std::error_code ec;
        fs::create_directories(c.report_dir, ec);
        if (ec || !fs::is_directory(c.report_dir))
            fail(status::io_error,
                 fmt::format("report folder '{}': cannot create it{}", c.report_dir.string(),
                             ec ? " (" + ec.message() + ")" : std::string()));
    }
    if (!c.ledger.empty()) {
        ledger l(c.ledger);
        change_record r;
        r.action = ledger_action::optimize;
        r.actor = c.actor;
        for (const auto& a : c.artifacts)
            r.artifacts.push_back(hash_file(a));
        r.recipe = c.recipe;
        r.data = c.data;
        r.metrics = c.validation.to_json();
        r.policy = c.policy.to_json();
        r.decision = c.decision.to_json();
        r.environment = environment_json();
        if (c.baseline_seq) r.note = fmt::format("baseline record {}", *c.baseline_seq);
        in.record = l.append(r, c.key);
        in.ledger_verification = l.verify();
        in.ledger_path = c.ledger.string();
    }
    json report = report_json(in);
    if (!c.report_dir.empty()) write_report(c.report_dir, report);
    if (out.json) {
        print_json(out.out, report);
    } else {
        print_summary(out.out, report);
        if (in.record)
            out.out << fmt::format("ledger {}: record {} ({})\n", c.ledger.string(), in.record->seq,
                                   in.record->signer.empty() ? "unsigned" : "signed");
        if (!c.report_dir.empty())
            out.out << fmt::format("report {}\n", (c.report_dir / "report.html").string());
    }
    if (report_out) *report_out = std::move(report);
    return exit_code_for(c.decision.verdict);
}

void print_summary(std::ostream& out, const json& r) {
    const auto num = [](const json& j, const char* key) -> std::optional<double> {
        if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nullopt;
        return j[key].get<double>();
    };
    const auto pct = [](std::optional<double> x) {
        return x ? fmt::format("{:.2f}%", 100 * *x) : std::string("-");
    };
    const json empty = json::object();
    const json& b = r.contains("baseline") ? r["baseline"] : empty;
    const json& k = r.contains("candidate") ? r["candidate"] : empty;
    out << fmt::format("{:<26} {:>16} {:>16}  {}\n", "", "baseline", "candidate", "change");
    {
        std::string change;
        if (num(b, "accuracy") && num(k, "accuracy"))
            change =
                fmt::format("{:+.2f} points", 100 * (*num(k, "accuracy") - *num(b, "accuracy")));
        if (r.contains("accuracy") && r["accuracy"].contains("delta_interval")) {
            const auto& ci = r["accuracy"]["delta_interval"];
            if (ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number())
                change += fmt::format(" [{:+.2f}, {:+.2f}]", 100 * ci[0].get<double>(),
                                      100 * ci[1].get<double>());
        }
        out << fmt::format("{:<26} {:>16} {:>16}  {}\n", "top-1 accuracy", pct(num(b, "accuracy")),
                           pct(num(k, "accuracy")), change);
    }
    if (const auto bb = num(b, "model_bytes"), kb = num(k, "model_bytes"); bb && kb)
        out << fmt::format("{:<26} {:>16} {:>16}  {}\n", "model size", format_bytes(*bb),
                           format_bytes(*kb),
                           *kb > 0 ? fmt::format("{:.2f}x smaller", *bb / *kb) : "");
    if (r.contains("latency") && r["latency"].is_array())
        for (const auto& l : r["latency"]) {
            const auto bp = num(l.value("baseline", empty), "p50");
            const auto kp = num(l.value("candidate", empty), "p50");
            if (!bp || !kp) continue;
            out << fmt::format("{:<26} {:>13.3f} ms {:>13.3f} ms  {}\n",
                               fmt::format("latency p50, batch {}", l.value("batch", 0)), *bp, *kp,
                               *kp > 0 ? fmt::format("{:.2f}x faster", *bp / *kp) : "");
        }
    if (r.contains("slices") && r["slices"].is_array())
        for (const auto& s : r["slices"])
            out << fmt::format(
                "  {:<24} {:>16} {:>16}  {}\n", s.value("name", ""),
                pct(num(s, "baseline_accuracy")), pct(num(s, "candidate_accuracy")),
                num(s, "delta") ? fmt::format("{:+.2f} points", 100 * *num(s, "delta")) : "");
    const json& d = r.contains("decision") ? r["decision"] : empty;
    out << fmt::format("\ndecision: {}", d.value("verdict", std::string("none")));
    if (r.contains("policy") && r["policy"].is_object())
        out << fmt::format(" (tier {})", r["policy"].value("tier", std::string("?")));
    out << '\n';
    if (d.contains("reasons") && d["reasons"].is_array())
        for (const auto& reason : d["reasons"])
            if (!reason.value("passed", true))
                out << "  FAIL " << reason.value("text", std::string()) << '\n';
}

} // namespace hone::cli
