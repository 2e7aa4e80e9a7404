// Elementwise operators: helpers, binary arithmetic with numpy broadcasting, Equal, Where,
// the unary activations, Clip and Cast.
#include "common.hpp"
#include "ops.hpp"

#include <cmath>
#include <cstring>
#include <type_traits>

namespace hone::ops {

using detail::broadcast_apply;
using detail::for_each_row;
using detail::require_f32;
using detail::unary_apply;

std::int64_t normalize_axis(std::int64_t axis, std::size_t rank, const char* op,
                            bool inclusive_end) {
    // Valid: [-rank, rank - 1], or [-rank, rank] with inclusive_end; negatives add rank.
    const auto r = static_cast<std::int64_t>(rank);
    const std::int64_t hi = inclusive_end ? r : r - 1;
    if (axis < -r || axis > hi)
        fail(status::out_of_range,
             fmt::format("{}: axis {} is outside [{}, {}] for a tensor of rank {}", op, axis, -r,
                         hi, rank));
    return axis < 0 ? axis + r : axis;
}

shape broadcast_shapes(const shape& a, const shape& b, const char* op) {
    const std::size_t rank = std::max(a.rank(), b.rank());
    std::array<std::int64_t, shape::max_rank> dims{};
    for (std::size_t i = 0; i < rank; ++i) {
        const std::int64_t da = i < rank - a.rank() ? 1 : a[i - (rank - a.rank())];
        const std::int64_t db = i < rank - b.rank() ? 1 : b[i - (rank - b.rank())];
        if (da == db || db == 1)
            dims[i] = da;
        else if (da == 1)
            dims[i] = db;
        else
            fail(status::shape_mismatch,
                 fmt::format("{}: shapes {} and {} do not broadcast (axis {} of the result: {} vs "
                             "{})",
                             op, a.to_string(), b.to_string(), i, da, db));
    }
    return shape(std::span<const std::int64_t>(dims.data(), rank));
}

const_tensor_view broadcast_view(const_tensor_view src, const shape& to, const char* op) {
    if (src.rank() > to.rank())
        fail(status::shape_mismatch, fmt::format("{}: shape {} cannot broadcast to {}", op,
                                                 src.dims().to_string(), to.to_string()));
    strides_array strides{};
    const std::size_t shift = to.rank() - src.rank();
    for (std::size_t i = 0; i < to.rank(); ++i) {
        if (i < shift) continue;
        const std::int64_t d = src.dims()[i - shift];
        if (d == to[i])
            strides[i] = d == 1 ? 0 : src.stride(i - shift);
        else if (d == 1)
            strides[i] = 0;
        else
            fail(status::shape_mismatch, fmt::format("{}: shape {} cannot broadcast to {}", op,
                                                     src.dims().to_string(), to.to_string()));
    }
    return const_tensor_view(src.data(), src.type(), to, strides);
}

std::vector<std::int64_t> to_int64_vector(const_tensor_view src, const char* op, const char* what) {
    if (src.rank() > 1)
        fail(status::shape_mismatch, fmt::format("{}: input '{}' must be 1-D, got shape {}", op,
                                                 what, src.dims().to_string()));
    std::vector<std::int64_t> out(static_cast<std::size_t>(src.numel()));
    const std::int64_t step = src.rank() == 0 ? 0 : src.stride(0);
    if (src.type() == dtype::i64) {
        const auto* p = static_cast<const std::int64_t*>(src.data());
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = p[static_cast<std::int64_t>(i) * step];
    } else if (src.type() == dtype::i32) {
        const auto* p = static_cast<const std::int32_t*>(src.data());
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = p[static_cast<std::int64_t>(i) * step];
    } else {
        fail(status::dtype_mismatch, fmt::format("{}: input '{}' is {}, expected i64 or i32", op,
                                                 what, name_of(src.type())));
    }
    return out;
}

tensor from_int64_vector(std::span<const std::int64_t> values) {
    tensor out(dtype::i64, shape{static_cast<std::int64_t>(values.size())});
    if (!values.empty())
        std::memcpy(out.data(), values.data(), values.size() * sizeof(std::int64_t));
    return out;
}

// ---- binary
// ---------------------------------------------------------------------------------------

namespace {

const char* binary_name(binary_op op) {
    switch (op) {
    case binary_op::add: return "ops::add";
    case binary_op::sub: return "ops::sub";
    case binary_op::mul: return "ops::mul";
    case binary_op::div: return "ops::div";
    case binary_op::pow: return "ops::pow";
    }
    return "ops::binary";
}

template <class T> T int_pow(T base, T exponent) {
    using U = std::make_unsigned_t<T>;
    U result = 1, b = static_cast<U>(base);
    auto e = static_cast<std::uint64_t>(exponent);
    while (e > 0) {
        if (e & 1U) result = static_cast<U>(result * b);
        b = static_cast<U>(b * b);
        e >>= 1U;
    }
    return static_cast<T>(result);
}

template <class T> T wrap_add(T a, T b) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}
template <class T> T wrap_sub(T a, T b) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
}
template <class T> T wrap_mul(T a, T b) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
}

template <class T> tensor integer_binary(binary_op op, const_tensor_view a, const_tensor_view b) {
    const char* name = binary_name(op);
    switch (op) {
    case binary_op::add:
        return broadcast_apply<T, T, T>(a, b, a.type(), name,
                                        [](T x, T y) { return wrap_add(x, y); });
    case binary_op::sub:
        return broadcast_apply<T, T, T>(a, b, a.type(), name,
                                        [](T x, T y) { return wrap_sub(x, y); });
    case binary_op::mul:
        return broadcast_apply<T, T, T>(a, b, a.type(), name,
                                        [](T x, T y) { return wrap_mul(x, y); });
    case binary_op::div: {
        // Check divisors first so that the loop itself cannot fail half-way.
        const tensor divisor = tensor::copy_of(b);
        for (const T v : divisor.span<T>())
            if (v == 0)
                fail(status::invalid_argument, fmt::format("{}: integer division by zero", name));
        return broadcast_apply<T, T, T>(a, b, a.type(), name, [](T x, T y) {
            if (y == -1) return wrap_sub(T{0}, x); // avoids MIN / -1 overflow
            return static_cast<T>(x / y);
        });
    }
    case binary_op::pow: {
        const tensor exponent = tensor::copy_of(b);
        for (const T v : exponent.span<T>())
            if (v < 0)
                fail(status::invalid_argument,
                     fmt::format("{}: negative exponent {} for an integer base", name, v));
        return broadcast_apply<T, T, T>(a, b, a.type(), name,
                                        [](T x, T y) { return int_pow(x, y); });
    }
    }
    fail(status::invalid_argument, "ops::binary: unknown operator");
}

} // namespace

tensor binary(binary_op op, const_tensor_view a, const_tensor_view b) {
    const char* name = binary_name(op);
    if (a.type() == dtype::f32 && op == binary_op::pow && b.type() != dtype::f32) {
        if (b.type() != dtype::i32 && b.type() != dtype::i64)
            fail(status::dtype_mismatch, fmt::format("{}: exponent is {}, expected f32, i32 or i64",
                                                     name, name_of(b.type())));
        const tensor e = cast(b, dtype::f32);
        return binary(op, a, e.view());
    }
    if (a.type() != b.type())
        fail(status::dtype_mismatch, fmt::format("{}: operands are {} and {}; they must be equal",
                                                 name, name_of(a.type()), name_of(b.type())));
    switch (a.type()) {
    case dtype::f32:
        switch (op) {
        case binary_op::add:
            return broadcast_apply<float, float, float>(a, b, dtype::f32, name,
                                                        [](float x, float y) { return x + y; });
        case binary_op::sub:
            return broadcast_apply<float, float, float>(a, b, dtype::f32, name,
                                                        [](float x, float y) { return x - y; });
        case binary_op::mul:
            return broadcast_apply<float, float, float>(a, b, dtype::f32, name,
                                                        [](float x, float y) { return x * y; });
        case binary_op::div:
            return broadcast_apply<float, float, float>(a, b, dtype::f32, name,
                                                        [](float x, float y) { return x / y; });
        case binary_op::pow:
            return broadcast_apply<float, float, float>(a, b, dtype::f32, name,
                                                        [](float x, float y) {
                                                            if (y == 2.0f) return x * x;
                                                            if (y == 0.5f) return std::sqrt(x);
                                                            return std::pow(x, y);
                                                        });
        }
        break;
    case dtype::i32: return integer_binary<std::int32_t>(op, a, b);
    case dtype::i64: return integer_binary<std::int64_t>(op, a, b);
    default: break;
    }
    fail(status::dtype_mismatch,
         fmt::format("{}: dtype {} is not supported (f32, i32, i64)", name, name_of(a.type())));
}

tensor add(const_tensor_view a, const_tensor_view b) { return binary(binary_op::add, a, b); }
tensor sub(const_tensor_view a, const_tensor_view b) { return binary(binary_op::sub, a, b); }
tensor mul(const_tensor_view a, const_tensor_view b) { return binary(binary_op::mul, a, b); }
tensor div(const_tensor_view a, const_tensor_view b) { return binary(binary_op::div, a, b); }
tensor pow(const_tensor_view a, const_tensor_view b) { return binary(binary_op::pow, a, b); }

tensor equal(const_tensor_view a, const_tensor_view b) {
    if (a.type() != b.type())
        fail(status::dtype_mismatch, fmt::format("ops::equal: operands are {} and {}",
                                                 name_of(a.type()), name_of(b.type())));
    switch (a.type()) {
    case dtype::f32:
        return broadcast_apply<float, float, bool>(a, b, dtype::boolean, "ops::equal",
                                                   [](float x, float y) { return x == y; });
    case dtype::i32:
        return broadcast_apply<std::int32_t, std::int32_t, bool>(
            a, b, dtype::boolean, "ops::equal",
            [](std::int32_t x, std::int32_t y) { return x == y; });
    case dtype::i64:
        return broadcast_apply<std::int64_t, std::int64_t, bool>(
            a, b, dtype::boolean, "ops::equal",
            [](std::int64_t x, std::int64_t y) { return x == y; });
    case dtype::boolean: {
        // Read bool storage as bytes: any non-zero byte is true.
        return broadcast_apply<std::uint8_t, std::uint8_t, bool>(
            a, b, dtype::boolean, "ops::equal",
            [](std::uint8_t x, std::uint8_t y) { return (x != 0) == (y != 0); });
    }
    default: break;
    }
    fail(status::dtype_mismatch, fmt::format("ops::equal: dtype {} is not supported (f32, i32, "
                                             "i64, bool)",
                                             name_of(a.type())));
}

tensor where(const_tensor_view cond, const_tensor_view x, const_tensor_view y) {
    const char* op = "ops::where";
    if (cond.type() != dtype::boolean)
        fail(status::dtype_mismatch,
             fmt::format("{}: condition is {}, expected bool", op, name_of(cond.type())));
    if (x.type() != y.type())
        fail(status::dtype_mismatch, fmt::format("{}: X is {} and Y is {}; they must be equal", op,
                                                 name_of(x.type()), name_of(y.type())));
    detail::require_byte_addressable(x, op, "X");
    const shape out_shape =
        broadcast_shapes(broadcast_shapes(cond.dims(), x.dims(), op), y.dims(), op);
    tensor out = new_result(x.type(), out_shape);
    const auto vc = broadcast_view(cond, out_shape, op);
    const auto vx = broadcast_view(x, out_shape, op);
    const auto vy = broadcast_view(y, out_shape, op);
    const std::size_t es = size_of(x.type());
    const auto* pc = static_cast<const std::uint8_t*>(vc.data());
    const auto* px = vx.bytes();
    const auto* py = vy.bytes();
    auto* pd = static_cast<std::byte*>(out.data());
    for_each_row<3>(out_shape, {vc.strides(), vx.strides(), vy.strides()},
                    [&](std::int64_t row, const std::array<std::int64_t, 3>& off,
                        const std::array<std::int64_t, 3>& st, std::int64_t inner) {
                        std::byte* d = pd + static_cast<std::size_t>(row * inner) * es;
                        for (std::int64_t i = 0; i < inner; ++i) {
                            const bool c = pc[off[0] + i * st[0]] != 0;
                            const std::byte* s =
                                c ? px + static_cast<std::size_t>(off[1] + i * st[1]) * es
                                  : py + static_cast<std::size_t>(off[2] + i * st[2]) * es;
                            std::memcpy(d + static_cast<std::size_t>(i) * es, s, es);
                        }
                    });
    return out;
}

// ---- unary --------------------------------------------------------------------------------------

namespace {

float sigmoid_of(float v) {
    if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
    const float e = std::exp(v);
    return e / (1.0f + e);
}

} // namespace

tensor sqrt(const_tensor_view x) {
    return unary_apply(x, "ops::sqrt", [](float v) { return std::sqrt(v); });
}
tensor relu(const_tensor_view x) {
    return unary_apply(x, "ops::relu", [](float v) { return v < 0.0f ? 0.0f : v; });
}
tensor leaky_relu(const_tensor_view x, float alpha) {
    return unary_apply(x, "ops::leaky_relu",
                       [alpha](float v) { return v >= 0.0f ? v : alpha * v; });
}
tensor sigmoid(const_tensor_view x) { return unary_apply(x, "ops::sigmoid", sigmoid_of); }
tensor hard_sigmoid(const_tensor_view x, float alpha, float beta) {
    return unary_apply(x, "ops::hard_sigmoid", [alpha, beta](float v) {
        const float y = alpha * v + beta;
        return std::isnan(y) ? y : std::min(1.0f, std::max(0.0f, y));
    });
}
tensor hard_swish(const_tensor_view x) {
    return unary_apply(x, "ops::hard_swish", [](float v) {
        const float y = v * (1.0f / 6.0f) + 0.5f;
        return std::isnan(y) ? y : v * std::min(1.0f, std::max(0.0f, y));
    });
}
tensor tanh(const_tensor_view x) {
    return unary_apply(x, "ops::tanh", [](float v) { return std::tanh(v); });
}
tensor erf(const_tensor_view x) {
    return unary_apply(x, "ops::erf", [](float v) { return std::erf(v); });
}
tensor gelu(const_tensor_view x, gelu_approximation approximation) {
    if (approximation == gelu_approximation::tanh)
        return unary_apply(x, "ops::gelu", [](float v) {
            const double d = v;
            const double inner = 0.7978845608028654 * (d + 0.044715 * d * d * d);
            return static_cast<float>(0.5 * d * (1.0 + std::tanh(inner)));
        });
    return unary_apply(x, "ops::gelu", [](float v) {
        const double d = v;
        return static_cast<float>(0.5 * d * (1.0 + std::erf(d * 0.7071067811865476)));
    });
}
tensor clip(const_tensor_view x, float lo, float hi) {
    if (std::isnan(lo) || std::isnan(hi))
        fail(status::invalid_argument, "ops::clip: min or max is NaN");
    return unary_apply(x, "ops::clip", [lo, hi](float v) {
        if (std::isnan(v)) return v;
        return std::min(std::max(v, lo), hi);
    });
}

// ---- cast ---------------------------------------------------------------------------------------

namespace {

template <class T> double to_double(T v) {
    if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16>)
        return static_cast<double>(to_float(v));
    else
        return static_cast<double>(v);
}

template <class S, class D> D convert(S v) {
    if constexpr (std::is_same_v<S, D>) {
        return v;
    } else if constexpr (std::is_same_v<D, bool>) {
        if constexpr (std::is_same_v<S, half> || std::is_same_v<S, bfloat16>)
            return to_float(v) != 0.0f || std::isnan(to_float(v));
        else if constexpr (std::is_floating_point_v<S>)
            return v != 0 || std::isnan(v);
        else
            return v != 0;
    } else if constexpr (std::is_same_v<S, bool>) {
        if constexpr (std::is_same_v<D, half>)
            return to_half(v ? 1.0f : 0.0f);
        else if constexpr (std::is_same_v<D, bfloat16>)
            return to_bfloat16(v ? 1.0f : 0.0f);
        else
            return static_cast<D>(v ? 1 : 0);
    } else if constexpr (std::is_same_v<D, half> || std::is_same_v<D, bfloat16>) {
        float f;
        if constexpr (std::is_same_v<S, half> || std::is_same_v<S, bfloat16>)
            f = to_float(v);
        else
            f = static_cast<float>(v);
        if constexpr (std::is_same_v<D, half>)
            return to_half(f);
        else
            return to_bfloat16(f);
    } else if constexpr (std::is_same_v<D, float>) {
        if constexpr (std::is_same_v<S, half> || std::is_same_v<S, bfloat16>)
            return to_float(v);
        else
            return static_cast<float>(v);
    } else { // D integer
        constexpr bool src_float =
            std::is_same_v<S, float> || std::is_same_v<S, half> || std::is_same_v<S, bfloat16>;
        if constexpr (src_float) {
            const double d = std::trunc(to_double(v));
            if (std::isnan(d)) return D{0};
            constexpr auto lo = static_cast<double>(std::numeric_limits<D>::min());
            constexpr auto hi = static_cast<double>(std::numeric_limits<D>::max());
            if (d <= lo) return std::numeric_limits<D>::min();
            if (d >= hi) return std::numeric_limits<D>::max();
            return static_cast<D>(d);
        } else {
            // Two's-complement wrap through the unsigned type of the target width.
            using U = std::make_unsigned_t<D>;
            return static_cast<D>(static_cast<U>(static_cast<std::uint64_t>(v)));
        }
    }
}

} // namespace

tensor cast(const_tensor_view x, dtype to) {
    detail::require_byte_addressable(x, "ops::cast", "input");
    if (is_packed(to) || !is_valid(to))
        fail(status::dtype_mismatch,
             fmt::format("ops::cast: target dtype {} is not supported", name_of(to)));
    const tensor src = tensor::copy_of(x);
    if (to == x.type()) return src.clone();
    tensor out = new_result(to, x.dims());
    const std::int64_t n = x.numel();
    detail::visit_dtype(x.type(), [&]<class S>() {
        detail::visit_dtype(to, [&]<class D>() {
            const auto* s = static_cast<const S*>(src.data());
            auto* d = static_cast<D*>(out.data());
            if constexpr (std::is_same_v<S, bool>) {
                // bool storage may hold any non-zero byte from a wrapped buffer.
                const auto* b = static_cast<const std::uint8_t*>(src.data());
                for (std::int64_t i = 0; i < n; ++i)
                    d[i] = convert<bool, D>(b[i] != 0);
            } else {
                for (std::int64_t i = 0; i < n; ++i)
                    d[i] = convert<S, D>(s[i]);
            }
        });
    });
    return out;
}

} // namespace hone::ops
