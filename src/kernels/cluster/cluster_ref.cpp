// Scalar reference of the cluster family.
#include "cluster.hpp"

namespace hone::kernels {

namespace ref {

// Midpoints are non-decreasing, so the count of those below v is found by binary search.
std::uint8_t nearest(float v, const float* c, std::size_t k) noexcept {
    std::size_t lo = 0, hi = k - 1; // answer in [lo, hi]
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        if (above_midpoint(v, c[mid], c[mid + 1]))
            lo = mid + 1;
        else
            hi = mid;
    }
    return static_cast<std::uint8_t>(lo);
}

void assign(const float* x, std::size_t n, const float* c, const float*, std::size_t k,
            std::uint8_t* idx) {
    for (std::size_t i = 0; i < n; ++i)
        idx[i] = nearest(x[i], c, k);
}

std::size_t first_invalid(const std::uint8_t* idx, std::size_t n, std::size_t k) {
    for (std::size_t i = 0; i < n; ++i)
        if (idx[i] >= k) return i;
    return n;
}

void lookup(const std::uint8_t* idx, std::size_t n, const float* codebook, float* dst) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = codebook[idx[i]];
}

} // namespace ref

const cluster_table cluster_ref = {ref::assign, ref::first_invalid, ref::lookup};

} // namespace hone::kernels
