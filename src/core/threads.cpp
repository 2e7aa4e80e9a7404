#include "hone/core/threads.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace hone {

namespace {

int default_threads() noexcept {
    if (const char* env = std::getenv("HONE_NUM_THREADS")) {
        int n = 0;
        const char* end = env + std::strlen(env);
        const auto [ptr, ec] = std::from_chars(env, end, n);
        if (ec == std::errc() && ptr == end && n > 0) return n;
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

std::atomic<int>& current() noexcept {
    static std::atomic<int> n{default_threads()};
    return n;
}

} // namespace

int num_threads() noexcept { return current().load(std::memory_order_relaxed); }

int set_num_threads(int n) noexcept {
    const int value = n > 0 ? n : default_threads();
    current().store(value, std::memory_order_relaxed);
#ifdef _OPENMP
    omp_set_num_threads(value); // oneDNN's OpenMP runtime reads it on this thread
#endif
    return value;
}

} // namespace hone
