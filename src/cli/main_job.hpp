// main_job.hpp — what optimize, validate, inspect and sweep share, ready for the model and
// algorithm layers to plug into.
//
// Wiring (cli_app.cpp): fill the handler of each subcommand in main_job_handlers and pass it
// to add_main_job_commands(); a subcommand appears in `hone --help` only when its handler is
// set. The handler receives its parsed options and the console and returns the exit code;
// errors are thrown as hone::error as everywhere else.
//
// An optimize handler then reads, in order:
//   1. data:     load_data(o.calib, o.data) and load_data(o.eval, o.data)  (data_spec.hpp),
//                with o.data.sample_shape taken from the model's input when --input-shape is
//                not given
//   2. policy:   o.policy_value()           (tier name or JSON file)
//   3. key:      o.signing()                (optional signing key, loaded before any work)
//   4. baseline: record_baseline(...)       (measured and recorded first)
//   5. candidate: the recipe, progress bars (progress.hpp), validate(), decide()
//   6. conclude(...)                        (artifact check, ledger record, report, output,
//                                            exit code)
#pragma once

#include "commands.hpp"
#include "flow.hpp"
#include "hone/data/data_spec.hpp"
#include "report.hpp"

#include <hone/ledger/identity.hpp>
#include <hone/ledger/ledger.hpp>
#include <hone/policy/policy.hpp>
#include <hone/validate/validator.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace hone::cli {

/// The options every data-reading subcommand takes (--input-shape, --mean, --std, --slices,
/// --seed), turned into data_options.
struct data_arguments : data_settings {
    /// data_options for load_data(); `model_sample_shape` is used when --input-shape is empty.
    data_options options(const std::vector<std::int64_t>& model_sample_shape = {}) const {
        return options_of(*this, model_sample_shape);
    }
};

/// The options of the validation step (--batch, --latency-batch, --confidence, …).
struct validation_arguments : validation_settings {
    validator_options options() const { return options_of(*this); }
};

struct optimize_options {
    std::filesystem::path model;
    std::string recipe; ///< preset name or JSON file
    std::string calib, eval;
    std::string policy = "medium";
    std::filesystem::path out;
    std::string format = "qdq"; ///< qdq, matmulnbits, hone (deploy.hpp)
    std::filesystem::path ledger;
    std::filesystem::path report; ///< folder; empty = no report
    std::string actor = "hone";
    std::filesystem::path key;
    data_arguments data;
    validation_arguments validation;
    std::optional<double> tolerable_drop;      ///< --tolerable-drop
    bool relative_drop = false;                ///< --relative-drop
    std::optional<double> target_bpw;          ///< --target-bpw
    std::optional<std::uint64_t> target_bytes; ///< --target-bytes
    hone::policy policy_value() const { return parse_policy_argument(policy); }
};

struct validate_options {
    std::filesystem::path baseline, candidate;
    std::string eval;
    std::string policy = "medium";
    std::filesystem::path ledger; ///< empty = no record
    std::filesystem::path report;
    std::string actor = "hone";
    std::filesystem::path key;
    data_arguments data;
    validation_arguments validation;
    hone::policy policy_value() const { return parse_policy_argument(policy); }
};

struct inspect_options {
    std::filesystem::path model;
};

struct sweep_options {
    std::filesystem::path model;
    std::vector<std::string> recipes;
    std::string calib, eval;
    std::string policy = "medium";
    std::filesystem::path out_dir; ///< one candidate per recipe: OUT_DIR/<recipe>.<ext>
    std::string format = "qdq";    ///< as optimize_options::format
    std::filesystem::path report;
    data_arguments data;
    validation_arguments validation;
    hone::policy policy_value() const { return parse_policy_argument(policy); }
};

struct main_job_handlers {
    std::function<int(const inspect_options&, console&)> inspect;
    std::function<int(const optimize_options&, console&)> optimize;
    std::function<int(const validate_options&, console&)> validate;
    std::function<int(const sweep_options&, console&)> sweep;
};

/// Registers the subcommands whose handler is set; `action` receives the chosen one. The
/// option structs live in `storage`, which must outlive parsing and the action.
struct main_job_storage {
    inspect_options inspect;
    optimize_options optimize;
    validate_options validate;
    sweep_options sweep;
};
void add_main_job_commands(CLI::App& app, const main_job_handlers& handlers,
                           main_job_storage& storage, std::function<int(console&)>& action);

/// Prints a concluded run: the report JSON with --json, else the baseline-vs-candidate table,
/// the ledger record (when one was appended to `ledger`) and the report page (in `report_dir`).
void print_outcome(const optimize_outcome& o, const std::filesystem::path& ledger,
                   const std::filesystem::path& report_dir, console& out);

/// conclude_record() (the optimize record, the report) and print_outcome(); returns
/// exit_code_for(decision.verdict) and the report JSON through `report` when given.
int conclude(const conclusion& c, console& out, nlohmann::json* report = nullptr);

class progress;

/// pipeline_events that draw progress bars on the console's stderr and print notes there
/// (none with --quiet or --json). Valid while *this lives.
class console_events {
public:
    explicit console_events(const console& c);
    ~console_events();
    console_events(const console_events&) = delete;
    console_events& operator=(const console_events&) = delete;
    pipeline_events events();

private:
    const console& c_;
    std::string label_;
    std::unique_ptr<progress> bar_;
};

/// The human baseline-vs-candidate table of a report document (optimize, validate).
void print_summary(std::ostream& out, const nlohmann::json& report);

} // namespace hone::cli
