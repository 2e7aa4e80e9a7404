// optimize.hpp — the handlers of `hone inspect`, `optimize`, `validate` and `sweep`: thin shells
// that turn their options into the library's requests (hone/pipeline/optimize.hpp), run them
// with progress bars, and print what they concluded.
#pragma once

#include "main_job.hpp"

namespace hone::cli {

int run_inspect(const inspect_options& o, console& c);
int run_optimize(const optimize_options& o, console& c);
int run_validate(const validate_options& o, console& c);
int run_sweep(const sweep_options& o, console& c);

/// The handlers above, for add_main_job_commands().
main_job_handlers main_job_handlers_all();

} // namespace hone::cli
