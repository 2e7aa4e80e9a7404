// Elementwise math (see math.hpp): unary activations, predicates, comparisons, logic, Mod,
// PRelu and the variadic Min/Max/Sum/Mean.
#include "math.hpp"

#include "common.hpp"

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace hone::ops {

using detail::broadcast_apply;
using detail::require_f32;
using detail::unary_apply;

namespace {

// ln(1 + e^v) without overflow.
float softplus_of(float v) {
    return v > 0.0f ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

// dst[i] = f(x[i]) for an f32 x and a bool result.
template <class F> tensor f32_predicate(const_tensor_view x, const char* op, F f) {
    require_f32(x, op, "X");
    const detail::contiguous_f32 src(x);
    tensor out(dtype::boolean, x.dims());
    auto* d = static_cast<bool*>(out.data());
    const std::int64_t n = x.numel();
    const int threads = detail::threads_for(n);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t i = 0; i < n; ++i)
        d[i] = f(src.data[i]);
    return out;
}

void require_same_dtype(const_tensor_view a, const_tensor_view b, const char* op) {
    if (a.type() != b.type())
        fail(status::dtype_mismatch, fmt::format("{}: operands are {} and {}; they must be equal",
                                                 op, name_of(a.type()), name_of(b.type())));
}

} // namespace

// ---- unary -------------------------------------------------------------------------------------

tensor reciprocal(const_tensor_view x) {
    return unary_apply(x, "ops::reciprocal", [](float v) { return 1.0f / v; });
}
tensor floor(const_tensor_view x) {
    return unary_apply(x, "ops::floor", [](float v) { return std::floor(v); });
}
tensor ceil(const_tensor_view x) {
    return unary_apply(x, "ops::ceil", [](float v) { return std::ceil(v); });
}
tensor round(const_tensor_view x) {
    // Independent of the floating-point environment's rounding mode: std::round rounds halves
    // away from zero; exact halves go to the even neighbour instead (v/2 is exact).
    return unary_apply(x, "ops::round", [](float v) {
        if (std::fabs(v - std::trunc(v)) == 0.5f) return 2.0f * std::round(v * 0.5f);
        return std::round(v);
    });
}
tensor sign(const_tensor_view x) {
    return unary_apply(x, "ops::sign", [](float v) {
        if (std::isnan(v)) return v;
        return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
    });
}
tensor sin(const_tensor_view x) {
    return unary_apply(x, "ops::sin", [](float v) { return std::sin(v); });
}
tensor cos(const_tensor_view x) {
    return unary_apply(x, "ops::cos", [](float v) { return std::cos(v); });
}
tensor tan(const_tensor_view x) {
    return unary_apply(x, "ops::tan", [](float v) { return std::tan(v); });
}
tensor atan(const_tensor_view x) {
    return unary_apply(x, "ops::atan", [](float v) { return std::atan(v); });
}
tensor elu(const_tensor_view x, float alpha) {
    return unary_apply(x, "ops::elu",
                       [alpha](float v) { return v >= 0.0f ? v : alpha * std::expm1(v); });
}
tensor selu(const_tensor_view x, float alpha, float gamma) {
    return unary_apply(x, "ops::selu", [alpha, gamma](float v) {
        return gamma * (v > 0.0f ? v : alpha * std::expm1(v));
    });
}
tensor celu(const_tensor_view x, float alpha) {
    if (alpha == 0.0f || std::isnan(alpha))
        fail(status::invalid_argument,
             fmt::format("ops::celu: alpha is {}; it must be non-zero", alpha));
    return unary_apply(x, "ops::celu", [alpha](float v) {
        if (std::isnan(v)) return v;
        return std::max(0.0f, v) + std::min(0.0f, alpha * std::expm1(v / alpha));
    });
}
tensor softplus(const_tensor_view x) {
    return unary_apply(x, "ops::softplus", [](float v) { return softplus_of(v); });
}
tensor softsign(const_tensor_view x) {
    return unary_apply(x, "ops::softsign", [](float v) { return v / (1.0f + std::fabs(v)); });
}
tensor mish(const_tensor_view x) {
    // tanh(ln(1 + n)) with n = e^x is ((1 + n)² − 1) / ((1 + n)² + 1) = p / (p + 2), p = n(n + 2):
    // one exp. Above x = 20 the factor is 1 in float (1 − 2e−17), and n² would overflow by 44.
    return unary_apply(x, "ops::mish", [](float v) {
        if (v > 20.0f) return v;
        const float n = std::exp(v);
        const float p = n * (n + 2.0f);
        return v * p / (p + 2.0f);
    });
}
tensor thresholded_relu(const_tensor_view x, float alpha) {
    return unary_apply(x, "ops::thresholded_relu",
                       [alpha](float v) { return v > alpha ? v : 0.0f; });
}

// ---- predicates and Not ------------------------------------------------------------------------

tensor is_nan(const_tensor_view x) {
    return f32_predicate(x, "ops::is_nan", [](float v) { return std::isnan(v); });
}
tensor is_inf(const_tensor_view x, bool detect_negative, bool detect_positive) {
    return f32_predicate(x, "ops::is_inf", [detect_negative, detect_positive](float v) {
        return std::isinf(v) && (v > 0 ? detect_positive : detect_negative);
    });
}
tensor logical_not(const_tensor_view x) {
    if (x.type() != dtype::boolean)
        fail(status::dtype_mismatch,
             fmt::format("ops::logical_not: input 'X' is {}, expected bool", name_of(x.type())));
    const tensor src = tensor::copy_of(x);
    tensor out(dtype::boolean, x.dims());
    const auto* s = static_cast<const std::uint8_t*>(src.data());
    auto* d = static_cast<bool*>(out.data());
    for (std::int64_t i = 0; i < x.numel(); ++i)
        d[i] = s[i] == 0;
    return out;
}

// ---- comparisons, logic ------------------------------------------------------------------------

namespace {

template <class T>
tensor compare_typed(compare_op op, const_tensor_view a, const_tensor_view b, const char* name) {
    switch (op) {
    case compare_op::less:
        return broadcast_apply<T, T, bool>(a, b, dtype::boolean, name,
                                           [](T x, T y) { return x < y; });
    case compare_op::greater:
        return broadcast_apply<T, T, bool>(a, b, dtype::boolean, name,
                                           [](T x, T y) { return x > y; });
    case compare_op::less_or_equal:
        return broadcast_apply<T, T, bool>(a, b, dtype::boolean, name,
                                           [](T x, T y) { return x <= y; });
    case compare_op::greater_or_equal:
        return broadcast_apply<T, T, bool>(a, b, dtype::boolean, name,
                                           [](T x, T y) { return x >= y; });
    }
    fail(status::invalid_argument, fmt::format("{}: unknown comparison", name));
}

const char* compare_name(compare_op op) {
    switch (op) {
    case compare_op::less: return "ops::less";
    case compare_op::greater: return "ops::greater";
    case compare_op::less_or_equal: return "ops::less_or_equal";
    case compare_op::greater_or_equal: return "ops::greater_or_equal";
    }
    return "ops::compare";
}

} // namespace

tensor compare(compare_op op, const_tensor_view a, const_tensor_view b) {
    const char* name = compare_name(op);
    require_same_dtype(a, b, name);
    switch (a.type()) {
    case dtype::f32: return compare_typed<float>(op, a, b, name);
    case dtype::i32: return compare_typed<std::int32_t>(op, a, b, name);
    case dtype::i64: return compare_typed<std::int64_t>(op, a, b, name);
    default: break;
    }
    fail(status::dtype_mismatch,
         fmt::format("{}: dtype {} is not supported (f32, i32, i64)", name, name_of(a.type())));
}
tensor less(const_tensor_view a, const_tensor_view b) { return compare(compare_op::less, a, b); }
tensor greater(const_tensor_view a, const_tensor_view b) {
    return compare(compare_op::greater, a, b);
}
tensor less_or_equal(const_tensor_view a, const_tensor_view b) {
    return compare(compare_op::less_or_equal, a, b);
}
tensor greater_or_equal(const_tensor_view a, const_tensor_view b) {
    return compare(compare_op::greater_or_equal, a, b);
}

tensor logical(logical_op op, const_tensor_view a, const_tensor_view b) {
    const char* name = op == logical_op::logical_and  ? "ops::logical_and"
                       : op == logical_op::logical_or ? "ops::logical_or"
                                                      : "ops::logical_xor";
    for (const auto* v : {&a, &b})
        if (v->type() != dtype::boolean)
            fail(status::dtype_mismatch, fmt::format("{}: input '{}' is {}, expected bool", name,
                                                     v == &a ? "A" : "B", name_of(v->type())));
    // bool storage read as bytes: any non-zero byte is true.
    using u8 = std::uint8_t;
    switch (op) {
    case logical_op::logical_and:
        return broadcast_apply<u8, u8, bool>(a, b, dtype::boolean, name,
                                             [](u8 x, u8 y) { return x != 0 && y != 0; });
    case logical_op::logical_or:
        return broadcast_apply<u8, u8, bool>(a, b, dtype::boolean, name,
                                             [](u8 x, u8 y) { return x != 0 || y != 0; });
    case logical_op::logical_xor:
        return broadcast_apply<u8, u8, bool>(a, b, dtype::boolean, name,
                                             [](u8 x, u8 y) { return (x != 0) != (y != 0); });
    }
    fail(status::invalid_argument, fmt::format("{}: unknown operator", name));
}
tensor logical_and(const_tensor_view a, const_tensor_view b) {
    return logical(logical_op::logical_and, a, b);
}
tensor logical_or(const_tensor_view a, const_tensor_view b) {
    return logical(logical_op::logical_or, a, b);
}
tensor logical_xor(const_tensor_view a, const_tensor_view b) {
    return logical(logical_op::logical_xor, a, b);
}

// ---- Mod, PRelu --------------------------------------------------------------------------------

namespace {

template <class T> tensor integer_mod(const_tensor_view a, const_tensor_view b, bool fmod) {
    const char* name = "ops::mod";
    // Divisors checked first so that the loop itself cannot fail half-way.
    const tensor divisor = tensor::copy_of(b);
    for (const T v : divisor.span<T>())
        if (v == 0) fail(status::invalid_argument, fmt::format("{}: integer divisor 0", name));
    return broadcast_apply<T, T, T>(a, b, a.type(), name, [fmod](T x, T y) {
        if (y == -1) return T{0};          // avoids MIN % -1 overflow
        const T r = static_cast<T>(x % y); // sign of the dividend (C++)
        if (fmod || r == 0 || (r < 0) == (y < 0)) return r;
        return static_cast<T>(r + y); // sign of the divisor (Python)
    });
}

} // namespace

tensor mod(const_tensor_view a, const_tensor_view b, bool fmod) {
    const char* name = "ops::mod";
    require_same_dtype(a, b, name);
    switch (a.type()) {
    case dtype::f32:
        if (!fmod)
            fail(status::invalid_argument,
                 fmt::format("{}: attribute 'fmod' is 0 for f32 inputs; ONNX requires fmod = 1 "
                             "for floating-point types",
                             name));
        return broadcast_apply<float, float, float>(
            a, b, dtype::f32, name, [](float x, float y) { return std::fmod(x, y); });
    case dtype::i32: return integer_mod<std::int32_t>(a, b, fmod);
    case dtype::i64: return integer_mod<std::int64_t>(a, b, fmod);
    default: break;
    }
    fail(status::dtype_mismatch,
         fmt::format("{}: dtype {} is not supported (f32, i32, i64)", name, name_of(a.type())));
}

tensor prelu(const_tensor_view x, const_tensor_view slope) {
    const char* name = "ops::prelu";
    require_f32(x, name, "X");
    require_f32(slope, name, "slope");
    // Unidirectional: the slope's view takes x's shape (shape_mismatch when it cannot).
    const auto s = broadcast_view(slope, x.dims(), name);
    return broadcast_apply<float, float, float>(
        x, s, dtype::f32, name, [](float v, float a) { return v < 0.0f ? a * v : v; });
}

// ---- variadic ----------------------------------------------------------------------------------

namespace {

// dst = finish(fold(step, init(v0), v1, ..., vn−1)) per element, the inputs broadcast
// numpy-style to one shape. Each output element is folded by one thread in input order.
template <class T, class D, class Acc, class Init, class Step, class Finish>
tensor variadic_apply(std::span<const const_tensor_view> in, dtype out_type, const char* op,
                      Init init, Step step, Finish finish) {
    shape dims = in[0].dims();
    for (std::size_t k = 1; k < in.size(); ++k)
        dims = broadcast_shapes(dims, in[k].dims(), op);
    std::vector<const_tensor_view> views;
    for (const auto& v : in)
        views.push_back(broadcast_view(v, dims, op));
    tensor out(out_type, dims);
    const std::int64_t total = dims.numel();
    if (total == 0) return out;
    const std::size_t rank = dims.rank();
    const std::int64_t inner = rank == 0 ? 1 : dims[rank - 1];
    const std::int64_t rows = total / inner;
    auto* pd = static_cast<D*>(out.data());
    const int threads = detail::threads_for(total * static_cast<std::int64_t>(in.size()));
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        std::vector<const T*> row_ptr(views.size());
        std::vector<std::int64_t> step_of(views.size());
        for (std::size_t k = 0; k < views.size(); ++k)
            step_of[k] = rank == 0 ? 0 : views[k].stride(rank - 1);
#pragma omp for schedule(static)
        for (std::int64_t row = 0; row < rows; ++row) {
            for (std::size_t k = 0; k < views.size(); ++k) {
                std::int64_t rest = row, off = 0;
                for (std::size_t axis = rank - (rank > 0 ? 1 : 0); axis-- > 0;) {
                    off += (rest % dims[axis]) * views[k].stride(axis);
                    rest /= dims[axis];
                }
                row_ptr[k] = static_cast<const T*>(views[k].data()) + off;
            }
            D* d = pd + row * inner;
            for (std::int64_t i = 0; i < inner; ++i) {
                Acc acc = init(row_ptr[0][i * step_of[0]]);
                for (std::size_t k = 1; k < views.size(); ++k)
                    acc = step(acc, row_ptr[k][i * step_of[k]]);
                d[i] = finish(acc);
            }
        }
    }
    return out;
}

void require_inputs(std::span<const const_tensor_view> in, const char* op) {
    if (in.empty()) fail(status::invalid_argument, fmt::format("{}: no inputs (1 or more)", op));
    for (std::size_t k = 1; k < in.size(); ++k)
        if (in[k].type() != in[0].type())
            fail(status::dtype_mismatch,
                 fmt::format("{}: input {} is {} and input 0 is {}; they must be equal", op, k,
                             name_of(in[k].type()), name_of(in[0].type())));
}

template <class T> T identity(T v) { return v; }

template <class T>
tensor extreme(std::span<const const_tensor_view> in, bool is_max, const char* op) {
    if (is_max)
        return variadic_apply<T, T, T>(
            in, in[0].type(), op, identity<T>,
            [](T a, T v) {
                if constexpr (std::is_floating_point_v<T>)
                    if (std::isnan(v)) return v; // a NaN in a stays: v > NaN is false
                return v > a ? v : a;
            },
            identity<T>);
    return variadic_apply<T, T, T>(
        in, in[0].type(), op, identity<T>,
        [](T a, T v) {
            if constexpr (std::is_floating_point_v<T>)
                if (std::isnan(v)) return v;
            return v < a ? v : a;
        },
        identity<T>);
}

template <class T> tensor wrapping_sum(std::span<const const_tensor_view> in, const char* op) {
    using U = std::make_unsigned_t<T>;
    return variadic_apply<T, T, U>(
        in, in[0].type(), op, [](T v) { return static_cast<U>(v); },
        [](U a, T v) { return static_cast<U>(a + static_cast<U>(v)); },
        [](U a) { return static_cast<T>(a); });
}

tensor extreme_of(std::span<const const_tensor_view> in, bool is_max) {
    const char* op = is_max ? "ops::max" : "ops::min";
    require_inputs(in, op);
    switch (in[0].type()) {
    case dtype::f32: return extreme<float>(in, is_max, op);
    case dtype::i32: return extreme<std::int32_t>(in, is_max, op);
    case dtype::i64: return extreme<std::int64_t>(in, is_max, op);
    default: break;
    }
    fail(status::dtype_mismatch,
         fmt::format("{}: dtype {} is not supported (f32, i32, i64)", op, name_of(in[0].type())));
}

} // namespace

tensor min(std::span<const const_tensor_view> inputs) { return extreme_of(inputs, false); }
tensor max(std::span<const const_tensor_view> inputs) { return extreme_of(inputs, true); }

tensor sum(std::span<const const_tensor_view> inputs) {
    const char* op = "ops::sum";
    require_inputs(inputs, op);
    switch (inputs[0].type()) {
    case dtype::f32:
        return variadic_apply<float, float, double>(
            inputs, dtype::f32, op, [](float v) { return static_cast<double>(v); },
            [](double a, float v) { return a + v; },
            [](double a) { return static_cast<float>(a); });
    case dtype::i32: return wrapping_sum<std::int32_t>(inputs, op);
    case dtype::i64: return wrapping_sum<std::int64_t>(inputs, op);
    default: break;
    }
    fail(status::dtype_mismatch, fmt::format("{}: dtype {} is not supported (f32, i32, i64)", op,
                                             name_of(inputs[0].type())));
}

tensor mean(std::span<const const_tensor_view> inputs) {
    const char* op = "ops::mean";
    require_inputs(inputs, op);
    require_f32(inputs[0], op, "data_0");
    const double n = static_cast<double>(inputs.size());
    return variadic_apply<float, float, double>(
        inputs, dtype::f32, op, [](float v) { return static_cast<double>(v); },
        [](double a, float v) { return a + v; },
        [n](double a) { return static_cast<float>(a / n); });
}

} // namespace hone::ops
