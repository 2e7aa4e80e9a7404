// Internal: per-tier loops that keep the arithmetic units busy. Each returns the operations
// it performed (2 per FMA / multiply-accumulate) and a value derived from its accumulators so
// the compiler cannot drop the work.
#pragma once

#include "../dispatch.hpp"

#include <cstdint>

namespace hone::kernels {

struct peak_table {
    double (*f32_fma)(std::int64_t iterations, float* sink);
    double (*int8_mac)(std::int64_t iterations, std::int32_t* sink);
};

extern const peak_table peak_ref;
extern const peak_table peak_avx2;
extern const peak_table peak_avx512;

} // namespace hone::kernels
