// optimize.hpp — the controlled change as one library call: baseline → calibration → recipe →
// candidate → deployable artifact → validation → decision → ledger record → report.
//
// hone::optimize() is what `hone optimize` runs (the CLI only parses arguments and prints), and
// hone_optimize() in the C ABI is a shell over it. In order it:
//   1. refuses anything it can before the ledger changes: the recipe (a preset name, a recipe
//      JSON file or JSON text), the artifact format, the policy, the data specs, the output
//      folders, a ledger that does not verify, a model the data does not fit;
//   2. measures the baseline (top-1 on the evaluation data, the model file's bytes) and
//      appends a `baseline` record;
//   3. calibrates and applies the recipe layer by layer, writes the deployable file (standard
//      QDQ ONNX by default) in memory and reads it back: what is validated is what ships;
//   4. validates baseline against candidate (hone/validate/validator.hpp), decides by the policy
//      (hone/policy/policy.hpp);
//   5. writes the artifact atomically, appends the `optimize` record (the artifact's SHA-256,
//      recipe, data hashes, metrics, policy, decision, environment; signed when a key is
//      given), and writes the report (report.json + report.html) when a folder is given.
//
// Data specs (docs/cli.md, "Data"): fashion-mnist:train|test[:N], IMAGES.idx[.gz][,LABELS.idx
// [.gz]][:N], INPUTS.npy[,LABELS.npy][:N]. Evaluation data without labels: accuracy is top-1
// agreement with the baseline.
//
// Progress and cancellation: `events.progress(stage, done, total)` is called as each stage
// advances (total 0 = unknown); returning false cancels the run, which then throws
// hone::error(status::cancelled) at the next check. A run cancelled after the baseline record
// leaves that record (the baseline was measured) and nothing else: no artifact, no optimize
// record. `events.note` receives human-readable notes (e.g. "no labels: accuracy is agreement").
//
// Errors: hone::error naming the argument, file, layer or field; nothing is written after a
// failure except the baseline record of step 2 when the failure comes later.
//
// Ledger appends take the ledger's file lock, so runs that share a ledger do not corrupt it;
// every run uses hone's thread settings (hone/core/threads.hpp). optimize_request holds the
// in-memory sets, so it is movable, not copyable.
#pragma once

#include "hone/core/export.hpp"
#include "hone/data/dataset.hpp"
#include "hone/graph/runner.hpp"
#include "hone/pipeline/recipe.hpp"
#include "hone/policy/policy.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hone {

/// Progress and notes of a pipeline run (both optional).
struct pipeline_events {
    /// Stage label ("baseline accuracy", "applying int8", …), units done, total (0 = unknown).
    /// Return false to cancel.
    std::function<bool(std::string_view stage, std::uint64_t done, std::uint64_t total)> progress;
    /// A note for people ("baseline: top-1 91.2% on 1000 samples …").
    std::function<void(std::string_view text)> note;
};

/// An engine's own executor for the validation: called once with role "baseline" and the
/// baseline's ONNX bytes (the model as hone loaded it: external data inlined, fp16 weights behind
/// Cast made f32), and once with role "candidate" and the deployable file's bytes (exactly what
/// is written to `out`). The runners' answers and timings are then the validation's: accuracy,
/// agreement, slices, latency and the decision are the engine's. hone's executor still runs the
/// calibration, the per-layer error table and the search/budget trials. Needs an ONNX artifact
/// (format qdq or matmulnbits); the runner's model_bytes() may be 0 (hone uses the file sizes).
using runner_factory = std::function<std::unique_ptr<runner>(std::string_view role,
                                                             std::span<const std::uint8_t> onnx)>;

/// How data specs are read (the CLI's --input-shape, --mean, --std, --slices, --seed).
struct data_settings {
    std::string input_shape; ///< "784" or "1x28x28"; empty = from the model's input
    std::optional<float> mean, std;
    std::filesystem::path slices; ///< JSON {name: [indices] or "mask.npy"}; empty = none
    std::uint64_t seed = 2026;    ///< seed of the `:N` subsets
};

/// How the validation runs (the CLI's --batch, --latency-batch, --confidence, --repeats).
struct validation_settings {
    std::int64_t batch = 256;
    std::vector<std::int64_t> latency_batches = {1, 64};
    double confidence = 0.95;
    int repeats = 20;
};

struct optimize_request {
    std::filesystem::path model; ///< ONNX file
    /// A preset name (e.g. "int8"), a recipe JSON file or JSON text — or the typed recipe itself
    /// (hone/pipeline/recipe.hpp).
    std::variant<std::string, pipeline::recipe> recipe;
    std::string calib, eval; ///< data specs (ignored where the in-memory set is given)
    /// In-memory sets (an engine's own samples): used instead of the specs when set; each
    /// sample is reshaped to the model's input, and the ledger records their bytes' SHA-256.
    std::optional<dataset> calib_data, eval_data;
    std::string policy = "medium"; ///< tier name or policy JSON file
    std::filesystem::path out;     ///< the artifact (…/name.onnx)
    std::string format = "qdq";    ///< qdq, matmulnbits, hone (docs/formats.md)
    std::filesystem::path ledger;  ///< JSONL change ledger (created when missing)
    std::filesystem::path report;  ///< folder for report.json/.html; empty = none
    std::string actor = "hone";    ///< who acts (recorded)
    std::filesystem::path key;     ///< Ed25519 PEM private key; empty = unsigned records
    data_settings data;
    validation_settings validation;
    /// Accuracy-aware search (the recipe's `search`, docs/pipeline.md): when set, the layers
    /// that cost most accuracy are kept in f32 until the candidate's drop on the first
    /// calibration samples is at most this (a fraction: 0.003 = 0.3 points; relative to the
    /// baseline's accuracy with relative_drop). Overrides the recipe's own tolerable_drop.
    std::optional<double> tolerable_drop;
    bool relative_drop = false;
    /// Mixed precision under a budget (the recipe's `budget`, docs/pipeline.md): each selected
    /// layer quantized to 8 or 4 bits or kept f32 (the recipe's budget choices when it has one)
    /// so that its weights average at most this many bits and the measured output noise is
    /// smallest. Overrides the recipe's bits_per_weight. Not with tolerable_drop.
    std::optional<double> target_bits_per_weight;
    /// The same budget with the deployable file's size as the target (precision_budget's
    /// file_bytes): the file written is at most this many bytes when the choices allow it.
    /// Not with target_bits_per_weight or tolerable_drop.
    std::optional<std::uint64_t> target_file_bytes;
    /// The engine's runners for the validation (runner_factory); unset = hone's executor.
    runner_factory engine;
};

/// What a run concluded with.
struct optimize_outcome {
    hone::decision decision;
    std::string report_json; ///< the evidence document (hone/pipeline/report.hpp's schema)
    std::vector<std::filesystem::path> artifacts; ///< files written (the deployable first)
    std::string artifact_form;                    ///< e.g. "ONNX opset 13, int8-static (…)"
    std::uint64_t artifact_bytes = 0;             ///< the deployable file's size
    std::optional<std::uint64_t> baseline_seq;    ///< ledger record of the baseline
    std::optional<std::uint64_t> record_seq;      ///< ledger record of this change
    bool record_signed = false;
};

/// Runs the whole flow (see the file comment).
HONE_EXPORT optimize_outcome optimize(const optimize_request& request,
                                      const pipeline_events& events = {});

/// A candidate made elsewhere, validated against its baseline (`hone validate`).
struct validate_request {
    std::filesystem::path baseline, candidate; ///< ONNX files
    std::string eval;                          ///< data spec
    std::optional<dataset> eval_data;          ///< in-memory, instead of the spec
    std::string policy = "medium";
    std::filesystem::path ledger; ///< empty = no record
    std::filesystem::path report;
    std::string actor = "hone";
    std::filesystem::path key;
    data_settings data;
    validation_settings validation;
    /// The engine's runners (runner_factory), given each file's exact bytes; unset = hone's
    /// executor. A file with hone's packed weights (--format hone) is refused with it.
    runner_factory engine;
};

HONE_EXPORT optimize_outcome validate_change(const validate_request& request,
                                             const pipeline_events& events = {});

/// Several recipes on one model (`hone sweep`): every candidate validated, the best (highest
/// accuracy among those not rejected) concluded as one report with the Pareto frontier of
/// accuracy vs size vs latency. No ledger record.
struct sweep_request {
    std::filesystem::path model;
    std::vector<std::string> recipes;
    std::string calib, eval;
    std::string policy = "medium";
    std::filesystem::path out_dir; ///< one candidate per recipe: OUT_DIR/<recipe>.<ext>
    std::string format = "qdq";
    std::filesystem::path report;
    data_settings data;
    validation_settings validation;
};

/// One row of a sweep.
struct sweep_row {
    std::string recipe;
    double accuracy = 0;
    std::uint64_t model_bytes = 0;
    std::optional<double> latency_ms; ///< p50 at the largest latency batch
    std::string verdict;              ///< "baseline" for the first row
};

struct sweep_outcome {
    std::vector<sweep_row> rows; ///< the baseline first
    optimize_outcome best;       ///< the concluded best candidate (its report has them all)
};

HONE_EXPORT sweep_outcome sweep(const sweep_request& request, const pipeline_events& events = {});

/// --policy TIER|FILE: a tier name (low, medium, high, critical) or a policy JSON file
/// (docs/policy.md). Throws invalid_argument / io_error / format_error naming the value.
HONE_EXPORT policy parse_policy_argument(const std::string& value);

} // namespace hone
