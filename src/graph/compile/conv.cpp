// Compiling Conv: the oneDNN kernel (f32/int8, fused post-ops, NHWC layouts) or the reference
// ops.
#include "../executor_impl.hpp"

#include "../ops/common.hpp"
#include "hone/kernels/quantize.hpp"

#include <cmath>

namespace hone {

namespace {

using op_table::parse_spatial;

const_tensor_view need_input(std::span<const optional_view> in, std::size_t i) {
    if (i >= in.size() || !in[i]) fail(status::internal, fmt::format("input {} is missing", i));
    return *in[i];
}

} // namespace

bool executor::impl::conv_on_kernel(const node& n) const {
    const auto wv = cst(n, 1);
    const bool bias_ok = !has_input(n, 2) || cst(n, 2);
    const auto sp = parse_spatial(n);
    return wv && wv->rank() == 4 && wv->type() == dtype::f32 && bias_ok &&
           (sp.padding == ops::auto_pad::notset || sp.padding == ops::auto_pad::valid) &&
           (sp.kernel_shape.empty() ||
            (sp.kernel_shape.size() == 2 && sp.kernel_shape[0] == wv->dims()[2] &&
             sp.kernel_shape[1] == wv->dims()[3])) &&
           (sp.strides.empty() || sp.strides.size() == 2) &&
           (sp.dilations.empty() || sp.dilations.size() == 2) &&
           (sp.pads.empty() || sp.pads.size() == 4) && n.get_int("group", 1) >= 1;
}

compiled executor::impl::compile_conv(const work_node& w) {
    const auto& n = w.n;
    const auto wv = cst(n, 1);
    const auto bv = cst(n, 2);
    const bool relu = w.relu;
    const ops::conv_params params = op_table::parse_conv(n);
    const auto& sp = params.spatial;
    const auto group = params.group;
    const bool bias_ok = !has_input(n, 2) || bv;
    if (!w.post.empty() && !conv_on_kernel(n))
        fail(status::internal, "activations were fused into a Conv that does not run on the "
                               "oneDNN kernel");
    if (conv_on_kernel(n)) {
        kernels::conv2d_params cp;
        cp.in_channels = wv->dims()[1] * group;
        cp.out_channels = wv->dims()[0];
        cp.kernel_h = wv->dims()[2];
        cp.kernel_w = wv->dims()[3];
        if (!sp.strides.empty()) cp.stride_h = sp.strides[0], cp.stride_w = sp.strides[1];
        if (!sp.dilations.empty()) cp.dilation_h = sp.dilations[0], cp.dilation_w = sp.dilations[1];
        if (!sp.pads.empty() && sp.padding == ops::auto_pad::notset) {
            cp.pad_top = sp.pads[0];
            cp.pad_left = sp.pads[1];
            cp.pad_bottom = sp.pads[2];
            cp.pad_right = sp.pads[3];
        }
        cp.groups = group;
        cp.relu = relu;
        cp.post_ops = w.post;
        cp.sum = !w.residual.empty();
        if (w.output_grid) {
            cp.dst_type = w.output_grid->type;
            cp.dst_scale = w.output_grid->scale;
            cp.dst_zero_point = w.output_grid->zero_point;
        }
        std::string path = "f32 conv2d (oneDNN)";
        bool q = false;
        if (options.precision != exec_precision::f32 && !f32_nodes.count(n.name)) {
            const auto range = options.activation_ranges.find(n.inputs[0]);
            if (w.act_qdq) {
                cp.type = kernels::gemm_type::int8;
                cp.act_scale = w.act_scale;
                cp.act_zero_point = w.act_zero_point;
                path = "int8 QDQ conv2d (oneDNN, u8 x s8 per-channel, the model's activation "
                       "scale)";
                q = true;
            } else if (options.precision == exec_precision::int8_static &&
                       range != options.activation_ranges.end()) {
                cp.type = kernels::gemm_type::int8;
                range_to_grid(range->second, 255, cp.act_scale, cp.act_zero_point);
                path = "int8 static conv2d (oneDNN, u8 x s8 per-channel)";
                q = true;
            } else {
                path += fmt::format(" - int8 conv needs a static activation range for '{}'",
                                    n.inputs[0]);
            }
        }
        auto wt = tensor::copy_of(*wv);
        std::optional<tensor> bt;
        if (bv) bt = tensor::copy_of(*bv);
        const auto bias_span = bt ? bt->span<const float>() : std::span<const float>();
        std::shared_ptr<const kernels::conv2d> conv;
        if (q && reduce_range != 0) {
            // 7-bit weights (|q_w| ≤ 64): on CPUs whose int8 pairs saturate, oneDNN's kernel is
            // then exact without splitting the weights (the conv counterpart of reduce_range).
            const auto oc = cp.out_channels;
            const auto per = wt.numel() / std::max<std::int64_t>(oc, 1);
            const auto w = wt.span<const float>();
            std::vector<std::int8_t> qw(w.size());
            std::vector<float> scales(static_cast<std::size_t>(oc));
            for (std::int64_t c = 0; c < oc; ++c) {
                float mx = 0;
                for (std::int64_t k = 0; k < per; ++k)
                    mx = std::max(mx, std::fabs(w[static_cast<std::size_t>(c * per + k)]));
                const float sc = mx > 0 && std::isfinite(mx) ? mx / 64.0f : 1.0f;
                scales[static_cast<std::size_t>(c)] = sc;
                for (std::int64_t k = 0; k < per; ++k) {
                    const auto i = static_cast<std::size_t>(c * per + k);
                    qw[i] = static_cast<std::int8_t>(
                        std::clamp(std::nearbyint(w[i] / sc), -64.0f, 64.0f));
                }
            }
            conv = std::make_shared<const kernels::conv2d>(
                cp, std::span<const std::int8_t>(qw), std::span<const float>(scales), bias_span);
            path += ", 7-bit weights";
        } else {
            conv = std::make_shared<const kernels::conv2d>(cp, wt.span<const float>(), bias_span);
        }
        if (q && conv->splits_weights()) path += ", split weights";
        if (relu) path += " + fused ReLU";
        if (cp.sum) path += " + fused residual Add";
        for (const auto& name : w.post_names)
            path += " + fused " + name;
        const double macs_per_out =
            static_cast<double>(wv->dims()[1]) * static_cast<double>(cp.kernel_h * cp.kernel_w);
        const bool sum = cp.sum;
        const auto layouts = w.layouts;
        using kernels::conv_layout;
        auto says = [](conv_layout l) { return l == conv_layout::nhwc ? "NHWC" : "NCHW"; };
        if (layouts.src == conv_layout::nhwc || layouts.dst == conv_layout::nhwc ||
            layouts.addend == conv_layout::nhwc)
            path += fmt::format(", {} in, {} out", says(layouts.src), says(layouts.dst));
        // The table on the input, unless it maps every byte to itself.
        std::shared_ptr<const std::array<std::uint8_t, 256>> table;
        if (w.table) {
            bool identity = true;
            for (std::size_t b = 0; b < 256; ++b)
                identity &= (*w.table)[b] == b;
            if (!identity) table = std::make_shared<const std::array<std::uint8_t, 256>>(*w.table);
            path += fmt::format(", {} ({}) on its input", identity ? "no-op table" : "table",
                                w.table_of);
        }
        if (w.output_grid)
            path += fmt::format(", result written {} (scale {}, zero point {})",
                                name_of(w.output_grid->type), w.output_grid->scale,
                                w.output_grid->zero_point);
        const bool quantized_input = q && w.act_qdq;
        kernel_fn fn = [conv, macs_per_out, sum, layouts, table,
                        quantized_input](std::span<const optional_view> in, run_state& st) {
            std::optional<tensor> keep, keep_addend, mapped;
            auto x = contiguous(*in[0], keep);
            if (quantized_input && !table && x.type() != dtype::u8)
                fail(status::dtype_mismatch,
                     fmt::format("the int8 Conv reads a {} value; u8 expected", name_of(x.type())));
            if (table) {
                if (x.type() != dtype::u8 && x.type() != dtype::i8)
                    fail(status::dtype_mismatch,
                         fmt::format("the int8 Conv's input table reads a {} value; u8 or i8 "
                                     "expected",
                                     name_of(x.type())));
                mapped = st.output(dtype::u8, x.dims());
                ops::byte_table(static_cast<const std::uint8_t*>(x.data()), x.numel(), *table,
                                static_cast<std::uint8_t*>(mapped->data()));
                x = mapped->view();
            }
            const auto nchw = [](const shape& s, conv_layout l) {
                return l == conv_layout::nhwc && s.rank() == 4 ? shape{s[0], s[3], s[1], s[2]} : s;
            };
            const shape logical_in = nchw(x.dims(), layouts.src);
            const shape logical_out = conv->output_shape(logical_in);
            tensor y =
                st.output(conv->params().dst_type, layouts.dst == conv_layout::nhwc
                                                       ? shape{logical_out[0], logical_out[2],
                                                               logical_out[3], logical_out[1]}
                                                       : logical_out);
            if (sum) {
                const auto r = contiguous(need_input(in, 3), keep_addend);
                if (!(nchw(r.dims(), layouts.addend) == logical_out) || r.type() != dtype::f32)
                    fail(status::shape_mismatch,
                         fmt::format("the residual Add fused into this Conv adds a {} {} to its "
                                     "output {} (executor_options::fuse_conv_activations = false "
                                     "runs it unfused, with broadcasting)",
                                     name_of(r.type()), r.dims().to_string(),
                                     logical_out.to_string()));
                conv->run(x, y.view(), r, layouts);
            } else {
                conv->run(x, y.view(), layouts);
            }
            st.reorders += static_cast<std::uint64_t>(conv->reorders(logical_in, layouts));
            if (mapped && st.pool) st.pool->give(std::move(*mapped));
            st.macs += static_cast<double>(y.numel()) * macs_per_out;
            std::vector<tensor> out;
            out.push_back(std::move(y));
            return out;
        };
        return {std::move(fn), path, q,
                (q ? wt.nbytes() / 4 : wt.nbytes()) + (bt ? bt->nbytes() : 0)};
    }
    const ops::conv_params& p = params;
    if (wv && bias_ok) {
        auto op = std::make_shared<const ops::conv_op>(*wv, bv, p);
        const double per_out =
            static_cast<double>(wv->numel() / std::max<std::int64_t>(1, wv->dims()[0]));
        return {[op, relu, per_out](std::span<const optional_view> in, run_state& st) {
                    auto y = op->run(*in[0]);
                    st.macs += static_cast<double>(y.numel()) * per_out;
                    if (relu) y = ops::relu(y);
                    std::vector<tensor> out;
                    out.push_back(std::move(y));
                    return out;
                },
                fused(w, "f32 ops::conv_op")};
    }
    return {[p, relu](std::span<const optional_view> in, run_state& st) {
                auto y = ops::conv(*in[0], *in[1], in.size() > 2 ? in[2] : std::nullopt, p);
                const auto& wt = *in[1];
                st.macs +=
                    static_cast<double>(y.numel()) *
                    static_cast<double>(wt.numel() / std::max<std::int64_t>(1, wt.dims()[0]));
                if (relu) y = ops::relu(y);
                std::vector<tensor> out;
                out.push_back(std::move(y));
                return out;
            },
            fused(w, "f32 ops::conv")};
}

} // namespace hone
