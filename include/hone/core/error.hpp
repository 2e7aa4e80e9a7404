// hone/core/error.hpp — the error type every hone function throws.
//
// A hone::error carries a hone::status (the same values as the C ABI's hone_status) and a
// message that names what was wrong and where: the tensor, layer, file or field. Functions of
// the C++ API throw it on bad input; the C ABI catches it and returns the status.
#pragma once

#include "hone/core/export.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace hone {

/// Outcome codes. Values are part of the ABI: append only, never renumber.
enum class status : int {
    ok = 0,
    invalid_argument = 1,     ///< a parameter is malformed (null, negative, out of its domain)
    out_of_range = 2,         ///< an index, size or view reaches outside its object
    shape_mismatch = 3,       ///< shapes of operands do not agree
    dtype_mismatch = 4,       ///< element types of operands do not agree or are unsupported
    out_of_memory = 5,        ///< an allocation failed
    io_error = 6,             ///< a file could not be read or written
    format_error = 7,         ///< a file or buffer is malformed
    unsupported = 8,          ///< valid, but not implemented (op, dtype pair, ISA)
    not_found = 9,            ///< a named object (tensor, layer, key) does not exist
    verification_failed = 10, ///< a hash, signature or ledger check failed
    internal = 11,            ///< a bug in hone: please report it
    cancelled = 12,           ///< the caller cancelled the operation (a progress callback)
};

/// Short stable name of a status, e.g. "invalid_argument". "unknown" for values not listed.
HONE_EXPORT std::string_view status_name(status s) noexcept;

class HONE_EXPORT error : public std::runtime_error {
public:
    error(status code, const std::string& message) : std::runtime_error(message), code_(code) {}
    status code() const noexcept { return code_; }

private:
    status code_;
};

/// Throws hone::error(code, message). Out of line so callers stay small.
[[noreturn]] HONE_EXPORT void fail(status code, const std::string& message);

} // namespace hone
