// Test helper: run a check once per SIMD tier this machine has, restoring the cap afterwards.
#pragma once

#include "hone/kernels/isa.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace hone::test {

inline std::vector<isa> available_tiers() {
    std::vector<isa> tiers;
    for (isa t : {isa::scalar, isa::avx2, isa::avx512})
        if (static_cast<int>(t) <= static_cast<int>(detected_cpu().best)) tiers.push_back(t);
    return tiers;
}

/// Calls fn() with each available tier active (a doctest SUBCASE per tier).
template <class Fn> void for_each_tier(Fn&& fn) {
    for (isa tier : available_tiers()) {
        SUBCASE(std::string(name_of(tier)).c_str()) {
            set_max_isa(tier);
            REQUIRE(active_isa() == tier);
            fn(tier);
            set_max_isa(isa::avx512);
        }
    }
}

} // namespace hone::test
