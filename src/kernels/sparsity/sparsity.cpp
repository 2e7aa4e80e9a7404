// Public entry points of the sparsity family: argument checks, then the active tier's kernels.
#include "sparsity.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace hone::kernels {

const dispatch<sparsity_table>& sparsity_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<sparsity_table> d{&sparsity_ref, &sparsity_avx2, &sparsity_avx512};
#else
    static const dispatch<sparsity_table> d{&sparsity_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

void check_kind(score_kind kind, const char* fn) {
    if (kind != score_kind::magnitude && kind != score_kind::value)
        fail(
            status::invalid_argument,
            fmt::format("{}: score kind {} is neither magnitude (0) nor value (1)", fn, int(kind)));
}

void check_mask_size(std::size_t scores, std::size_t mask, const char* fn) {
    if (scores != mask)
        fail(status::shape_mismatch,
             fmt::format("{}: scores have {} elements, the mask {}", fn, scores, mask));
}

std::span<std::uint8_t> mask_bytes(tensor_view mask, const shape& want, const char* fn) {
    if (mask.type() != dtype::u8 && mask.type() != dtype::boolean)
        fail(status::dtype_mismatch,
             fmt::format("{}: the mask must be u8 or bool, not {}", fn, name_of(mask.type())));
    if (!(mask.dims() == want))
        fail(status::shape_mismatch, fmt::format("{}: mask shape {} differs from scores {}", fn,
                                                 mask.dims().to_string(), want.to_string()));
    if (!mask.is_contiguous())
        fail(status::invalid_argument, fmt::format("{}: the mask must be contiguous", fn));
    return {static_cast<std::uint8_t*>(mask.data()), std::size_t(mask.numel())};
}

std::span<const float> f32_span(const_tensor_view t, const char* fn, const char* what) {
    if (t.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: {} must be f32, not {}", fn, what, name_of(t.type())));
    if (!t.is_contiguous())
        fail(status::invalid_argument, fmt::format("{}: {} must be contiguous", fn, what));
    return {static_cast<const float*>(t.data()), std::size_t(t.numel())};
}

} // namespace

topk_result topk_mask(std::span<const float> scores, std::int64_t keep, score_kind kind,
                      std::span<std::uint8_t> mask) {
    constexpr const char* fn = "topk_mask";
    check_kind(kind, fn);
    check_mask_size(scores.size(), mask.size(), fn);
    const std::size_t n = scores.size();
    if (keep < 0 || std::uint64_t(keep) > n)
        fail(status::invalid_argument,
             fmt::format("{}: keep = {} is outside [0, {}] (the number of scores)", fn, keep, n));
    const auto& k = sparsity_kernels().pick();
    if (const std::size_t bad = k.find_nan(scores.data(), n); bad < n)
        fail(
            status::invalid_argument,
            fmt::format("{}: score {} (flat index) is NaN; NaN weights cannot be ranked", fn, bad));
    topk_result r;
    r.kept = keep;
    if (keep == 0) {
        std::fill(mask.begin(), mask.end(), std::uint8_t(0));
        r.threshold = std::numeric_limits<float>::infinity();
        return r;
    }
    std::uint32_t t = 0;
    std::size_t greater = 0;
    k.select(scores.data(), n, std::size_t(keep), kind, &t, &greater);
    const std::size_t tied =
        k.mask_from_key(scores.data(), n, kind, t, std::size_t(keep) - greater, mask.data());
    r.threshold = key_score(t, kind);
    r.above = std::int64_t(greater);
    r.tied = std::int64_t(tied);
    return r;
}

topk_result topk_mask(const_tensor_view scores, std::int64_t keep, score_kind kind,
                      tensor_view mask) {
    constexpr const char* fn = "topk_mask";
    const auto s = f32_span(scores, fn, "scores");
    return topk_mask(s, keep, kind, mask_bytes(mask, scores.dims(), fn));
}

void nm_mask(std::span<const float> scores, std::int64_t rows, std::int64_t cols, int n, int m,
             score_kind kind, std::span<std::uint8_t> mask) {
    constexpr const char* fn = "nm_mask";
    check_kind(kind, fn);
    if (m < 2 || m > 32 || n < 1 || n >= m)
        fail(status::invalid_argument,
             fmt::format("{}: {}:{} sparsity needs 1 <= N < M <= 32 (N = {}, M = {})", fn, n, m, n,
                         m));
    if (rows < 0 || cols < 0)
        fail(status::invalid_argument, fmt::format("{}: negative shape [{}, {}]", fn, rows, cols));
    if (cols % m != 0)
        fail(status::invalid_argument,
             fmt::format("{}: the reduction axis has {} columns, not a multiple of M = {} "
                         "({}:{} groups run along each row)",
                         fn, cols, m, n, m));
    if (cols != 0 && std::uint64_t(rows) > scores.size() / std::uint64_t(cols))
        fail(status::shape_mismatch, fmt::format("{}: [{}, {}] needs {} scores, got {}", fn, rows,
                                                 cols, rows * cols, scores.size()));
    const std::size_t total = std::size_t(rows) * std::size_t(cols);
    if (total != scores.size())
        fail(status::shape_mismatch, fmt::format("{}: [{}, {}] needs {} scores, got {}", fn, rows,
                                                 cols, total, scores.size()));
    check_mask_size(scores.size(), mask.size(), fn);
    const auto& k = sparsity_kernels().pick();
    if (const std::size_t bad = k.find_nan(scores.data(), total); bad < total)
        fail(status::invalid_argument,
             fmt::format("{}: score at row {}, column {} is NaN; NaN weights cannot be ranked", fn,
                         bad / std::size_t(cols), bad % std::size_t(cols)));
    k.nm_mask(scores.data(), total / std::size_t(m), n, m, kind, mask.data());
}

void nm_mask(const_tensor_view scores, int n, int m, score_kind kind, tensor_view mask) {
    constexpr const char* fn = "nm_mask";
    if (scores.rank() != 1 && scores.rank() != 2)
        fail(status::invalid_argument,
             fmt::format("{}: scores must be [rows, cols] (or one row), not {}", fn,
                         scores.dims().to_string()));
    const auto s = f32_span(scores, fn, "scores");
    const std::int64_t cols = scores.dims()[scores.rank() - 1];
    const std::int64_t rows = scores.rank() == 2 ? scores.dims()[0] : 1;
    nm_mask(s, rows, cols, n, m, kind, mask_bytes(mask, scores.dims(), fn));
}

void apply_mask(std::span<const float> src, std::span<const std::uint8_t> mask,
                std::span<float> dst) {
    constexpr const char* fn = "apply_mask";
    if (src.size() != mask.size() || src.size() != dst.size())
        fail(status::shape_mismatch,
             fmt::format("{}: source has {} elements, mask {}, destination {}", fn, src.size(),
                         mask.size(), dst.size()));
    sparsity_kernels().pick().apply_mask(src.data(), mask.data(), dst.data(), src.size());
}

void apply_mask(const_tensor_view src, const_tensor_view mask, tensor_view dst) {
    constexpr const char* fn = "apply_mask";
    const auto s = f32_span(src, fn, "the source");
    if (dst.type() != dtype::f32 || !dst.is_contiguous())
        fail(status::dtype_mismatch,
             fmt::format("{}: the destination must be contiguous f32 (it is {})", fn,
                         name_of(dst.type())));
    if (!(dst.dims() == src.dims()))
        fail(status::shape_mismatch,
             fmt::format("{}: destination shape {} differs from source {}", fn,
                         dst.dims().to_string(), src.dims().to_string()));
    if (mask.type() != dtype::u8 && mask.type() != dtype::boolean)
        fail(status::dtype_mismatch,
             fmt::format("{}: the mask must be u8 or bool, not {}", fn, name_of(mask.type())));
    if (!(mask.dims() == src.dims()) || !mask.is_contiguous())
        fail(status::shape_mismatch,
             fmt::format("{}: the mask must be contiguous of shape {} (it is {})", fn,
                         src.dims().to_string(), mask.dims().to_string()));
    apply_mask(s, {static_cast<const std::uint8_t*>(mask.data()), std::size_t(mask.numel())},
               {static_cast<float*>(dst.data()), std::size_t(dst.numel())});
}

} // namespace hone::kernels
