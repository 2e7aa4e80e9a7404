// Public entry points of the palettized family: layout checks, packing, and the GEMV/GEMM.
#include "hone/kernels/palettized.hpp"

#include "hone/core/error.hpp"
#include "hone/core/half.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/gemm.hpp"
#include "palettized.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

namespace hone::kernels {

const dispatch<palettized_table>& palettized_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<palettized_table> d{&palettized_ref, &palettized_avx2,
                                              &palettized_avx512};
#else
    static const dispatch<palettized_table> d{&palettized_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

void check_bits(int bits, const char* fn) {
    if (bits < 1 || bits > 8)
        fail(status::invalid_argument,
             fmt::format("{}: {} bits per index; palettized indices have 1 … 8", fn, bits));
}

std::size_t checked_total(std::int64_t rows, std::int64_t cols, int bits, const char* fn) {
    check_bits(bits, fn);
    if (rows < 0 || cols < 0)
        fail(status::invalid_argument, fmt::format("{}: negative shape [{}, {}]", fn, rows, cols));
    const std::size_t rb = packed_row_bytes(cols, bits);
    if (rb != 0 && std::size_t(rows) > std::numeric_limits<std::size_t>::max() / rb)
        fail(status::out_of_range, fmt::format("{}: [{}, {}] overflows", fn, rows, cols));
    if (cols != 0 &&
        std::uint64_t(rows) > std::numeric_limits<std::size_t>::max() / 8 / std::uint64_t(cols))
        fail(status::out_of_range, fmt::format("{}: [{}, {}] overflows", fn, rows, cols));
    return rb * std::size_t(rows);
}

// Rows split across threads in whole blocks; each row is computed by one thread alone, so the
// result does not depend on the thread count.
template <class Fn> void for_row_blocks(std::size_t rows, std::size_t cols, Fn&& fn) {
    const std::size_t work = rows * std::max<std::size_t>(cols, 1);
    const int nt = (work >= (std::size_t(1) << 18)) ? hone::num_threads() : 1;
    if (nt <= 1) return fn(std::size_t(0), rows);
    const std::size_t block = 16;
    const auto blocks = static_cast<std::int64_t>((rows + block - 1) / block);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (std::int64_t b = 0; b < blocks; ++b)
        fn(std::size_t(b) * block, std::min(rows, std::size_t(b + 1) * block));
}

struct prepared {
    palette_rows rows;
    std::vector<float> f32_codebooks; // filled when the codebooks are f16
};

prepared prepare(const palettized_matrix& w) {
    w.validate();
    prepared p;
    const float* cb = reinterpret_cast<const float*>(w.codebooks.data());
    if (w.codebook_type == dtype::f16) {
        const std::size_t n = std::size_t(w.groups() * w.entries());
        p.f32_codebooks.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            half h;
            std::memcpy(&h.bits, w.codebooks.data() + 2 * i, 2);
            p.f32_codebooks[i] = to_float(h);
        }
        cb = p.f32_codebooks.data();
    } else if (reinterpret_cast<std::uintptr_t>(cb) % alignof(float) != 0) {
        p.f32_codebooks.resize(w.codebooks.size() / sizeof(float));
        std::memcpy(p.f32_codebooks.data(), w.codebooks.data(), w.codebooks.size());
        cb = p.f32_codebooks.data();
    }
    const std::size_t rb = packed_row_bytes(w.cols, w.bits);
    p.rows = {w.indices.data(),
              w.indices.data() + rb * std::size_t(w.rows),
              rb,
              std::size_t(w.cols),
              w.bits,
              cb,
              std::size_t(w.group_rows())};
    return p;
}

} // namespace

std::size_t packed_row_bytes(std::int64_t cols, int bits) {
    check_bits(bits, "packed_row_bytes");
    if (cols < 0)
        fail(status::invalid_argument, fmt::format("packed_row_bytes: negative cols {}", cols));
    if (std::uint64_t(cols) > std::numeric_limits<std::uint64_t>::max() / 8)
        fail(status::out_of_range, fmt::format("packed_row_bytes: cols {} overflows", cols));
    return std::size_t((std::uint64_t(cols) * std::uint64_t(bits) + 7) / 8);
}

void pack_indices(std::span<const std::uint8_t> indices, std::int64_t rows, std::int64_t cols,
                  int bits, std::span<std::uint8_t> packed) {
    constexpr const char* fn = "pack_indices";
    const std::size_t total = checked_total(rows, cols, bits, fn);
    const std::size_t n = std::size_t(rows) * std::size_t(cols);
    if (indices.size() != n)
        fail(status::shape_mismatch, fmt::format("{}: [{}, {}] needs {} indices, got {}", fn, rows,
                                                 cols, n, indices.size()));
    if (packed.size() != total)
        fail(status::shape_mismatch,
             fmt::format("{}: {} rows of {} bytes need {} packed bytes, got {}", fn, rows,
                         packed_row_bytes(cols, bits), total, packed.size()));
    const unsigned limit = 1u << bits;
    for (std::size_t i = 0; i < n; ++i)
        if (indices[i] >= limit)
            fail(status::out_of_range,
                 fmt::format("{}: index {} at row {}, column {} does not fit in {} bits", fn,
                             indices[i], i / std::size_t(cols), i % std::size_t(cols), bits));
    std::fill(packed.begin(), packed.end(), std::uint8_t(0));
    const std::size_t rb = packed_row_bytes(cols, bits);
    for (std::size_t r = 0; r < std::size_t(rows); ++r) {
        std::uint8_t* row = packed.data() + r * rb;
        const std::uint8_t* src = indices.data() + r * std::size_t(cols);
        for (std::size_t j = 0; j < std::size_t(cols); ++j) {
            const std::size_t p = j * std::size_t(bits);
            const unsigned v = unsigned(src[j]) << (p & 7);
            row[p >> 3] |= std::uint8_t(v);
            if ((p & 7) + unsigned(bits) > 8) row[(p >> 3) + 1] |= std::uint8_t(v >> 8);
        }
    }
}

void unpack_indices(std::span<const std::uint8_t> packed, std::int64_t rows, std::int64_t cols,
                    int bits, std::span<std::uint8_t> indices) {
    constexpr const char* fn = "unpack_indices";
    const std::size_t total = checked_total(rows, cols, bits, fn);
    const std::size_t n = std::size_t(rows) * std::size_t(cols);
    if (packed.size() != total)
        fail(status::shape_mismatch,
             fmt::format("{}: {} rows of {} bytes need {} packed bytes, got {}", fn, rows,
                         packed_row_bytes(cols, bits), total, packed.size()));
    if (indices.size() != n)
        fail(status::shape_mismatch, fmt::format("{}: [{}, {}] needs {} indices, got {}", fn, rows,
                                                 cols, n, indices.size()));
    const std::size_t rb = packed_row_bytes(cols, bits);
    for (std::size_t r = 0; r < std::size_t(rows); ++r)
        for (std::size_t j = 0; j < std::size_t(cols); ++j)
            indices[r * std::size_t(cols) + j] =
                std::uint8_t(packed_index(packed.data() + r * rb, j, bits));
}

std::int64_t palettized_matrix::group_rows() const noexcept {
    return rows_per_group > 0 ? rows_per_group : std::max<std::int64_t>(rows, 1);
}

std::int64_t palettized_matrix::groups() const noexcept {
    return rows == 0 ? 0 : (rows + group_rows() - 1) / group_rows();
}

std::size_t palettized_matrix::bytes() const {
    validate();
    return indices.size() + codebooks.size();
}

void palettized_matrix::validate() const {
    constexpr const char* fn = "palettized_matrix";
    const std::size_t total = checked_total(rows, cols, bits, fn);
    if (rows_per_group < 0)
        fail(status::invalid_argument,
             fmt::format("{}: rows_per_group is {}; it must be ≥ 1 (or 0 for the whole tensor)", fn,
                         rows_per_group));
    if (codebook_type != dtype::f32 && codebook_type != dtype::f16)
        fail(status::dtype_mismatch,
             fmt::format("{}: codebooks must be f32 or f16, not {}", fn, name_of(codebook_type)));
    if (indices.size() != total)
        fail(status::shape_mismatch,
             fmt::format("{}: {} rows of {} bits × {} columns need {} index bytes, got {}", fn,
                         rows, bits, cols, total, indices.size()));
    const std::size_t want =
        std::size_t(groups()) * std::size_t(entries()) * (codebook_type == dtype::f32 ? 4u : 2u);
    if (codebooks.size() != want)
        fail(status::shape_mismatch,
             fmt::format("{}: {} codebooks of {} {} entries need {} bytes, got {}", fn, groups(),
                         entries(), name_of(codebook_type), want, codebooks.size()));
    if ((total > 0 && indices.data() == nullptr) || (want > 0 && codebooks.data() == nullptr))
        fail(status::invalid_argument, fmt::format("{}: null indices or codebooks", fn));
}

void palettized_decode(const palettized_matrix& w, std::span<float> dst) {
    const prepared p = prepare(w);
    const std::size_t n = std::size_t(w.rows) * std::size_t(w.cols);
    if (dst.size() != n)
        fail(status::shape_mismatch,
             fmt::format("palettized_decode: [{}, {}] needs {} floats, the destination has {}",
                         w.rows, w.cols, n, dst.size()));
    const auto& k = palettized_kernels().pick();
    for_row_blocks(std::size_t(w.rows), std::size_t(w.cols),
                   [&](std::size_t r0, std::size_t r1) { k.decode(p.rows, dst.data(), r0, r1); });
}

void palettized_matmul(const palettized_matrix& w, std::span<const float> x, std::int64_t m,
                       std::span<float> y, std::span<const float> bias) {
    constexpr const char* fn = "palettized_matmul";
    const prepared p = prepare(w);
    if (m < 0) fail(status::invalid_argument, fmt::format("{}: M = {} is negative", fn, m));
    const std::size_t rows = std::size_t(w.rows), cols = std::size_t(w.cols);
    if (m > 0 && cols > 0 && std::uint64_t(m) > x.size() / cols)
        fail(status::shape_mismatch, fmt::format("{}: x must be [{}, {}] ({} floats), got {}", fn,
                                                 m, cols, std::size_t(m) * cols, x.size()));
    if (x.size() != std::size_t(m) * cols)
        fail(status::shape_mismatch, fmt::format("{}: x must be [{}, {}] ({} floats), got {}", fn,
                                                 m, cols, std::size_t(m) * cols, x.size()));
    if (m > 0 && rows > 0 && std::uint64_t(m) > y.size() / rows)
        fail(status::shape_mismatch,
             fmt::format("{}: y must be [{}, {}], got {} floats", fn, m, rows, y.size()));
    if (y.size() != std::size_t(m) * rows)
        fail(status::shape_mismatch, fmt::format("{}: y must be [{}, {}] ({} floats), got {}", fn,
                                                 m, rows, std::size_t(m) * rows, y.size()));
    if (!bias.empty() && bias.size() != rows)
        fail(status::shape_mismatch,
             fmt::format("{}: bias has {} entries; W has {} rows", fn, bias.size(), rows));
    const float* b = bias.empty() ? nullptr : bias.data();
    if (m == 0 || rows == 0) return;
    if (cols == 0) { // empty dot products
        for (std::size_t i = 0; i < std::size_t(m) * rows; ++i)
            y[i] = b ? b[i % rows] : 0.0f;
        return;
    }
    if (m == 1) {
        const auto& k = palettized_kernels().pick();
        for_row_blocks(rows, cols, [&](std::size_t r0, std::size_t r1) {
            k.gemv(p.rows, x.data(), b, y.data(), r0, r1);
        });
        return;
    }
    std::vector<float> dense(rows * cols);
    const auto& k = palettized_kernels().pick();
    for_row_blocks(rows, cols,
                   [&](std::size_t r0, std::size_t r1) { k.decode(p.rows, dense.data(), r0, r1); });
    matmul_f32(x.data(), dense.data(), y.data(), m, w.cols, w.rows, weight_layout::n_by_k, b);
}

void palettized_gemv(const palettized_matrix& w, std::span<const float> x, std::span<float> y,
                     std::span<const float> bias) {
    palettized_matmul(w, x, 1, y, bias);
}

} // namespace hone::kernels
