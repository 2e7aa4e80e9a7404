// The backward entries of the operators the trainer differentiates (see grad_table.hpp).
#include "grad_table.hpp"

#include "hone/core/error.hpp"
#include "op_table.hpp"
#include "ops/grad.hpp"
#include "ops/indexing.hpp"
#include "ops/math.hpp"

#include <fmt/format.h>

#include <limits>

namespace hone::grad_table {

namespace {

const_tensor_view value(std::span<const optional_view> v, std::size_t i, const char* what) {
    if (i >= v.size() || !v[i])
        fail(status::invalid_argument, fmt::format("{} {} is missing", what, i));
    return *v[i];
}
const_tensor_view input(const context& c, std::size_t i) { return value(c.in, i, "input"); }
const_tensor_view output(const context& c, std::size_t i) { return value(c.out, i, "output"); }
bool has(std::span<const optional_view> v, std::size_t i) { return i < v.size() && v[i]; }

std::vector<std::int64_t> ints_of(const context& c, std::size_t i, const char* what) {
    return has(c.in, i) ? ops::to_int64_vector(*c.in[i], "backward", what)
                        : std::vector<std::int64_t>{};
}

/// dL/dY of output 0 (it is there: the walk calls a node only when an output got a gradient).
const_tensor_view dy(const context& c) { return value(c.dout, 0, "dL/d output"); }

std::vector<tensor> grads(const context& c) { return std::vector<tensor>(c.in.size()); }

/// An entry whose only differentiable input is 0 and whose gradient is f(context).
template <class F> entry unary(F f) {
    return {[f](const node&) -> backward_fn {
                return [f](const context& c) {
                    auto g = grads(c);
                    g[0] = f(c);
                    return g;
                };
            },
            {0}};
}

/// An entry parsing the node first: make(node) returns the function of the context.
template <class Make> entry unary_with(Make make) {
    return {[make](const node& n) -> backward_fn {
                auto f = make(n);
                return [f](const context& c) {
                    auto g = grads(c);
                    g[0] = f(c);
                    return g;
                };
            },
            {0}};
}

/// An entry of two differentiable operands whose backward f(context) returns {da, db}.
template <class F> entry two_operands(F f) {
    return {[f](const node&) -> backward_fn {
                return [f](const context& c) {
                    auto r = f(c);
                    auto g = grads(c);
                    g[0] = std::move(r.da);
                    g[1] = std::move(r.db);
                    return g;
                };
            },
            {0, 1}};
}

entry binary(ops::binary_op op) {
    return two_operands([op](const context& c) {
        return ops::binary_backward(op, input(c, 0), input(c, 1), dy(c), c.want[0], c.want[1]);
    });
}

float clip_bound(const context& c, std::size_t i, float fallback) {
    if (!has(c.in, i)) return fallback;
    const auto v = tensor::copy_of(*c.in[i]);
    if (v.numel() != 1 || v.type() != dtype::f32)
        fail(status::unsupported, "Clip: a bound must be one f32 value");
    return v.span<float>()[0];
}

void add_linear(std::map<std::string, entry>& t) {
    t["Gemm"] = {[](const node& n) -> backward_fn {
                     const auto p = op_table::parse_gemm(n);
                     return [p](const context& c) {
                         const bool bias = has(c.in, 2);
                         const shape c_dims = bias ? c.in[2]->dims() : shape{};
                         auto r =
                             ops::gemm_backward(input(c, 0), input(c, 1), bias ? &c_dims : nullptr,
                                                dy(c), p, c.want[0], c.want[1]);
                         auto g = grads(c);
                         g[0] = std::move(r.da);
                         g[1] = std::move(r.db);
                         if (bias && c.want[2]) g[2] = std::move(r.dc);
                         return g;
                     };
                 },
                 {0, 1, 2}};
    t["MatMul"] = two_operands([](const context& c) {
        return ops::matmul_backward(input(c, 0), input(c, 1), dy(c), c.want[0], c.want[1]);
    });
    t["Conv"] = {[](const node& n) -> backward_fn {
                     const auto p = op_table::parse_conv(n);
                     return [p](const context& c) {
                         const bool bias = has(c.in, 2);
                         auto r = ops::conv_backward(input(c, 0), input(c, 1), bias, dy(c), p,
                                                     c.want[0], c.want[1]);
                         auto g = grads(c);
                         g[0] = std::move(r.dx);
                         g[1] = std::move(r.dw);
                         if (bias && c.want[2]) g[2] = std::move(r.dbias);
                         return g;
                     };
                 },
                 {0, 1, 2}};
}

void add_elementwise(std::map<std::string, entry>& t) {
    t["Add"] = binary(ops::binary_op::add);
    t["Sub"] = binary(ops::binary_op::sub);
    t["Mul"] = binary(ops::binary_op::mul);
    t["Div"] = binary(ops::binary_op::div);
    t["Pow"] = binary(ops::binary_op::pow);
    t["Relu"] = unary([](const context& c) { return ops::relu_backward(input(c, 0), dy(c)); });
    t["LeakyRelu"] = unary_with([](const node& n) {
        const float a = n.get_float("alpha", 0.01f);
        return [a](const context& c) { return ops::leaky_relu_backward(input(c, 0), dy(c), a); };
    });
    t["Sigmoid"] =
        unary([](const context& c) { return ops::sigmoid_backward(output(c, 0), dy(c)); });
    t["Tanh"] = unary([](const context& c) { return ops::tanh_backward(output(c, 0), dy(c)); });
    t["Gelu"] = unary_with([](const node& n) {
        const auto a = op_table::parse_gelu(n);
        return [a](const context& c) { return ops::gelu_backward(input(c, 0), dy(c), a); };
    });
    t["HardSigmoid"] = unary_with([](const node& n) {
        const float a = n.get_float("alpha", 0.2f), b = n.get_float("beta", 0.5f);
        return [a, b](const context& c) {
            return ops::hard_sigmoid_backward(input(c, 0), dy(c), a, b);
        };
    });
    t["HardSwish"] =
        unary([](const context& c) { return ops::hard_swish_backward(input(c, 0), dy(c)); });
    t["Clip"] = unary([](const context& c) {
        const float inf = std::numeric_limits<float>::infinity();
        return ops::clip_backward(input(c, 0), dy(c), clip_bound(c, 1, -inf),
                                  clip_bound(c, 2, inf));
    });
    t["Erf"] = unary([](const context& c) { return ops::erf_backward(input(c, 0), dy(c)); });
    t["Sqrt"] = unary([](const context& c) { return ops::sqrt_backward(output(c, 0), dy(c)); });
    t["Exp"] = unary([](const context& c) { return ops::exp_backward(output(c, 0), dy(c)); });
    t["Log"] = unary([](const context& c) { return ops::log_backward(input(c, 0), dy(c)); });
    t["Neg"] = unary([](const context& c) { return ops::neg_backward(dy(c)); });
    t["Reciprocal"] =
        unary([](const context& c) { return ops::reciprocal_backward(output(c, 0), dy(c)); });
    t["Abs"] = unary([](const context& c) { return ops::abs_backward(input(c, 0), dy(c)); });
    t["Sin"] = unary([](const context& c) { return ops::sin_backward(input(c, 0), dy(c)); });
    t["Cos"] = unary([](const context& c) { return ops::cos_backward(input(c, 0), dy(c)); });
    t["Softplus"] =
        unary([](const context& c) { return ops::softplus_backward(input(c, 0), dy(c)); });
    t["Elu"] = unary_with([](const node& n) {
        const float a = n.get_float("alpha", 1.0f);
        return [a](const context& c) { return ops::elu_backward(input(c, 0), dy(c), a); };
    });
    for (const char* op : {"Softmax", "LogSoftmax"})
        t[op] = unary_with([](const node& n) {
            const auto axis = n.get_int("axis", -1);
            const bool log = n.op_type == "LogSoftmax";
            return [axis, log](const context& c) {
                return log ? ops::log_softmax_backward(output(c, 0), dy(c), axis)
                           : ops::softmax_backward(output(c, 0), dy(c), axis);
            };
        });
    t["Where"] = {[](const node&) -> backward_fn {
                      return [](const context& c) {
                          auto r = ops::where_backward(input(c, 0), input(c, 1).dims(),
                                                       input(c, 2).dims(), dy(c));
                          auto g = grads(c);
                          g[1] = std::move(r.da);
                          g[2] = std::move(r.db);
                          return g;
                      };
                  },
                  {1, 2}};
}

void add_pooling_and_normalization(std::map<std::string, entry>& t) {
    t["MaxPool"] = unary_with([](const node& n) {
        const auto p = op_table::parse_pool(n);
        return [p](const context& c) { return ops::max_pool_backward(input(c, 0), dy(c), p); };
    });
    t["AveragePool"] = unary_with([](const node& n) {
        const auto p = op_table::parse_pool(n);
        return [p](const context& c) {
            return ops::average_pool_backward(input(c, 0).dims(), dy(c), p);
        };
    });
    t["Resize"] = unary_with([](const node& n) {
        const auto p = op_table::parse_resize(n);
        return [p](const context& c) {
            return ops::resize_backward(input(c, 0).dims(), dy(c),
                                        op_table::with_resize_inputs(p, c.in));
        };
    });
    t["GlobalAveragePool"] = unary([](const context& c) {
        return ops::global_average_pool_backward(input(c, 0).dims(), dy(c));
    });
    t["BatchNormalization"] = {
        [](const node& n) -> backward_fn {
            if (n.get_int("training_mode", 0) != 0)
                fail(status::unsupported,
                     n.label() + ": training_mode is not supported (statistics stay frozen)");
            const float eps = n.get_float("epsilon", 1e-5f);
            return [eps](const context& c) {
                auto r = ops::batch_normalization_backward(input(c, 0), input(c, 1), input(c, 3),
                                                           input(c, 4), dy(c), eps);
                auto g = grads(c);
                g[0] = std::move(r.dx);
                g[1] = std::move(r.dscale);
                g[2] = std::move(r.dbias);
                return g;
            };
        },
        {0, 1, 2}};
    t["LayerNormalization"] = {[](const node& n) -> backward_fn {
                                   const auto axis = n.get_int("axis", -1);
                                   const float eps = n.get_float("epsilon", 1e-5f);
                                   return [axis, eps](const context& c) {
                                       const bool bias = has(c.in, 2);
                                       auto r = ops::layer_normalization_backward(
                                           input(c, 0), input(c, 1), dy(c), axis, eps,
                                           bias && c.want[2]);
                                       auto g = grads(c);
                                       g[0] = std::move(r.dx);
                                       g[1] = std::move(r.dscale);
                                       if (bias) g[2] = std::move(r.dbias);
                                       return g;
                                   };
                               },
                               {0, 1, 2}};
    for (const char* op : {"ReduceMean", "ReduceSum"})
        t[op] = unary_with([](const node& n) {
            const bool mean = n.op_type == "ReduceMean";
            const bool keep = n.get_int("keepdims", 1) != 0;
            const bool noop = n.get_int("noop_with_empty_axes", 0) != 0;
            const auto attr = n.get_ints("axes", {});
            return [mean, keep, noop, attr](const context& c) {
                const auto axes = has(c.in, 1) ? ints_of(c, 1, "axes") : attr;
                const auto dims = input(c, 0).dims();
                return mean ? ops::reduce_mean_backward(dims, dy(c), axes, keep, noop)
                            : ops::reduce_sum_backward(dims, dy(c), axes, keep, noop);
            };
        });
}

void add_data_movement(std::map<std::string, entry>& t) {
    for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
        t[op] = unary(
            [](const context& c) { return ops::reshape_backward(dy(c), input(c, 0).dims()); });
    // A Cast between f32 values passes the gradient; to another type there is none.
    t["Cast"] = unary([](const context& c) {
        return input(c, 0).type() == dtype::f32 && output(c, 0).type() == dtype::f32
                   ? ops::reshape_backward(dy(c), input(c, 0).dims())
                   : tensor();
    });
    t["Expand"] =
        unary([](const context& c) { return ops::reduce_to_shape(dy(c), input(c, 0).dims()); });
    t["Transpose"] = unary_with([](const node& n) {
        const auto perm = n.get_ints("perm", {});
        return [perm](const context& c) { return ops::transpose_backward(dy(c), perm); };
    });
    t["Slice"] = unary([](const context& c) {
        return ops::slice_backward(input(c, 0).dims(), dy(c), ints_of(c, 1, "starts"),
                                   ints_of(c, 2, "ends"), ints_of(c, 3, "axes"),
                                   ints_of(c, 4, "steps"));
    });
    t["Gather"] = unary_with([](const node& n) {
        const auto axis = n.get_int("axis", 0);
        return [axis](const context& c) {
            return ops::gather_backward(input(c, 0).dims(), input(c, 1), dy(c), axis);
        };
    });
    t["Pad"] = unary_with([](const node& n) {
        if (n.get_string("mode", "constant") != "constant")
            fail(status::unsupported, n.label() + ": only Pad mode 'constant' has a backward pass");
        return [](const context& c) {
            return ops::pad_backward(input(c, 0).dims(), dy(c), ints_of(c, 1, "pads"),
                                     ints_of(c, 3, "axes"));
        };
    });
    t["Concat"] = {[](const node& n) -> backward_fn {
                       const auto axis = n.get_int("axis", 0);
                       return [axis](const context& c) {
                           std::vector<shape> dims;
                           for (std::size_t i = 0; i < c.in.size(); ++i)
                               dims.push_back(input(c, i).dims());
                           return ops::concat_backward(dy(c), dims, axis);
                       };
                   },
                   {},
                   true};
    t["Split"] = unary_with([](const node& n) {
        const auto axis = n.get_int("axis", 0);
        return [axis](const context& c) {
            const auto x = input(c, 0);
            const auto a = ops::normalize_axis(axis, x.rank(), "Split");
            std::vector<std::int64_t> sizes;
            for (std::size_t i = 0; i < c.out.size(); ++i)
                sizes.push_back(output(c, i).dims()[std::size_t(a)]);
            return ops::split_backward(x.dims(), c.dout, sizes, a);
        };
    });
}

} // namespace

const std::map<std::string, entry>& standard_backward() {
    static const std::map<std::string, entry> table = [] {
        std::map<std::string, entry> t;
        add_linear(t);
        add_elementwise(t);
        add_pooling_and_normalization(t);
        add_data_movement(t);
        return t;
    }();
    return table;
}

} // namespace hone::grad_table
