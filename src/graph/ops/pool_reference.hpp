// Internal: the direct (per-output, per-window bounds-checked) MaxPool/AveragePool loops that
// the fast row-wise path in pool.cpp must reproduce bit for bit. Exported only so tests and
// benchmarks can compare the two; not part of the public API.
#pragma once

#include "hone/core/export.hpp"
#include "ops.hpp"

namespace hone::ops::detail {

/// ONNX MaxPool (max = true) or AveragePool (max = false) by the direct reference loops.
HONE_EXPORT tensor pool_reference(const_tensor_view x, const pool_params& params, bool max);

} // namespace hone::ops::detail
