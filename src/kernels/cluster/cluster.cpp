// Public entry points of the cluster family.
#include "hone/kernels/cluster.hpp"

#include "../sparsity/sparsity.hpp"
#include "cluster.hpp"

#include <fmt/format.h>

#include <cmath>
#include <vector>

namespace hone::kernels {

const dispatch<cluster_table>& cluster_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<cluster_table> d{&cluster_ref, &cluster_avx2, &cluster_avx512};
#else
    static const dispatch<cluster_table> d{&cluster_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

void check_centroids(std::span<const float> c, const char* fn) {
    if (c.empty() || c.size() > std::size_t(max_centroids))
        fail(status::invalid_argument,
             fmt::format("{}: {} centroids; a codebook holds 1 … {}", fn, c.size(), max_centroids));
    for (std::size_t j = 0; j < c.size(); ++j) {
        if (!std::isfinite(c[j]))
            fail(status::invalid_argument,
                 fmt::format("{}: centroid {} is {}; centroids must be finite", fn, j, c[j]));
        if (j > 0 && c[j] < c[j - 1])
            fail(status::invalid_argument,
                 fmt::format("{}: centroids must be sorted ascending, but centroid {} ({}) < "
                             "centroid {} ({})",
                             fn, j, c[j], j - 1, c[j - 1]));
    }
}

std::span<const float> f32_span(const_tensor_view t, const char* fn, const char* what) {
    if (t.type() != dtype::f32 || !t.is_contiguous())
        fail(status::dtype_mismatch,
             fmt::format("{}: {} must be contiguous f32 (it is {})", fn, what, name_of(t.type())));
    return {static_cast<const float*>(t.data()), std::size_t(t.numel())};
}

} // namespace

void nearest_centroid(std::span<const float> values, std::span<const float> centroids,
                      std::span<std::uint8_t> indices) {
    constexpr const char* fn = "nearest_centroid";
    check_centroids(centroids, fn);
    if (indices.size() != values.size())
        fail(status::shape_mismatch,
             fmt::format("{}: {} values but {} indices", fn, values.size(), indices.size()));
    const std::size_t n = values.size();
    if (const std::size_t bad = sparsity_kernels().pick().find_nan(values.data(), n); bad < n)
        fail(status::invalid_argument,
             fmt::format("{}: value {} (flat index) is NaN; it has no nearest centroid", fn, bad));
    const std::size_t k = centroids.size();
    std::vector<float> t(k);
    bool duplicates = false;
    for (std::size_t j = 0; j + 1 < k; ++j) {
        t[j] = midpoint_threshold(centroids[j], centroids[j + 1]);
        duplicates = duplicates || centroids[j] == centroids[j + 1];
    }
    cluster_kernels().pick().assign(values.data(), n, centroids.data(), t.data(), k,
                                    indices.data());
    if (duplicates) {
        // The count lands on some member of a run of equal centroids; report the run's first.
        std::uint8_t first[256];
        for (std::size_t j = 0; j < k; ++j)
            first[j] = (j > 0 && centroids[j] == centroids[j - 1]) ? first[j - 1] : std::uint8_t(j);
        for (auto& i : indices)
            i = first[i];
    }
}

void nearest_centroid(const_tensor_view values, const_tensor_view centroids, tensor_view indices) {
    constexpr const char* fn = "nearest_centroid";
    const auto v = f32_span(values, fn, "values");
    const auto c = f32_span(centroids, fn, "centroids");
    if (centroids.rank() != 1)
        fail(status::invalid_argument,
             fmt::format("{}: centroids must be rank 1, not {}", fn, centroids.dims().to_string()));
    if (indices.type() != dtype::u8 || !indices.is_contiguous())
        fail(status::dtype_mismatch, fmt::format("{}: indices must be contiguous u8 (it is {})", fn,
                                                 name_of(indices.type())));
    if (!(indices.dims() == values.dims()))
        fail(status::shape_mismatch,
             fmt::format("{}: indices shape {} differs from values {}", fn,
                         indices.dims().to_string(), values.dims().to_string()));
    nearest_centroid(v, c, indices.span<std::uint8_t>());
}

void codebook_lookup(std::span<const std::uint8_t> indices, std::span<const float> codebook,
                     std::span<float> dst) {
    constexpr const char* fn = "codebook_lookup";
    if (codebook.empty() || codebook.size() > std::size_t(max_centroids))
        fail(status::invalid_argument,
             fmt::format("{}: the codebook has {} entries; it must have 1 … {}", fn,
                         codebook.size(), max_centroids));
    if (indices.size() != dst.size())
        fail(status::shape_mismatch, fmt::format("{}: {} indices but {} destination elements", fn,
                                                 indices.size(), dst.size()));
    const auto& k = cluster_kernels().pick();
    const std::size_t n = indices.size();
    if (const std::size_t bad = k.first_invalid(indices.data(), n, codebook.size()); bad < n)
        fail(status::out_of_range,
             fmt::format("{}: index {} at position {} is outside the {}-entry codebook", fn,
                         indices[bad], bad, codebook.size()));
    if (codebook.size() == 256) return k.lookup(indices.data(), n, codebook.data(), dst.data());
    // The SIMD gather reads codebook[idx] for whole vectors; give it 256 readable entries.
    float padded[256] = {};
    std::copy(codebook.begin(), codebook.end(), padded);
    k.lookup(indices.data(), n, padded, dst.data());
}

void codebook_lookup(const_tensor_view indices, const_tensor_view codebook, tensor_view dst) {
    constexpr const char* fn = "codebook_lookup";
    if (indices.type() != dtype::u8 || !indices.is_contiguous())
        fail(status::dtype_mismatch, fmt::format("{}: indices must be contiguous u8 (it is {})", fn,
                                                 name_of(indices.type())));
    const auto c = f32_span(codebook, fn, "the codebook");
    if (codebook.rank() != 1)
        fail(status::invalid_argument, fmt::format("{}: the codebook must be rank 1, not {}", fn,
                                                   codebook.dims().to_string()));
    if (dst.type() != dtype::f32 || !dst.is_contiguous())
        fail(status::dtype_mismatch,
             fmt::format("{}: dst must be contiguous f32 (it is {})", fn, name_of(dst.type())));
    if (!(dst.dims() == indices.dims()))
        fail(status::shape_mismatch,
             fmt::format("{}: dst shape {} differs from indices {}", fn, dst.dims().to_string(),
                         indices.dims().to_string()));
    codebook_lookup(indices.span<std::uint8_t>(), c, dst.span<float>());
}

} // namespace hone::kernels
