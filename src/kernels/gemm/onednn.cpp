#include "onednn.hpp"

#include "hone/core/threads.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/kernels/isa.hpp"

#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace hone::kernels::onednn {

namespace {

// HONE_MAX_ISA in the environment caps oneDNN too, so a run at a lower tier tests oneDNN's
// kernels of that tier as well (scalar → SSE4.1, oneDNN's lowest). ONEDNN_MAX_CPU_ISA, when
// set, wins. oneDNN fixes its cap at first use: set_max_isa() later does not move it.
void cap_onednn_isa() {
    const char* hone_cap = std::getenv("HONE_MAX_ISA");
    if (!hone_cap || std::getenv("ONEDNN_MAX_CPU_ISA") || std::getenv("DNNL_MAX_CPU_ISA")) return;
    const auto tier = isa_from_name(hone_cap);
    if (!tier || *tier == isa::avx512) return;
    try {
        dnnl::set_max_cpu_isa(*tier == isa::avx2 ? dnnl::cpu_isa::avx2 : dnnl::cpu_isa::sse41);
    } catch (const dnnl::error&) {
        // Too late (oneDNN already dispatched, e.g. from the embedding program): keep its cap.
    }
}

} // namespace

const dnnl::engine& engine() {
    static const dnnl::engine e = [] {
        cap_onednn_isa();
        return dnnl::engine(dnnl::engine::kind::cpu, 0);
    }();
    return e;
}

std::unique_lock<std::recursive_mutex> creation_lock() {
    static std::recursive_mutex m;
    return std::unique_lock(m);
}

dnnl::stream& stream() {
    thread_local dnnl::stream s(engine());
    return s;
}

namespace {
thread_local int single_thread_depth = 0;
} // namespace

int sync_threads() {
#ifdef _OPENMP
    const int n = omp_in_parallel() || single_thread_depth > 0 ? 1 : hone::num_threads();
    if (omp_get_max_threads() != n) omp_set_num_threads(n);
    return n;
#else
    return 1;
#endif
}

dnnl::primitive_attr base_attr() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
}

void* thread_buffer(std::size_t bytes, int slot) {
    // 64-byte aligned, grown to the largest size this thread has needed in that slot.
    struct buffer {
        std::unique_ptr<std::byte[]> data;
        std::size_t bytes = 0;
    };
    thread_local std::array<buffer, buffer_slots> b;
    auto& s = b.at(static_cast<std::size_t>(slot));
    const std::size_t need = bytes + 64;
    if (need > s.bytes) {
        s.data = std::make_unique<std::byte[]>(need);
        s.bytes = need;
    }
    const auto address = reinterpret_cast<std::uintptr_t>(s.data.get());
    return s.data.get() + ((64 - address % 64) % 64);
}

dnnl::memory scratchpad_for(const dnnl::memory::desc& desc) {
    return dnnl::memory(desc, engine(), thread_buffer(desc.get_size(), 0));
}

dnnl::memory buffer_for(const dnnl::memory::desc& desc, int slot) {
    return dnnl::memory(desc, engine(), thread_buffer(desc.get_size(), slot));
}

void rethrow(const std::string& what, const dnnl::error& e) {
    const auto code = e.status == dnnl_unimplemented       ? status::unsupported
                      : e.status == dnnl_out_of_memory     ? status::out_of_memory
                      : e.status == dnnl_invalid_arguments ? status::invalid_argument
                                                           : status::internal;
    fail(code, fmt::format("{}: oneDNN: {} (status {})", what, e.what(), int(e.status)));
}

dnnl::memory::desc plain(const dims& d, dt type) {
    static const tag by_rank[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde};
    return dnnl::memory::desc(d, type, by_rank[d.size()]);
}

bool native_bf16() {
    static const bool native = [] {
        try {
            const auto creating = creation_lock();
            const auto d = dnnl::matmul::desc(plain({64, 64}, dt::bf16), plain({64, 64}, dt::bf16),
                                              plain({64, 64}, dt::f32));
            const std::string impl = dnnl::matmul::primitive_desc(d, engine()).impl_info_str();
            return impl.rfind("ref", 0) != 0;
        } catch (const dnnl::error&) {
            return false;
        }
    }();
    return native;
}

void reorder_now(dnnl::memory& src, dnnl::memory& dst) {
    sync_threads();
    auto creating = creation_lock();
    const dnnl::reorder::primitive_desc pd(src, dst, base_attr());
    const dnnl::reorder prim(pd);
    creating.unlock();
    prim.execute(stream(), {{DNNL_ARG_FROM, src},
                            {DNNL_ARG_TO, dst},
                            {DNNL_ARG_SCRATCHPAD, scratchpad_for(pd.scratchpad_desc())}});
    stream().wait();
}

} // namespace hone::kernels::onednn

namespace hone::kernels {

single_thread_scope::single_thread_scope() noexcept { ++onednn::single_thread_depth; }
single_thread_scope::~single_thread_scope() { --onednn::single_thread_depth; }

} // namespace hone::kernels
