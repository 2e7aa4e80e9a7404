// exit_codes.hpp — what `hone` returns, so a deployment pipeline can gate on it.
//
//   0   ok / approved: the command did what was asked; for check, optimize, validate: the
//       artifact or candidate is approved and may ship
//   1   error: bad usage, a missing or malformed file, an output that cannot be written
//       (one line on stderr; nothing was written)
//   10  needs sign-off: every bound holds but the risk tier asks for human approvals
//   20  rejected: a bound failed, or an approver rejected the change
//   30  not verified: the ledger does not verify (edited, reordered, truncated, bad or
//       untrusted signature), or the artifact's exact bytes are not in the ledger
//
// The values are part of the command line's interface: never renumber them.
#pragma once

#include <hone/core/error.hpp>
#include <hone/ledger/ledger.hpp>
#include <hone/policy/policy.hpp>

#include <string_view>

namespace hone::cli {

enum exit_code : int {
    exit_ok = 0,
    exit_error = 1,
    exit_needs_signoff = 10,
    exit_rejected = 20,
    exit_not_verified = 30,
};

/// The exit code of a policy verdict (optimize, validate).
int exit_code_for(verdict v) noexcept;
/// The exit code of an artifact check (check; unknown → not verified).
int exit_code_for(artifact_verdict v) noexcept;
/// The exit code of a failure: exit_not_verified for verification_failed (e.g. appending to a
/// ledger that does not verify), exit_error for every other status.
int exit_code_for(status s) noexcept;
/// Short name of an exit code ("ok", "needs_signoff", …; "unknown" otherwise).
std::string_view exit_code_name(int code) noexcept;

/// The table above, as printed at the end of `hone --help`.
extern const char* const exit_code_help;

} // namespace hone::cli
