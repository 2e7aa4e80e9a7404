// matmul_f32 / matmul_bf16 / hessian_accumulate: one-shot products on caller buffers, with the
// oneDNN primitive of each shape cached process-wide.
#include "hone/kernels/convert.hpp"
#include "hone/kernels/gemm.hpp"

#include "hone/core/threads.hpp"

#include "check.hpp"
#include "onednn.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <vector>

namespace hone::kernels {

namespace {

using namespace onednn;

enum class plain_kind { product, product_bf16 };

// m, k, n, b layout, has bias, kind
using plain_key = std::tuple<std::int64_t, std::int64_t, std::int64_t, int, bool, int>;

struct plain_primitive {
    dnnl::matmul prim;
    dnnl::memory::desc src, wei, bias, dst, scratch;
};

plain_primitive make_plain(const plain_key& key) {
    const auto [m, k, n, layout, has_bias, kind_raw] = key;
    const dt in =
        static_cast<plain_kind>(kind_raw) == plain_kind::product_bf16 ? dt::bf16 : dt::f32;
    plain_primitive p;
    p.src = plain({m, k}, in);
    p.wei = layout == int(weight_layout::k_by_n) ? dnnl::memory::desc({k, n}, in, tag::ab)
                                                 : dnnl::memory::desc({k, n}, in, tag::ba);
    p.dst = plain({m, n}, dt::f32);
    if (has_bias) p.bias = plain({1, n}, dt::f32);
    const dnnl::matmul::desc d = has_bias ? dnnl::matmul::desc(p.src, p.wei, p.bias, p.dst)
                                          : dnnl::matmul::desc(p.src, p.wei, p.dst);
    const dnnl::matmul::primitive_desc pd(d, base_attr(), engine());
    p.prim = dnnl::matmul(pd);
    p.scratch = pd.scratchpad_desc();
    return p;
}

cache<plain_key, plain_primitive>& plain_cache() {
    static cache<plain_key, plain_primitive> c(512);
    return c;
}

void run_plain(const plain_key& key, const void* a, const void* b, const float* bias, float* c,
               const char* function) {
    call(function, [&] {
        const int threads = sync_threads();
        const auto p = plain_cache().get(threads, key, make_plain);
        const auto& e = engine();
        std::unordered_map<int, dnnl::memory> args{
            {DNNL_ARG_SRC, dnnl::memory(p->src, e, const_cast<void*>(a))},
            {DNNL_ARG_WEIGHTS, dnnl::memory(p->wei, e, const_cast<void*>(b))},
            {DNNL_ARG_DST, dnnl::memory(p->dst, e, c)},
            {DNNL_ARG_SCRATCHPAD, scratchpad_for(p->scratch)}};
        if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(p->bias, e, const_cast<float*>(bias)));
        p->prim.execute(stream(), args);
        stream().wait();
    });
}

// ---- hessian_accumulate ---------------------------------------------------------------------
// H += XᵀX in an order fixed by hone, not by oneDNN's threading: H is cut into square tiles of
// hessian_tile; each pair of tiles (i ≤ j) belongs to one thread, which walks X in chunks of
// hessian_chunk rows, in order: C = X[c, I]ᵀ·X[c, J] (one single-thread oneDNN product), then
// H[I, J] += C and, off the diagonal, H[J, I] += Cᵀ. Every element of H is thus the same sum in
// the same order at any thread count, and H stays exactly symmetric off the diagonal tiles.
// 256-row chunks keep each product efficient: as fast as one multi-threaded oneDNN XᵀX
// (bench_kernels, BM_hessian_*), where 64-row chunks took 1.6–1.8× its time.
constexpr std::int64_t hessian_tile = 256;
constexpr std::int64_t hessian_chunk = 256;

// rows of the chunk, tile height (I), tile width (J), leading dimension of X (= K)
using gram_key = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

plain_primitive make_gram(const gram_key& key) {
    const auto [rows, ti, tj, ld] = key;
    plain_primitive p;
    p.src = dnnl::memory::desc({ti, rows}, dt::f32, dims{1, ld}); // X[c, I]ᵀ, read in place
    p.wei = dnnl::memory::desc({rows, tj}, dt::f32, dims{ld, 1}); // X[c, J], read in place
    p.dst = plain({ti, tj}, dt::f32);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p.src, p.wei, p.dst), base_attr(),
                                          engine());
    p.prim = dnnl::matmul(pd);
    p.scratch = pd.scratchpad_desc();
    return p;
}

cache<gram_key, plain_primitive>& gram_cache() {
    static cache<gram_key, plain_primitive> c(64);
    return c;
}

void accumulate_tile_pair(const float* x, std::int64_t rows, std::int64_t k, std::int64_t i0,
                          std::int64_t j0, float* h, std::vector<float>& product) {
    const std::int64_t ti = std::min(hessian_tile, k - i0), tj = std::min(hessian_tile, k - j0);
    product.resize(std::size_t(ti * tj));
    const auto& e = engine();
    for (std::int64_t r0 = 0; r0 < rows; r0 += hessian_chunk) {
        const std::int64_t rc = std::min(hessian_chunk, rows - r0);
        const int threads = sync_threads(); // 1: called inside a parallel region or scope
        const auto p = gram_cache().get(threads, gram_key{rc, ti, tj, k}, make_gram);
        const float* chunk = x + r0 * k;
        p->prim.execute(
            stream(), {{DNNL_ARG_SRC, dnnl::memory(p->src, e, const_cast<float*>(chunk + i0))},
                       {DNNL_ARG_WEIGHTS, dnnl::memory(p->wei, e, const_cast<float*>(chunk + j0))},
                       {DNNL_ARG_DST, dnnl::memory(p->dst, e, product.data())},
                       {DNNL_ARG_SCRATCHPAD, scratchpad_for(p->scratch)}});
        stream().wait();
        for (std::int64_t r = 0; r < ti; ++r) {
            float* dst = h + (i0 + r) * k + j0;
            const float* src = product.data() + r * tj;
            for (std::int64_t c = 0; c < tj; ++c)
                dst[c] += src[c];
        }
        if (i0 != j0)
            for (std::int64_t c = 0; c < tj; ++c) {
                float* dst = h + (j0 + c) * k + i0;
                for (std::int64_t r = 0; r < ti; ++r)
                    dst[r] += product[std::size_t(r * tj + c)];
            }
    }
}

// Writes bias (or zeros) into every row of c: the result of an empty reduction (K = 0).
void fill_bias(float* c, std::int64_t m, std::int64_t n, const float* bias) {
    for (std::int64_t i = 0; i < m; ++i) {
        if (bias)
            std::memcpy(c + i * n, bias, std::size_t(n) * sizeof(float));
        else
            std::fill_n(c + i * n, n, 0.0f);
    }
}

void check_product(const float* a, const float* b, const float* c, std::int64_t m, std::int64_t k,
                   std::int64_t n, weight_layout layout, const char* function) {
    detail::check_dim(m, function, "m");
    detail::check_dim(k, function, "k");
    detail::check_dim(n, function, "n");
    if (layout != weight_layout::k_by_n && layout != weight_layout::n_by_k)
        fail(status::invalid_argument,
             fmt::format("{}: b_layout {} is not a weight_layout", function, int(layout)));
    detail::check_buffer(a, m * k, function, "a");
    detail::check_buffer(b, k * n, function, "b");
    detail::check_buffer(c, m * n, function, "c");
}

} // namespace

void matmul_f32(const float* a, const float* b, float* c, std::int64_t m, std::int64_t k,
                std::int64_t n, weight_layout b_layout, const float* bias) {
    constexpr const char* fn = "matmul_f32";
    check_product(a, b, c, m, k, n, b_layout, fn);
    if (m == 0 || n == 0) return;
    if (k == 0) return fill_bias(c, m, n, bias);
    run_plain({m, k, n, int(b_layout), bias != nullptr, int(plain_kind::product)}, a, b, bias, c,
              fn);
}

void matmul_bf16(const float* a, const float* b, float* c, std::int64_t m, std::int64_t k,
                 std::int64_t n, weight_layout b_layout, const float* bias) {
    constexpr const char* fn = "matmul_bf16";
    check_product(a, b, c, m, k, n, b_layout, fn);
    if (m == 0 || n == 0) return;
    if (k == 0) return fill_bias(c, m, n, bias);
    std::vector<bfloat16> a16(std::size_t(m * k)), b16(std::size_t(k * n));
    convert(std::span<const float>(a, a16.size()), std::span<bfloat16>(a16));
    convert(std::span<const float>(b, b16.size()), std::span<bfloat16>(b16));
    if (native_bf16())
        return run_plain({m, k, n, int(b_layout), bias != nullptr, int(plain_kind::product_bf16)},
                         a16.data(), b16.data(), bias, c, fn);
    // Emulation: operands rounded to bf16, held in f32 (exact), f32 kernel.
    std::vector<float> ar(a16.size()), br(b16.size());
    convert(std::span<const bfloat16>(a16), std::span<float>(ar));
    convert(std::span<const bfloat16>(b16), std::span<float>(br));
    run_plain({m, k, n, int(b_layout), bias != nullptr, int(plain_kind::product)}, ar.data(),
              br.data(), bias, c, fn);
}

void hessian_accumulate(const float* x, std::int64_t rows, std::int64_t k, float* h) {
    constexpr const char* fn = "hessian_accumulate";
    detail::check_dim(rows, fn, "rows");
    detail::check_dim(k, fn, "k");
    detail::check_buffer(x, rows * k, fn, "x");
    detail::check_buffer(h, k * k, fn, "h");
    if (rows == 0 || k == 0) return;
    const std::int64_t tiles = (k + hessian_tile - 1) / hessian_tile;
    const std::int64_t pairs = tiles * (tiles + 1) / 2;
    std::string first_error;
    status first_code = status::ok;
    std::int64_t first_pair = pairs;
#pragma omp parallel num_threads(hone::num_threads()) if (pairs > 1)
    {
        const single_thread_scope one; // also when the region is inactive (one tile pair)
        std::vector<float> product;
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t p = 0; p < pairs; ++p) {
            // p → (i, j), j ≥ i, row by row of the upper triangle of tiles.
            std::int64_t i = 0, left = p;
            while (left >= tiles - i) {
                left -= tiles - i;
                ++i;
            }
            try {
                call(fn, [&] {
                    accumulate_tile_pair(x, rows, k, i * hessian_tile, (i + left) * hessian_tile, h,
                                         product);
                });
            } catch (const error& e) {
#pragma omp critical(hone_hessian_error)
                if (p < first_pair) {
                    first_pair = p;
                    first_error = e.what();
                    first_code = e.code();
                }
            }
        }
    }
    if (first_pair < pairs) fail(first_code, first_error);
}

void hessian_accumulate(const_tensor_view x, tensor_view h) {
    constexpr const char* fn = "hessian_accumulate";
    if (x.type() != dtype::f32 || h.type() != dtype::f32)
        fail(status::dtype_mismatch, fmt::format("{}: x is {} and h is {}; both must be f32", fn,
                                                 name_of(x.type()), name_of(h.type())));
    if (x.rank() != 2 || h.rank() != 2)
        fail(status::shape_mismatch, fmt::format("{}: x {} and h {} must both be rank 2", fn,
                                                 x.dims().to_string(), h.dims().to_string()));
    if (h.dims()[0] != x.dims()[1] || h.dims()[1] != x.dims()[1])
        fail(status::shape_mismatch,
             fmt::format("{}: h is {} but x {} needs [{}, {}]", fn, h.dims().to_string(),
                         x.dims().to_string(), x.dims()[1], x.dims()[1]));
    if (!x.is_contiguous() || !h.is_contiguous())
        fail(status::invalid_argument, fmt::format("{}: x and h must be contiguous", fn));
    hessian_accumulate(static_cast<const float*>(x.data()), x.dims()[0], x.dims()[1],
                       static_cast<float*>(h.data()));
}

std::string onednn_isa() {
    engine(); // applies HONE_MAX_ISA's cap before oneDNN's is read
    switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::all: return "all";
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    }
    return "unknown";
}

bool int8_pairs_saturate() {
    engine();
    switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx2_vnni:
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core_bf16:
    case dnnl::cpu_isa::avx512_core_amx: return false;
    default: return true;
    }
}

std::string onednn_version() {
    const auto* v = dnnl::version();
    return fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
}

} // namespace hone::kernels
