// Graph rewrites (hone/model/transforms.hpp).
#include "hone/model/transforms.hpp"

#include "../graph/ops/ops.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hone {

namespace {

/// A constant f32 tensor of `count` elements named `name`, or nullptr.
const tensor* f32_constant(const model& m, const std::string& name, std::int64_t count) {
    if (name.empty() || !m.has_weight(name)) return nullptr;
    const auto& t = m.weight(name);
    return t.type() == dtype::f32 && t.numel() == count ? &t : nullptr;
}

} // namespace

std::size_t fold_batch_norm(model& m, std::span<const std::string> keep) {
    std::map<std::string, int> uses;
    for (const auto& n : m.nodes)
        for (const auto& i : n.inputs)
            ++uses[i];
    for (const auto& o : m.outputs)
        ++uses[o.name];
    std::map<std::string, std::size_t> producer;
    for (std::size_t i = 0; i < m.nodes.size(); ++i)
        for (const auto& o : m.nodes[i].outputs)
            producer[o] = i;
    std::vector<bool> removed(m.nodes.size(), false);
    std::vector<std::string> stats; // the folded nodes' statistics
    std::size_t folded = 0;
    for (std::size_t bi = 0; bi < m.nodes.size(); ++bi) {
        const auto& bn = m.nodes[bi];
        if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() < 5 ||
            bn.get_int("training_mode", 0) != 0)
            continue;
        bool extra = false;
        for (std::size_t k = 1; k < bn.outputs.size(); ++k)
            extra |= !bn.outputs[k].empty();
        const auto p = producer.find(bn.inputs[0]);
        if (extra || p == producer.end() || uses[bn.inputs[0]] != 1) continue;
        auto& conv = m.nodes[p->second];
        if (conv.op_type != "Conv" || !conv.domain.empty() || conv.inputs.size() < 2 ||
            !m.has_weight(conv.inputs[1]))
            continue;
        if (std::find(keep.begin(), keep.end(), conv.inputs[1]) != keep.end()) continue;
        const auto& w = m.weight(conv.inputs[1]);
        if (w.type() != dtype::f32 || w.dims().rank() < 3) continue;
        const auto oc = w.dims()[0];
        const bool has_bias = conv.inputs.size() > 2 && !conv.inputs[2].empty();
        const tensor* b = has_bias ? f32_constant(m, conv.inputs[2], oc) : nullptr;
        const tensor *gamma = f32_constant(m, bn.inputs[1], oc),
                     *beta = f32_constant(m, bn.inputs[2], oc),
                     *mean = f32_constant(m, bn.inputs[3], oc),
                     *var = f32_constant(m, bn.inputs[4], oc);
        if ((has_bias && !b) || !gamma || !beta || !mean || !var) continue;
        // Weights or bias shared with another node stay as they are.
        if (uses[conv.inputs[1]] != 1 || (has_bias && uses[conv.inputs[2]] != 1)) continue;
        const double eps = bn.get_float("epsilon", 1e-5f);
        auto nw = w.clone();
        tensor nb(dtype::f32, shape{oc});
        const auto per = nw.numel() / std::max<std::int64_t>(oc, 1);
        auto wv = nw.span<float>();
        for (std::int64_t c = 0; c < oc; ++c) {
            const auto cc = std::size_t(c);
            const double s =
                double(gamma->span<float>()[cc]) / std::sqrt(double(var->span<float>()[cc]) + eps);
            for (std::int64_t k = 0; k < per; ++k)
                wv[std::size_t(c * per + k)] = float(wv[std::size_t(c * per + k)] * s);
            const double bias = b ? b->span<float>()[cc] : 0.0;
            nb.span<float>()[cc] =
                float((bias - mean->span<float>()[cc]) * s + beta->span<float>()[cc]);
        }
        m.set_weight(conv.inputs[1], std::move(nw));
        std::string bias_name = has_bias ? conv.inputs[2] : m.unique_name(conv.name + "_bn_bias");
        m.set_weight(bias_name, std::move(nb));
        conv.inputs.resize(3);
        conv.inputs[2] = bias_name;
        conv.outputs[0] = bn.outputs[0];
        stats.insert(stats.end(), bn.inputs.begin() + 1, bn.inputs.begin() + 5);
        removed[bi] = true;
        ++folded;
    }
    if (!folded) return 0;
    std::vector<node> kept;
    for (std::size_t i = 0; i < m.nodes.size(); ++i)
        if (!removed[i]) kept.push_back(std::move(m.nodes[i]));
    m.nodes = std::move(kept);
    // Statistics no node reads any more.
    std::map<std::string, int> now;
    for (const auto& n : m.nodes)
        for (const auto& i : n.inputs)
            ++now[i];
    for (const auto& o : m.outputs)
        ++now[o.name];
    for (const auto& name : stats)
        if (!now.count(name)) m.remove_weight(name);
    (void)validate(m);
    return folded;
}

std::size_t fold_weight_casts(model& m) {
    auto used = [&](const std::string& name) {
        for (const auto& n : m.nodes)
            if (std::find(n.inputs.begin(), n.inputs.end(), name) != n.inputs.end()) return true;
        return std::any_of(m.outputs.begin(), m.outputs.end(),
                           [&](const value_info& o) { return o.name == name; });
    };
    auto is_output = [&](const std::string& name) {
        return std::any_of(m.outputs.begin(), m.outputs.end(),
                           [&](const value_info& o) { return o.name == name; });
    };
    std::size_t folded = 0;
    for (std::size_t i = 0; i < m.nodes.size(); ++i) {
        const node& n = m.nodes[i];
        const bool cast = n.op_type == "Cast";
        if (!n.domain.empty() || (!cast && n.op_type != "Identity") || n.inputs.size() != 1 ||
            n.outputs.size() != 1 || !m.has_weight(n.inputs[0]) || is_output(n.outputs[0]))
            continue;
        std::optional<dtype> to;
        if (cast) {
            // The ONNX type codes whose conversion the executor's Cast defines.
            switch (n.get_int("to", -1)) {
            case 1: to = dtype::f32; break;
            case 10: to = dtype::f16; break;
            case 16: to = dtype::bf16; break;
            case 6: to = dtype::i32; break;
            case 7: to = dtype::i64; break;
            default: continue;
            }
        }
        const std::string src = n.inputs[0], out = n.outputs[0];
        tensor value = cast ? ops::cast(m.weight(src).view(), *to) : m.weight(src).clone();
        const auto origin = m.origin(src);
        m.nodes.erase(m.nodes.begin() + static_cast<std::ptrdiff_t>(i));
        m.set_weight(out, std::move(value), origin);
        if (!used(src)) m.remove_weight(src);
        ++folded;
        i = static_cast<std::size_t>(-1); // from the start: a chain (Identity → Cast) folds too
    }
    return folded;
}

} // namespace hone
