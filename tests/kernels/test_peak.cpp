#include "hone/core/threads.hpp"
#include "hone/kernels/peak.hpp"
#include "isa_tiers.hpp"

TEST_CASE("the peak probe measures every tier once and caches the figures") {
    hone::test::for_each_tier([](hone::isa tier) {
        const auto p = hone::measured_peak(0.005);
        CHECK(p.isa == tier);
        CHECK(p.threads == hone::num_threads());
        CHECK(p.f32_gflops > 0.0);
        CHECK(p.int8_gops > 0.0);
        const auto again = hone::measured_peak(0.005);
        CHECK(again.f32_gflops == p.f32_gflops); // cached: the same measurement
        CHECK(again.int8_gops == p.int8_gops);
    });
}
