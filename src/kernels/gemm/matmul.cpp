// matmul_f32 / matmul_bf16 / hessian_accumulate: one-shot products on caller buffers, with the
// oneDNN primitive of each shape cached process-wide.
#include "hone/kernels/convert.hpp"
#include "hone/kernels/gemm.hpp"

#include "check.hpp"
#include "onednn.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <vector>

namespace hone::kernels {

namespace {

using namespace onednn;

enum class plain_kind { product, product_bf16, hessian };

// m, k, n, b layout, has bias, kind
using plain_key = std::tuple<std::int64_t, std::int64_t, std::int64_t, int, bool, int>;

struct plain_primitive {
    dnnl::matmul prim;
    dnnl::memory::desc src, wei, bias, dst;
};

plain_primitive make_plain(const plain_key& key) {
    const auto [m, k, n, layout, has_bias, kind_raw] = key;
    const auto kind = static_cast<plain_kind>(kind_raw);
    const dt in = kind == plain_kind::product_bf16 ? dt::bf16 : dt::f32;
    plain_primitive p;
    if (kind == plain_kind::hessian) {
        // src = Xᵀ as a [K, rows] view of X [rows, K]: strides {1, K}.
        p.src = dnnl::memory::desc({m, k}, dt::f32, dims{1, m});
        p.wei = plain({k, n}, dt::f32);
    } else {
        p.src = plain({m, k}, in);
        p.wei = layout == int(weight_layout::k_by_n) ? dnnl::memory::desc({k, n}, in, tag::ab)
                                                     : dnnl::memory::desc({k, n}, in, tag::ba);
    }
    p.dst = plain({m, n}, dt::f32);
    if (has_bias) p.bias = plain({1, n}, dt::f32);
    dnnl::primitive_attr attr;
    if (kind == plain_kind::hessian) {
        dnnl::post_ops ops;
        ops.append_sum(1.0f);
        attr.set_post_ops(ops);
    }
    const dnnl::matmul::desc d = has_bias ? dnnl::matmul::desc(p.src, p.wei, p.bias, p.dst)
                                          : dnnl::matmul::desc(p.src, p.wei, p.dst);
    p.prim = dnnl::matmul(dnnl::matmul::primitive_desc(d, attr, engine()));
    return p;
}

cache<plain_key, plain_primitive>& plain_cache() {
    static cache<plain_key, plain_primitive> c(512);
    return c;
}

void run_plain(const plain_key& key, const void* a, const void* b, const float* bias, float* c,
               const char* function) {
    call(function, [&] {
        const auto p = plain_cache().get(key, make_plain);
        sync_threads();
        const auto& e = engine();
        dnnl::memory src(p->src, e, const_cast<void*>(a));
        dnnl::memory wei(p->wei, e, const_cast<void*>(b));
        dnnl::memory dst(p->dst, e, c);
        std::unordered_map<int, dnnl::memory> args{
            {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
        if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(p->bias, e, const_cast<float*>(bias)));
        p->prim.execute(stream(), args);
        stream().wait();
    });
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
    // Xᵀ [K, rows] · X [rows, K]: M = K, reduction = rows, N = K.
    run_plain({k, rows, k, int(weight_layout::k_by_n), false, int(plain_kind::hessian)}, x, x,
              nullptr, h, fn);
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
