#include "main_job.hpp"

#include "exit_codes.hpp"
#include "progress.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/core/threads.hpp>
#include <hone/core/version.hpp>
#include <hone/io/digest.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/isa.hpp>

#include <fmt/format.h>

namespace hone::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

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
        s->add_option("--tolerable-drop", o.tolerable_drop,
                      "Accuracy-aware search: keep the layers that cost most accuracy in f32 "
                      "until the drop on the calibration data is at most this fraction "
                      "(0.003 = 0.3 points)");
        s->add_flag("--relative-drop", o.relative_drop,
                    "--tolerable-drop is relative to the baseline's accuracy");
        s->add_option("--target-bpw", o.target_bpw,
                      "Mixed precision under a budget: each layer 8-bit, 4-bit or f32 so its "
                      "weights average at most this many bits, with the least measured noise");
        s->add_option("--target-bytes", o.target_bytes,
                      "Mixed precision under a budget whose target is the deployable file: at "
                      "most this many bytes, with the least measured noise");
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

void print_outcome(const optimize_outcome& o, const fs::path& ledger, const fs::path& report_dir,
                   console& out) {
    const auto report = json::parse(o.report_json);
    if (out.json) {
        print_json(out.out, report);
        return;
    }
    print_summary(out.out, report);
    if (o.record_seq)
        out.out << fmt::format("ledger {}: record {} ({})\n", ledger.string(), *o.record_seq,
                               o.record_signed ? "signed" : "unsigned");
    if (!report_dir.empty())
        out.out << fmt::format("report {}\n", (report_dir / "report.html").string());
}

int conclude(const conclusion& c, console& out, json* report_out) {
    auto done = conclude_record(c);
    print_outcome(outcome_of(c, done), c.ledger, c.report_dir, out);
    if (report_out) *report_out = std::move(done.report);
    return exit_code_for(c.decision.verdict);
}

console_events::console_events(const console& c) : c_(c) {}
console_events::~console_events() = default;

pipeline_events console_events::events() {
    pipeline_events e;
    if (c_.quiet || c_.json) return e;
    e.progress = [this](std::string_view stage, std::uint64_t done, std::uint64_t total) {
        if (!bar_ || stage != label_) {
            if (bar_) bar_->finish();
            label_ = std::string(stage);
            bar_ = std::make_unique<progress>(label_, total);
        }
        bar_->update(done, total);
        if (total > 0 && done >= total) {
            bar_->finish();
            bar_.reset();
        }
        return true;
    };
    e.note = [this](std::string_view text) {
        if (bar_) {
            bar_->finish();
            bar_.reset();
        }
        c_.err << text << '\n';
    };
    return e;
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
    const auto object = [&](const json& j, const char* key) -> const json& {
        return j.is_object() && j.contains(key) && j[key].is_object() ? j[key] : empty;
    };
    const json& m = object(r, "metrics"); // validation_report::to_json()
    const json& b = object(m, "baseline");
    const json& k = object(m, "candidate");
    const json& acc = object(m, "accuracy");
    out << fmt::format("{:<26} {:>16} {:>16}  {}\n", "", "baseline", "candidate", "change");
    {
        const auto ba = num(acc, "baseline"), ka = num(acc, "candidate");
        std::string change;
        if (ba && ka) change = fmt::format("{:+.2f} points", 100 * (*ka - *ba));
        if (acc.contains("delta_interval")) {
            const auto& ci = acc["delta_interval"];
            if (ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number())
                change += fmt::format(" [{:+.2f}, {:+.2f}]", 100 * ci[0].get<double>(),
                                      100 * ci[1].get<double>());
        }
        const json& lm = object(m, "language_model");
        out << fmt::format("{:<26} {:>16} {:>16}  {}\n",
                           lm.empty() ? "top-1 accuracy" : "next-token accuracy", pct(ba), pct(ka),
                           change);
        if (!lm.empty()) {
            // Perplexity with its interval, KL and agreement (hone/validate/language_model.hpp).
            const json& o = object(lm, "overall");
            const auto v = [&](const char* key) { return num(object(o, key), "value"); };
            const json& d = object(o, "perplexity_change");
            const auto pb = v("baseline_perplexity"), pk = v("candidate_perplexity");
            const auto dv = num(d, "value"), lo = num(d, "low"), hi = num(d, "high");
            if (pb && pk && dv && lo && hi)
                out << fmt::format("{:<26} {:>16.4f} {:>16.4f}  {:+.3f}% [{:+.3f}, {:+.3f}]\n",
                                   "perplexity", *pb, *pk, 100 * *dv, 100 * *lo, 100 * *hi);
            if (const auto kl = v("mean_kl"))
                out << fmt::format("{:<26} {:>16} {:>16.4g}\n", "mean KL (nats/token)", "", *kl);
            out << fmt::format("{:<26} {:>16} {:>16}  flip rate {}\n", "top-1 agreement", "",
                               pct(v("top1_agreement")), pct(v("flip_rate")));
        }
    }
    if (const auto bb = num(b, "model_bytes"), kb = num(k, "model_bytes"); bb && kb)
        out << fmt::format("{:<26} {:>16} {:>16}  {}\n", "model size", format_bytes(*bb),
                           format_bytes(*kb),
                           *kb > 0 ? fmt::format("{:.2f}x smaller", *bb / *kb) : "");
    if (m.contains("latency") && m["latency"].is_array())
        for (const auto& l : m["latency"]) {
            const auto bp = num(object(l, "baseline_ms"), "p50");
            const auto kp = num(object(l, "candidate_ms"), "p50");
            if (!bp || !kp) continue;
            out << fmt::format("{:<26} {:>13.3f} ms {:>13.3f} ms  {}\n",
                               fmt::format("latency p50, batch {}", l.value("batch", 0)), *bp, *kp,
                               *kp > 0 ? fmt::format("{:.2f}x faster", *bp / *kp) : "");
        }
    if (m.contains("slices") && m["slices"].is_array())
        for (const auto& s : m["slices"]) {
            const auto sb = num(s, "baseline_accuracy"), sk = num(s, "candidate_accuracy");
            out << fmt::format("  {:<24} {:>16} {:>16}  {}\n", s.value("name", ""), pct(sb),
                               pct(sk),
                               sb && sk ? fmt::format("{:+.2f} points", 100 * (*sk - *sb)) : "");
        }
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
