// Public entry point of the kmeans_dp family.
#include "kmeans_dp.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>

namespace hone::kernels {

const dispatch<kmeans_dp_table>& kmeans_dp_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<kmeans_dp_table> d{&kmeans_dp_ref, &kmeans_dp_avx2, &kmeans_dp_avx512};
#else
    static const dispatch<kmeans_dp_table> d{&kmeans_dp_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

constexpr const char* fn = "kmeans_dp_row_minima";

void check_size(std::span<const double> a, std::int64_t want, const char* what, std::int64_t n) {
    if (a.data() == nullptr || std::int64_t(a.size()) < want)
        fail(status::out_of_range,
             fmt::format("{}: {} has {} entries; n = {} values need at least {} (n + {} padding)",
                         fn, what, a.size(), n, want, want - n));
}

} // namespace

std::int64_t kmeans_dp_row_minima(const kmeans_dp_columns& c, std::span<const kmeans_dp_row> rows,
                                  double ub, std::span<double> cost, std::span<std::uint32_t> arg) {
    const std::int64_t n = c.n;
    if (n < 1 || n > std::int64_t(UINT32_MAX))
        fail(status::invalid_argument,
             fmt::format("{}: n = {} values is outside 1 … 2^32 − 1", fn, n));
    if (c.pw.empty() == c.rv.empty())
        fail(status::invalid_argument,
             fmt::format("{}: give exactly one of pw (weighted) and rv (unit weights); got {}", fn,
                         c.pw.empty() ? "neither" : "both"));
    const std::int64_t pad = kmeans_dp_padding;
    check_size(c.p1, n + 1 + pad, "p1", n);
    check_size(c.p2, n + 1 + pad, "p2", n);
    check_size(c.r, n + pad, "r", n);
    if (!c.pw.empty()) check_size(c.pw, n + 1 + pad, "pw", n);
    if (!c.rv.empty()) check_size(c.rv, n + pad, "rv", n);
    if (std::int64_t(cost.size()) < n || std::int64_t(arg.size()) < n)
        fail(status::out_of_range, fmt::format("{}: cost has {} and arg {} entries; n = {} needed",
                                               fn, cost.size(), arg.size(), n));
    for (std::size_t t = 0; t < rows.size(); ++t) {
        const kmeans_dp_row& row = rows[t];
        if (!(0 <= row.first && row.first <= row.last && row.last <= row.j && row.j < n))
            fail(status::out_of_range,
                 fmt::format("{}: row {} (j = {}, columns {} … {}) is outside 0 ≤ first ≤ last ≤ "
                             "j < n = {}",
                             fn, t, row.j, row.first, row.last, n));
    }
    if (rows.empty()) return 0;
    return std::int64_t(kmeans_dp_kernels().pick().row_minima(c, rows.data(), rows.size(), ub,
                                                              cost.data(), arg.data()));
}

} // namespace hone::kernels
