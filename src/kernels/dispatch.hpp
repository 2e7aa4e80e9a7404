// Runtime dispatch between a kernel's scalar reference and its per-ISA variants.
//
// Each kernel family defines one table of function pointers per tier: the scalar one in
// <op>_ref.cpp (always built), the others in <op>_avx2.cpp / <op>_avx512.cpp, which CMake
// compiles with that tier's flags and which are only called after the CPU probe says so.
#pragma once

#include "hone/kernels/isa.hpp"

namespace hone::kernels {

/// Table: an aggregate of function pointers. pick() returns the table of the active tier,
/// falling back to lower tiers when a variant was not built.
template <class Table> struct dispatch {
    const Table* scalar;
    const Table* avx2;
    const Table* avx512;

    const Table& pick() const noexcept {
        switch (active_isa()) {
        case isa::avx512:
            if (avx512) return *avx512;
            [[fallthrough]];
        case isa::avx2:
            if (avx2) return *avx2;
            [[fallthrough]];
        case isa::scalar: break;
        }
        return *scalar;
    }
};

} // namespace hone::kernels
