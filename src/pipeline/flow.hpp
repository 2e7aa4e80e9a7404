// flow.hpp — the pieces of the optimize flow that the surfaces (CLI, C ABI) and the tests share:
// loading a model as hone optimizes it, turning settings into options, the ledger records of a
// run and its conclusion (record + report). hone/pipeline/optimize.hpp is the public entry.
#pragma once

#include "hone/data/data_spec.hpp"
#include "report.hpp"

#include <hone/core/export.hpp>
#include <hone/graph/trainer.hpp>
#include <hone/ledger/identity.hpp>
#include <hone/ledger/ledger.hpp>
#include <hone/model/model.hpp>
#include <hone/pipeline/optimize.hpp>
#include <hone/validate/validator.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hone::pipeline {

/// The ONNX model at `path` as hone optimizes it: weights behind Cast (fp16/bf16 initializers)
/// or Identity nodes become weights (hone::fold_weight_casts), so their layers are found.
HONE_EXPORT model load_model(const std::filesystem::path& path);

/// Whether the model's single input takes token ids (i64): a language model, validated
/// on next-token predictions (hone/validate/validator.hpp).
HONE_EXPORT bool takes_tokens(const model& m);

/// Fails (dtype_mismatch naming the data and the model's input) when the data's kind does not
/// fit the model: token ids for a model of f32 inputs, or the reverse.
HONE_EXPORT void check_data_kind(const model& m, const loaded_data& d);

/// The shape of one sample of the model's single input (its dims after the batch), −1 for a
/// dynamic (symbolic) dimension: the data or input_shape resolves it. Unsupported naming the
/// model for several inputs.
HONE_EXPORT std::vector<std::int64_t> model_sample_shape(const model& m);

/// Fails (io_error naming the path and `what`) unless `p` can be created: its nearest existing
/// ancestor is a writable directory (a probe file is created and removed).
HONE_EXPORT void check_writable_dir(const std::filesystem::path& p, const char* what);

/// data_options for load_data(); `model_sample_shape` is used when input_shape is empty, and
/// input_shape must agree with its fixed dimensions (shape_mismatch).
HONE_EXPORT data_options options_of(const data_settings& s,
                                    const std::vector<std::int64_t>& model_sample_shape = {});
/// validator_options; invalid_argument naming the setting (as its --option) when out of range.
HONE_EXPORT validator_options options_of(const validation_settings& s);

/// The signing key at `key` (PEM), or none for an empty path.
HONE_EXPORT std::optional<signing_key> load_signing_key(const std::filesystem::path& key);

/// {"hone", "onednn", "isa", "onednn_isa", "threads"}: the ledger's `environment`.
HONE_EXPORT std::string environment_json();

/// Appends the baseline record (measured before anything changes): metrics is a JSON text
/// (e.g. {"accuracy", "model_bytes"}), data the data_json() of the evaluation set.
HONE_EXPORT ledger_entry record_baseline(ledger& l, const std::string& actor,
                                         const signing_key* key, const std::filesystem::path& model,
                                         const std::string& metrics, const std::string& data);

/// What an optimize / validate run concludes with.
struct HONE_EXPORT conclusion {
    std::string model;           ///< the input model (report title)
    std::string recipe_name;     ///< e.g. "int8"
    std::string recipe = "null"; ///< the recipe as JSON text (ledger)
    validation_report validation;
    hone::policy policy;
    hone::decision decision;
    std::vector<std::filesystem::path> artifacts; ///< candidate files, already written
    /// Files already hashed by the caller (recorded after `artifacts`, not read again: a
    /// checkpoint's shards can be hundreds of GB).
    std::vector<artifact_ref> hashed_artifacts;
    std::filesystem::path ledger; ///< empty = no record
    std::string actor = "hone";
    const signing_key* key = nullptr;
    std::string data = "null"; ///< data_json() of the evaluation (and calibration) sets
    std::optional<std::uint64_t> baseline_seq;
    std::filesystem::path report_dir; ///< empty = no report
    std::vector<layer_error> layers;
    std::vector<candidate_point> candidates; ///< sweeps
    nlohmann::json search = nullptr;         ///< the accuracy search's trials (search.hpp)
    nlohmann::json budget = nullptr;         ///< the precision budget's allocation (budget.hpp)
};

struct HONE_EXPORT concluded {
    nlohmann::json report;              ///< report_json() of the run
    std::optional<ledger_entry> record; ///< the optimize record, when a ledger was given
};

/// Appends the optimize record (artifacts hashed now) and writes the report folder (checked
/// first: an unwritable folder fails before the ledger changes).
HONE_EXPORT concluded conclude_record(const conclusion& c);

/// The outcome of a concluded run, for the public API.
HONE_EXPORT optimize_outcome outcome_of(const conclusion& c, const concluded& done);

/// The per-group size the int4 presets use for a layer with K inputs: `wanted` when it divides
/// K, else the largest even divisor of K below it, else K.
HONE_EXPORT std::int64_t group_for(std::int64_t wanted, std::int64_t k);

/// A shape as a JSON array of its dims.
HONE_EXPORT nlohmann::json dims_json(const shape& d);

/// What a training run did: per-epoch reports, the last step's loss, steps.
struct HONE_EXPORT fit_summary {
    std::vector<epoch_report> epochs;
    std::int64_t steps = 0;
    double final_loss = 0; ///< loss of the last step
    double seconds = 0;
    nlohmann::json to_json() const;
};

/// trainer::fit with progress ("<label> epoch e/E", steps) and a note per epoch (mean loss).
HONE_EXPORT fit_summary fit_with_progress(trainer& t, const dataset& data, const std::string& label,
                                          const pipeline_events& events);

} // namespace hone::pipeline
