// hone/kernels/peak.hpp — what this machine's arithmetic can do at most, measured.
//
// Utilisation figures need a denominator. Instead of trusting a datasheet (clock speeds in a
// VM are unknowable), hone measures it: a short loop of independent FMA chains (f32) and of
// int8 multiply-accumulates (VPMADDUBSW/VPMADDWD on AVX2, VPDPBUSD with AVX-512 VNNI) on the
// active SIMD tier, on every thread. The result is cached per (tier, threads).
#pragma once

#include "hone/core/export.hpp"
#include "hone/kernels/isa.hpp"

namespace hone {

struct peak_throughput {
    hone::isa isa = hone::isa::scalar;
    int threads = 1;
    double f32_gflops = 0; ///< 2 flops per FMA
    double int8_gops = 0;  ///< 2 ops per multiply-accumulate
};

/// Measures (first call per tier and thread count: about 2 × `seconds`, as the best of five
/// probes, since load from other processes can only slow a probe down) or returns the cached
/// figures.
HONE_EXPORT peak_throughput measured_peak(double seconds = 0.05);

} // namespace hone
