#include "hone/kernels/isa.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace hone {

namespace {

#if defined(__x86_64__) || defined(__i386__)
bool bit(unsigned value, int n) { return (value >> n) & 1u; }
#endif

// CPUID and XGETBV directly (compiler builtins differ in which feature names they know):
// a feature counts only when the CPU has it AND the OS saves the registers it needs.
cpu_features probe() noexcept {
    cpu_features f;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = bit(c, 27), fma = bit(c, 12), avx = bit(c, 28), f16c = bit(c, 29);
    std::uint64_t xcr0 = 0;
    if (osxsave) {
        unsigned lo = 0, hi = 0;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = (std::uint64_t(hi) << 32) | lo;
    }
    const bool ymm_state = (xcr0 & 0x6) == 0x6;                // SSE and AVX state
    const bool zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0; // opmask, ZMM hi256, hi16 ZMM
    const bool tile_state = (xcr0 & 0x60000) == 0x60000;       // AMX tile config and data
    unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
    if (__get_cpuid_count(7, 0, &a, &b7, &c7, &d7)) {
        unsigned unused = 0;
        __get_cpuid_count(7, 1, &a71, &unused, &unused, &unused);
    }
    const bool avx2 = avx && ymm_state && fma && f16c && bit(b7, 5);
    const bool avx512 = avx2 && zmm_state && bit(b7, 16) && bit(b7, 17) && bit(b7, 30) &&
                        bit(b7, 31); // F, DQ, BW, VL
    f.best = avx512 ? isa::avx512 : avx2 ? isa::avx2 : isa::scalar;
    f.avx512_vnni = avx512 && bit(c7, 11);
    f.avx512_bf16 = avx512 && bit(a71, 5);
    f.avx_vnni = avx2 && bit(a71, 4);
    f.amx = tile_state && bit(d7, 25);
    f.avx512_vbmi = avx512 && bit(c7, 1);
#endif
    return f;
}

isa cap_from_env() noexcept {
    if (const char* env = std::getenv("HONE_MAX_ISA"))
        if (const auto tier = isa_from_name(env)) return *tier;
    return isa::avx512;
}

std::atomic<int>& cap() noexcept {
    static std::atomic<int> value{static_cast<int>(cap_from_env())};
    return value;
}

} // namespace

const cpu_features& detected_cpu() noexcept {
    static const cpu_features features = probe();
    return features;
}

isa active_isa() noexcept {
    return static_cast<isa>(std::min(static_cast<int>(detected_cpu().best), cap().load()));
}

isa set_max_isa(isa tier) noexcept {
    cap().store(std::clamp(static_cast<int>(tier), 0, static_cast<int>(isa::avx512)));
    return active_isa();
}

std::string_view name_of(isa tier) noexcept {
    switch (tier) {
    case isa::scalar: return "scalar";
    case isa::avx2: return "avx2";
    case isa::avx512: return "avx512";
    }
    return "invalid";
}

std::optional<isa> isa_from_name(std::string_view name) noexcept {
    for (isa tier : {isa::scalar, isa::avx2, isa::avx512})
        if (name == name_of(tier)) return tier;
    return std::nullopt;
}

} // namespace hone
