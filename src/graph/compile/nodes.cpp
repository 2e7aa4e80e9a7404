// Compiling every other node into its kernel (and dispatching the layers to compile/*).
#include "../executor_impl.hpp"

#include "../ops/common.hpp"
#include "hone/kernels/quantize.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace hone {

namespace {

std::optional<dtype> dtype_of_onnx_code(std::int64_t t) {
    switch (t) {
    case 1: return dtype::f32;
    case 2: return dtype::u8;
    case 3: return dtype::i8;
    case 6: return dtype::i32;
    case 7: return dtype::i64;
    case 9: return dtype::boolean;
    case 10: return dtype::f16;
    case 16: return dtype::bf16;
    default: return std::nullopt;
    }
}

tensor copy_tensor(const_tensor_view v) { return tensor::copy_of(v); }

float scalar_float(const_tensor_view v, const std::string& what) {
    if (v.numel() != 1)
        fail(status::shape_mismatch,
             fmt::format("{}: expected a scalar, got shape {}", what, v.dims().to_string()));
    if (v.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: expected f32, got {}", what, name_of(v.type())));
    float x;
    std::memcpy(&x, v.data(), sizeof x);
    return x;
}

using op_table::parse_spatial;

} // namespace

namespace {
// dst = f(a, b) for f32 operands of the same dims, or [N, C, spatial...] with [N, C, 1, ...]
// (either side: a squeeze-excitation scale), into a buffer of the run's pool; the same float
// operation per element as ops::binary. Anything else: nullopt (ops::binary runs).
template <class F>
std::optional<tensor> pooled_binary_with(const_tensor_view a, const_tensor_view b, run_state& st,
                                         F f) {
    if (a.type() != dtype::f32 || b.type() != dtype::f32 || !a.is_contiguous() ||
        !b.is_contiguous() || a.rank() != b.rank())
        return std::nullopt;
    const auto& ad = a.dims();
    const auto& bd = b.dims();
    // per_a / per_b: elements of a / b per (n, c) pair (1 for the scale side).
    std::int64_t planes = 1, per_a = 0, per_b = 0;
    if (ad == bd) {
        per_a = per_b = ad.numel(); // one "plane"
    } else {
        if (a.rank() < 3 || ad[0] != bd[0] || ad[1] != bd[1]) return std::nullopt;
        bool a_ones = true, b_ones = true;
        for (std::size_t k = 2; k < a.rank(); ++k)
            a_ones &= ad[k] == 1, b_ones &= bd[k] == 1;
        if (a_ones == b_ones) return std::nullopt;
        planes = ad[0] * ad[1];
        if (planes == 0) return std::nullopt; // ops::binary gives the empty broadcast shape
        per_a = ad.numel() / planes;
        per_b = bd.numel() / planes;
    }
    tensor y = st.output(dtype::f32, per_a >= per_b ? ad : bd);
    const auto* pa = static_cast<const float*>(a.data());
    const auto* pb = static_cast<const float*>(b.data());
    auto* pd = static_cast<float*>(y.data());
    const std::int64_t inner = std::max(per_a, per_b);
    const int threads = ops::detail::threads_for(planes * inner);
    ops::detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t p = 0; p < planes; ++p) {
            const float* x = pa + p * per_a;
            const float* z = pb + p * per_b;
            float* d = pd + p * inner;
            // simd: d may be x or z itself, element for element.
            if (per_a == per_b) {
#pragma omp simd
                for (std::int64_t i = 0; i < inner; ++i)
                    d[i] = f(x[i], z[i]);
            } else if (per_b == 1) {
#pragma omp simd
                for (std::int64_t i = 0; i < inner; ++i)
                    d[i] = f(x[i], z[0]);
            } else {
#pragma omp simd
                for (std::int64_t i = 0; i < inner; ++i)
                    d[i] = f(x[0], z[i]);
            }
        }
    });
    return y;
}

// visit(f) with the float function of Add/Sub/Mul/Div (the operation ops::binary does per
// element); nullopt for any other operator.
template <class Visit> auto with_arithmetic(ops::binary_op op, Visit&& visit) {
    using result = std::optional<decltype(visit([](float x, float) { return x; }))>;
    switch (op) {
    case ops::binary_op::add: return result(visit([](float x, float y) { return x + y; }));
    case ops::binary_op::sub: return result(visit([](float x, float y) { return x - y; }));
    case ops::binary_op::mul: return result(visit([](float x, float y) { return x * y; }));
    case ops::binary_op::div: return result(visit([](float x, float y) { return x / y; }));
    default: return result();
    }
}

std::optional<tensor> pooled_binary(ops::binary_op op, const_tensor_view a, const_tensor_view b,
                                    run_state& st) {
    auto y = with_arithmetic(op, [&](auto f) { return pooled_binary_with(a, b, st, f); });
    return y ? std::move(*y) : std::nullopt;
}

// x held NHWC [N, H, W, C] and a per-(n, c) operand c [N, C, 1, 1] (plan_conv_layouts): dst
// NHWC [n, h, w, ch] = f(x, c[n, ch]) in the node's operand order (x_first), the same float
// operation per element as ops::binary. Other shapes (the plan's inferred ones did not hold):
// through NCHW and ops::binary, transposed back.
template <class F>
tensor nhwc_per_channel_with(const_tensor_view x, const_tensor_view c, bool x_first,
                             ops::binary_op op, run_state& st, F f) {
    const bool fits = x.type() == dtype::f32 && c.type() == dtype::f32 && x.rank() == 4 &&
                      c.rank() == 4 && x.is_contiguous() && c.is_contiguous() &&
                      c.dims() == shape{x.dims()[0], x.dims()[3], 1, 1};
    if (!fits) {
        const std::int64_t to_nchw[] = {0, 3, 1, 2}, to_nhwc[] = {0, 2, 3, 1};
        const auto xn = ops::transpose(x, to_nchw);
        const auto y = x_first ? ops::binary(op, xn.view(), c) : ops::binary(op, c, xn.view());
        st.reorders += 2;
        return ops::transpose(y.view(), to_nhwc);
    }
    tensor y = st.output(dtype::f32, x.dims());
    const std::int64_t batch = x.dims()[0], channels = x.dims()[3];
    const std::int64_t pixels = x.dims()[1] * x.dims()[2];
    const auto* px = static_cast<const float*>(x.data());
    const auto* pc = static_cast<const float*>(c.data());
    auto* pd = static_cast<float*>(y.data());
    const int threads = ops::detail::threads_for(x.numel());
    ops::detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t row = 0; row < batch * pixels; ++row) {
            const float* s = px + row * channels;
            const float* k = pc + (row / pixels) * channels;
            float* d = pd + row * channels;
            if (x_first) {
#pragma omp simd
                for (std::int64_t i = 0; i < channels; ++i)
                    d[i] = f(s[i], k[i]);
            } else {
#pragma omp simd
                for (std::int64_t i = 0; i < channels; ++i)
                    d[i] = f(k[i], s[i]);
            }
        }
    });
    return y;
}

tensor nhwc_per_channel(ops::binary_op op, const_tensor_view x, const_tensor_view c, bool x_first,
                        run_state& st) {
    auto y = with_arithmetic(
        op, [&](auto f) { return nhwc_per_channel_with(x, c, x_first, op, st, f); });
    if (!y) fail(status::internal, "nhwc_per_channel: not Add, Sub, Mul or Div");
    return std::move(*y);
}

template <class F> kernel_fn single(F f) {
    return [f](std::span<const optional_view> in, run_state&) {
        std::vector<tensor> out;
        out.push_back(f(in));
        return out;
    };
}
const_tensor_view need(std::span<const optional_view> in, std::size_t i) {
    if (i >= in.size() || !in[i])
        fail(status::invalid_argument, fmt::format("input {} is missing", i));
    return *in[i];
}
std::vector<std::int64_t> opt_ints(std::span<const optional_view> in, std::size_t i, const char* op,
                                   const char* what) {
    if (i >= in.size() || !in[i]) return {};
    return ops::to_int64_vector(*in[i], op, what);
}
} // namespace

compiled executor::impl::compile_quantized_add(const work_node& w) {
    const auto q = *w.qadd;
    auto grid_text = [](const work_node::grid& g) { return std::string(name_of(g.type)); };
    std::string path =
        fmt::format("int8 Add ({} + {} → {}", grid_text(q.a), grid_text(q.b), grid_text(q.y));
    if (q.clip) path += fmt::format(", clipped to [{}, {}]", q.lo, q.hi);
    path += "; ops::quantized_add)";
    return {[q](std::span<const optional_view> in, run_state&) {
                std::optional<tensor> ka, kb;
                const auto a = contiguous(need(in, 0), ka);
                const auto b = contiguous(need(in, 1), kb);
                std::vector<tensor> out;
                out.push_back(ops::quantized_add(a, q.a, b, q.b, q.y, q.clip, q.lo, q.hi));
                return out;
            },
            path, true};
}

compiled executor::impl::compile(const work_node& w) {
    const auto& n = w.n;
    const auto& op = n.op_type;
    const auto label = n.label();
    auto bad_attr = [&](const std::string& what) -> compiled {
        fail(status::unsupported, fmt::format("{}: {}", label, what));
    };
    auto only_first_output = [&](const char* what) {
        for (std::size_t i = 1; i < n.outputs.size(); ++i)
            if (!n.outputs[i].empty())
                fail(status::unsupported, fmt::format("{}: output {} ('{}', {}) is not supported",
                                                      label, i, n.outputs[i], what));
    };
    if (op == "Gemm") return compile_gemm(w);
    if (op == "MatMul") return compile_matmul(w);
    if (op == "Conv") return compile_conv(w);
    if (op == "MatMulNBits" && n.domain == "com.microsoft") return compile_matmul_nbits(w);
    if (w.qadd) return compile_quantized_add(w);

    using V = std::span<const optional_view>;
    // DQ → elementwise (→ Q), fused into a table (plan/int8.cpp): a step reading a u8/i8 value
    // and writing `type` through lookup(bytes, n, destination).
    auto table_step = [&](dtype type, auto lookup, const char* what) -> compiled {
        return {[type, lookup](V in, run_state& st) {
                    std::optional<tensor> keep;
                    const auto x = contiguous(need(in, 0), keep);
                    if (x.type() != dtype::u8 && x.type() != dtype::i8)
                        fail(status::dtype_mismatch,
                             fmt::format("the table reads a {} value; u8 or i8 expected",
                                         name_of(x.type())));
                    std::vector<tensor> out;
                    out.push_back(st.output(type, x.dims()));
                    lookup(static_cast<const std::uint8_t*>(x.data()), x.numel(), out[0].data());
                    return out;
                },
                fmt::format("{} ({}; ops::{})", what, w.table_of,
                            type == dtype::f32 ? "float_table" : "byte_table"),
                true};
    };
    if (w.float_table)
        return table_step(
            dtype::f32,
            [table = *w.float_table](const std::uint8_t* x, std::int64_t count, void* y) {
                ops::float_table(x, count, table, static_cast<float*>(y));
            },
            "table of 256 floats");
    if (op == "QuantizeLinear" && w.table)
        return table_step(
            w.output_grid ? w.output_grid->type : dtype::u8,
            [table = *w.table](const std::uint8_t* x, std::int64_t count, void* y) {
                ops::byte_table(x, count, table, static_cast<std::uint8_t*>(y));
            },
            "int8 table");
    if (op == "QuantizeLinear" || op == "DequantizeLinear") {
        // Reference semantics (ONNX opset 13, plus opset 21's block_size): per tensor, per axis
        // or blocked, through the kernel layer. QuantizeLinear's output type is its zero
        // point's (u8 when absent).
        const bool dq = op == "DequantizeLinear";
        const auto axis = n.get_int("axis", 1);
        const auto block = n.get_int("block_size", 0);
        if (n.has("output_dtype")) bad_attr("attribute 'output_dtype' is not supported");
        only_first_output(op.c_str());
        // The output comes from the run's pool: both kernels write every element.
        return {[dq, axis, block](V in, run_state& st) {
                    const auto x = need(in, 0);
                    kernels::quant_params p;
                    p.scale = need(in, 1);
                    if (in.size() > 2 && in[2]) p.zero_point = *in[2];
                    p.axis = static_cast<int>(axis);
                    p.block_size = block;
                    std::vector<tensor> out;
                    if (dq && x.type() == dtype::i32) {
                        out.push_back(ops::dequantize_int32(x, p.scale, p.zero_point, axis));
                        return out;
                    }
                    const auto type =
                        dq ? dtype::f32 : (p.zero_point ? p.zero_point->type() : dtype::u8);
                    out.push_back(st.output(type, x.dims()));
                    if (dq)
                        kernels::dequantize_linear(x, p, out[0].view());
                    else
                        kernels::quantize_linear(x, p, out[0].view());
                    return out;
                },
                dq ? "kernels::dequantize_linear" : "kernels::quantize_linear"};
    }
    if (op == "DynamicQuantizeLinear")
        return {[](V in, run_state&) { return ops::dynamic_quantize_linear(need(in, 0)); },
                "ops::dynamic_quantize_linear"};
    if (op == "MatMulInteger") {
        // A constant B (the weights) is prepared once, at load.
        std::shared_ptr<const ops::integer_matrix> prepared;
        const auto bc = cst(n, 1);
        const bool bz_ok = n.inputs.size() < 4 || n.inputs[3].empty() || cst(n, 3);
        if (bc && bz_ok)
            prepared = std::make_shared<const ops::integer_matrix>(ops::prepare_integer_matrix(
                *bc, n.inputs.size() > 3 && !n.inputs[3].empty() ? cst(n, 3) : std::nullopt));
        return {[prepared](V in, run_state& st) {
                    const auto a = need(in, 0);
                    const auto az = in.size() > 2 ? in[2] : std::nullopt;
                    auto y = prepared ? ops::matmul_integer(a, *prepared, az)
                                      : ops::matmul_integer(a, need(in, 1), az,
                                                            in.size() > 3 ? in[3] : std::nullopt);
                    st.macs += static_cast<double>(y.numel()) *
                               static_cast<double>(a.rank() ? a.dims()[a.rank() - 1] : 0);
                    std::vector<tensor> out;
                    out.push_back(std::move(y));
                    return out;
                },
                prepared ? "ops::matmul_integer (integer reference, weights prepared at load)"
                         : "ops::matmul_integer (integer reference)"};
    }
    if (op == "ConvInteger") {
        const ops::conv_params p{parse_spatial(n), n.get_int("group", 1)};
        return {[p](V in, run_state& st) {
                    const auto wt = need(in, 1);
                    auto y =
                        ops::conv_integer(need(in, 0), wt, in.size() > 2 ? in[2] : std::nullopt,
                                          in.size() > 3 ? in[3] : std::nullopt, p);
                    st.macs +=
                        static_cast<double>(y.numel()) *
                        static_cast<double>(wt.numel() / std::max<std::int64_t>(1, wt.dims()[0]));
                    std::vector<tensor> out;
                    out.push_back(std::move(y));
                    return out;
                },
                "ops::conv_integer (int16 windows, exact)"};
    }
    if (op == "Relu") return {single([](V in) { return ops::relu(need(in, 0)); }), "ops::relu"};
    if (op == "LeakyRelu") {
        const float a = n.get_float("alpha", 0.01f);
        return {single([a](V in) { return ops::leaky_relu(need(in, 0), a); }), "ops::leaky_relu"};
    }
    if (op == "Sigmoid")
        return {single([](V in) { return ops::sigmoid(need(in, 0)); }), "ops::sigmoid"};
    if (op == "HardSigmoid") {
        const float a = n.get_float("alpha", 0.2f), b = n.get_float("beta", 0.5f);
        return {single([a, b](V in) { return ops::hard_sigmoid(need(in, 0), a, b); }),
                "ops::hard_sigmoid"};
    }
    if (op == "HardSwish")
        return {single([](V in) { return ops::hard_swish(need(in, 0)); }), "ops::hard_swish"};
    if (op == "Tanh") return {single([](V in) { return ops::tanh(need(in, 0)); }), "ops::tanh"};
    if (op == "Erf") return {single([](V in) { return ops::erf(need(in, 0)); }), "ops::erf"};
    if (op == "Sqrt") return {single([](V in) { return ops::sqrt(need(in, 0)); }), "ops::sqrt"};
    if (op == "Gelu") {
        const auto g = op_table::parse_gelu(n);
        return {single([g](V in) { return ops::gelu(need(in, 0), g); }), "ops::gelu"};
    }
    if (op == "Softmax" || op == "LogSoftmax") {
        const auto axis = n.get_int("axis", -1);
        const bool log = op == "LogSoftmax";
        return {single([axis, log](V in) {
                    return log ? ops::log_softmax(need(in, 0), axis)
                               : ops::softmax(need(in, 0), axis);
                }),
                log ? "ops::log_softmax" : "ops::softmax"};
    }
    if (op == "Clip") {
        return {[label](V in, run_state& st) {
                    const float lo = in.size() > 1 && in[1]
                                         ? scalar_float(*in[1], label + " min")
                                         : -std::numeric_limits<float>::infinity();
                    const float hi = in.size() > 2 && in[2]
                                         ? scalar_float(*in[2], label + " max")
                                         : std::numeric_limits<float>::infinity();
                    const auto x = need(in, 0);
                    std::vector<tensor> out;
                    if (x.type() != dtype::f32 || !x.is_contiguous() || std::isnan(lo) ||
                        std::isnan(hi)) {
                        out.push_back(ops::clip(x, lo, hi)); // and its errors
                        return out;
                    }
                    // ops::clip's arithmetic, into a buffer of the run's pool (a Clip after a
                    // DequantizeLinear in QDQ models: no fresh output per run).
                    out.push_back(st.output(dtype::f32, x.dims()));
                    const auto* s = static_cast<const float*>(x.data());
                    auto* d = static_cast<float*>(out[0].data());
                    const std::int64_t n = x.numel();
                    const int threads = ops::detail::threads_for(n * 8);
                    // A NaN passes both comparisons untouched (std::max(v, lo) is v < lo ?
                    // lo : v), as ops::clip keeps it; without the branch the loop vectorizes.
                    ops::detail::in_team(threads, [&] {
#pragma omp for schedule(static)
                        for (std::int64_t i = 0; i < n; ++i)
                            d[i] = std::min(std::max(s[i], lo), hi);
                    });
                    return out;
                },
                "ops::clip"};
    }
    if (op == "Cast") {
        const auto to_code = n.get_int("to", -1);
        const auto to = dtype_of_onnx_code(to_code);
        if (!to) bad_attr(fmt::format("cast to ONNX type {} is not supported", to_code));
        const auto t = *to;
        return {single([t](V in) { return ops::cast(need(in, 0), t); }), "ops::cast"};
    }
    if (op == "Identity" || op == "Dropout") {
        if (op == "Dropout") {
            only_first_output("mask");
            if (n.get_int("training_mode", 0) != 0) bad_attr("training_mode is not supported");
        }
        return {single([](V in) { return copy_tensor(need(in, 0)); }), "copy"};
    }
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
        const auto b = op == "Add"   ? ops::binary_op::add
                       : op == "Sub" ? ops::binary_op::sub
                       : op == "Mul" ? ops::binary_op::mul
                       : op == "Div" ? ops::binary_op::div
                                     : ops::binary_op::pow;
        const int xi = per_channel_operand(n);
        if (w.layouts.src == kernels::conv_layout::nhwc && xi >= 0) {
            // The [N, C, H, W] operand is held NHWC (plan_conv_layouts). (Equal shapes held
            // NHWC need nothing special: the operation is per element.)
            return {[b, xi](V in, run_state& st) {
                        const auto x = need(in, static_cast<std::size_t>(xi));
                        const auto c = need(in, static_cast<std::size_t>(1 - xi));
                        std::vector<tensor> out;
                        out.push_back(nhwc_per_channel(b, x, c, xi == 0, st));
                        return out;
                    },
                    "per-channel ops::binary (NHWC)"};
        }
        return {[b](V in, run_state& st) {
                    std::vector<tensor> out;
                    if (auto y = pooled_binary(b, need(in, 0), need(in, 1), st))
                        out.push_back(std::move(*y));
                    else
                        out.push_back(ops::binary(b, need(in, 0), need(in, 1)));
                    return out;
                },
                "ops::binary"};
    }
    if (op == "Equal")
        return {single([](V in) { return ops::equal(need(in, 0), need(in, 1)); }), "ops::equal"};
    if (op == "Where")
        return {single([](V in) { return ops::where(need(in, 0), need(in, 1), need(in, 2)); }),
                "ops::where"};
    if (op == "ConvTranspose") {
        ops::conv_transpose_params p;
        p.spatial = parse_spatial(n);
        p.group = n.get_int("group", 1);
        p.output_padding = n.get_ints("output_padding", {});
        p.output_shape = n.get_ints("output_shape", {});
        return {single([p](V in) {
                    return ops::conv_transpose(need(in, 0), need(in, 1),
                                               in.size() > 2 ? in[2] : std::nullopt, p);
                }),
                "ops::conv_transpose"};
    }
    if (op == "BatchNormalization") {
        only_first_output("training statistics");
        if (n.get_int("training_mode", 0) != 0) bad_attr("training_mode is not supported");
        const float eps = n.get_float("epsilon", 1e-5f);
        const bool last = w.layouts.src == kernels::conv_layout::nhwc;
        return {single([eps, last](V in) {
                    return ops::batch_normalization(need(in, 0), need(in, 1), need(in, 2),
                                                    need(in, 3), need(in, 4), eps, last);
                }),
                "ops::batch_normalization"};
    }
    if (op == "LayerNormalization") {
        only_first_output("Mean/InvStdDev");
        const auto axis = n.get_int("axis", -1);
        const float eps = n.get_float("epsilon", 1e-5f);
        return {single([axis, eps](V in) {
                    return ops::layer_normalization(
                        need(in, 0), need(in, 1), in.size() > 2 ? in[2] : std::nullopt, axis, eps);
                }),
                "ops::layer_normalization"};
    }
    if (op == "MaxPool" || op == "AveragePool") {
        const ops::pool_params p = op_table::parse_pool(n);
        const bool mx = op == "MaxPool";
        if (mx && w.output_grid) { // DQ → MaxPool → Q, fused (plan/int8.cpp): bytes in and out
            const bool nhwc = w.layouts.src == kernels::conv_layout::nhwc;
            std::optional<std::array<std::uint8_t, 256>> table;
            if (w.table)
                for (std::size_t b = 0; b < 256 && !table; ++b)
                    if ((*w.table)[b] != b) table = w.table;
            return {[p, nhwc, table](V in, run_state&) {
                        std::optional<tensor> keep;
                        const auto x = contiguous(need(in, 0), keep);
                        if (x.rank() != 4)
                            fail(status::shape_mismatch,
                                 fmt::format("MaxPool on quantized values reads {}; 4-D expected",
                                             x.dims().to_string()));
                        const auto& d = x.dims();
                        // NCHW: the N·C planes as NHWC images of one channel.
                        const shape as_nhwc = nhwc ? d : shape{d[0] * d[1], d[2], d[3], 1};
                        tensor y =
                            ops::max_pool_nhwc(const_tensor_view(x.data(), x.type(), as_nhwc,
                                                                 as_nhwc.contiguous_strides()),
                                               p);
                        if (!nhwc) {
                            const auto& o = y.dims();
                            y = tensor::copy_of(const_tensor_view(
                                y.data(), y.type(), shape{d[0], d[1], o[1], o[2]},
                                shape{d[0], d[1], o[1], o[2]}.contiguous_strides()));
                        }
                        if (table) {
                            auto* b = static_cast<std::uint8_t*>(y.data());
                            ops::byte_table(b, y.numel(), *table, b);
                        }
                        std::vector<tensor> out;
                        out.push_back(std::move(y));
                        return out;
                    },
                    fmt::format("MaxPool on quantized values (ops::max_pool_nhwc on bytes, {}){}",
                                table ? "then a table onto the output grid" : "equal grids",
                                nhwc ? " (NHWC)" : ""),
                    true};
        }
        if (w.layouts.src == kernels::conv_layout::nhwc) // held NHWC (plan_conv_layouts)
            return {single([p, mx](V in) {
                        return mx ? ops::max_pool_nhwc(need(in, 0), p)
                                  : ops::average_pool_nhwc(need(in, 0), p);
                    }),
                    mx ? "ops::max_pool (NHWC)" : "ops::average_pool (NHWC)"};
        return {single([p, mx](V in) {
                    return mx ? ops::max_pool(need(in, 0), p) : ops::average_pool(need(in, 0), p);
                }),
                mx ? "ops::max_pool" : "ops::average_pool"};
    }
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
        const bool mx = op == "GlobalMaxPool";
        if (w.layouts.src == kernels::conv_layout::nhwc) // the result: NCHW [N, C, 1, 1]
            return {single([mx](V in) {
                        return mx ? ops::global_max_pool_nhwc(need(in, 0))
                                  : ops::global_average_pool_nhwc(need(in, 0));
                    }),
                    mx ? "ops::global_max_pool (NHWC)" : "ops::global_average_pool (NHWC)"};
        return {single([mx](V in) {
                    return mx ? ops::global_max_pool(need(in, 0))
                              : ops::global_average_pool(need(in, 0));
                }),
                mx ? "ops::global_max_pool" : "ops::global_average_pool"};
    }
    if (op == "Resize") {
        const ops::resize_params p = op_table::parse_resize(n);
        return {single([p](V in) {
                    return ops::resize(need(in, 0), op_table::with_resize_inputs(p, in));
                }),
                "ops::resize"};
    }
    if (op == "Flatten") {
        const auto axis = n.get_int("axis", 1);
        return {single([axis](V in) { return ops::flatten(need(in, 0), axis); }), "ops::flatten"};
    }
    if (op == "Reshape") {
        const bool az = n.get_int("allowzero", 0) != 0;
        return {single([az](V in) {
                    const auto s = ops::to_int64_vector(need(in, 1), "Reshape", "shape");
                    return ops::reshape(need(in, 0), s, az);
                }),
                "ops::reshape"};
    }
    if (op == "Transpose") {
        const auto perm = n.get_ints("perm", {});
        return {single([perm](V in) { return ops::transpose(need(in, 0), perm); }),
                "ops::transpose"};
    }
    if (op == "Concat") {
        if (!n.has("axis")) bad_attr("attribute 'axis' is required");
        // Inputs held NHWC: the channel axis is the last one.
        const auto axis = w.layouts.src == kernels::conv_layout::nhwc ? 3 : n.get_int("axis", 0);
        return {single([axis](V in) {
                    std::vector<const_tensor_view> v;
                    for (std::size_t i = 0; i < in.size(); ++i)
                        v.push_back(need(in, i));
                    return ops::concat(v, axis);
                }),
                "ops::concat"};
    }
    if (op == "Slice") {
        return {single([](V in) {
                    const auto starts = ops::to_int64_vector(need(in, 1), "Slice", "starts");
                    const auto ends = ops::to_int64_vector(need(in, 2), "Slice", "ends");
                    const auto axes = opt_ints(in, 3, "Slice", "axes");
                    const auto steps = opt_ints(in, 4, "Slice", "steps");
                    return ops::slice(need(in, 0), starts, ends, axes, steps);
                }),
                "ops::slice"};
    }
    if (op == "Squeeze")
        return {single([](V in) {
                    return ops::squeeze(need(in, 0), opt_ints(in, 1, "Squeeze", "axes"));
                }),
                "ops::squeeze"};
    if (op == "Unsqueeze")
        return {single([](V in) {
                    return ops::unsqueeze(need(in, 0),
                                          ops::to_int64_vector(need(in, 1), "Unsqueeze", "axes"));
                }),
                "ops::unsqueeze"};
    if (op == "Gather") {
        // Inputs held NHWC: the channel axis is the last one.
        const auto axis = w.layouts.src == kernels::conv_layout::nhwc ? 3 : n.get_int("axis", 0);
        return {single([axis](V in) { return ops::gather(need(in, 0), need(in, 1), axis); }),
                "ops::gather"};
    }
    if (op == "Shape") {
        const auto start = n.get_int("start", 0);
        const std::optional<std::int64_t> end =
            n.has("end") ? std::optional<std::int64_t>(n.get_int("end", 0)) : std::nullopt;
        return {
            single([start, end](V in) { return ops::shape_of(need(in, 0).dims(), start, end); }),
            "ops::shape_of"};
    }
    if (op == "Expand")
        return {single([](V in) {
                    return ops::expand(need(in, 0),
                                       ops::to_int64_vector(need(in, 1), "Expand", "shape"));
                }),
                "ops::expand"};
    if (op == "ReduceMean") {
        // Opset 18 moved axes to an optional (here: constant) input.
        auto axes = n.get_ints("axes", {});
        if (has_input(n, 1)) {
            if (n.has("axes")) bad_attr("axes given both as attribute and as input");
            const auto av = cst(n, 1);
            if (!av) bad_attr("axes must be a constant input");
            axes = ops::to_int64_vector(*av, "ReduceMean", "axes");
        }
        if (axes.empty() && n.get_int("noop_with_empty_axes", 0) != 0)
            return {single([](V in) { return copy_tensor(need(in, 0)); }), "copy"};
        const bool keep = n.get_int("keepdims", 1) != 0;
        return {single([axes, keep](V in) { return ops::reduce_mean(need(in, 0), axes, keep); }),
                "ops::reduce_mean"};
    }
    if (op == "ConstantOfShape") {
        std::shared_ptr<const tensor> value;
        if (n.has("value")) {
            const auto& a = n.attributes.at("value");
            if (a.type != attribute::kind::t || !a.t || a.t->numel() != 1)
                fail(status::format_error, label + ": 'value' must be a one-element tensor");
            value = a.t;
        }
        const std::string lbl = label;
        return {single([value, lbl](V in) {
                    const auto dims = ops::to_int64_vector(need(in, 0), "ConstantOfShape", "shape");
                    tensor t(value ? value->type() : dtype::f32,
                             shape(std::span<const std::int64_t>(dims)));
                    if (value) {
                        const auto sz = size_of(value->type());
                        auto* dst = static_cast<std::byte*>(t.data());
                        for (std::int64_t k = 0; k < t.numel(); ++k)
                            std::memcpy(dst + k * static_cast<std::int64_t>(sz), value->data(), sz);
                    }
                    return t;
                }),
                "constant of shape"};
    }
    if (is_table_op(n)) {
        const auto& e = op_table::standard_ops().at(op);
        auto k = e.compile(table_context(n));
        return {[k](V in, run_state& st) { return k(in, st.macs); }, e.path};
    }
    fail(status::unsupported, fmt::format("{}: operator is not supported", label));
}

} // namespace hone
