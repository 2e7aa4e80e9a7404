// hone/core/shape.hpp — tensor dimensions, validated on construction.
//
// A shape has rank 0…max_rank; every dimension is ≥ 0 and the element count fits in int64.
// Rank 0 is a scalar (one element). Construction throws hone::error(invalid_argument) for a
// negative dimension or a rank above max_rank, and hone::error(out_of_range) when the element
// count overflows.
#pragma once

#include "hone/core/export.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace hone {

class HONE_EXPORT shape {
public:
    static constexpr std::size_t max_rank = 8;

    shape() noexcept = default;
    shape(std::initializer_list<std::int64_t> dims);
    explicit shape(std::span<const std::int64_t> dims);

    std::size_t rank() const noexcept { return rank_; }
    std::int64_t operator[](std::size_t axis) const noexcept { return dims_[axis]; }
    /// Dimension of `axis`; throws hone::error(out_of_range) for axis ≥ rank.
    std::int64_t dim(std::size_t axis) const;
    std::span<const std::int64_t> dims() const noexcept { return {dims_.data(), rank_}; }
    std::int64_t numel() const noexcept { return numel_; }

    /// Row-major element strides of a contiguous tensor of this shape.
    std::array<std::int64_t, max_rank> contiguous_strides() const noexcept;

    /// "[2, 3, 4]"; "[]" for a scalar.
    std::string to_string() const;

    friend bool operator==(const shape& a, const shape& b) noexcept {
        return a.dims().size() == b.dims().size() &&
               std::equal(a.dims().begin(), a.dims().end(), b.dims().begin());
    }

private:
    std::array<std::int64_t, max_rank> dims_{};
    std::size_t rank_ = 0;
    std::int64_t numel_ = 1;
};

} // namespace hone
