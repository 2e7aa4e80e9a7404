// Sparse storage: bitmask + packed values, N:M compressed (values + positions), CSR.
#include "common.hpp"
#include "hone/kernels/palettized.hpp"
#include "hone/prune/sparse_storage.hpp"

#include <bit>
#include <cstring>
#include <limits>

namespace hone {

using namespace prune_detail;
namespace hk = hone::kernels;

int n_m_index_bits(int m) {
    if (m < 2 || m > 32)
        fail(status::invalid_argument, fmt::format("n_m_index_bits: M = {} is outside 2…32", m));
    return std::bit_width(unsigned(m - 1));
}

sparse_tensor sparse_tensor::encode(const_tensor_view dense, sparse_format format, int n, int m,
                                    std::string_view name) {
    constexpr const char* fn = "sparse_tensor::encode";
    const matrix w = as_matrix(dense, fn, name);
    sparse_tensor s;
    s.format_ = format;
    s.dims_ = dense.dims();
    s.rows_ = w.rows;
    s.cols_ = w.cols;
    const std::size_t total = w.size();
    switch (format) {
    case sparse_format::bitmask: {
        s.index_.assign((total + 7) / 8, 0);
        for (std::size_t i = 0; i < total; ++i)
            if (w.data[i] != 0.0f || std::isnan(w.data[i])) {
                s.index_[i / 8] |= std::uint8_t(1u << (i % 8));
                s.values_.push_back(w.data[i]);
            }
        break;
    }
    case sparse_format::csr: {
        if (w.rows >= std::numeric_limits<std::int32_t>::max() ||
            w.cols > std::numeric_limits<std::int32_t>::max())
            fail(status::out_of_range,
                 fmt::format("{}: '{}' [{}, {}] is too large for 32-bit CSR indices", fn, name,
                             w.rows, w.cols));
        s.row_ptr_.reserve(std::size_t(w.rows) + 1);
        s.row_ptr_.push_back(0);
        for (std::int64_t r = 0; r < w.rows; ++r) {
            for (std::int64_t c = 0; c < w.cols; ++c) {
                const float v = w.data[r * w.cols + c];
                if (v != 0.0f || std::isnan(v)) {
                    s.col_idx_.push_back(std::int32_t(c));
                    s.values_.push_back(v);
                }
            }
            if (s.values_.size() > std::size_t(std::numeric_limits<std::int32_t>::max()))
                fail(status::out_of_range,
                     fmt::format("{}: '{}' has more than 2^31 non-zeros for CSR", fn, name));
            s.row_ptr_.push_back(std::int32_t(s.values_.size()));
        }
        break;
    }
    case sparse_format::n_m: {
        if (m < 2 || m > 32 || n < 1 || n >= m)
            fail(status::invalid_argument,
                 fmt::format("{}: '{}': {}:{} storage needs 1 <= N < M <= 32", fn, name, n, m));
        if (w.cols % m != 0)
            fail(status::invalid_argument,
                 fmt::format("{}: '{}' has K = {} columns, not a multiple of M = {}", fn, name,
                             w.cols, m));
        s.n_ = n;
        s.m_ = m;
        const int bits = n_m_index_bits(m);
        const std::int64_t groups = w.cols / m, per_row = groups * n;
        std::vector<std::uint8_t> pos(static_cast<std::size_t>(w.rows * per_row));
        s.values_.resize(pos.size());
        for (std::int64_t r = 0; r < w.rows; ++r)
            for (std::int64_t g = 0; g < groups; ++g) {
                const float* x = w.data + r * w.cols + g * m;
                std::uint32_t used = 0;
                int count = 0;
                for (int t = 0; t < m; ++t)
                    if (x[t] != 0.0f || std::isnan(x[t])) {
                        if (count == n)
                            fail(status::invalid_argument,
                                 fmt::format("{}: '{}' row {}, group {} (columns {}…{}) has more "
                                             "than {} non-zeros; not {}:{} sparse",
                                             fn, name, r, g, g * m, g * m + m - 1, n, n, m));
                        used |= 1u << t;
                        ++count;
                    }
                for (int t = 0; t < m && count < n; ++t) // pad with explicit zeros
                    if (!(used & (1u << t))) {
                        used |= 1u << t;
                        ++count;
                    }
                std::size_t o = std::size_t(r * per_row + g * n);
                for (int t = 0; t < m; ++t)
                    if (used & (1u << t)) {
                        pos[o] = std::uint8_t(t);
                        s.values_[o] = x[t];
                        ++o;
                    }
            }
        s.index_.resize(std::size_t(w.rows) * hk::packed_row_bytes(per_row, bits));
        hk::pack_indices(pos, w.rows, per_row, bits, s.index_);
        break;
    }
    default:
        fail(status::invalid_argument,
             fmt::format("{}: format {} is not bitmask (0), n_m (1) or csr (2)", fn, int(format)));
    }
    return s;
}

std::size_t sparse_tensor::bytes() const noexcept {
    return values_.size() * sizeof(float) + index_.size() +
           (row_ptr_.size() + col_idx_.size()) * sizeof(std::int32_t);
}

tensor sparse_tensor::to_dense() const {
    tensor t(dtype::f32, dims_);
    to_dense(t.view());
    return t;
}

void sparse_tensor::to_dense(tensor_view dst) const {
    constexpr const char* fn = "sparse_tensor::to_dense";
    if (dst.type() != dtype::f32 || !dst.is_contiguous() || !(dst.dims() == dims_))
        fail(status::shape_mismatch,
             fmt::format("{}: the destination must be contiguous f32 {}, not {} {}", fn,
                         dims_.to_string(), name_of(dst.type()), dst.dims().to_string()));
    float* d = static_cast<float*>(dst.data());
    const std::size_t total = std::size_t(dims_.numel());
    std::fill_n(d, total, 0.0f);
    switch (format_) {
    case sparse_format::bitmask: {
        std::size_t v = 0;
        for (std::size_t i = 0; i < total; ++i)
            if (index_[i / 8] >> (i % 8) & 1u) d[i] = values_[v++];
        break;
    }
    case sparse_format::csr:
        for (std::int64_t r = 0; r < rows_; ++r)
            for (std::int32_t p = row_ptr_[std::size_t(r)]; p < row_ptr_[std::size_t(r) + 1]; ++p)
                d[r * cols_ + col_idx_[std::size_t(p)]] = values_[std::size_t(p)];
        break;
    case sparse_format::n_m: {
        const std::int64_t groups = cols_ / m_, per_row = groups * n_;
        std::vector<std::uint8_t> pos(static_cast<std::size_t>(rows_ * per_row));
        hk::unpack_indices(index_, rows_, per_row, n_m_index_bits(m_), pos);
        for (std::int64_t r = 0; r < rows_; ++r)
            for (std::int64_t i = 0; i < per_row; ++i) {
                const std::size_t o = std::size_t(r * per_row + i);
                d[r * cols_ + (i / n_) * m_ + pos[o]] = values_[o];
            }
        break;
    }
    }
}

} // namespace hone
