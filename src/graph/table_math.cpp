// Elementwise math, reductions and normalizations run through the executor's op table: the
// attributes and constant inputs of each node parsed once, the output dims inferred at load.
// The operators themselves are in ops/math.hpp and ops/reduce.hpp.
#include "op_table.hpp"
#include "ops/common.hpp"
#include "ops/math.hpp"
#include "ops/reduce.hpp"

#include <cmath>
#include <optional>

namespace hone::op_table {

namespace {

using unary_fn = tensor (*)(const_tensor_view);
using binary_fn = tensor (*)(const_tensor_view, const_tensor_view);
using variadic_fn = tensor (*)(std::span<const const_tensor_view>);

// ---- shape functions ----------------------------------------------------------------------------

std::vector<partial_shape> shape_of_input0(const context& c) {
    if (const auto* s = c.shape(0)) return {*s};
    return {};
}

// The numpy broadcast of two partially known shapes; std::nullopt when two known dims clash
// (the kernel reports that at run time, naming both shapes).
std::optional<partial_shape> broadcast_partial(const partial_shape& a, const partial_shape& b) {
    const std::size_t r = std::max(a.size(), b.size());
    partial_shape s(r);
    for (std::size_t k = 0; k < r; ++k) {
        const auto da = k + a.size() >= r ? a[k + a.size() - r] : 1;
        const auto db = k + b.size() >= r ? b[k + b.size() - r] : 1;
        if (da == 1 || da == db)
            s[k] = db;
        else if (db == 1)
            s[k] = da;
        else if (da == -1 || db == -1) // the unknown one must be 1 or equal to the other
            s[k] = da == -1 ? db : da;
        else
            return std::nullopt;
    }
    return s;
}

// All inputs broadcast together.
std::vector<partial_shape> broadcast_inputs(const context& c) {
    std::optional<partial_shape> s;
    for (std::size_t i = 0; i < c.n.inputs.size(); ++i) {
        const auto* si = c.shape(i);
        if (!si) return {};
        s = s ? broadcast_partial(*s, *si) : std::optional<partial_shape>(*si);
        if (!s) return {};
    }
    if (!s) return {};
    return {*s};
}

// The dims left after reducing `axes` of a tensor of dims `x` (ONNX Reduce*, ArgMax, ...).
partial_shape reduced_dims(const partial_shape& x, std::span<const std::int64_t> axes,
                           bool keepdims, bool noop, const std::string& label) {
    const std::string what = label + ": attribute/input 'axes'";
    std::vector<bool> reduced(x.size(), axes.empty() && !noop);
    for (const auto axis : axes) {
        const auto a = static_cast<std::size_t>(ops::normalize_axis(axis, x.size(), what.c_str()));
        if (reduced[a])
            fail(status::invalid_argument, fmt::format("{}: axis {} is repeated", what, axis));
        reduced[a] = true;
    }
    partial_shape out;
    for (std::size_t d = 0; d < x.size(); ++d)
        if (!reduced[d])
            out.push_back(x[d]);
        else if (keepdims)
            out.push_back(1);
    return out;
}

// ---- entry builders ----------------------------------------------------------------------------

// One input, same dims out. `make(c)` parses the attributes and returns the function of input 0.
template <class Make> entry keep_shape(const char* path, Make make) {
    entry e;
    e.path = path;
    e.compile = [path, make](const context& c) {
        auto f = make(c);
        return one_output(
            [path, f](std::span<const optional_view> in) { return f(required(in, 0, path)); });
    };
    e.infer = shape_of_input0;
    return e;
}
entry keep_shape(const char* path, unary_fn f) {
    return keep_shape(path, [f](const context&) { return f; });
}

// An f32 → f32 elementwise operator without attributes, keeping the input's shape.
template <class F> entry unary(const char* path, F f) {
    return keep_shape(path, [path, f](const context&) {
        return [path, f](const_tensor_view x) { return ops::detail::unary_apply(x, path, f); };
    });
}

// Two inputs broadcast numpy-style; `make(c)` returns the function of inputs 0 and 1.
template <class Make> entry broadcasting(const char* path, Make make) {
    entry e;
    e.path = path;
    e.compile = [path, make](const context& c) {
        auto f = make(c);
        return one_output([path, f](std::span<const optional_view> in) {
            return f(required(in, 0, path), required(in, 1, path));
        });
    };
    e.infer = broadcast_inputs;
    return e;
}
entry broadcasting(const char* path, binary_fn f) {
    return broadcasting(path, [f](const context&) { return f; });
}

// 1..N inputs broadcast together (Min, Max, Sum, Mean).
entry variadic(const char* path, variadic_fn f) {
    entry e;
    e.path = path;
    e.compile = [path, f](const context& c) {
        if (c.n.inputs.empty())
            fail(status::invalid_argument, fmt::format("{}: no inputs (1 or more)", c.label));
        return one_output([path, f](std::span<const optional_view> in) {
            std::vector<const_tensor_view> v;
            for (std::size_t i = 0; i < in.size(); ++i)
                v.push_back(required(in, i, path));
            return f(v);
        });
    };
    e.infer = broadcast_inputs;
    return e;
}

// The node's float attribute `name`, which must be finite.
float finite_float(const context& c, const char* name, float fallback) {
    const float v = c.n.get_float(name, fallback);
    if (!std::isfinite(v))
        fail(status::invalid_argument,
             fmt::format("{}: attribute '{}' is {}, expected a finite value", c.label, name, v));
    return v;
}

// ---- reductions --------------------------------------------------------------------------------

// Axes of a Reduce* node: the attribute (opset < 18; ReduceSum < 13) or input 1 (opset 18;
// ReduceSum 13). A constant input is read once; a computed one at each run (nullopt here).
std::optional<std::vector<std::int64_t>> fixed_axes(const context& c) {
    const bool has_input = c.n.inputs.size() > 1 && !c.n.inputs[1].empty();
    if (!has_input) return c.n.get_ints("axes", {});
    if (c.n.has("axes"))
        fail(status::invalid_argument,
             fmt::format("{}: 'axes' given both as attribute and as input", c.label));
    if (const auto v = c.constant(1)) return ops::to_int64_vector(*v, c.label.c_str(), "axes");
    return std::nullopt;
}

std::vector<std::int64_t> axes_at_run(const std::optional<std::vector<std::int64_t>>& fixed,
                                      std::span<const optional_view> in, const char* path) {
    if (fixed) return *fixed;
    return ops::to_int64_vector(required(in, 1, path), path, "axes");
}

entry reduction(ops::reduce_op op, const char* path) {
    entry e;
    e.path = path;
    e.compile = [op, path](const context& c) {
        const auto axes = fixed_axes(c);
        const bool keep = c.n.get_int("keepdims", 1) != 0;
        const bool noop = c.n.get_int("noop_with_empty_axes", 0) != 0;
        if (const auto* x = c.shape(0); x && axes)
            (void)reduced_dims(*x, *axes, keep, noop, c.label);
        return one_output([op, path, axes, keep, noop](std::span<const optional_view> in) {
            return ops::reduce(op, required(in, 0, path), axes_at_run(axes, in, path), keep, noop);
        });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        const auto* x = c.shape(0);
        const auto axes = fixed_axes(c);
        if (!x || !axes) return {};
        return {reduced_dims(*x, *axes, c.n.get_int("keepdims", 1) != 0,
                             c.n.get_int("noop_with_empty_axes", 0) != 0, c.label)};
    };
    return e;
}

entry arg_reduction(bool is_max, const char* path) {
    entry e;
    e.path = path;
    e.compile = [is_max, path](const context& c) {
        const auto axis = c.n.get_int("axis", 0);
        const bool keep = c.n.get_int("keepdims", 1) != 0;
        const bool last = c.n.get_int("select_last_index", 0) != 0;
        if (const auto* x = c.shape(0))
            (void)reduced_dims(*x, std::vector{axis}, keep, false, c.label);
        return one_output([=](std::span<const optional_view> in) {
            const auto x = required(in, 0, path);
            return is_max ? ops::arg_max(x, axis, keep, last) : ops::arg_min(x, axis, keep, last);
        });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        const auto* x = c.shape(0);
        if (!x) return {};
        return {reduced_dims(*x, std::vector{c.n.get_int("axis", 0)},
                             c.n.get_int("keepdims", 1) != 0, false, c.label)};
    };
    return e;
}

// CumSum's axis: a scalar (or one-element) i32/i64 input.
std::int64_t axis_value(const_tensor_view v, const char* op) {
    if (v.numel() != 1 || v.rank() > 1)
        fail(status::shape_mismatch, fmt::format("{}: input 'axis' has shape {}, expected a scalar",
                                                 op, v.dims().to_string()));
    return ops::to_int64_vector(v, op, "axis")[0];
}

entry cum_sum() {
    const char* path = "ops::cum_sum";
    entry e;
    e.path = path;
    e.compile = [path](const context& c) {
        const bool exclusive = c.n.get_int("exclusive", 0) != 0;
        const bool reverse = c.n.get_int("reverse", 0) != 0;
        std::optional<std::int64_t> axis;
        if (const auto v = c.constant(1)) {
            axis = axis_value(*v, c.label.c_str());
            if (const auto* x = c.shape(0))
                (void)ops::normalize_axis(*axis, x->size(), c.label.c_str());
        }
        return one_output([=](std::span<const optional_view> in) {
            const auto a = axis ? *axis : axis_value(required(in, 1, path), path);
            return ops::cum_sum(required(in, 0, path), a, exclusive, reverse);
        });
    };
    e.infer = shape_of_input0;
    return e;
}

// ---- normalizations ----------------------------------------------------------------------------

entry instance_normalization() {
    const char* path = "ops::instance_normalization";
    entry e;
    e.path = path;
    e.compile = [path](const context& c) {
        const float eps = finite_float(c, "epsilon", 1e-5f);
        return one_output([path, eps](std::span<const optional_view> in) {
            return ops::instance_normalization(required(in, 0, path), required(in, 1, path),
                                               required(in, 2, path), eps);
        });
    };
    e.infer = shape_of_input0;
    return e;
}

entry group_normalization() {
    const char* path = "ops::group_normalization";
    entry e;
    e.path = path;
    e.compile = [path](const context& c) {
        if (!c.n.has("num_groups"))
            fail(status::invalid_argument,
                 fmt::format("{}: attribute 'num_groups' is required", c.label));
        const auto groups = c.n.get_int("num_groups", 1);
        if (groups < 1)
            fail(status::invalid_argument,
                 fmt::format("{}: attribute 'num_groups' is {}, expected ≥ 1", c.label, groups));
        const float eps = finite_float(c, "epsilon", 1e-5f);
        // Scale and bias per group (opset 18) or per channel (opset 21): when the channels are
        // known at load, a constant of any other length is an error now rather than at run.
        const auto* x = c.shape(0);
        if (x && x->size() >= 2 && (*x)[1] >= 0)
            for (std::size_t i : {1, 2})
                if (const auto v = c.constant(i);
                    v && !(v->rank() == 1 && (v->dims()[0] == (*x)[1] || v->dims()[0] == groups)))
                    fail(status::shape_mismatch,
                         fmt::format("{}: input '{}' has shape {}, expected [{}] (per channel, "
                                     "opset 21) or [{}] (per group, opset 18)",
                                     c.label, i == 1 ? "scale" : "bias", v->dims().to_string(),
                                     (*x)[1], groups));
        return one_output([path, groups, eps](std::span<const optional_view> in) {
            return ops::group_normalization(required(in, 0, path), required(in, 1, path),
                                            required(in, 2, path), groups, eps);
        });
    };
    e.infer = shape_of_input0;
    return e;
}

entry lp_normalization() {
    return keep_shape("ops::lp_normalization", [](const context& c) {
        const auto axis = c.n.get_int("axis", -1);
        const auto p = c.n.get_int("p", 2);
        if (p != 1 && p != 2)
            fail(status::invalid_argument,
                 fmt::format("{}: attribute 'p' is {}, expected 1 or 2", c.label, p));
        if (const auto* x = c.shape(0)) (void)ops::normalize_axis(axis, x->size(), c.label.c_str());
        return [axis, p](const_tensor_view x) { return ops::lp_normalization(x, axis, p); };
    });
}

} // namespace

void add_math_ops(table& t) {
    t["Exp"] = unary("ops::exp", [](float v) { return std::exp(v); });
    t["Log"] = unary("ops::log", [](float v) { return std::log(v); });
    t["Neg"] = unary("ops::neg", [](float v) { return -v; });
    t["Abs"] = unary("ops::abs", [](float v) { return std::fabs(v); });

    // Unary f32.
    t["Reciprocal"] = keep_shape("ops::reciprocal", ops::reciprocal);
    t["Floor"] = keep_shape("ops::floor", ops::floor);
    t["Ceil"] = keep_shape("ops::ceil", ops::ceil);
    t["Round"] = keep_shape("ops::round", ops::round);
    t["Sign"] = keep_shape("ops::sign", ops::sign);
    t["Sin"] = keep_shape("ops::sin", ops::sin);
    t["Cos"] = keep_shape("ops::cos", ops::cos);
    t["Tan"] = keep_shape("ops::tan", ops::tan);
    t["Atan"] = keep_shape("ops::atan", ops::atan);
    t["Softplus"] = keep_shape("ops::softplus", ops::softplus);
    t["Softsign"] = keep_shape("ops::softsign", ops::softsign);
    t["Mish"] = keep_shape("ops::mish", ops::mish);
    t["Elu"] = keep_shape("ops::elu", [](const context& c) {
        const float alpha = finite_float(c, "alpha", 1.0f);
        return [alpha](const_tensor_view x) { return ops::elu(x, alpha); };
    });
    t["Selu"] = keep_shape("ops::selu", [](const context& c) {
        const float alpha = finite_float(c, "alpha", 1.67326319217681884765625f);
        const float gamma = finite_float(c, "gamma", 1.05070102214813232421875f);
        return [alpha, gamma](const_tensor_view x) { return ops::selu(x, alpha, gamma); };
    });
    t["Celu"] = keep_shape("ops::celu", [](const context& c) {
        const float alpha = finite_float(c, "alpha", 1.0f);
        if (alpha == 0.0f)
            fail(status::invalid_argument,
                 fmt::format("{}: attribute 'alpha' is 0; Celu divides by it", c.label));
        return [alpha](const_tensor_view x) { return ops::celu(x, alpha); };
    });
    t["ThresholdedRelu"] = keep_shape("ops::thresholded_relu", [](const context& c) {
        const float alpha = c.n.get_float("alpha", 1.0f);
        if (std::isnan(alpha))
            fail(status::invalid_argument, fmt::format("{}: attribute 'alpha' is NaN", c.label));
        return [alpha](const_tensor_view x) { return ops::thresholded_relu(x, alpha); };
    });
    // Predicates and logic.
    t["IsNaN"] = keep_shape("ops::is_nan", ops::is_nan);
    t["IsInf"] = keep_shape("ops::is_inf", [](const context& c) {
        const bool neg = c.n.get_int("detect_negative", 1) != 0;
        const bool pos = c.n.get_int("detect_positive", 1) != 0;
        return [neg, pos](const_tensor_view x) { return ops::is_inf(x, neg, pos); };
    });
    t["Not"] = keep_shape("ops::logical_not", ops::logical_not);
    t["And"] = broadcasting("ops::logical_and", ops::logical_and);
    t["Or"] = broadcasting("ops::logical_or", ops::logical_or);
    t["Xor"] = broadcasting("ops::logical_xor", ops::logical_xor);
    t["Less"] = broadcasting("ops::less", ops::less);
    t["Greater"] = broadcasting("ops::greater", ops::greater);
    t["LessOrEqual"] = broadcasting("ops::less_or_equal", ops::less_or_equal);
    t["GreaterOrEqual"] = broadcasting("ops::greater_or_equal", ops::greater_or_equal);
    // Binary arithmetic.
    t["Mod"] = broadcasting("ops::mod", [](const context& c) {
        const bool fmod = c.n.get_int("fmod", 0) != 0;
        return [fmod](const_tensor_view a, const_tensor_view b) { return ops::mod(a, b, fmod); };
    });
    t["PRelu"] = broadcasting("ops::prelu", ops::prelu);
    t["PRelu"].infer = shape_of_input0; // the slope broadcasts to X, never the reverse
    // Variadic.
    t["Min"] = variadic("ops::min", ops::min);
    t["Max"] = variadic("ops::max", ops::max);
    t["Sum"] = variadic("ops::sum", ops::sum);
    t["Mean"] = variadic("ops::mean", ops::mean);
    // Reductions.
    using ops::reduce_op;
    t["ReduceSum"] = reduction(reduce_op::sum, "ops::reduce_sum");
    t["ReduceMax"] = reduction(reduce_op::max, "ops::reduce_max");
    t["ReduceMin"] = reduction(reduce_op::min, "ops::reduce_min");
    t["ReduceProd"] = reduction(reduce_op::prod, "ops::reduce_prod");
    t["ReduceL1"] = reduction(reduce_op::l1, "ops::reduce_l1");
    t["ReduceL2"] = reduction(reduce_op::l2, "ops::reduce_l2");
    t["ReduceSumSquare"] = reduction(reduce_op::sum_square, "ops::reduce_sum_square");
    t["ReduceLogSum"] = reduction(reduce_op::log_sum, "ops::reduce_log_sum");
    t["ReduceLogSumExp"] = reduction(reduce_op::log_sum_exp, "ops::reduce_log_sum_exp");
    t["ArgMax"] = arg_reduction(true, "ops::arg_max");
    t["ArgMin"] = arg_reduction(false, "ops::arg_min");
    t["CumSum"] = cum_sum();
    // Normalizations.
    t["InstanceNormalization"] = instance_normalization();
    t["GroupNormalization"] = group_normalization();
    t["LpNormalization"] = lp_normalization();
}

} // namespace hone::op_table
