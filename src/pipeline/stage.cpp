#include "stage.hpp"

#include <hone/core/error.hpp>

namespace hone::pipeline {

stage::stage(const pipeline_events& events, std::string label, std::uint64_t total)
    : events_(events), label_(std::move(label)), total_(total) {
    report(true);
}

void stage::update(std::uint64_t done, std::uint64_t total) {
    done_ = done;
    total_ = total;
    report(false);
}

void stage::finish() {
    if (total_ > 0) done_ = total_;
    report(false); // once: not again when the last update already reached the end
}

std::function<void(std::uint64_t, std::uint64_t)> stage::callback() {
    return [this](std::uint64_t done, std::uint64_t total) { update(done, total); };
}

void stage::report(bool always) {
    if (!events_.progress) return;
    const std::int64_t percent =
        total_ > 0 ? std::int64_t(100 * done_ / total_) : std::int64_t(done_);
    if (!always && percent == last_percent_) return;
    last_percent_ = percent;
    if (!events_.progress(label_, done_, total_))
        fail(status::cancelled, "cancelled by the caller during '" + label_ + "'");
}

void note(const pipeline_events& events, const std::string& text) {
    if (events.note) events.note(text);
}

} // namespace hone::pipeline
