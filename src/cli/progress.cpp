#include "progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unistd.h>

namespace hone::cli {

bool is_terminal(std::FILE* stream) noexcept {
    return stream != nullptr && ::isatty(::fileno(stream)) == 1;
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    if (seconds < 60) return fmt::format("{:.1f}s", seconds);
    const auto s = static_cast<std::uint64_t>(std::llround(seconds));
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string render_progress(std::string_view label, std::uint64_t done, std::uint64_t total,
                            double seconds, int width) {
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    const std::string rate_text = rate > 0 ? fmt::format("{:.1f}/s", rate) : "-/s";
    if (total == 0)
        return fmt::format("{}  {}  {}  {}", label, done, rate_text, format_duration(seconds));
    done = std::min(done, total);
    const double fraction = static_cast<double>(done) / static_cast<double>(total);
    const int filled = static_cast<int>(std::floor(fraction * width));
    std::string bar = std::string(static_cast<std::size_t>(filled), '#') +
                      std::string(static_cast<std::size_t>(width - filled), '.');
    std::string eta;
    if (done == total)
        eta = "in " + format_duration(seconds);
    else if (rate > 0)
        eta = "ETA " + format_duration(static_cast<double>(total - done) / rate);
    else
        eta = "ETA ?";
    return fmt::format("{}  [{}]  {}/{}  {:3.0f}%  {}  {}", label, bar, done, total, 100 * fraction,
                       rate_text, eta);
}

progress::progress(std::string label, std::uint64_t total, progress_options options)
    : label_(std::move(label)), total_(total), options_(options),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
    active_ = !options_.quiet && options_.stream != nullptr &&
              (options_.force || is_terminal(options_.stream));
    draw(true);
}

progress::~progress() {
    if (!finished_) finish();
}

void progress::advance(std::uint64_t n) {
    done_ += n;
    draw(false);
}

void progress::update(std::uint64_t done, std::uint64_t total) {
    done_ = done;
    total_ = total;
    draw(false);
}

void progress::finish() {
    if (finished_) return;
    draw(true);
    finished_ = true;
    if (active_) {
        std::fputc('\n', options_.stream);
        std::fflush(options_.stream);
    }
}

void progress::draw(bool force_now) {
    if (!active_ || finished_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force_now && now - last_draw_ < options_.interval && done_ < total_) return;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const std::string line = render_progress(label_, done_, total_, seconds, options_.width);
    // \r back to the start; pad over a longer previous line.
    const std::size_t pad = last_length_ > line.size() ? last_length_ - line.size() : 0;
    std::fprintf(options_.stream, "\r%s%s", line.c_str(), std::string(pad, ' ').c_str());
    std::fflush(options_.stream);
    last_length_ = line.size();
}

std::function<void(std::uint64_t, std::uint64_t)> progress::callback() {
    return [this](std::uint64_t done, std::uint64_t total) { update(done, total); };
}

} // namespace hone::cli
