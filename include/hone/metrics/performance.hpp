// hone/metrics/performance.hpp — latency, throughput and memory, measured honestly.
//
// Latency: warm-up runs are discarded, then each repeat is timed with a monotonic clock;
// percentiles use the nearest-rank definition (p50 of 20 runs is the 10th smallest). The
// machine is shared and noisy: compare figures measured in the same run (ratios), not across runs.
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace hone {

struct latency_stats {
    std::uint64_t runs = 0;
    double mean_ms = 0, min_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};

/// Summary of timings in milliseconds. Throws invalid_argument for an empty set or NaN.
HONE_EXPORT latency_stats summarize_latency(std::span<const double> milliseconds);

/// Runs `fn` `warmup` times untimed, then `repeats` times timed. Throws invalid_argument for
/// repeats < 1.
HONE_EXPORT latency_stats measure_latency(const std::function<void()>& fn, int warmup, int repeats);

/// Peak resident memory of this process so far (VmHWM), bytes; 0 where the OS does not say.
HONE_EXPORT std::uint64_t peak_resident_bytes();
/// Current resident memory (VmRSS), bytes; 0 where the OS does not say.
HONE_EXPORT std::uint64_t resident_bytes();

} // namespace hone
