// The optimize flow through the C ABI (hone.h, "The optimize flow"): a shell over
// hone::optimize and hone::validate_change (include/hone/pipeline/optimize.hpp).
#include "guard.hpp"
#include "hone/pipeline/optimize.hpp"
#include "runner_handle.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

struct hone_optimize_result {
    hone::optimize_outcome outcome;
};

namespace {

using hone::capi::guarded;
using hone::capi::require;

constexpr const char* fn_optimize = "hone_optimize";

/// The samples of a streaming source, read whole (hone reads every set before it uses it).
hone::dataset read_source(const hone_data_source& src, const char* which, const char* fn) {
    const auto where = [&](const std::string& what) {
        return fmt::format("{}: {}: {}", fn, which, what);
    };
    if (src.read == nullptr)
        hone::fail(hone::status::invalid_argument, where("neither 'spec' nor 'read' is set"));
    if (src.sample_rank < 1 || src.sample_rank > 8 || src.sample_shape == nullptr)
        hone::fail(hone::status::invalid_argument,
                   where(fmt::format("sample_shape must have rank 1..8, got rank {}{}",
                                     src.sample_rank, src.sample_shape ? "" : " (NULL)")));
    std::int64_t sample = 1;
    std::vector<std::int64_t> dims{0};
    for (std::size_t i = 0; i < src.sample_rank; ++i) {
        if (src.sample_shape[i] < 1 || src.sample_shape[i] > (std::int64_t{1} << 31))
            hone::fail(hone::status::invalid_argument,
                       where(fmt::format("sample_shape[{}] = {} is not a positive size", i,
                                         src.sample_shape[i])));
        sample *= src.sample_shape[i];
        dims.push_back(src.sample_shape[i]);
    }
    const std::int64_t chunk = std::max<std::int64_t>(1, (std::int64_t{1} << 20) / sample);
    std::vector<float> inputs;
    std::vector<std::int64_t> labels;
    std::int64_t n = 0;
    for (;;) {
        inputs.resize(static_cast<std::size_t>((n + chunk) * sample));
        if (src.has_labels) labels.resize(static_cast<std::size_t>(n + chunk));
        std::int64_t count = 0;
        const hone_status st = src.read(src.user, n, chunk, inputs.data() + n * sample,
                                        src.has_labels ? labels.data() + n : nullptr, &count);
        if (st != HONE_OK)
            hone::fail(static_cast<hone::status>(st),
                       where(fmt::format("the read callback failed at sample {}: {} ({})", n,
                                         hone_status_string(st), hone_last_error())));
        if (count < 0 || count > chunk)
            hone::fail(hone::status::invalid_argument,
                       where(fmt::format("the read callback wrote {} samples at sample {}; "
                                         "capacity was {}",
                                         count, n, chunk)));
        if (count == 0) break;
        n += count;
    }
    if (n == 0) hone::fail(hone::status::invalid_argument, where("the source gave no samples"));
    dims[0] = n;
    hone::tensor t(hone::dtype::f32, hone::shape(std::span<const std::int64_t>(dims)));
    std::memcpy(t.data(), inputs.data(), static_cast<std::size_t>(n * sample) * sizeof(float));
    labels.resize(src.has_labels ? static_cast<std::size_t>(n) : 0);
    return hone::dataset(std::move(t), std::move(labels), fmt::format("{} (callback)", which));
}

std::string str(const char* s, const char* fallback = "") { return s ? s : fallback; }

// A runner the engine made (hone_runner_create) and hone owns.
class engine_runner final : public hone::runner {
public:
    explicit engine_runner(hone_runner* r) : r_(r) {}
    ~engine_runner() override { hone_runner_destroy(r_); }
    engine_runner(const engine_runner&) = delete;
    engine_runner& operator=(const engine_runner&) = delete;
    std::string name() const override { return r_->runner.name(); }
    hone::tensor run(hone::const_tensor_view inputs) override { return r_->runner.run(inputs); }
    std::uint64_t model_bytes() const override { return r_->runner.model_bytes(); }
    work work_per_sample() const override { return r_->runner.work_per_sample(); }

private:
    hone_runner* r_;
};

// params.runner_factory as the request's engine; `caller` names the C function in errors.
template <class Params> hone::runner_factory engine_factory(const Params& p, const char* caller) {
    return [fn = p.runner_factory, user = p.runner_user,
            caller](std::string_view role, std::span<const std::uint8_t> onnx) {
        const std::string r(role);
        hone_runner* out = nullptr;
        const hone_status st = fn(user, r.c_str(), onnx.data(), onnx.size(), &out);
        if (st != HONE_OK) {
            if (out) hone_runner_destroy(out);
            hone::fail(static_cast<hone::status>(st),
                       fmt::format("{}: runner_factory failed for the {}: {} ({})", caller, r,
                                   hone_status_string(st), hone_last_error()));
        }
        if (!out)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: runner_factory returned HONE_OK but no runner for the {}",
                                   caller, r));
        return std::unique_ptr<hone::runner>(std::make_unique<engine_runner>(out));
    };
}

// The members hone_optimize_params and hone_validate_change_params share, into a request.
template <class Params, class Request>
void read_common(const Params& p, Request& r, const char* fn) {
    r.policy = str(p.policy, "medium");
    r.report = str(p.report_dir);
    r.actor = str(p.actor, "hone");
    r.key = str(p.key_path);
    r.data.input_shape = str(p.input_shape);
    r.data.seed = p.seed;
    r.validation.batch = p.batch;
    if (p.latency_batches)
        r.validation.latency_batches.assign(p.latency_batches,
                                            p.latency_batches + p.latency_batch_count);
    else if (p.latency_batch_count != 0)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: latency_batches is NULL but latency_batch_count is not 0", fn));
    r.validation.confidence = p.confidence;
    r.validation.repeats = p.repeats;
}

// The defaults of the members read_common reads, from the C++ request's own defaults.
template <class Params, class Request> void init_common(Params& p, const Request& defaults) {
    p.seed = defaults.data.seed;
    p.batch = defaults.validation.batch;
    p.confidence = defaults.validation.confidence;
    p.repeats = defaults.validation.repeats;
}

// The progress and note callbacks of a params struct.
template <class Params> hone::pipeline_events events_of(const Params& p) {
    hone::pipeline_events events;
    if (p.progress)
        events.progress = [&p](std::string_view stage, std::uint64_t done, std::uint64_t total) {
            const std::string s(stage);
            return p.progress(p.user, s.c_str(), done, total) != 0;
        };
    if (p.note)
        events.note = [&p](std::string_view text) {
            const std::string s(text);
            p.note(p.user, s.c_str());
        };
    return events;
}

} // namespace

HONE_API hone_status hone_optimize_params_init(hone_optimize_params* params) {
    return guarded([&] {
        require(params, "hone_optimize_params_init", "params");
        *params = hone_optimize_params{};
        params->struct_size = sizeof(hone_optimize_params);
        init_common(*params, hone::optimize_request{});
        params->tolerable_drop = -1;
    });
}

HONE_API hone_status hone_optimize(const hone_optimize_params* p, hone_optimize_result** out) {
    return guarded([&] {
        require(p, fn_optimize, "params");
        require(out, fn_optimize, "out");
        // The struct's first layout ends at runner_user; later fields are read when present.
        hone::capi::check_struct_size(p->struct_size,
                                      offsetof(hone_optimize_params, target_file_bytes),
                                      fn_optimize, "hone_optimize_params");
        hone::optimize_request r;
        r.model = require(p->model, fn_optimize, "params->model");
        r.recipe = std::string(require(p->recipe, fn_optimize, "params->recipe"));
        if (p->calib.spec)
            r.calib = p->calib.spec;
        else
            r.calib_data = read_source(p->calib, "calib", fn_optimize);
        if (p->eval.spec)
            r.eval = p->eval.spec;
        else
            r.eval_data = read_source(p->eval, "eval", fn_optimize);
        r.out = require(p->out, fn_optimize, "params->out");
        r.format = str(p->format, "qdq");
        r.ledger = require(p->ledger, fn_optimize, "params->ledger");
        read_common(*p, r, fn_optimize);
        if (p->tolerable_drop >= 0 || std::isnan(p->tolerable_drop))
            r.tolerable_drop = p->tolerable_drop;
        r.relative_drop = p->relative_drop != 0;
        if (p->target_bits_per_weight > 0 || std::isnan(p->target_bits_per_weight))
            r.target_bits_per_weight = p->target_bits_per_weight;
        if (p->struct_size >=
                offsetof(hone_optimize_params, target_file_bytes) + sizeof(p->target_file_bytes) &&
            p->target_file_bytes > 0)
            r.target_file_bytes = p->target_file_bytes;
        if (p->runner_factory) r.engine = engine_factory(*p, fn_optimize);
        auto result = std::make_unique<hone_optimize_result>();
        result->outcome = hone::optimize(r, events_of(*p));
        *out = result.release();
    });
}

HONE_API hone_status hone_validate_change_params_init(hone_validate_change_params* params) {
    return guarded([&] {
        require(params, "hone_validate_change_params_init", "params");
        *params = hone_validate_change_params{};
        params->struct_size = sizeof(hone_validate_change_params);
        init_common(*params, hone::validate_request{});
    });
}

HONE_API hone_status hone_validate_change(const hone_validate_change_params* p,
                                          hone_optimize_result** out) {
    return guarded([&] {
        const char* fn = "hone_validate_change";
        require(p, fn, "params");
        require(out, fn, "out");
        hone::capi::check_struct_size(p->struct_size, sizeof(hone_validate_change_params), fn,
                                      "hone_validate_change_params");
        hone::validate_request r;
        r.baseline = require(p->baseline, fn, "params->baseline");
        r.candidate = require(p->candidate, fn, "params->candidate");
        if (p->eval.spec)
            r.eval = p->eval.spec;
        else
            r.eval_data = read_source(p->eval, "eval", fn);
        r.ledger = str(p->ledger);
        read_common(*p, r, fn);
        if (p->runner_factory) r.engine = engine_factory(*p, fn);
        auto result = std::make_unique<hone_optimize_result>();
        result->outcome = hone::validate_change(r, events_of(*p));
        *out = result.release();
    });
}

HONE_API hone_status hone_optimize_result_summary(const hone_optimize_result* result,
                                                  hone_optimize_summary* out) {
    return guarded([&] {
        const char* fn = "hone_optimize_result_summary";
        const auto& o = require(result, fn, "result")->outcome;
        require(out, fn, "out");
        hone::capi::check_struct_size(out->struct_size, sizeof(hone_optimize_summary), fn,
                                      "hone_optimize_summary");
        hone_optimize_summary s{};
        s.struct_size = sizeof s;
        s.verdict = static_cast<hone_verdict>(o.decision.verdict);
        s.approvals_missing = o.decision.approvals_missing;
        s.artifact_bytes = o.artifact_bytes;
        s.baseline_seq = o.baseline_seq ? static_cast<std::int64_t>(*o.baseline_seq) : -1;
        s.record_seq = o.record_seq ? static_cast<std::int64_t>(*o.record_seq) : -1;
        s.record_signed = o.record_signed ? 1 : 0;
        *out = s;
    });
}

HONE_API hone_status hone_optimize_result_report_json(const hone_optimize_result* result,
                                                      char* buffer, size_t capacity,
                                                      size_t* needed) {
    return guarded([&] {
        const char* fn = "hone_optimize_result_report_json";
        hone::capi::copy_string(require(result, fn, "result")->outcome.report_json, buffer,
                                capacity, needed, fn);
    });
}

HONE_API hone_status hone_optimize_result_artifact(const hone_optimize_result* result, size_t index,
                                                   char* buffer, size_t capacity, size_t* needed,
                                                   size_t* count) {
    return guarded([&] {
        const char* fn = "hone_optimize_result_artifact";
        const auto& a = require(result, fn, "result")->outcome.artifacts;
        if (count) *count = a.size();
        if (index >= a.size())
            hone::fail(hone::status::out_of_range,
                       fmt::format("{}: index {} of {} artifacts", fn, index, a.size()));
        hone::capi::copy_string(a[index].string(), buffer, capacity, needed, fn);
    });
}

HONE_API void hone_optimize_result_destroy(hone_optimize_result* result) { delete result; }
