// conclude.cpp — settings to options, the ledger records of a run, its conclusion, training
// with progress (flow.hpp).
#include "flow.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/core/threads.hpp>
#include <hone/core/version.hpp>
#include <hone/io/digest.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/isa.hpp>

#include "stage.hpp"

#include <fmt/format.h>

#include <chrono>

namespace hone {

policy parse_policy_argument(const std::string& value) {
    if (const auto tier = risk_tier_from_name(value)) return policy::for_tier(*tier);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(value, ec))
        fail(status::invalid_argument,
             fmt::format("--policy '{}': neither a risk tier (low, medium, high, critical) nor a "
                         "policy file",
                         value));
    return policy::from_json(read_file(value), value);
}

} // namespace hone

namespace hone::pipeline {

namespace fs = std::filesystem;
using json = nlohmann::json;

data_options options_of(const data_settings& s,
                        const std::vector<std::int64_t>& model_sample_shape) {
    data_options o;
    o.sample_shape = model_sample_shape;
    if (!s.input_shape.empty()) {
        // input_shape fixes the model's dynamic dimensions; its fixed ones must agree.
        o.sample_shape = parse_sample_shape(s.input_shape);
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
                             s.input_shape, w));
        }
    }
    o.mean = s.mean;
    o.std = s.std;
    o.slices_file = s.slices;
    o.seed = s.seed;
    return o;
}

validator_options options_of(const validation_settings& s) {
    if (s.batch < 1)
        fail(status::invalid_argument, fmt::format("--batch must be at least 1, got {}", s.batch));
    for (const auto b : s.latency_batches)
        if (b < 1)
            fail(status::invalid_argument,
                 fmt::format("--latency-batch sizes must be at least 1, got {}", b));
    if (!(s.confidence > 0 && s.confidence < 1))
        fail(status::invalid_argument,
             fmt::format("--confidence must be between 0 and 1 (e.g. 0.95), got {}", s.confidence));
    if (s.repeats < 1)
        fail(status::invalid_argument,
             fmt::format("--repeats must be at least 1, got {}", s.repeats));
    validator_options o;
    o.batch_size = s.batch;
    o.latency_batch_sizes = s.latency_batches;
    o.confidence = s.confidence;
    o.repeats = s.repeats;
    return o;
}

std::optional<signing_key> load_signing_key(const fs::path& key) {
    if (key.empty()) return std::nullopt;
    return signing_key::load_pem(key);
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

concluded conclude_record(const conclusion& c) {
    report_inputs in;
    in.title = fmt::format("hone: {} → {}", c.model, c.recipe_name);
    in.model = c.model;
    in.recipe = c.recipe_name;
    in.validation = c.validation;
    in.policy = c.policy;
    in.decision = c.decision;
    in.layers = c.layers;
    in.candidates = c.candidates;
    in.search = c.search;
    in.budget = c.budget;
    in.confidence = c.policy.confidence;
    // The report folder first: an unwritable folder must fail before the ledger changes.
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
        r.artifacts.insert(r.artifacts.end(), c.hashed_artifacts.begin(), c.hashed_artifacts.end());
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
    concluded done;
    done.report = report_json(in);
    done.record = in.record;
    if (!c.report_dir.empty()) write_report(c.report_dir, done.report);
    return done;
}

optimize_outcome outcome_of(const conclusion& c, const concluded& done) {
    optimize_outcome o;
    o.decision = c.decision;
    o.report_json = done.report.dump();
    o.artifacts = c.artifacts;
    if (!c.artifacts.empty()) {
        std::error_code ec;
        const auto n = fs::file_size(c.artifacts.front(), ec);
        if (!ec) o.artifact_bytes = n;
    }
    o.baseline_seq = c.baseline_seq;
    if (done.record) {
        o.record_seq = done.record->seq;
        o.record_signed = !done.record->signer.empty();
    }
    return o;
}

json fit_summary::to_json() const {
    json e = json::array();
    for (const auto& r : epochs)
        e.push_back({{"epoch", r.epoch}, {"steps", r.steps}, {"mean_loss", r.mean_loss}});
    return {{"epochs", e}, {"steps", steps}, {"final_loss", final_loss}, {"seconds", seconds}};
}

fit_summary fit_with_progress(trainer& t, const dataset& data, const std::string& label,
                              const pipeline_events& events) {
    fit_summary s;
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t total = t.plan(data.size());
    const int epochs = t.config().epochs;
    for (int e = 0; e < epochs; ++e) {
        stage bar(events, fmt::format("{} epoch {}/{}", label, e + 1, epochs),
                  std::uint64_t(total));
        bar.update(std::uint64_t(t.steps_done()), std::uint64_t(total));
        const auto rep = t.train_epoch(data, [&](const train_progress& p) {
            s.final_loss = p.loss;
            bar.update(std::uint64_t(p.step), std::uint64_t(p.total_steps));
            return true;
        });
        bar.finish();
        s.epochs.push_back(rep);
        note(events, fmt::format("{} epoch {}/{}: {} steps, mean loss {:.4f}", label, e + 1, epochs,
                                 rep.steps, rep.mean_loss));
        if (rep.stopped) break;
    }
    s.steps = t.steps_done();
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s;
}

} // namespace hone::pipeline
