// hone/kernels/isa.hpp — which SIMD tier hone's kernels run on.
//
// The CPU (and the OS's register saving) is probed once. Every kernel has a scalar reference
// and variants for the tiers below; calls go to the highest tier that is both supported and at
// most the cap. The cap comes from set_max_isa() or, at start-up, the HONE_MAX_ISA environment
// variable ("scalar", "avx2", "avx512"), so tests and benchmarks can run every tier present.
#pragma once

#include "hone/core/export.hpp"

#include <optional>
#include <string_view>

namespace hone {

/// SIMD tiers, ordered. Values are part of the ABI (hone_isa in hone.h).
enum class isa : int {
    scalar = 0, ///< portable C++; the reference every other tier must match
    avx2 = 1,   ///< AVX2 + FMA + F16C
    avx512 = 2, ///< AVX-512 F/BW/DQ/VL + FMA + F16C
};

/// What the CPU features mean for the machine's arithmetic peak (used by utilisation figures).
struct cpu_features {
    isa best = isa::scalar;   ///< highest tier the CPU and OS support
    bool avx512_vnni = false; ///< int8 dot products (VPDPBUSD) on 512-bit registers
    bool avx_vnni = false;    ///< the same on 256-bit registers (AVX-VNNI)
    bool avx512_bf16 = false; ///< bf16 dot products
    bool amx = false;         ///< AMX tiles (int8/bf16)
    bool avx512_vbmi = false; ///< byte permutes (VPERMI2B): 256-entry byte tables (byte_table)
};

HONE_EXPORT const cpu_features& detected_cpu() noexcept;
/// The tier kernels run on now: min(detected_cpu().best, cap).
HONE_EXPORT isa active_isa() noexcept;
/// Caps the tier for all later calls (process-wide). Returns the tier now active.
HONE_EXPORT isa set_max_isa(isa cap) noexcept;
HONE_EXPORT std::string_view name_of(isa tier) noexcept;
/// Inverse of name_of; nullopt for an unknown name.
HONE_EXPORT std::optional<isa> isa_from_name(std::string_view name) noexcept;

} // namespace hone
