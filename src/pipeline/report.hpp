// report.hpp — the evidence of one optimization (or a sweep), for people and for programs.
//
// report_json() gathers a validation report, the policy and its decision, the ledger record and
// optionally per-layer errors and several candidates into one JSON document; render_html()
// turns that document into a self-contained HTML page (inline CSS and SVG, no scripts, no
// external resources, every text HTML-escaped). The HTML is rendered from the JSON, so the two
// never disagree, and `hone report REPORT.json --html OUT.html` re-renders a saved report.
//
// The JSON (also what `hone optimize --json` prints):
//   hone, title, generated, model, recipe, confidence
//   metrics:   the validation report, validation_report::to_json() (docs/validation.md): the
//              same text, member for member, that the ledger's optimize record stores as
//              `metrics` — one schema for the evidence, read by `check`, the attestations and
//              this page alike (data, baseline, candidate, baseline_name, candidate_name,
//              weighted, accuracy, slices, latency, peak_resident_bytes)
//   decision:  {verdict, approvals_required, reasons [{metric, slice, value, bound, passed, text}]}
//   policy:    the policy's JSON (docs/policy.md)
//   ledger:    {path, seq, sha256, prev, time, actor, action, signed, signer, verified, problem}
//   layers:    [{name, op, scheme, sqnr_db, relative_error, bytes_before, bytes_after}, kl for
//              language models]
//   candidates:[{name, accuracy, model_bytes, latency_ms, verdict, baseline, pareto,
//                pareto_size, pareto_latency}]
//   search, budget: the accuracy-aware search's trials, the precision budget's allocation
// Absent inputs leave their member out (layers, ledger, candidates beyond the pair).
#pragma once

#include <hone/core/export.hpp>

#include <hone/ledger/ledger.hpp>
#include <hone/policy/policy.hpp>
#include <hone/validate/validator.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone::pipeline {

/// How much one layer's change disturbed it (from the quantizer / pruner / clusterer).
struct HONE_EXPORT layer_error {
    std::string name;
    std::string op;                       ///< "Gemm", "Conv", "MatMul", …
    std::string scheme;                   ///< "int8 per-channel", "int4 g128 GPTQ", "2:4", …
    std::optional<double> sqnr_db;        ///< signal-to-noise ratio of the layer's output, dB
    std::optional<double> relative_error; ///< ‖y − ŷ‖ / ‖y‖ on calibration data
    /// Language models: mean KL(baseline ‖ model with only this layer changed) of the
    /// next-token distribution, nats per token, on calibration sequences.
    std::optional<double> kl;
    std::uint64_t bytes_before = 0, bytes_after = 0;
};

/// One model in the accuracy-vs-size-vs-latency plot (a sweep gives several).
struct HONE_EXPORT candidate_point {
    std::string name;
    double accuracy = 0;
    std::uint64_t model_bytes = 0;
    std::optional<double> latency_ms; ///< p50 at the report's largest batch
    std::string verdict;              ///< policy verdict; empty for the baseline
    bool baseline = false;
};

struct HONE_EXPORT pareto_flags {
    bool size = false;    ///< not dominated in (accuracy ↑, bytes ↓)
    bool latency = false; ///< not dominated in (accuracy ↑, latency ↓); false without latency
    bool all = false;     ///< not dominated in (accuracy ↑, bytes ↓, latency ↓)
};

/// Pareto flags per point. A point is dominated when another is at least as good in every
/// objective and better in one. Points without latency take part only in the size frontier
/// (and in `all` as if latency were equal).
HONE_EXPORT std::vector<pareto_flags> pareto_frontier(std::span<const candidate_point> points);

struct HONE_EXPORT report_inputs {
    std::string title = "hone report";
    std::string model;  ///< the input model's path or name
    std::string recipe; ///< recipe name or file
    validation_report validation;
    hone::policy policy;
    hone::decision decision;
    std::optional<ledger_entry> record; ///< the optimize record appended for this candidate
    std::optional<verify_report> ledger_verification;
    std::string ledger_path;
    std::vector<layer_error> layers;
    /// For sweeps: every candidate and the baseline. Empty = the baseline and the candidate of
    /// `validation`.
    std::vector<candidate_point> candidates;
    /// The accuracy-aware search's trials (search_result::to_json(), search.hpp); null = none.
    nlohmann::json search = nullptr;
    /// The precision budget's allocation (allocation_json(), budget.hpp); null = none.
    nlohmann::json budget = nullptr;
    std::string generated; ///< UTC time text; empty = now
    double confidence = 0.95;
};

HONE_EXPORT nlohmann::json report_json(const report_inputs& inputs);

/// The HTML page of a report document. Throws hone::error(format_error) when `report` is not a
/// JSON object; members that are missing or of the wrong type are left out of the page.
HONE_EXPORT std::string render_html(const nlohmann::json& report);

/// Writes DIR/report.json and DIR/report.html (creating DIR), each atomically.
HONE_EXPORT void write_report(const std::filesystem::path& dir, const nlohmann::json& report);

/// & < > " ' → entities.
HONE_EXPORT std::string html_escape(std::string_view text);

/// "812.0 KiB", "3.1 MiB" (binary units; bytes below 1 KiB as "512 B").
HONE_EXPORT std::string format_bytes(double bytes);

} // namespace hone::pipeline
