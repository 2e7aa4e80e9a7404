// Public entry points of the norms family.
#include "hone/kernels/norms.hpp"

#include "norms.hpp"

#include <fmt/format.h>

#include <cmath>
#include <vector>

namespace hone::kernels {

const dispatch<norms_table>& norms_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<norms_table> d{&norms_ref, &norms_avx2, &norms_avx512};
#else
    static const dispatch<norms_table> d{&norms_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

void check(std::size_t src, std::int64_t rows, std::int64_t cols, std::size_t dst,
           std::int64_t want_dst, norm kind, const char* fn) {
    if (kind != norm::sum_squares && kind != norm::l2 && kind != norm::l1)
        fail(status::invalid_argument,
             fmt::format("{}: norm {} is not sum_squares (0), l2 (1) or l1 (2)", fn, int(kind)));
    if (rows < 0 || cols < 0)
        fail(status::invalid_argument, fmt::format("{}: negative shape [{}, {}]", fn, rows, cols));
    if ((cols != 0 && std::uint64_t(rows) > src / std::uint64_t(cols)) ||
        std::size_t(rows) * std::size_t(cols) != src)
        fail(status::shape_mismatch,
             fmt::format("{}: a [{}, {}] matrix has {} elements; the source has {}", fn, rows, cols,
                         rows * cols, src));
    if (dst != std::size_t(want_dst))
        fail(status::shape_mismatch,
             fmt::format("{}: the destination has {} elements, expected {}", fn, dst, want_dst));
}

void finish(const std::vector<double>& sums, norm kind, std::span<float> dst) {
    for (std::size_t i = 0; i < sums.size(); ++i)
        dst[i] = static_cast<float>(kind == norm::l2 ? std::sqrt(sums[i]) : sums[i]);
}

struct matrix {
    std::span<const float> data;
    std::int64_t rows, cols;
};

matrix as_matrix(const_tensor_view src, const char* fn) {
    if (src.type() != dtype::f32 || !src.is_contiguous() || src.rank() != 2)
        fail(status::invalid_argument,
             fmt::format("{}: the source must be a contiguous f32 [rows, cols] matrix (it is {} "
                         "{})",
                         fn, name_of(src.type()), src.dims().to_string()));
    return {src.span<float>(), src.dims()[0], src.dims()[1]};
}

std::span<float> as_vector(tensor_view dst, const char* fn) {
    if (dst.type() != dtype::f32 || !dst.is_contiguous() || dst.rank() != 1)
        fail(status::invalid_argument,
             fmt::format("{}: the destination must be a contiguous f32 vector (it is {} {})", fn,
                         name_of(dst.type()), dst.dims().to_string()));
    return dst.span<float>();
}

} // namespace

void row_norms(std::span<const float> src, std::int64_t rows, std::int64_t cols, norm kind,
               std::span<float> dst) {
    check(src.size(), rows, cols, dst.size(), rows, kind, "row_norms");
    std::vector<double> sums(std::size_t(rows), 0.0);
    norms_kernels().pick().row_sums(src.data(), std::size_t(rows), std::size_t(cols),
                                    kind != norm::l1, sums.data());
    finish(sums, kind, dst);
}

void col_norms(std::span<const float> src, std::int64_t rows, std::int64_t cols, norm kind,
               std::span<float> dst) {
    check(src.size(), rows, cols, dst.size(), cols, kind, "col_norms");
    std::vector<double> sums(std::size_t(cols), 0.0);
    norms_kernels().pick().col_sums(src.data(), std::size_t(rows), std::size_t(cols),
                                    kind != norm::l1, sums.data());
    finish(sums, kind, dst);
}

void accumulate_col_sum_squares(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                                std::span<double> acc) {
    check(src.size(), rows, cols, acc.size(), cols, norm::sum_squares,
          "accumulate_col_sum_squares");
    norms_kernels().pick().col_sums(src.data(), std::size_t(rows), std::size_t(cols), true,
                                    acc.data());
}

void row_norms(const_tensor_view src, norm kind, tensor_view dst) {
    const auto m = as_matrix(src, "row_norms");
    row_norms(m.data, m.rows, m.cols, kind, as_vector(dst, "row_norms"));
}

void col_norms(const_tensor_view src, norm kind, tensor_view dst) {
    const auto m = as_matrix(src, "col_norms");
    col_norms(m.data, m.rows, m.cols, kind, as_vector(dst, "col_norms"));
}

} // namespace hone::kernels
