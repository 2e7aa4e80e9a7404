// hone — the command-line tool. Builds the CLI11 parser, dispatches to the subcommands of
// commands.hpp, and turns every error into one line on stderr and an exit code
// (exit_codes.hpp).
#include "cli_app.hpp"

#include <iostream>

int main(int argc, char** argv) { return hone::cli::run(argc, argv, std::cout, std::cerr); }
