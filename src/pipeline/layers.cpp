// layers.cpp — the layers hone optimize changes and their weight layouts (layers.hpp).
#include "layers.hpp"

#include <hone/core/error.hpp>

#include <fmt/format.h>

#include <cstring>

namespace hone::pipeline {

const char* layout_name(weight_layout l) {
    switch (l) {
    case weight_layout::kn: return "[K,N]";
    case weight_layout::conv: return "[N,C/g,k...]";
    case weight_layout::convt: return "[C,N,k...]";
    default: return "[N,K]";
    }
}

std::vector<layer_ref> find_layers(const model& m) {
    std::vector<layer_ref> out;
    for (std::size_t i = 0; i < m.nodes.size(); ++i) {
        const auto& nd = m.nodes[i];
        const bool linear = nd.op_type == "Gemm" || nd.op_type == "MatMul";
        const bool conv = nd.op_type == "Conv" || nd.op_type == "ConvTranspose";
        if (!nd.domain.empty() || !(linear || conv)) continue;
        if (nd.inputs.size() < 2 || nd.outputs.empty() || !m.has_weight(nd.inputs[1])) continue;
        const auto& w = m.weight(nd.inputs[1]);
        if (w.type() != dtype::f32) continue;
        const auto& d = w.dims();
        layer_ref l;
        if (linear) {
            if (d.rank() != 2) continue;
            if (nd.op_type == "Gemm" && nd.get_int("transA", 0) != 0) continue;
            const bool kn = nd.op_type == "MatMul" || nd.get_int("transB", 0) == 0;
            l.layout = kn ? weight_layout::kn : weight_layout::nk;
            l.n = kn ? d[1] : d[0];
            l.k = kn ? d[0] : d[1];
        } else {
            if (d.rank() < 3 || d.numel() == 0) continue;
            if (nd.op_type == "ConvTranspose") {
                if (nd.get_int("group", 1) != 1) continue; // output channels split by group
                l.layout = weight_layout::convt;
                l.n = d[1];
                l.k = d.numel() / d[1];
            } else {
                l.layout = weight_layout::conv;
                l.n = d[0];
                l.k = d.numel() / d[0];
            }
        }
        l.node = i;
        l.name = nd.name;
        l.op = nd.op_type;
        l.weight = nd.inputs[1];
        l.input = nd.inputs[0];
        l.output = nd.outputs[0];
        l.stored = d;
        out.push_back(std::move(l));
    }
    return out;
}

namespace {

/// The [N, K] flat index of the stored layout's flat index s.
std::int64_t nk_index(const layer_ref& l, std::int64_t s) {
    switch (l.layout) {
    case weight_layout::kn: return (s % l.n) * l.k + s / l.n;
    case weight_layout::convt: {
        const auto spatial = l.k / l.stored[0]; // K = C · Πk
        const auto c = s / (l.n * spatial), rest = s % (l.n * spatial);
        const auto n = rest / spatial, sp = rest % spatial;
        return n * l.k + c * spatial + sp;
    }
    default: return s;
    }
}

} // namespace

tensor to_nk(const layer_ref& l, const_tensor_view stored) {
    const auto src = tensor::copy_of(stored);
    tensor t(dtype::f32, shape{l.n, l.k});
    const auto s = src.span<float>();
    auto d = t.span<float>();
    for (std::int64_t i = 0; i < l.n * l.k; ++i)
        d[std::size_t(nk_index(l, i))] = s[std::size_t(i)];
    return t;
}

tensor to_stored(const layer_ref& l, const_tensor_view nk) {
    const auto src = tensor::copy_of(nk);
    tensor t(dtype::f32, l.stored);
    const auto s = src.span<float>();
    auto d = t.span<float>();
    for (std::int64_t i = 0; i < l.n * l.k; ++i)
        d[std::size_t(i)] = s[std::size_t(nk_index(l, i))];
    return t;
}

tensor weight_nk(const model& m, const layer_ref& l) { return to_nk(l, m.weight(l.weight).view()); }

void set_weight_nk(model& m, const layer_ref& l, const_tensor_view nk) {
    m.set_weight(l.weight, to_stored(l, nk));
}

quant_spec stored_spec(const layer_ref& l, quant_spec spec) {
    switch (l.layout) {
    case weight_layout::kn:
        spec.channel_axis = 1;
        spec.group_axis = 0;
        break;
    case weight_layout::convt: spec.channel_axis = 1; break;
    default:
        spec.channel_axis = 0;
        spec.group_axis = 1;
        break;
    }
    return spec;
}

quantized_tensor quantized_to_stored(const layer_ref& l, const quantized_tensor& nk) {
    const auto& spec = nk.spec;
    const bool grouped = spec.granularity == quant_granularity::per_group;
    if (grouped && l.is_conv())
        fail(status::invalid_argument,
             fmt::format("layer '{}': a {} weight cannot be stored quantized per group along K "
                         "(quantize it per channel)",
                         l.name, l.op));
    const auto values = nk.values();
    std::vector<std::int32_t> q(values.size());
    for (std::int64_t i = 0; i < l.n * l.k; ++i)
        q[std::size_t(i)] = values[std::size_t(nk_index(l, i))];
    auto scales = nk.scale_values();
    auto zps = nk.zero_point_values();
    if (grouped && l.layout == weight_layout::kn) {
        // [N, K/g] → [K/g, N], the scales' own transpose.
        const auto groups = std::int64_t(scales.size()) / l.n;
        const auto transpose = [&](auto& v) {
            auto t = v;
            for (std::int64_t n = 0; n < l.n; ++n)
                for (std::int64_t g = 0; g < groups; ++g)
                    t[std::size_t(g * l.n + n)] = v[std::size_t(n * groups + g)];
            v = std::move(t);
        };
        transpose(scales);
        if (zps.size() == scales.size()) transpose(zps);
    }
    return quantized_tensor::from_values(stored_spec(l, spec), l.stored, q, scales, zps, l.weight);
}

} // namespace hone::pipeline
