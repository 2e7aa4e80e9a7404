// The table of operators the executor runs without special planning (see op_table.hpp).
#include "op_table.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>

namespace hone::op_table {

const table& standard_ops() {
    static const table t = [] {
        table r;
        add_math_ops(r);
        add_integer_ops(r);
        add_indexing_ops(r);
        add_recurrent_ops(r);
        return r;
    }();
    return t;
}

const_tensor_view required(std::span<const optional_view> in, std::size_t i, const char* op) {
    if (i >= in.size() || !in[i])
        fail(status::invalid_argument, fmt::format("{}: input {} is missing", op, i));
    return *in[i];
}

ops::auto_pad parse_auto_pad(const node& n) {
    const auto s = n.get_string("auto_pad", "NOTSET");
    if (s == "NOTSET" || s.empty()) return ops::auto_pad::notset;
    if (s == "SAME_UPPER") return ops::auto_pad::same_upper;
    if (s == "SAME_LOWER") return ops::auto_pad::same_lower;
    if (s == "VALID") return ops::auto_pad::valid;
    fail(status::format_error, fmt::format("{}: auto_pad '{}' is not an ONNX value", n.label(), s));
}

ops::spatial_params parse_spatial(const node& n) {
    ops::spatial_params p;
    p.kernel_shape = n.get_ints("kernel_shape", {});
    p.strides = n.get_ints("strides", {});
    p.pads = n.get_ints("pads", {});
    p.dilations = n.get_ints("dilations", {});
    p.padding = parse_auto_pad(n);
    return p;
}

ops::gemm_params parse_gemm(const node& n) {
    return {n.get_float("alpha", 1.0f), n.get_float("beta", 1.0f), n.get_int("transA", 0) != 0,
            n.get_int("transB", 0) != 0};
}

ops::conv_params parse_conv(const node& n) { return {parse_spatial(n), n.get_int("group", 1)}; }

ops::pool_params parse_pool(const node& n) {
    for (std::size_t i = 1; i < n.outputs.size(); ++i)
        if (!n.outputs[i].empty())
            fail(status::unsupported, fmt::format("{}: output {} ('{}', Indices) is not supported",
                                                  n.label(), i, n.outputs[i]));
    ops::pool_params p;
    p.spatial = parse_spatial(n);
    p.ceil_mode = n.get_int("ceil_mode", 0) != 0;
    p.count_include_pad = n.get_int("count_include_pad", 0) != 0;
    if (p.spatial.kernel_shape.empty())
        fail(status::unsupported, fmt::format("{}: kernel_shape is required", n.label()));
    if (n.op_type == "MaxPool" && n.get_int("storage_order", 0) != 0)
        fail(status::unsupported,
             fmt::format("{}: storage_order 1 is not supported", n.label()));
    return p;
}

ops::gelu_approximation parse_gelu(const node& n) {
    const auto a = n.get_string("approximate", "none");
    if (a != "none" && a != "tanh")
        fail(status::unsupported,
             fmt::format("{}: approximate '{}' is not 'none' or 'tanh'", n.label(), a));
    return a == "tanh" ? ops::gelu_approximation::tanh : ops::gelu_approximation::none;
}

} // namespace hone::op_table
