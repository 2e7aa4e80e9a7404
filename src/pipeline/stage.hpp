// stage.hpp — one stage of a pipeline run, reported through pipeline_events::progress.
//
// The flow's counterpart of a progress bar: a stage has a label and a total; advance()/update()
// report units done, and a callback that returns false cancels the run (the next report throws
// hone::error(status::cancelled) naming the stage). Reports are throttled to whole-percent
// steps, so a callback costs nothing on hot loops.
#pragma once

#include <hone/core/export.hpp>
#include <hone/pipeline/optimize.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace hone::pipeline {

class HONE_EXPORT stage {
public:
    stage(const pipeline_events& events, std::string label, std::uint64_t total);
    stage(const stage&) = delete;
    stage& operator=(const stage&) = delete;

    /// `n` more units done.
    void advance(std::uint64_t n = 1) { update(done_ + n, total_); }
    /// Sets the units done (and the total, when a stage learns it late).
    void update(std::uint64_t done, std::uint64_t total);
    /// Reports the final state (done = total).
    void finish();
    /// A callback (done, total) for algorithms that report progress; valid while *this lives.
    std::function<void(std::uint64_t, std::uint64_t)> callback();

private:
    void report(bool always);

    const pipeline_events& events_;
    std::string label_;
    std::uint64_t total_ = 0, done_ = 0;
    std::int64_t last_percent_ = -1;
};

/// events.note(text) when set.
HONE_EXPORT void note(const pipeline_events& events, const std::string& text);

} // namespace hone::pipeline
