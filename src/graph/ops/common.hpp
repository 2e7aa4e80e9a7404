// Internal helpers shared by the operator families in src/graph/ops/.
#pragma once

#include "hone/core/error.hpp"
#include "hone/core/half.hpp"
#include "hone/core/tensor.hpp"
#include "hone/core/threads.hpp"
#include "ops.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <span>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace hone::ops::detail {

/// Throws dtype_mismatch unless x is f32.
inline void require_f32(const_tensor_view x, const char* op, const char* what) {
    if (x.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: input '{}' is {}, expected f32", op, what, name_of(x.type())));
}

/// Throws dtype_mismatch for packed types (i4/u4), which shape operators cannot address.
inline void require_byte_addressable(const_tensor_view x, const char* op, const char* what) {
    if (is_packed(x.type()))
        fail(status::dtype_mismatch, fmt::format("{}: input '{}' is {}, a packed type this "
                                                 "operator cannot address; unpack it first",
                                                 op, what, name_of(x.type())));
}

/// Throws shape_mismatch unless x has rank `rank`.
inline void require_rank(const_tensor_view x, std::size_t rank, const char* op, const char* what) {
    if (x.rank() != rank)
        fail(status::shape_mismatch, fmt::format("{}: input '{}' has shape {}, expected rank {}",
                                                 op, what, x.dims().to_string(), rank));
}

/// A contiguous f32 tensor of x's values (a copy only when x is strided).
struct contiguous_f32 {
    const float* data = nullptr;
    tensor copy;
    explicit contiguous_f32(const_tensor_view x) {
        if (x.is_contiguous()) {
            data = static_cast<const float*>(x.data());
        } else {
            copy = tensor::copy_of(x);
            data = static_cast<const float*>(copy.data());
        }
    }
};

/// Number of threads for a loop of `work` elementary operations (1 for small work).
inline int threads_for(std::int64_t work) { return work < 32768 ? 1 : hone::num_threads(); }

/// Runs fn() on a team of `threads` OpenMP threads, or directly on the calling thread when
/// threads ≤ 1 and no OpenMP region is active. fn's loops use orphaned `#pragma omp for` (each
/// index by one thread, as in a `parallel for`; run by the calling thread alone outside a team;
/// inside an active region fn gets a team of its own, so the loops never bind to the caller's
/// team). Why not `#pragma omp parallel if (threads > 1)`: once a larger team has run, libgomp
/// makes a futex call for every region, even a one-thread one — a system call per small
/// operator per run.
template <class F> void in_team(int threads, F&& fn) {
#ifdef _OPENMP
    const bool nested = omp_in_parallel() != 0;
#else
    const bool nested = false;
#endif
    if (threads <= 1 && !nested) {
        fn();
        return;
    }
#pragma omp parallel num_threads(threads)
    fn();
}

/// Calls fn(row, offsets, inner_strides, inner) for each row of `dims` (all axes but the
/// last), where offsets[i] is the element offset of the row's first element in operand i
/// (strides[i]) and inner the last dim. Rows run in parallel (each row by one thread).
template <std::size_t N, class Fn>
void for_each_row(const shape& dims, const std::array<strides_array, N>& strides, Fn&& fn) {
    const std::size_t rank = dims.rank();
    if (dims.numel() == 0) return;
    const std::int64_t inner = rank == 0 ? 1 : dims[rank - 1];
    const std::int64_t rows = dims.numel() / inner;
    std::array<std::int64_t, N> inner_strides{};
    for (std::size_t i = 0; i < N; ++i)
        inner_strides[i] = rank == 0 ? 0 : strides[i][rank - 1];
    const int threads = threads_for(dims.numel());
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t row = 0; row < rows; ++row) {
            std::array<std::int64_t, N> offsets{};
            std::int64_t rest = row;
            for (std::size_t axis = rank - (rank > 0 ? 1 : 0); axis-- > 0;) {
                const std::int64_t idx = rest % dims[axis];
                rest /= dims[axis];
                for (std::size_t i = 0; i < N; ++i)
                    offsets[i] += idx * strides[i][axis];
            }
            fn(row, offsets, inner_strides, inner);
        }
    });
}

/// Calls f.template operator()<T>() with T the C++ type of `t` (byte-addressable dtypes).
template <class F> decltype(auto) visit_dtype(dtype t, F&& f) {
    switch (t) {
    case dtype::f32: return f.template operator()<float>();
    case dtype::f16: return f.template operator()<half>();
    case dtype::bf16: return f.template operator()<bfloat16>();
    case dtype::i8: return f.template operator()<std::int8_t>();
    case dtype::u8: return f.template operator()<std::uint8_t>();
    case dtype::i32: return f.template operator()<std::int32_t>();
    case dtype::i64: return f.template operator()<std::int64_t>();
    case dtype::boolean: return f.template operator()<bool>();
    default: break;
    }
    fail(status::dtype_mismatch, fmt::format("dtype {} is not byte-addressable", name_of(t)));
}

/// Copies x (any strides) into a new contiguous tensor of shape `dims` (same element count),
/// in one pass.
inline tensor copy_as(const_tensor_view x, const shape& dims) {
    tensor out = new_result(x.type(), dims);
    if (out.numel() > 0)
        hone::copy(x, tensor_view(out.data(), x.type(), x.dims(), x.dims().contiguous_strides()));
    return out;
}

/// Spatial attributes resolved per axis (k ≤ 3 spatial axes), padding and output size computed.
struct resolved_spatial {
    std::size_t k = 0; // spatial rank
    std::array<std::int64_t, 3> in{}, kernel{}, stride{}, dilation{}, pad_begin{}, pad_end{}, out{};
};

/// Resolves Conv/pool attributes for the spatial input dims `in` and kernel dims `kernel`:
/// validates counts and domains, applies auto_pad and computes output sizes (floor, or ceil
/// with the PyTorch/ONNX rule dropping a last window that starts in the end padding).
/// Throws naming `op`; shape_mismatch when an output size would be < 1 (0 with an empty input).
resolved_spatial resolve_spatial(std::span<const std::int64_t> in,
                                 std::span<const std::int64_t> kernel, const spatial_params& p,
                                 bool ceil_mode, const char* op);

// dst[i] = f(x[i]) over an f32 tensor (OpenMP over elements).
template <class F> tensor unary_apply(const_tensor_view x, const char* op, F f) {
    require_f32(x, op, "X");
    const contiguous_f32 src(x);
    tensor out = new_result(dtype::f32, x.dims());
    float* d = static_cast<float*>(out.data());
    const float* s = src.data;
    const std::int64_t n = x.numel();
    const int threads = threads_for(n * 8);
    // simd: vectorized where f allows it (d may be s itself, element for element).
    detail::in_team(threads, [&] {
#pragma omp for simd schedule(static)
        for (std::int64_t i = 0; i < n; ++i)
            d[i] = f(s[i]);
    });
    return out;
}

// Runs dst[i] = f(a[i], b[i]) over the broadcast shape; A, B, D element types.
template <class A, class B, class D, class F>
tensor broadcast_apply(const_tensor_view a, const_tensor_view b, dtype out_type, const char* op,
                       F f) {
    const shape out_shape = broadcast_shapes(a.dims(), b.dims(), op);
    tensor out = new_result(out_type, out_shape);
    const auto va = broadcast_view(a, out_shape, op);
    const auto vb = broadcast_view(b, out_shape, op);
    const auto* pa = static_cast<const A*>(va.data());
    const auto* pb = static_cast<const B*>(vb.data());
    auto* pd = static_cast<D*>(out.data());
    for_each_row<2>(out_shape, {va.strides(), vb.strides()},
                    [&](std::int64_t row, const std::array<std::int64_t, 2>& off,
                        const std::array<std::int64_t, 2>& st, std::int64_t inner) {
                        D* d = pd + row * inner;
                        const A* x = pa + off[0];
                        const B* y = pb + off[1];
                        if (st[0] == 1 && st[1] == 1) {
                            for (std::int64_t i = 0; i < inner; ++i)
                                d[i] = f(x[i], y[i]);
                        } else if (st[0] == 1 && st[1] == 0) {
                            const B yy = *y;
                            for (std::int64_t i = 0; i < inner; ++i)
                                d[i] = f(x[i], yy);
                        } else {
                            for (std::int64_t i = 0; i < inner; ++i)
                                d[i] = f(x[i * st[0]], y[i * st[1]]);
                        }
                    });
    return out;
}

} // namespace hone::ops::detail
