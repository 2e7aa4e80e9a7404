// C ABI: hone::optimize_checkpoint (include/hone/pipeline/checkpoint_quantize.hpp).
#include "guard.hpp"
#include "hone/io/gguf.hpp"
#include "hone/pipeline/checkpoint_quantize.hpp"
#include "hone/pipeline/optimize.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr const char* fn = "hone_checkpoint_quantize";

std::string str(const char* s, const char* fallback) { return s ? s : fallback; }

// hone_process_group's callbacks as a hone::process_group.
class callback_group final : public hone::process_group {
public:
    explicit callback_group(const hone_process_group& g) : g_(g) {
        hone::capi::check_struct_size(g.struct_size, sizeof(hone_process_group), fn,
                                      "hone_process_group");
        if (g.size < 1 || g.rank < 0 || g.rank >= g.size)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: params->group: rank {} of {} ranks", fn, g.rank, g.size));
        hone::capi::require(g.send, fn, "params->group->send");
        hone::capi::require(g.receive, fn, "params->group->receive");
    }
    int rank() const override { return g_.rank; }
    int size() const override { return g_.size; }
    void send(int to, std::span<const std::byte> bytes) override {
        if (const int rc = g_.send(g_.context, to, bytes.data(), bytes.size()); rc != 0)
            hone::fail(hone::status::io_error,
                       fmt::format("{}: rank {}: group->send to rank {} returned {}", fn, g_.rank,
                                   to, rc));
    }
    std::vector<std::byte> receive(int from) override {
        void* data = nullptr;
        std::size_t bytes = 0;
        const int rc = g_.receive(g_.context, from, &data, &bytes);
        const std::unique_ptr<void, decltype(&std::free)> owned(data, &std::free);
        if (rc != 0)
            hone::fail(hone::status::io_error,
                       fmt::format("{}: rank {}: group->receive from rank {} returned {}", fn,
                                   g_.rank, from, rc));
        if (bytes > 0 && !data)
            hone::fail(hone::status::io_error,
                       fmt::format("{}: rank {}: group->receive from rank {} gave {} bytes "
                                   "and no buffer",
                                   fn, g_.rank, from, bytes));
        const auto* begin = static_cast<const std::byte*>(data);
        return std::vector<std::byte>(begin, begin + bytes);
    }

private:
    const hone_process_group& g_;
};

} // namespace

HONE_API hone_status hone_checkpoint_params_init(hone_checkpoint_params* params) {
    return hone::capi::guarded([&] {
        hone::capi::require(params, "hone_checkpoint_params_init", "params");
        *params = hone_checkpoint_params{};
        params->struct_size = sizeof(hone_checkpoint_params);
        params->bits = 4;
        params->group_size = 128;
        params->symmetric = 1;
        params->sequential = 1;
        params->batch = 16;
    });
}

HONE_API hone_status hone_checkpoint_quantize(const hone_checkpoint_params* p,
                                              hone_checkpoint_summary* out) {
    using hone::capi::require;
    return hone::capi::guarded([&] {
        require(p, fn, "params");
        require(out, fn, "out");
        // `group` came later: a shorter struct (without it) is still accepted.
        hone::capi::check_struct_size(p->struct_size, offsetof(hone_checkpoint_params, group), fn,
                                      "hone_checkpoint_params");
        const hone_process_group* given =
            p->struct_size >= offsetof(hone_checkpoint_params, group) + sizeof(p->group) ? p->group
                                                                                         : nullptr;
        std::optional<callback_group> group;
        if (given) group.emplace(*given);
        hone::checkpoint_optimize_options o;
        o.quantize.checkpoint = require(p->checkpoint, fn, "params->checkpoint");
        o.quantize.out = require(p->out, fn, "params->out");
        const std::string format = str(p->format, "gguf");
        if (format == "gguf") {
            const std::string type = str(p->type, "Q4_K");
            const auto t = hone::io::gguf_type_from_name(type);
            if (!t)
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: params->type '{}': Q8_0, Q4_0 or Q4_K", fn, type));
            o.quantize.type = *t;
        } else if (format == "compressed-tensors") {
            o.quantize.format = hone::checkpoint_format::compressed_tensors;
            o.quantize.scheme.bits = p->bits;
            o.quantize.scheme.group_size = p->group_size;
            o.quantize.scheme.symmetric = p->symmetric != 0;
        } else {
            hone::fail(
                hone::status::invalid_argument,
                fmt::format("{}: params->format '{}': gguf or compressed-tensors", fn, format));
        }
        o.quantize.sequential = p->sequential != 0;
        o.quantize.group = group ? &*group : nullptr;
        if (p->work_dir) o.quantize.work_dir = p->work_dir;
        o.evaluation = require(p->eval, fn, "params->eval");
        o.calibration = str(p->calib, "");
        o.slices = str(p->slices, "");
        o.sequence = p->sequence;
        o.batch = p->batch;
        o.policy = hone::parse_policy_argument(str(p->policy, "medium"));
        o.ledger = str(p->ledger, "");
        o.report_dir = str(p->report_dir, "");
        o.actor = str(p->actor, "hone");
        o.key = str(p->key_path, "");
        const hone::checkpoint_optimize_outcome r = hone::optimize_checkpoint(o);
        hone_checkpoint_summary s{};
        s.verdict = static_cast<hone_verdict>(r.decision.verdict);
        s.output_bytes = r.quantized.output_bytes;
        s.checkpoint_bytes = r.quantized.checkpoint_bytes;
        s.pieces = r.quantized.pieces;
        s.pieces_resumed = r.quantized.pieces_resumed;
        s.record_seq = r.record ? std::int64_t(r.record->seq) : -1;
        if (const auto& lm = r.validation.language_model) {
            s.perplexity_change = lm->overall.perplexity_change.value;
            s.mean_kl = lm->overall.mean_kl.value;
            s.top1_agreement = lm->overall.top1_agreement.value;
        }
        hone::capi::write_versioned(out, s, fn, "hone_checkpoint_summary");
    });
}
