#include "hone/core/shape.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace hone {

shape::shape(std::initializer_list<std::int64_t> dims)
    : shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

shape::shape(std::span<const std::int64_t> dims) {
    if (dims.size() > max_rank)
        fail(status::invalid_argument,
             fmt::format("shape rank {} exceeds the maximum {}", dims.size(), max_rank));
    // The product of the non-zero dimensions must fit, so strides never overflow either.
    std::int64_t product = 1;
    bool has_zero = false;
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] < 0)
            fail(status::invalid_argument, fmt::format("shape [{}]: dimension {} is negative ({})",
                                                       fmt::join(dims, ", "), i, dims[i]));
        has_zero = has_zero || dims[i] == 0;
        if (dims[i] != 0 && __builtin_mul_overflow(product, dims[i], &product))
            fail(status::out_of_range,
                 fmt::format("shape [{}]: element count overflows int64", fmt::join(dims, ", ")));
        dims_[i] = dims[i];
    }
    rank_ = dims.size();
    numel_ = has_zero ? 0 : product;
}

std::int64_t shape::dim(std::size_t axis) const {
    if (axis >= rank_)
        fail(status::out_of_range,
             fmt::format("axis {} is outside shape {} of rank {}", axis, to_string(), rank_));
    return dims_[axis];
}

std::array<std::int64_t, shape::max_rank> shape::contiguous_strides() const noexcept {
    std::array<std::int64_t, max_rank> s{};
    std::int64_t step = 1;
    for (std::size_t i = rank_; i-- > 0;) {
        s[i] = step;
        step *= dims_[i] == 0 ? 1 : dims_[i];
    }
    return s;
}

std::string shape::to_string() const { return fmt::format("[{}]", fmt::join(dims(), ", ")); }

} // namespace hone
