// runner_handle.hpp — hone_runner (hone.h): an engine's executor seen through the C callback as
// a hone::runner. Shared by the validation (hone_validate) and the optimize flow (its runner
// factory).
#pragma once

#include "guard.hpp"
#include "tensor_handle.hpp"

#include "hone/graph/runner.hpp"
#include "hone/hone.h"

#include <fmt/format.h>

#include <memory>
#include <string>

namespace hone::capi {

// A runner that calls the C callback.
class callback_runner final : public hone::runner {
public:
    explicit callback_runner(const hone_runner_params& p)
        : name_(p.name ? p.name : "runner"), params_(p) {}
    std::string name() const override { return name_; }
    std::uint64_t model_bytes() const override { return params_.model_bytes; }
    work work_per_sample() const override { return {params_.ops_per_sample, params_.int8 != 0}; }

    hone::tensor run(hone::const_tensor_view inputs) override {
        hone_tensor in = hone::capi::borrowed_handle(inputs);
        hone_tensor* out = nullptr;
        const hone_status st = params_.run(params_.user, &in, &out);
        std::unique_ptr<hone_tensor> owned(out);
        if (st != HONE_OK)
            hone::fail(static_cast<hone::status>(st),
                       fmt::format("runner '{}' failed: {} ({})", name_, hone_status_string(st),
                                   hone_last_error()));
        if (!owned)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("runner '{}' returned HONE_OK but no outputs", name_));
        if (owned->owned) return std::move(*owned->owned);
        return hone::tensor::copy_of(owned->view); // the callback wrapped its own memory
    }

private:
    std::string name_;
    hone_runner_params params_;
};

} // namespace hone::capi

struct hone_runner {
    hone::capi::callback_runner runner;
};
