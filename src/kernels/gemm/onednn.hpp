// Private oneDNN plumbing shared by the GEMM and convolution kernels: the CPU engine, a stream
// per thread, thread count, error translation and a small keyed cache of primitives.
#pragma once

#include "hone/core/error.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hone::kernels::onednn {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

/// The process-wide CPU engine.
const dnnl::engine& engine();
/// A stream of the calling thread (oneDNN streams must not be shared across threads).
dnnl::stream& stream();
/// Makes this thread's OpenMP team size hone::num_threads() before oneDNN runs.
void sync_threads();

/// Throws hone::error naming `what` for a dnnl::error (status unsupported when oneDNN has no
/// implementation, internal otherwise).
[[noreturn]] void rethrow(const std::string& what, const dnnl::error& e);

/// Runs fn(), translating a dnnl::error with rethrow().
template <class Fn> decltype(auto) call(const std::string& what, Fn&& fn) {
    try {
        return fn();
    } catch (const dnnl::error& e) {
        rethrow(what, e);
    }
}

/// Whether oneDNN has a native bf16 matmul on this CPU (else only its slow reference kernel).
bool native_bf16();

/// A plain memory descriptor for a row-major tensor.
dnnl::memory::desc plain(const dims& d, dt type);

/// Executes a reorder from src to dst (creating the primitive; for one-off weight reorders).
void reorder_now(dnnl::memory& src, dnnl::memory& dst);

/// A thread-safe map Key → shared_ptr<Value> that creates missing entries with make(key).
/// Bounded: when it holds `capacity` entries it is emptied before inserting (entries in use
/// stay alive through their shared_ptr).
template <class Key, class Value> class cache {
public:
    explicit cache(std::size_t capacity = 256) : capacity_(capacity) {}

    template <class Make> std::shared_ptr<const Value> get(const Key& key, Make&& make) {
        {
            std::lock_guard lock(mutex_);
            if (auto it = map_.find(key); it != map_.end()) return it->second;
        }
        auto made = std::make_shared<const Value>(make(key)); // outside the lock: may be slow
        std::lock_guard lock(mutex_);
        if (map_.size() >= capacity_) map_.clear();
        return map_.emplace(key, std::move(made)).first->second;
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return map_.size();
    }

private:
    mutable std::mutex mutex_;
    std::map<Key, std::shared_ptr<const Value>> map_;
    std::size_t capacity_;
};

} // namespace hone::kernels::onednn
