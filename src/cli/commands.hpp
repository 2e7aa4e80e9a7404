// commands.hpp — the subcommands of `hone` that need no model: keygen, ledger verify / show /
// approve / reject, check, report. Each takes its options and a console and returns the exit
// code (exit_codes.hpp); bad input throws hone::error, which main() prints as one line.
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

namespace hone::cli {

struct console {
    std::ostream& out;
    std::ostream& err;
    bool json = false;  ///< --json: one JSON object on stdout
    bool quiet = false; ///< --quiet: no progress bars, no notes
};

/// Prints one JSON object and a newline (invalid UTF-8 replaced, never thrown).
void print_json(std::ostream& out, const nlohmann::json& j);

/// --trust ACTOR=HEXKEY (64 hex digits) and --require-signatures as ledger verify options.
/// Throws invalid_argument naming the malformed --trust value.
verify_options trust_options(const std::vector<std::string>& trust, bool require_signatures);

struct keygen_options {
    std::filesystem::path out;
    bool public_only = false; ///< print the public key of the existing key, write nothing
    bool force = false;       ///< replace an existing key file
};
int run_keygen(const keygen_options& o, console& c);

struct ledger_verify_options {
    std::filesystem::path ledger;
    std::vector<std::string> trust;
    bool require_signatures = false;
};
int run_ledger_verify(const ledger_verify_options& o, console& c);

struct ledger_show_options {
    std::filesystem::path ledger;
    std::optional<std::uint64_t> seq;
};
int run_ledger_show(const ledger_show_options& o, console& c);

struct ledger_decide_options {
    std::filesystem::path ledger;
    bool reject = false; ///< approve (false) or reject (true)
    std::uint64_t seq = 0;
    std::string actor;
    std::filesystem::path key; ///< empty: unsigned (an unsigned approval does not count)
    std::string reason;
    std::vector<std::string> trust;
    bool require_signatures = false;
};
int run_ledger_decide(const ledger_decide_options& o, console& c);

struct check_options {
    std::filesystem::path model;
    std::filesystem::path ledger;
    std::vector<std::string> trust;
    bool require_signatures = false;
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
