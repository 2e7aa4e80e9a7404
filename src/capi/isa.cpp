#include "hone/kernels/isa.hpp"
#include "guard.hpp"

#include <fmt/format.h>

static_assert(HONE_ISA_AVX512 == static_cast<int>(hone::isa::avx512));

namespace {

bool valid_isa(long long raw) { return raw >= HONE_ISA_SCALAR && raw <= HONE_ISA_AVX512; }

} // namespace

extern "C" {

HONE_API hone_status hone_set_max_isa(hone_isa cap) {
    return hone::capi::guarded([&] {
        const long long raw = hone::capi::raw_enum(cap);
        if (!valid_isa(raw))
            hone::fail(hone::status::invalid_argument,
                       fmt::format("hone_set_max_isa: {} is not a hone_isa", raw));
        hone::set_max_isa(static_cast<hone::isa>(raw));
    });
}

HONE_API hone_status hone_get_isa(hone_isa* active, hone_isa* best) {
    return hone::capi::guarded([&] {
        if (active) *active = static_cast<hone_isa>(hone::active_isa());
        if (best) *best = static_cast<hone_isa>(hone::detected_cpu().best);
    });
}

HONE_API const char* hone_isa_name(hone_isa isa) {
    const long long raw = hone::capi::raw_enum(isa);
    return valid_isa(raw) ? hone::name_of(static_cast<hone::isa>(raw)).data() : nullptr;
}

} // extern "C"
