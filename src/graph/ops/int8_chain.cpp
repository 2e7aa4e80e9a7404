// Quantized chains between int8 layers (ops.hpp): byte and float tables, the int8 Add.
#include "common.hpp"
#include "ops.hpp"

#include "hone/kernels/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hone::ops {

void byte_table(const std::uint8_t* src, std::int64_t n, const std::array<std::uint8_t, 256>& table,
                std::uint8_t* dst) {
    // Chunks of 64 KiB, each by one thread.
    constexpr std::int64_t chunk = 1 << 16;
    const std::int64_t chunks = (n + chunk - 1) / chunk;
    const int threads = detail::threads_for(n / 16); // memory-bound: only large tensors split
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t k = 0; k < chunks; ++k) {
            const auto m = static_cast<std::size_t>(std::min(chunk, n - k * chunk));
            kernels::byte_table(std::span<const std::uint8_t>(src + k * chunk, m), table,
                                std::span<std::uint8_t>(dst + k * chunk, m));
        }
    });
}

void float_table(const std::uint8_t* src, std::int64_t n, const std::array<float, 256>& table,
                 float* dst) {
    const int threads = detail::threads_for(n / 4);
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t i = 0; i < n; ++i)
            dst[i] = table[src[i]];
    });
}

namespace {

void check_operand(const_tensor_view x, const quant_grid& g, const char* what) {
    if (x.type() != g.type || (g.type != dtype::u8 && g.type != dtype::i8))
        fail(status::dtype_mismatch, fmt::format("ops::quantized_add: {} is {}; its grid is {}",
                                                 what, name_of(x.type()), name_of(g.type)));
    if (!x.is_contiguous())
        fail(status::invalid_argument, fmt::format("ops::quantized_add: {} is strided", what));
}

// src (g.type, n values) → real values, through kernels::dequantize.
void dequantize_block(const void* src, std::size_t n, const quant_grid& g, float* dst) {
    if (g.type == dtype::u8)
        kernels::dequantize(std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(src), n),
                            g.scale, g.zero_point, std::span<float>(dst, n));
    else
        kernels::dequantize(std::span<const std::int8_t>(static_cast<const std::int8_t*>(src), n),
                            g.scale, g.zero_point, std::span<float>(dst, n));
}

} // namespace

tensor quantized_add(const_tensor_view a, const quant_grid& ga, const_tensor_view b,
                     const quant_grid& gb, const quant_grid& gy, bool clip, float lo, float hi) {
    check_operand(a, ga, "a");
    check_operand(b, gb, "b");
    if (!(a.dims() == b.dims()))
        fail(status::shape_mismatch,
             fmt::format("ops::quantized_add: a is {} and b is {}; equal shapes expected",
                         a.dims().to_string(), b.dims().to_string()));
    if (gy.type != dtype::u8 && gy.type != dtype::i8)
        fail(status::dtype_mismatch,
             fmt::format("ops::quantized_add: the result grid is {}; u8 or i8 expected",
                         name_of(gy.type)));
    tensor y = new_result(gy.type, a.dims());
    const std::int64_t n = a.numel();
    // Blocks that stay in L1 between the steps; each block by one thread.
    constexpr std::int64_t block = 2048;
    const std::int64_t blocks = (n + block - 1) / block;
    const auto* pa = static_cast<const std::uint8_t*>(a.data());
    const auto* pb = static_cast<const std::uint8_t*>(b.data());
    auto* py = static_cast<std::uint8_t*>(y.data());
    const int threads = detail::threads_for(n * 4);
    detail::in_team(threads, [&] {
        float fa[block], fb[block];
#pragma omp for schedule(static)
        for (std::int64_t k = 0; k < blocks; ++k) {
            const std::int64_t begin = k * block;
            const auto m = static_cast<std::size_t>(std::min(block, n - begin));
            dequantize_block(pa + begin, m, ga, fa);
            dequantize_block(pb + begin, m, gb, fb);
            for (std::size_t i = 0; i < m; ++i)
                fa[i] += fb[i];
            if (clip) // the executor's Clip (and Relu: lo 0, hi +inf): NaN passes
                for (std::size_t i = 0; i < m; ++i)
                    fa[i] = std::isnan(fa[i]) ? fa[i] : std::min(std::max(fa[i], lo), hi);
            const std::span<const float> v(fa, m);
            if (gy.type == dtype::u8)
                kernels::quantize(v, gy.scale, gy.zero_point,
                                  std::span<std::uint8_t>(py + begin, m));
            else
                kernels::quantize(
                    v, gy.scale, gy.zero_point,
                    std::span<std::int8_t>(reinterpret_cast<std::int8_t*>(py + begin), m));
        }
    });
    return y;
}

} // namespace hone::ops
