// Test helper: a hone::process_group whose ranks are threads of this process, its messages
// queues in memory. A rank that throws marks the group failed: a rank waiting for a message
// that will never come then throws io_error instead of waiting forever (as mpirun ends a job
// when one rank fails).
#pragma once

#include <hone/core/error.hpp>
#include <hone/core/process_group.hpp>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hone::test {

class thread_ranks {
public:
    /// Runs fn(group) on `size` threads, one per rank; returns each rank's exception (null when
    /// it returned).
    static std::vector<std::exception_ptr> run(int size,
                                               const std::function<void(process_group&)>& fn) {
        thread_ranks shared(size);
        std::vector<std::exception_ptr> errors(static_cast<std::size_t>(size));
        std::vector<std::thread> threads;
        for (int r = 0; r < size; ++r)
            threads.emplace_back([&, r] {
                rank_group group(shared, r);
                try {
                    fn(group);
                } catch (...) {
                    errors[static_cast<std::size_t>(r)] = std::current_exception();
                    shared.mark_failed();
                }
            });
        for (auto& t : threads)
            t.join();
        return errors;
    }

private:
    explicit thread_ranks(int size) : size_(size) {}

    void mark_failed() {
        const std::lock_guard lock(mutex_);
        failed_ = true;
        ready_.notify_all();
    }

    class rank_group final : public process_group {
    public:
        rank_group(thread_ranks& shared, int rank) : shared_(shared), rank_(rank) {}
        int rank() const override { return rank_; }
        int size() const override { return shared_.size_; }
        void send(int to, std::span<const std::byte> bytes) override {
            const std::lock_guard lock(shared_.mutex_);
            shared_.boxes_[{rank_, to}].emplace_back(bytes.begin(), bytes.end());
            shared_.ready_.notify_all();
        }
        std::vector<std::byte> receive(int from) override {
            std::unique_lock lock(shared_.mutex_);
            auto& box = shared_.boxes_[{from, rank_}];
            shared_.ready_.wait(lock, [&] { return !box.empty() || shared_.failed_; });
            if (box.empty())
                hone::fail(status::io_error, "rank " + std::to_string(rank_) +
                                                 ": another rank failed while waiting for rank " +
                                                 std::to_string(from));
            std::vector<std::byte> message = std::move(box.front());
            box.pop_front();
            return message;
        }

    private:
        thread_ranks& shared_;
        int rank_;
    };

    int size_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::map<std::pair<int, int>, std::deque<std::vector<std::byte>>> boxes_; // (from, to)
    bool failed_ = false;
};

} // namespace hone::test
