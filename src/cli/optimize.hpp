// optimize.hpp — the handlers of `hone inspect`, `optimize`, `validate` and `sweep`.
#pragma once

#include "main_job.hpp"

#include <hone/model/model.hpp>

#include <cstdint>
#include <filesystem>
#include <vector>

namespace hone::cli {

/// The ONNX model at `path` as hone optimizes it: weights behind Cast (fp16/bf16 initializers)
/// or Identity nodes become weights (hone::fold_weight_casts), so their layers are found.
model load_model(const std::filesystem::path& path);

/// The shape of one sample of the model's single input (its dims after the batch), −1 for a
/// dynamic (symbolic) dimension: the data or --input-shape resolves it (load_data). Unsupported
/// naming the model for several inputs.
std::vector<std::int64_t> model_sample_shape(const model& m);

/// Fails (io_error naming the path and `what`) unless `p` can be created: its nearest existing
/// ancestor is a writable directory (a probe file is created and removed).
void check_writable_dir(const std::filesystem::path& p, const char* what);

int run_inspect(const inspect_options& o, console& c);
int run_optimize(const optimize_options& o, console& c);
int run_validate(const validate_options& o, console& c);
int run_sweep(const sweep_options& o, console& c);

/// The handlers above, for add_main_job_commands().
main_job_handlers main_job_handlers_all();

} // namespace hone::cli
