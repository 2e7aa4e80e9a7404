// Public entry points of the subtract_product family.
#include "hone/kernels/subtract_product.hpp"

#include "subtract_product.hpp"

#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace hone::kernels {

const dispatch<subtract_product_table>& subtract_product_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<subtract_product_table> d{&subtract_product_ref, &subtract_product_avx2,
                                                    &subtract_product_avx512};
#else
    static const dispatch<subtract_product_table> d{&subtract_product_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

constexpr const char* fn = "subtract_product";

/// Entries a rows × cols matrix with leading dimension ld spans (0 when empty).
std::uint64_t extent(std::int64_t rows, std::int64_t cols, std::int64_t ld) {
    return rows == 0 || cols == 0
               ? 0
               : std::uint64_t(rows - 1) * std::uint64_t(ld) + std::uint64_t(cols);
}

bool overlap(const void* p, std::uint64_t p_bytes, const void* q, std::uint64_t q_bytes) {
    const auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(q);
    return p_bytes > 0 && q_bytes > 0 && a < b + q_bytes && b < a + p_bytes;
}

} // namespace

void subtract_product(std::span<const float> a, std::span<const float> b, std::span<float> c,
                      std::int64_t m, std::int64_t k, std::int64_t n, std::int64_t ldb,
                      std::int64_t ldc) {
    if (m < 0 || k < 0 || n < 0)
        fail(status::invalid_argument,
             fmt::format("{}: negative size m = {}, k = {}, n = {}", fn, m, k, n));
    // (Each size below 2^31 keeps every product of two of them within 64 bits.)
    if (m >= (std::int64_t(1) << 31) || k >= (std::int64_t(1) << 31) ||
        ldb >= (std::int64_t(1) << 31) || ldc >= (std::int64_t(1) << 31))
        fail(status::invalid_argument,
             fmt::format("{}: sizes m = {}, k = {}, ldb = {}, ldc = {} must be below 2^31", fn, m,
                         k, ldb, ldc));
    if (ldb < n || ldc < n)
        fail(status::invalid_argument,
             fmt::format("{}: leading dimensions ldb = {}, ldc = {} must be at least n = {}", fn,
                         ldb, ldc, n));
    const std::uint64_t na = std::uint64_t(m) * std::uint64_t(k), nb = extent(k, n, ldb),
                        nc = extent(m, n, ldc);
    if (a.size() < na || b.size() < nb || c.size() < nc)
        fail(status::out_of_range,
             fmt::format("{}: A [{}, {}] needs {} entries (has {}), B [{}, {}] with ldb = {} needs "
                         "{} (has {}), C [{}, {}] with ldc = {} needs {} (has {})",
                         fn, m, k, na, a.size(), k, n, ldb, nb, b.size(), m, n, ldc, nc, c.size()));
    if (overlap(c.data(), nc * 4, a.data(), na * 4) || overlap(c.data(), nc * 4, b.data(), nb * 4))
        fail(status::invalid_argument, fmt::format("{}: C overlaps A or B", fn));
    if (m == 0 || k == 0 || n == 0) return;
    const auto run = subtract_product_kernels().pick().run;
    // Panels of 256 columns (B's panel, k × 256, stays in L2), in parallel for large products:
    // a panel holds whole elements, so the split changes no element's arithmetic.
    constexpr std::int64_t panel = 256;
    const std::int64_t panels = (n + panel - 1) / panel;
    const int threads = num_threads();
#pragma omp parallel for num_threads(threads)                                                      \
    schedule(static) if (panels > 1 && m * n * k > (1 << 20))
    for (std::int64_t p = 0; p < panels; ++p) {
        const std::int64_t x0 = p * panel, x1 = std::min(n, x0 + panel);
        run(a.data(), b.data() + x0, c.data() + x0, std::size_t(m), std::size_t(k),
            std::size_t(x1 - x0), std::size_t(ldb), std::size_t(ldc));
    }
}

void subtract_product(std::span<const float> a, std::span<const float> b, std::span<float> c,
                      std::int64_t m, std::int64_t k, std::int64_t n) {
    subtract_product(a, b, c, m, k, n, n, n);
}

} // namespace hone::kernels
