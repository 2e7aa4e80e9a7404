// commands.hpp — the subcommands of `hone` that need no model: keygen, ledger verify / show /
// approve / reject / promote, check, report. Each takes its options and a console and returns the
// exit code (exit_codes.hpp); bad input throws hone::error, which main() prints as one line.
//
// The --json convention: with console::json, a command prints exactly one JSON object on
// stdout (and nothing else there); human text goes to stdout otherwise. Warnings and progress
// go to stderr either way. Errors: one line on stderr and, with --json, {"error": {"status",
// "message"}} on stdout.
#pragma once

#include <hone/ledger/ledger.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace hone::pipeline {}

namespace hone::cli {

// The flow lives in the library (src/pipeline, hone/pipeline/optimize.hpp); the CLI parses
// arguments into its settings and prints what it concluded.
using namespace hone::pipeline;

struct console {
    std::ostream& out;
    std::ostream& err;
    bool json = false;  ///< --json: one JSON object on stdout
    bool quiet = false; ///< --quiet: no progress bars, no notes
};

/// Prints one JSON object and a newline (invalid UTF-8 replaced, never thrown).
void print_json(std::ostream& out, const nlohmann::json& j);

/// --trust FILE, --require-signatures and --strict as ledger verify options (the options point
/// into the loaded store, so a trust_context is neither copied nor moved).
struct trust_context {
    trust_context(const std::filesystem::path& file, bool require_signatures, bool strict);
    trust_context(const trust_context&) = delete;
    trust_context& operator=(const trust_context&) = delete;
    std::optional<trust_store> store;
    verify_options options;
};

struct keygen_options {
    std::filesystem::path out;
    bool public_only = false; ///< print the public key of the existing key, write nothing
    bool force = false;       ///< replace an existing key file
};
int run_keygen(const keygen_options& o, console& c);

struct ledger_verify_options {
    std::filesystem::path ledger;
    std::filesystem::path trust; ///< trust store file; empty = none
    bool require_signatures = false;
    bool strict = false;
};
int run_ledger_verify(const ledger_verify_options& o, console& c);

struct ledger_show_options {
    std::filesystem::path ledger;
    std::optional<std::uint64_t> seq;
};
int run_ledger_show(const ledger_show_options& o, console& c);

struct ledger_decide_options {
    std::filesystem::path ledger;
    ledger_action action = ledger_action::approve; ///< approve, reject or promote
    std::uint64_t seq = 0;
    std::string actor;
    std::filesystem::path key; ///< empty: unsigned (an unsigned approval does not count)
    std::string reason;
    std::filesystem::path trust;
    bool require_signatures = false;
    bool strict = false;
};
int run_ledger_decide(const ledger_decide_options& o, console& c);

struct check_options {
    std::filesystem::path model;
    std::filesystem::path ledger;
    std::filesystem::path trust;
    bool require_signatures = false;
    bool strict = false;
};
int run_check(const check_options& o, console& c);

struct report_render_options {
    std::filesystem::path input; ///< a report.json
    std::filesystem::path html;  ///< where the page goes
};
int run_report_render(const report_render_options& o, console& c);

/// The ledger must exist (the file or its head): io_error naming it otherwise.
void require_ledger(const std::filesystem::path& ledger);

} // namespace hone::cli
