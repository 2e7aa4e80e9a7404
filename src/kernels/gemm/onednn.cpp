#include "onednn.hpp"

#include "hone/core/threads.hpp"

#include <fmt/format.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace hone::kernels::onednn {

const dnnl::engine& engine() {
    static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

dnnl::stream& stream() {
    thread_local dnnl::stream s(engine());
    return s;
}

void sync_threads() {
#ifdef _OPENMP
    const int n = hone::num_threads();
    if (omp_get_max_threads() != n) omp_set_num_threads(n);
#endif
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
    dnnl::reorder(src, dst).execute(stream(), src, dst);
    stream().wait();
}

} // namespace hone::kernels::onednn
