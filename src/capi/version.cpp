#include "hone/core/version.hpp"
#include "guard.hpp"
#include "hone/core/dtype.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/threads.hpp"

static_assert(HONE_DTYPE_BOOL == static_cast<int>(hone::dtype::boolean));
static_assert(HONE_DTYPE_I4 == static_cast<int>(hone::dtype::i4));
static_assert(HONE_MAX_RANK == hone::shape::max_rank);

extern "C" {

HONE_API const char* hone_version(void) { return hone::version().text.data(); }

HONE_API void hone_version_numbers(int* major, int* minor, int* patch) {
    const auto v = hone::version();
    if (major) *major = v.major;
    if (minor) *minor = v.minor;
    if (patch) *patch = v.patch;
}

HONE_API int hone_abi_version(void) { return hone::abi_version(); }
HONE_API int hone_packed_format_version(void) { return hone::packed_format_version(); }

HONE_API hone_status hone_set_num_threads(int n) {
    return hone::capi::guarded([&] { hone::set_num_threads(n); });
}

HONE_API hone_status hone_get_num_threads(int* out) {
    return hone::capi::guarded(
        [&] { *hone::capi::require(out, "hone_get_num_threads", "out") = hone::num_threads(); });
}

HONE_API const char* hone_dtype_name(hone_dtype dtype) {
    const auto raw = hone::capi::raw_enum(dtype);
    if (raw < 0 || raw >= hone::dtype_count) return nullptr;
    return hone::name_of(static_cast<hone::dtype>(raw)).data();
}

HONE_API int hone_dtype_bits(hone_dtype dtype) {
    const auto raw = hone::capi::raw_enum(dtype);
    if (raw < 0 || raw >= hone::dtype_count) return 0;
    return hone::bits_of(static_cast<hone::dtype>(raw));
}

} // extern "C"
