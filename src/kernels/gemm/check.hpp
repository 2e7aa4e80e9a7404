// Argument checks shared by the GEMM entry points: messages name the function and argument.
#pragma once

#include "hone/core/error.hpp"

#include <cstdint>
#include <fmt/format.h>

namespace hone::kernels::detail {

inline void check_dim(std::int64_t value, const char* function, const char* name) {
    if (value < 0)
        fail(status::invalid_argument,
             fmt::format("{}: {} = {} is negative", function, name, value));
}

inline void check_buffer(const void* p, std::int64_t elements, const char* function,
                         const char* name) {
    if (p == nullptr && elements > 0)
        fail(status::invalid_argument,
             fmt::format("{}: '{}' is null but holds {} elements", function, name, elements));
}

} // namespace hone::kernels::detail
