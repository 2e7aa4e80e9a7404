#include "hone/core/error.hpp"

namespace hone {

std::string_view status_name(status s) noexcept {
    switch (s) {
    case status::ok: return "ok";
    case status::invalid_argument: return "invalid_argument";
    case status::out_of_range: return "out_of_range";
    case status::shape_mismatch: return "shape_mismatch";
    case status::dtype_mismatch: return "dtype_mismatch";
    case status::out_of_memory: return "out_of_memory";
    case status::io_error: return "io_error";
    case status::format_error: return "format_error";
    case status::unsupported: return "unsupported";
    case status::not_found: return "not_found";
    case status::verification_failed: return "verification_failed";
    case status::internal: return "internal";
    case status::cancelled: return "cancelled";
    }
    return "unknown";
}

void fail(status code, const std::string& message) { throw error(code, message); }

} // namespace hone
