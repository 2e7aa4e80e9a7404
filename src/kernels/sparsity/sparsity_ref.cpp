// Scalar reference of the sparsity family: the behaviour every SIMD tier must match exactly.
#include "sparsity.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace hone::kernels {

namespace ref {

std::size_t find_nan(const float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (std::isnan(x[i])) return i;
    return n;
}

std::size_t mask_from_key(const float* x, std::size_t n, score_kind kind, std::uint32_t t,
                          std::size_t ties, std::uint8_t* mask) {
    std::size_t tied = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t key = score_key(x[i], kind);
        bool keep = key > t;
        if (key == t) {
            ++tied;
            if (ties > 0) {
                keep = true;
                --ties;
            }
        }
        mask[i] = keep ? 1 : 0;
    }
    return tied;
}

// Entry j of a group is kept when fewer than n entries outrank it; i outranks j when its key is
// greater, or equal with i < j.
void nm_mask(const float* x, std::size_t groups, int n, int m, score_kind kind,
             std::uint8_t* mask) {
    std::uint32_t key[32];
    for (std::size_t g = 0; g < groups; ++g, x += m, mask += m) {
        for (int j = 0; j < m; ++j)
            key[j] = score_key(x[j], kind);
        for (int j = 0; j < m; ++j) {
            int rank = 0;
            for (int i = 0; i < m; ++i)
                rank += key[i] > key[j] || (key[i] == key[j] && i < j);
            mask[j] = rank < n ? 1 : 0;
        }
    }
}

void apply_mask(const float* src, const std::uint8_t* mask, float* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = mask[i] ? src[i] : 0.0f;
}

} // namespace ref

namespace {

// nth_element over a copy of the keys: O(n) on average, obviously right.
void select(const float* x, std::size_t n, std::size_t k, score_kind kind, std::uint32_t* key,
            std::size_t* greater) {
    std::vector<std::uint32_t> keys(n);
    for (std::size_t i = 0; i < n; ++i)
        keys[i] = score_key(x[i], kind);
    std::nth_element(keys.begin(), keys.begin() + std::ptrdiff_t(k - 1), keys.end(),
                     std::greater<>());
    const std::uint32_t t = keys[k - 1];
    *key = t;
    *greater = std::size_t(
        std::count_if(keys.begin(), keys.end(), [t](std::uint32_t v) { return v > t; }));
}

} // namespace

const sparsity_table sparsity_ref = {ref::find_nan, select, ref::mask_from_key, ref::nm_mask,
                                     ref::apply_mask};

} // namespace hone::kernels
