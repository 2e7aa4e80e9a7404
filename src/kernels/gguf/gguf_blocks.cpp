// quantize_gguf_rows / dequantize_gguf_rows and the one-row forms: argument checks, then the
// rows spread over OpenMP threads, each row by one thread (gguf_blocks_ref.cpp).
#include "gguf_blocks.hpp"

#include "hone/core/threads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hone::kernels {

namespace {

/// Rows below this many weights in all run on the calling thread (a team costs more).
constexpr std::int64_t min_parallel_weights = 1 << 16;

struct rows_shape {
    std::int64_t rows = 0;
    std::int64_t cols = 0;
};

std::int64_t checked_block_size(gguf_block_type type, const char* fn) {
    const std::int64_t b = gguf_block_size(type);
    if (b == 0)
        fail(status::invalid_argument,
             fmt::format("{}: unknown gguf_block_type {}", fn, static_cast<std::uint32_t>(type)));
    return b;
}

void check_row_length(gguf_block_type type, std::int64_t cols, const char* fn, const char* what) {
    const std::int64_t b = checked_block_size(type, fn);
    if (cols < 0 || cols % b != 0)
        fail(status::invalid_argument,
             fmt::format("{}: the row length of {} ({}) is not a multiple of the {} block size {}",
                         fn, what, cols, name_of(type), b));
}

std::size_t bytes_for(gguf_block_type type, std::int64_t rows, std::int64_t cols) {
    return std::size_t(rows) * std::size_t(cols / gguf_block_size(type)) * gguf_block_bytes(type);
}

/// rows × cols of an f32 contiguous view of rank ≥ 1 whose last axis is the row.
template <bool C>
rows_shape checked_view(gguf_block_type type, const basic_tensor_view<C>& v, const char* fn,
                        const char* arg) {
    checked_block_size(type, fn);
    if (v.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: {} must be f32, got {}", fn, arg, hone::name_of(v.type())));
    if (v.rank() == 0)
        fail(status::shape_mismatch,
             fmt::format("{}: {} must have rank ≥ 1 (its last axis is the row), got a scalar", fn,
                         arg));
    if (v.data() == nullptr && v.numel() > 0)
        fail(status::invalid_argument, fmt::format("{}: {} has a null buffer", fn, arg));
    if (!v.is_contiguous())
        fail(status::invalid_argument,
             fmt::format("{}: {} {} must be contiguous", fn, arg, v.dims().to_string()));
    rows_shape s;
    s.cols = v.dims()[v.rank() - 1];
    s.rows = 1;
    for (std::size_t a = 0; a + 1 < v.rank(); ++a)
        s.rows *= v.dims()[a];
    const std::string what = fmt::format("{} {}", arg, v.dims().to_string());
    check_row_length(type, s.cols, fn, what.c_str());
    return s;
}

void check_byte_count(gguf_block_type type, std::size_t have, rows_shape s, const char* fn,
                      const char* arg) {
    const std::size_t want = bytes_for(type, s.rows, s.cols);
    if (have != want)
        fail(status::shape_mismatch,
             fmt::format("{}: {} holds {} bytes, but {} row(s) of {} weights in {} take {}", fn,
                         arg, have, s.rows, s.cols, name_of(type), want));
}

void quantize_rows(gguf_block_type type, const float* x, rows_shape s,
                   std::span<const float> importance, std::span<std::byte> dst, const char* fn) {
    if (!importance.empty() && std::int64_t(importance.size()) != s.cols)
        fail(status::shape_mismatch,
             fmt::format("{}: importance has {} entries; it must be empty or have one per column "
                         "({})",
                         fn, importance.size(), s.cols));
    for (std::size_t i = 0; i < importance.size(); ++i)
        if (!(importance[i] >= 0.0f) || !std::isfinite(importance[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: importance[{}] is {}; importance must be finite and "
                             "non-negative",
                             fn, i, importance[i]));
    check_byte_count(type, dst.size(), s, fn, "dst");

    const std::int64_t rows = s.rows, cols = s.cols, n = rows * cols;
    const int nt = num_threads();
    const bool par = n >= min_parallel_weights;
    const float limit = gguf_max_abs(type);
    std::int64_t first_bad = n;
#pragma omp parallel for schedule(static) reduction(min : first_bad) num_threads(nt) if (par)
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            if (!(std::fabs(x[r * cols + c]) <= limit)) {
                first_bad = std::min(first_bad, r * cols + c);
                break;
            }
    if (first_bad < n) {
        const float v = x[first_bad];
        fail(status::invalid_argument,
             std::isfinite(v)
                 ? fmt::format("{}: src row {} column {} is {}, beyond ±{} (the largest |weight| "
                               "{} takes, gguf_max_abs)",
                               fn, first_bad / cols, first_bad % cols, v, limit, name_of(type))
                 : fmt::format("{}: src row {} column {} is {}, not finite", fn, first_bad / cols,
                               first_bad % cols, v));
    }

    const std::size_t row_bytes = bytes_for(type, 1, cols);
    const float* imp = importance.empty() ? nullptr : importance.data();
    std::byte* y = dst.data();
#pragma omp parallel for schedule(static) num_threads(nt) if (par)
    for (std::int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        std::byte* yr = y + std::size_t(r) * row_bytes;
        switch (type) {
        case gguf_block_type::q8_0: gguf_ref::quantize_row_q8_0(xr, cols, yr); break;
        case gguf_block_type::q4_0: gguf_ref::quantize_row_q4_0(xr, cols, imp, yr); break;
        case gguf_block_type::q4_k: gguf_ref::quantize_row_q4_k(xr, cols, imp, yr); break;
        }
    }
}

void dequantize_rows(gguf_block_type type, std::span<const std::byte> src, rows_shape s, float* y,
                     const char* fn) {
    check_byte_count(type, src.size(), s, fn, "src");
    const std::int64_t rows = s.rows, cols = s.cols, n = rows * cols;
    const int nt = num_threads();
    const bool par = n >= min_parallel_weights;
    const std::int64_t blocks = cols / gguf_block_size(type);
    const std::size_t row_bytes = bytes_for(type, 1, cols);
    const std::byte* x = src.data();
    std::int64_t first_bad = rows * blocks;
#pragma omp parallel for schedule(static) reduction(min : first_bad) num_threads(nt) if (par)
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::byte* xr = x + std::size_t(r) * row_bytes;
        float* yr = y + r * cols;
        std::int64_t done = blocks;
        switch (type) {
        case gguf_block_type::q8_0: done = gguf_ref::dequantize_row_q8_0(xr, cols, yr); break;
        case gguf_block_type::q4_0: done = gguf_ref::dequantize_row_q4_0(xr, cols, yr); break;
        case gguf_block_type::q4_k: done = gguf_ref::dequantize_row_q4_k(xr, cols, yr); break;
        }
        if (done < blocks) first_bad = std::min(first_bad, r * blocks + done);
    }
    if (first_bad < rows * blocks)
        fail(status::format_error,
             fmt::format("{}: row {} block {} of the {} data has a scale that is not finite (inf "
                         "or NaN)",
                         fn, first_bad / blocks, first_bad % blocks, name_of(type)));
}

} // namespace

std::size_t gguf_row_bytes(gguf_block_type type, std::int64_t cols) {
    check_row_length(type, cols, "gguf_row_bytes", "cols");
    return bytes_for(type, 1, cols);
}

void quantize_gguf_rows(gguf_block_type type, const_tensor_view src,
                        std::span<const float> importance, std::span<std::byte> dst) {
    constexpr const char* fn = "quantize_gguf_rows";
    const rows_shape s = checked_view(type, src, fn, "src");
    quantize_rows(type, static_cast<const float*>(src.data()), s, importance, dst, fn);
}

void dequantize_gguf_rows(gguf_block_type type, std::span<const std::byte> src, tensor_view dst) {
    constexpr const char* fn = "dequantize_gguf_rows";
    const rows_shape s = checked_view(type, dst, fn, "dst");
    dequantize_rows(type, src, s, static_cast<float*>(dst.data()), fn);
}

void quantize_gguf_row(gguf_block_type type, std::span<const float> src,
                       std::span<const float> importance, std::span<std::byte> dst) {
    constexpr const char* fn = "quantize_gguf_row";
    check_row_length(type, std::int64_t(src.size()), fn, "src");
    quantize_rows(type, src.data(), {1, std::int64_t(src.size())}, importance, dst, fn);
}

void dequantize_gguf_row(gguf_block_type type, std::span<const std::byte> src,
                         std::span<float> dst) {
    constexpr const char* fn = "dequantize_gguf_row";
    check_row_length(type, std::int64_t(dst.size()), fn, "dst");
    dequantize_rows(type, src, {1, std::int64_t(dst.size())}, dst.data(), fn);
}

} // namespace hone::kernels
