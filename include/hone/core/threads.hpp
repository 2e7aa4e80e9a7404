// hone/core/threads.hpp — how many threads hone's parallel work may use.
//
// Default: the HONE_NUM_THREADS environment variable when it is a positive integer, else the
// number of hardware threads. Applies to hone's own OpenMP loops and to oneDNN (same runtime).
#pragma once

#include "hone/core/export.hpp"

namespace hone {

/// Current thread count (≥ 1).
HONE_EXPORT int num_threads() noexcept;
/// Sets the thread count for all later calls; n ≤ 0 restores the default. Returns the new count.
HONE_EXPORT int set_num_threads(int n) noexcept;

} // namespace hone
