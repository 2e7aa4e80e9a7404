// The load-time check at the C ABI: bytes or a file descriptor against a ledger.
#include "guard.hpp"
#include "hone/ledger/ledger.hpp"
#include "trust_handle.hpp"

#include <cstring>

struct hone_load_check {
    hone::artifact_status status;
    std::string json;
};

namespace {

using hone::capi::guarded;
using hone::capi::require;

hone::verify_options options_of(const hone_load_check_params* p, const char* fn) {
    require(p, fn, "params");
    hone::capi::check_struct_size(p->struct_size, sizeof(hone_load_check_params), fn,
                                  "hone_load_check_params");
    require(p->ledger_path, fn, "params->ledger_path");
    hone::verify_options o;
    o.trust = p->trust ? &p->trust->store : nullptr;
    o.strict = p->strict != 0;
    return o;
}

void finish(hone::artifact_status s, hone_load_check** out) {
    auto* r = new hone_load_check{std::move(s), {}};
    r->json = r->status.to_json();
    *out = r;
}

} // namespace

extern "C" {

HONE_API hone_status hone_load_check_params_init(hone_load_check_params* params) {
    return guarded([&] {
        *require(params, "hone_load_check_params_init", "params") = hone_load_check_params{};
        params->struct_size = sizeof(hone_load_check_params);
    });
}

HONE_API hone_status hone_load_check_buffer(const void* data, size_t size,
                                            const hone_load_check_params* params,
                                            hone_load_check** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_load_check_buffer";
        require(out, fn, "out");
        if (size > 0) require(data, fn, "data");
        const auto o = options_of(params, fn);
        const std::string_view bytes(static_cast<const char*>(data ? data : ""), size);
        finish(hone::ledger(params->ledger_path).check_bytes(bytes, o), out);
    });
}

HONE_API hone_status hone_load_check_fd(int fd, const hone_load_check_params* params,
                                        hone_load_check** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_load_check_fd";
        require(out, fn, "out");
        if (fd < 0)
            hone::fail(hone::status::invalid_argument, "hone_load_check_fd: fd is negative");
        const auto o = options_of(params, fn);
        finish(hone::ledger(params->ledger_path).check_fd(fd, o), out);
    });
}

HONE_API hone_status hone_load_check_get(const hone_load_check* result, hone_load_check_info* out) {
    return guarded([&] {
        require(result, "hone_load_check_get", "result");
        require(out, "hone_load_check_get", "out");
        const auto& s = result->status;
        hone_load_check_info info{};
        info.verdict = static_cast<hone_artifact_verdict>(s.verdict);
        info.matched_record = s.seq;
        info.chain_records = s.chain_records;
        info.chain_intact = s.chain_ok ? 1 : 0;
        info.decision_rederived = s.decision_rederived ? 1 : 0;
        info.strict = s.strict ? 1 : 0;
        info.approvals_required = s.approvals_required;
        info.approvals_counted = s.approvals_counted;
        std::memcpy(info.sha256, s.artifact.sha256.c_str(), 65);
        info.bytes = s.artifact.bytes;
        info.signer_holder = s.signer_holder.c_str();
        info.reason = s.reason.c_str();
        info.json = result->json.c_str();
        hone::capi::write_versioned(out, info, "hone_load_check_get", "hone_load_check_info");
    });
}

HONE_API void hone_load_check_destroy(hone_load_check* result) { delete result; }

} // extern "C"
