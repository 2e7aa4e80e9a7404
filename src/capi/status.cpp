#include "guard.hpp"

#include <cstring>

#include <fmt/format.h>

namespace hone::capi {

namespace {
thread_local std::string last_error;
}

void set_last_error(std::string message) noexcept {
    try {
        last_error = std::move(message);
    } catch (...) {
        last_error.clear();
    }
}

void clear_last_error() noexcept { last_error.clear(); }

void check_struct_size(std::size_t struct_size, std::size_t minimum, const char* function,
                       const char* type_name) {
    if (struct_size < minimum)
        fail(status::invalid_argument,
             fmt::format("{}: {}.struct_size is {}, expected at least {} (call {}_init first)",
                         function, type_name, struct_size, minimum, type_name));
}

void copy_string(std::string_view text, char* buffer, std::size_t capacity, std::size_t* needed,
                 const char* function) {
    if (needed) *needed = text.size() + 1;
    if (capacity < text.size() + 1)
        fail(status::out_of_range, fmt::format("{}: the text needs {} bytes, capacity is {}",
                                               function, text.size() + 1, capacity));
    if (buffer == nullptr)
        fail(status::invalid_argument, fmt::format("{}: argument 'buffer' is NULL", function));
    std::memcpy(buffer, text.data(), text.size());
    buffer[text.size()] = '\0';
}

} // namespace hone::capi

static_assert(HONE_ERROR_INTERNAL == static_cast<int>(hone::status::internal));
static_assert(HONE_ERROR_CANCELLED == static_cast<int>(hone::status::cancelled));
static_assert(HONE_ERROR_VERIFICATION_FAILED ==
              static_cast<int>(hone::status::verification_failed));
static_assert(HONE_ERROR_SHAPE_MISMATCH == static_cast<int>(hone::status::shape_mismatch));

extern "C" {

HONE_API const char* hone_status_string(hone_status status) {
    switch (hone::capi::raw_enum(status)) {
    case HONE_OK: return "HONE_OK";
    case HONE_ERROR_INVALID_ARGUMENT: return "HONE_ERROR_INVALID_ARGUMENT";
    case HONE_ERROR_OUT_OF_RANGE: return "HONE_ERROR_OUT_OF_RANGE";
    case HONE_ERROR_SHAPE_MISMATCH: return "HONE_ERROR_SHAPE_MISMATCH";
    case HONE_ERROR_DTYPE_MISMATCH: return "HONE_ERROR_DTYPE_MISMATCH";
    case HONE_ERROR_OUT_OF_MEMORY: return "HONE_ERROR_OUT_OF_MEMORY";
    case HONE_ERROR_IO: return "HONE_ERROR_IO";
    case HONE_ERROR_FORMAT: return "HONE_ERROR_FORMAT";
    case HONE_ERROR_UNSUPPORTED: return "HONE_ERROR_UNSUPPORTED";
    case HONE_ERROR_NOT_FOUND: return "HONE_ERROR_NOT_FOUND";
    case HONE_ERROR_VERIFICATION_FAILED: return "HONE_ERROR_VERIFICATION_FAILED";
    case HONE_ERROR_INTERNAL: return "HONE_ERROR_INTERNAL";
    case HONE_ERROR_CANCELLED: return "HONE_ERROR_CANCELLED";
    }
    return "HONE_ERROR_UNKNOWN";
}

HONE_API const char* hone_last_error(void) {
    try {
        return hone::capi::last_error.c_str();
    } catch (...) {
        return "";
    }
}

} // extern "C"
