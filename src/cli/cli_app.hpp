// cli_app.hpp — the `hone` command line as a function, so tests can run it in-process.
#pragma once

#include <CLI/CLI.hpp>

#include <ostream>

namespace hone::cli {

/// Parses argv, runs the chosen subcommand and returns the exit code (exit_codes.hpp). Help
/// goes to `out`; errors are one line on `err` ("hone: <what is wrong>").
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

} // namespace hone::cli
