#include "hone/kernels/isa.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace hone {

namespace {

cpu_features probe() noexcept {
    cpu_features f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init(); // libgcc also checks that the OS saves the wider registers (XCR0)
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                      __builtin_cpu_supports("f16c");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vl");
    f.best = avx512 ? isa::avx512 : avx2 ? isa::avx2 : isa::scalar;
    f.avx512_vnni = avx512 && __builtin_cpu_supports("avx512vnni");
    f.avx512_bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
    f.avx_vnni = avx2 && __builtin_cpu_supports("avxvnni");
    f.amx = __builtin_cpu_supports("amx-int8");
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
