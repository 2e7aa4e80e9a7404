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
        fail(status::unsupported, fmt::format("{}: storage_order 1 is not supported", n.label()));
    return p;
}

ops::gelu_approximation parse_gelu(const node& n) {
    const auto a = n.get_string("approximate", "none");
    if (a != "none" && a != "tanh")
        fail(status::unsupported,
             fmt::format("{}: approximate '{}' is not 'none' or 'tanh'", n.label(), a));
    return a == "tanh" ? ops::gelu_approximation::tanh : ops::gelu_approximation::none;
}

ops::resize_params parse_resize(const node& n) {
    const auto bad = [&](const std::string& what) {
        fail(status::unsupported, fmt::format("{}: {}", n.label(), what));
    };
    // Opset 18/19 additions beyond what ops::resize does.
    if (n.get_int("antialias", 0) != 0) bad("antialias is not supported");
    if (n.has("axes")) bad("axes is not supported");
    if (n.get_string("keep_aspect_ratio_policy", "stretch") != "stretch")
        bad("keep_aspect_ratio_policy other than 'stretch' is not supported");
    ops::resize_params p;
    const auto mode = n.get_string("mode", "nearest");
    if (mode == "nearest")
        p.mode = ops::resize_mode::nearest;
    else if (mode == "linear")
        p.mode = ops::resize_mode::linear;
    else if (mode == "cubic")
        p.mode = ops::resize_mode::cubic;
    else
        bad("mode '" + mode + "' is not supported (nearest, linear, cubic)");
    p.cubic_coeff_a = n.get_float("cubic_coeff_a", -0.75f);
    p.exclude_outside = n.get_int("exclude_outside", 0) != 0;
    const auto ct = n.get_string("coordinate_transformation_mode", "half_pixel");
    if (ct == "half_pixel")
        p.transform = ops::coordinate_transform::half_pixel;
    else if (ct == "pytorch_half_pixel")
        p.transform = ops::coordinate_transform::pytorch_half_pixel;
    else if (ct == "align_corners")
        p.transform = ops::coordinate_transform::align_corners;
    else if (ct == "asymmetric")
        p.transform = ops::coordinate_transform::asymmetric;
    else if (ct == "tf_half_pixel_for_nn")
        p.transform = ops::coordinate_transform::tf_half_pixel_for_nn;
    else
        bad("coordinate_transformation_mode '" + ct + "' is not supported");
    const auto nm = n.get_string("nearest_mode", "round_prefer_floor");
    if (nm == "round_prefer_floor")
        p.nearest = ops::nearest_mode::round_prefer_floor;
    else if (nm == "round_prefer_ceil")
        p.nearest = ops::nearest_mode::round_prefer_ceil;
    else if (nm == "floor")
        p.nearest = ops::nearest_mode::floor;
    else if (nm == "ceil")
        p.nearest = ops::nearest_mode::ceil;
    else
        bad("nearest_mode '" + nm + "' is not an ONNX value");
    return p;
}

ops::resize_params with_resize_inputs(ops::resize_params p, std::span<const optional_view> in) {
    if (in.size() > 2 && in[2] && in[2]->numel() > 0) {
        if (in[2]->type() != dtype::f32) fail(status::dtype_mismatch, "Resize: scales must be f32");
        const auto t = tensor::copy_of(*in[2]);
        p.scales.assign(t.span<float>().begin(), t.span<float>().end());
    }
    if (in.size() > 3 && in[3] && in[3]->numel() > 0)
        p.sizes = ops::to_int64_vector(*in[3], "Resize", "sizes");
    return p;
}

} // namespace hone::op_table
