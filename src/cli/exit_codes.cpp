#include "exit_codes.hpp"

namespace hone::cli {

int exit_code_for(verdict v) noexcept {
    switch (v) {
    case verdict::approved: return exit_ok;
    case verdict::needs_signoff: return exit_needs_signoff;
    case verdict::rejected: return exit_rejected;
    }
    return exit_error;
}

int exit_code_for(artifact_verdict v) noexcept {
    switch (v) {
    case artifact_verdict::approved: return exit_ok;
    case artifact_verdict::needs_signoff: return exit_needs_signoff;
    case artifact_verdict::rejected: return exit_rejected;
    case artifact_verdict::unknown: return exit_not_verified;
    }
    return exit_error;
}

int exit_code_for(status s) noexcept {
    if (s == status::ok) return exit_ok;
    return s == status::verification_failed ? exit_not_verified : exit_error;
}

std::string_view exit_code_name(int code) noexcept {
    switch (code) {
    case exit_ok: return "ok";
    case exit_error: return "error";
    case exit_needs_signoff: return "needs_signoff";
    case exit_rejected: return "rejected";
    case exit_not_verified: return "not_verified";
    default: return "unknown";
    }
}

const char* const exit_code_help =
    "Exit codes:\n"
    "  0   ok / approved (check, optimize, validate: the change may ship)\n"
    "  1   error: bad usage, missing or malformed input, unwritable output (nothing written)\n"
    "  10  needs sign-off: all bounds hold, the risk tier requires human approvals\n"
    "  20  rejected: a bound failed, or an approver rejected the change\n"
    "  30  not verified: the ledger does not verify, or the file's bytes are not recorded\n";

} // namespace hone::cli
