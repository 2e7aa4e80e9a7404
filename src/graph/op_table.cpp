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

} // namespace hone::op_table
