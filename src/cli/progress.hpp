// progress.hpp — one-line progress bars for long steps (calibration, per-layer GPTQ or
// SparseGPT, evaluation, sweeps).
//
//   calibrate  [##########..........]  512/1024  50%  230.4/s  ETA 2s
//
// Drawn on stderr (so a --json result on stdout stays clean) and only when stderr is a
// terminal and --quiet was not given; redrawn at most every 100 ms; finish() ends the line.
// Algorithms that report progress through a callback get one from callback().
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace hone::cli {

struct progress_options {
    bool quiet = false;         ///< --quiet: never draw
    std::FILE* stream = stderr; ///< where to draw
    bool force = false;         ///< draw even when `stream` is not a terminal (tests)
    int width = 20;             ///< characters of the bar itself
    std::chrono::milliseconds interval{100};
};

/// The line for `done` of `total` after `seconds`: pure, for tests and for any stream.
/// total 0 = unknown (no bar, no ETA).
std::string render_progress(std::string_view label, std::uint64_t done, std::uint64_t total,
                            double seconds, int width = 20);

/// "3.2s", "1m05s", "2h03m".
std::string format_duration(double seconds);

class progress {
public:
    progress(std::string label, std::uint64_t total, progress_options options = {});
    ~progress(); ///< finishes the line if finish() was not called
    progress(const progress&) = delete;
    progress& operator=(const progress&) = delete;

    /// `n` more units done.
    void advance(std::uint64_t n = 1);
    /// Sets the units done (and the total, when a step learns it late).
    void update(std::uint64_t done, std::uint64_t total);
    /// Draws the final state and ends the line.
    void finish();

    bool active() const noexcept { return active_; }
    std::uint64_t done() const noexcept { return done_; }

    /// A callback (done, total) for algorithms that report progress; valid while *this lives.
    std::function<void(std::uint64_t, std::uint64_t)> callback();

private:
    void draw(bool force_now);

    std::string label_;
    std::uint64_t total_ = 0, done_ = 0;
    progress_options options_;
    bool active_ = false, finished_ = false;
    std::size_t last_length_ = 0;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

/// Whether `stream` is a terminal.
bool is_terminal(std::FILE* stream) noexcept;

} // namespace hone::cli
