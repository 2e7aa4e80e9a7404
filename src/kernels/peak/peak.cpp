#include "hone/kernels/peak.hpp"

#include "hone/core/threads.hpp"
#include "peak.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <omp.h>

namespace hone {

namespace {

const kernels::dispatch<kernels::peak_table>& peak_kernels() {
#ifdef HONE_X86_KERNELS
    static const kernels::dispatch<kernels::peak_table> d{&kernels::peak_ref, &kernels::peak_avx2,
                                                          &kernels::peak_avx512};
#else
    static const kernels::dispatch<kernels::peak_table> d{&kernels::peak_ref, nullptr, nullptr};
#endif
    return d;
}

// Runs `loop` on `threads` threads for about `seconds`; returns operations per second.
template <class Loop> double timed_rate(Loop loop, int threads, double seconds) {
    std::int64_t iterations = 1 << 14;
    for (;;) { // grow the work until one run lasts long enough to time
        double ops = 0;
        const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : ops)
        ops += loop(iterations);
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed >= seconds || iterations > (std::int64_t(1) << 40)) return ops / elapsed;
        iterations *= elapsed > seconds / 8 ? 2 : 8;
    }
}

// A peak is the best the machine can do: on a shared machine other processes can only slow a
// probe down, so the fastest of several short probes is the closest to the truth.
template <class Loop> double rate(Loop loop, int threads, double seconds) {
    constexpr int probes = 5;
    double best = 0;
    for (int i = 0; i < probes; ++i)
        best = std::max(best, timed_rate(loop, threads, seconds / probes));
    return best;
}

} // namespace

peak_throughput measured_peak(double seconds) {
    static std::mutex mutex;
    static std::map<std::pair<int, int>, peak_throughput> cache;
    const int threads = num_threads();
    const isa tier = active_isa();
    const std::lock_guard lock(mutex);
    const auto key = std::make_pair(static_cast<int>(tier), threads);
    if (const auto it = cache.find(key); it != cache.end()) return it->second;
    const auto& k = peak_kernels().pick();
    peak_throughput p;
    p.isa = tier;
    p.threads = threads;
    p.f32_gflops = rate(
                       [&](std::int64_t n) {
                           float sink;
                           const double ops = k.f32_fma(n, &sink);
                           return ops + (sink == 12345.0f ? 1e-30 : 0.0);
                       },
                       threads, seconds) /
                   1e9;
    p.int8_gops = rate(
                      [&](std::int64_t n) {
                          std::int32_t sink;
                          const double ops = k.int8_mac(n, &sink);
                          return ops + (sink == 12345 ? 1e-30 : 0.0);
                      },
                      threads, seconds) /
                  1e9;
    cache[key] = p;
    return p;
}

} // namespace hone
