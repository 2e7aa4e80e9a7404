#include "hone/metrics/performance.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <string>

namespace hone {

latency_stats summarize_latency(std::span<const double> ms) {
    if (ms.empty()) fail(status::invalid_argument, "summarize_latency: no timings");
    std::vector<double> sorted(ms.begin(), ms.end());
    if (std::any_of(sorted.begin(), sorted.end(), [](double x) { return std::isnan(x); }))
        fail(status::invalid_argument, "summarize_latency: a timing is NaN");
    std::sort(sorted.begin(), sorted.end());
    auto nearest_rank = [&](double p) {
        const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * double(sorted.size())));
        return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
    };
    latency_stats s;
    s.runs = sorted.size();
    double total = 0;
    for (double x : sorted)
        total += x;
    s.mean_ms = total / double(sorted.size());
    s.min_ms = sorted.front();
    s.max_ms = sorted.back();
    s.p50_ms = nearest_rank(50);
    s.p90_ms = nearest_rank(90);
    s.p99_ms = nearest_rank(99);
    return s;
}

latency_stats measure_latency(const std::function<void()>& fn, int warmup, int repeats) {
    if (repeats < 1)
        fail(status::invalid_argument, fmt::format("measure_latency: {} repeats", repeats));
    for (int i = 0; i < warmup; ++i)
        fn();
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(repeats));
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        fn();
        const auto stop = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
    return summarize_latency(ms);
}

namespace {

std::uint64_t status_field_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string key;
    while (in >> key) {
        if (key == field) {
            std::uint64_t kib = 0;
            in >> kib;
            return kib * 1024;
        }
        in.ignore(1 << 20, '\n');
    }
    return 0;
}

} // namespace

std::uint64_t peak_resident_bytes() { return status_field_kib("VmHWM:"); }
std::uint64_t resident_bytes() { return status_field_kib("VmRSS:"); }

} // namespace hone
