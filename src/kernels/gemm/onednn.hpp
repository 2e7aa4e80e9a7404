// Private oneDNN plumbing shared by the GEMM and convolution kernels: the CPU engine, a stream
// per thread, thread count, user-managed scratchpads, error translation and a small keyed cache
// of primitives.
//
// Why scratchpads are ours: Debian's oneDNN is built with DNNL_ENABLE_CONCURRENT_EXEC=OFF, where
// the library-managed scratchpad is shared by all primitives and a primitive must run on the
// thread that created it. hone caches primitives process-wide and runs them from any thread —
// GPTQ and the Hessian preparation run one cached product concurrently from every thread of
// their OpenMP loops — and two executions then wrote the same scratch (brgemm's copy of B on
// AVX-512), giving wrong products at random. So every primitive is made with
// scratchpad_mode::user and each execution gets the scratchpad of its own thread
// (scratchpad_for).
//
// Why the thread count is part of every key: a primitive is made for the number of threads
// oneDNN will run it with. Inside an OpenMP parallel region (or a single_thread_scope) each
// call runs on its thread alone, with primitives made for one thread, so its bytes depend only
// on the shapes and the ISA, not on hone::num_threads().
//
// Why primitives are made one at a time (creation_lock): oneDNN's own primitive cache is
// process-wide, and ThreadSanitizer reported a race inside it (a key compared under oneDNN's
// read lock against a descriptor another thread had just allocated) when the threads of one
// OpenMP loop all missed hone's cache for the same shape and made the same primitive at once.
// Made under one lock, each primitive is made once (the others find it on their second look),
// and oneDNN's cache is never entered from two hone threads together. Executions never take it.
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
#include <utility>
#include <vector>

namespace hone::kernels::onednn {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

/// The process-wide CPU engine.
const dnnl::engine& engine();
/// A stream of the calling thread (oneDNN streams must not be shared across threads).
dnnl::stream& stream();
/// Makes this thread's OpenMP team size what oneDNN's next call here runs with, and returns it:
/// 1 inside an active OpenMP parallel region or a single_thread_scope, else hone::num_threads().
/// Call it before looking a primitive up (the count is part of its key) and before executing.
int sync_threads();

/// Held while making any oneDNN primitive or primitive descriptor (see above). Recursive: a
/// maker may make others. Take it after releasing any lock of a cache of ours, never before.
std::unique_lock<std::recursive_mutex> creation_lock();

/// Attributes every hone primitive starts from: scratchpad_mode::user (see above).
dnnl::primitive_attr base_attr();

/// A scratchpad for a primitive whose scratchpad_desc() is `desc`, in the calling thread's own
/// buffer (grown as needed, reused call after call). Valid until the next call on this thread.
dnnl::memory scratchpad_for(const dnnl::memory::desc& desc);

/// Per-thread buffers reused call after call (no allocation, no fresh pages once warm): slot 0
/// is the scratchpad's; kernels use the others for activations they reorder or quantize within
/// one call. 64-byte aligned, `bytes` long, valid until the next call with that slot on this
/// thread.
constexpr int buffer_slots = 5;
void* thread_buffer(std::size_t bytes, int slot);
/// A memory of `desc` in thread_buffer(…, slot).
dnnl::memory buffer_for(const dnnl::memory::desc& desc, int slot);

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

/// A thread-safe map (threads, Key) → shared_ptr<Value> that creates missing entries with
/// make(key) — `threads` being what sync_threads() returned for this call, which make() then
/// sees as oneDNN's thread count. Bounded: when it holds `capacity` entries it is emptied
/// before inserting (entries in use stay alive through their shared_ptr).
template <class Key, class Value> class cache {
public:
    explicit cache(std::size_t capacity = 256) : capacity_(capacity) {}

    template <class Make>
    std::shared_ptr<const Value> get(int threads, const Key& key, Make&& make) {
        const auto full = std::make_pair(threads, key);
        {
            std::lock_guard lock(mutex_);
            if (auto it = map_.find(full); it != map_.end()) return it->second;
        }
        const auto creating = creation_lock(); // not under mutex_: lookups go on meanwhile
        {
            std::lock_guard lock(mutex_);
            if (auto it = map_.find(full); it != map_.end()) return it->second; // made meanwhile
        }
        auto made = std::make_shared<const Value>(make(key));
        std::lock_guard lock(mutex_);
        if (map_.size() >= capacity_) map_.clear();
        return map_.emplace(full, std::move(made)).first->second;
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return map_.size();
    }

private:
    mutable std::mutex mutex_;
    std::map<std::pair<int, Key>, std::shared_ptr<const Value>> map_;
    std::size_t capacity_;
};

} // namespace hone::kernels::onednn
