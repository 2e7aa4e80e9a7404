// Translation of C++ exceptions into hone_status at the C ABI boundary.
#pragma once

#include "hone/core/error.hpp"
#include "hone/hone.h"

#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>

namespace hone::capi {

void set_last_error(std::string message) noexcept;
void clear_last_error() noexcept;

/// Runs fn(); returns HONE_OK, or the status of whatever it threw with the message recorded.
template <class Fn> hone_status guarded(Fn&& fn) noexcept {
    try {
        fn();
        return HONE_OK;
    } catch (const hone::error& e) {
        set_last_error(e.what());
        return static_cast<hone_status>(e.code());
    } catch (const std::bad_alloc&) {
        set_last_error("out of memory");
        return HONE_ERROR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string("internal error: ") + e.what());
        return HONE_ERROR_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return HONE_ERROR_INTERNAL;
    }
}

/// The integer in a C enum object, read without loading the enum type: a C caller may pass any
/// int, and a C++ load of a value outside the enum's range is undefined behaviour.
/// Widened to long long so that range checks (`raw < 0`) mean the same for every enum.
template <class E> long long raw_enum(const E& value) noexcept {
    std::underlying_type_t<E> raw;
    std::memcpy(&raw, &value, sizeof raw);
    return static_cast<long long>(raw);
}

/// Runs body; a hone::error it throws is re-thrown with the C function `function` naming
/// where it happened: a leading C++ function name ("quantize_linear: …", "int4_pack: …") is
/// replaced by the C one ("hone_quantize_linear: …"); other messages get it as a prefix.
template <class Fn> void named(const char* function, Fn&& body) {
    try {
        body();
    } catch (const hone::error& e) {
        std::string what = e.what();
        const auto colon = what.find(": ");
        if (colon != std::string::npos && colon > 0 &&
            what.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == colon)
            what.erase(0, colon + 2);
        throw hone::error(e.code(), std::string(function) + ": " + what);
    }
}

/// Throws invalid_argument naming `what` when p is null.
template <class T> T* require(T* p, const char* function, const char* what) {
    if (p == nullptr)
        hone::fail(hone::status::invalid_argument,
                   std::string(function) + ": argument '" + what + "' is NULL");
    return p;
}

/// The C ABI's one way to return a string: copied into `buffer` (NUL-terminated) when
/// `capacity` suffices; `*needed` (may be NULL) receives the size including the NUL; a too small
/// buffer throws out_of_range naming `function` (with *needed set).
void copy_string(std::string_view text, char* buffer, std::size_t capacity, std::size_t* needed,
                 const char* function);

/// Validates a params struct's struct_size: at least the size of its first version.
void check_struct_size(std::size_t struct_size, std::size_t minimum, const char* function,
                       const char* type_name);

/// Writes an output struct versioned by struct_size: the caller sets out->struct_size to the
/// sizeof of its header's struct. It must hold at least `first_version` bytes (each struct's
/// first layout, which is the current one until the struct grows); only out->struct_size bytes
/// are written, so a program built against an older, shorter struct keeps working.
template <class T>
void write_versioned(T* out, T value, const char* function, const char* type_name,
                     std::size_t first_version = sizeof(T)) {
    check_struct_size(out->struct_size, first_version, function, type_name);
    const std::size_t n = out->struct_size < sizeof(T) ? out->struct_size : sizeof(T);
    value.struct_size = n;
    std::memcpy(static_cast<void*>(out), &value, n);
}

} // namespace hone::capi
