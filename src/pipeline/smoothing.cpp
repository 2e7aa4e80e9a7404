// Scales folded into the model: group the layers by input, find what produces the input, search
// the factors (SmoothQuant on the W8A8 error, AWQ on the weight-only error), fold 1/s into the
// producer and s into the weights.
#include "smoothing.hpp"

#include "flow.hpp"

#include <hone/core/error.hpp>
#include <hone/quantize/quantizer.hpp>
#include <hone/quantize/smooth_quant.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

namespace hone::pipeline {

namespace {

using json = nlohmann::json;

/// Where a group's input can take 1/s: the weights to divide, or why there is none.
struct fold_target {
    std::string node;                 ///< the normalization's node (or the product's)
    std::vector<std::string> weights; ///< its scale (and bias) initializers, each K values
    /// Or a layer whose output channels become the input through a product with another
    /// activation (SwiGLU's up projection: X = silu(gate) ⊙ up): its rows [N, K] divided by s.
    std::optional<layer_ref> producer_layer;
    std::string missing; ///< non-empty: why the group cannot be folded
};

// Readers that see only the value's shape, which smoothing keeps.
bool reads_shape_only(const node& nd) { return nd.op_type == "Shape" || nd.op_type == "Size"; }

bool reads(const node& nd, const std::string& value) {
    return std::find(nd.inputs.begin(), nd.inputs.end(), value) != nd.inputs.end();
}

// The weight initializer is a vector of K values on the last axis ([K] or [1, …, 1, K]).
bool is_channel_vector(const model& m, const std::string& name, std::int64_t k) {
    if (!m.has_weight(name)) return false;
    const auto& w = m.weight(name);
    if (w.type() != dtype::f32 || w.numel() != k || w.dims().rank() < 1) return false;
    return w.dims()[w.dims().rank() - 1] == k;
}

fold_target find_fold_target(const model& m, const std::vector<layer_ref>& all_layers,
                             const std::string& input, std::int64_t k,
                             const std::set<std::string>& group_nodes) {
    fold_target t;
    // Nothing but the group may read the input's values: it changes to X / s.
    for (const auto& nd : m.nodes)
        if (!group_nodes.count(nd.name) && !reads_shape_only(nd) && reads(nd, input)) {
            t.missing = fmt::format("'{}' is also read by {}", input, nd.label());
            return t;
        }
    for (const auto& out : m.outputs)
        if (out.name == input) {
            t.missing = fmt::format("'{}' is a graph output", input);
            return t;
        }
    const node* p = m.producer(input);
    if (!p) {
        t.missing = fmt::format("'{}' is a graph input", input);
        return t;
    }
    t.node = p->name;
    if (p->op_type == "Mul" && p->inputs.size() == 2) {
        for (const auto& in : p->inputs)
            if (is_channel_vector(m, in, k)) t.weights = {in};
        if (t.weights.empty()) {
            // A product of two activations, one a layer's output that only this Mul reads.
            for (const auto& in : p->inputs) {
                const auto l = std::find_if(all_layers.begin(), all_layers.end(),
                                            [&](const layer_ref& r) { return r.output == in; });
                if (l == all_layers.end() || l->is_conv() || l->n != k) continue;
                const bool alone =
                    std::none_of(m.nodes.begin(), m.nodes.end(), [&](const node& nd) {
                        return nd.name != p->name && !reads_shape_only(nd) && reads(nd, in);
                    });
                const node& ln = m.nodes[l->node];
                const bool no_bias =
                    ln.op_type == "MatMul" || ln.inputs.size() < 3 || ln.inputs[2].empty();
                if (alone && no_bias) {
                    t.producer_layer = *l;
                    return t;
                }
            }
        }
    } else if (p->op_type == "LayerNormalization" && p->get_int("axis", -1) == -1) {
        for (std::size_t i = 1; i < p->inputs.size() && i < 3; ++i)
            if (!p->inputs[i].empty()) {
                if (!is_channel_vector(m, p->inputs[i], k)) {
                    t.weights.clear();
                    break;
                }
                t.weights.push_back(p->inputs[i]);
            }
    }
    if (t.weights.empty()) {
        t.missing = fmt::format("{} is not a scale by a constant vector of {} (Mul or "
                                "LayerNormalization) nor a product with a layer's output",
                                p->label(), k);
        return t;
    }
    // The scale must be the normalization's own: another reader would change with it.
    for (const auto& w : t.weights)
        for (const auto& nd : m.nodes)
            if (nd.name != p->name && reads(nd, w)) {
                t.missing = fmt::format("the scale '{}' is shared with {}", w, nd.label());
                t.weights.clear();
                return t;
            }
    return t;
}

} // namespace

namespace {

/// What one group's search found: the factors and the figures to record.
struct group_scales {
    std::vector<float> scales; ///< s, K values (empty: leave the group alone)
    json figures;
};

group_scales search_smooth_quant(const tensor& weights, const_tensor_view x,
                                 const scale_search& search, const std::string& input) {
    smooth_quant_params sp;
    if (search.alpha) sp.alphas = {*search.alpha};
    sp.name = fmt::format("smooth_quant (input '{}')", input);
    const auto r = smooth_quant_search(weights.view(), {&x, 1}, sp);
    group_scales g;
    g.figures = {{"alpha", r.alpha},
                 {"error_before", r.error_before},
                 {"error_after", r.error_after},
                 {"sqnr_db_before", 10.0 * std::log10(r.reference_energy / r.error_before)},
                 {"sqnr_db_after", 10.0 * std::log10(r.reference_energy / r.error_after)},
                 {"smoothed", r.error_after < r.error_before}};
    if (r.error_after < r.error_before) g.scales = r.scales;
    return g;
}

// AWQ's search (hone::quantizer, method awq) on the group's weights side by side: the grid of
// each row is its own, so one search serves every layer of the group. α = 0 is s = 1 (RTN).
group_scales search_awq(const tensor& weights, const_tensor_view x, const scale_search& search,
                        const std::string& input) {
    quantizer_config cfg;
    cfg.spec = search.spec;
    if (cfg.spec.granularity == quant_granularity::per_group) // as the quantize step will
        cfg.spec.group_size = group_for(search.spec.group_size, weights.dims()[1]);
    cfg.method = weight_method::rtn;
    const auto rtn = quantizer(cfg).run(weights.view(), {.inputs = x}, input);
    cfg.method = weight_method::awq;
    const auto awq = quantizer(cfg).run(weights.view(), {.inputs = x}, input);
    group_scales g;
    const bool better = awq.awq_alpha > 0 && awq.report.output_sqnr_db > rtn.report.output_sqnr_db;
    g.figures = {{"alpha", awq.awq_alpha},
                 {"sqnr_db_before", rtn.report.output_sqnr_db},
                 {"sqnr_db_after", awq.report.output_sqnr_db},
                 {"smoothed", better}};
    if (better) g.scales = awq.input_scales;
    return g;
}

} // namespace

json smooth_and_fold(model& m, const std::vector<layer_ref>& layers, const scale_search& search,
                     const value_observer& observe) {
    // Groups: the Gemm/MatMul layers that read one input, in graph order of first reader.
    std::vector<std::string> order;
    std::map<std::string, std::vector<const layer_ref*>> groups;
    for (const auto& l : layers) {
        if (l.is_conv()) continue;
        auto [it, fresh] = groups.try_emplace(l.input);
        if (fresh) order.push_back(l.input);
        it->second.push_back(&l);
    }
    json out = json::array();
    const auto all_layers = find_layers(m);
    std::map<std::string, fold_target> targets;
    std::set<std::string> wanted;
    for (const auto& input : order) {
        std::set<std::string> names;
        for (const auto* l : groups[input])
            names.insert(m.nodes[l->node].name);
        targets[input] = find_fold_target(m, all_layers, input, groups[input].front()->k, names);
        if (targets[input].missing.empty()) wanted.insert(input);
    }
    const auto xs = wanted.empty() ? std::map<std::string, tensor>() : observe(m, wanted);
    for (const auto& input : order) {
        const auto& group = groups[input];
        json g = {{"input", input}, {"layers", json::array()}};
        for (const auto* l : group)
            g["layers"].push_back(l->name);
        const auto& target = targets[input];
        const auto x = xs.find(input);
        if (!target.missing.empty() || x == xs.end()) {
            g["skipped"] = target.missing.empty() ? "its input was not observed" : target.missing;
            out.push_back(std::move(g));
            continue;
        }
        // The group's weights side by side: [ΣN, K].
        const std::int64_t k = group.front()->k;
        std::int64_t rows = 0;
        std::vector<tensor> ws;
        for (const auto* l : group) {
            ws.push_back(weight_nk(m, *l));
            rows += l->n;
        }
        tensor all(dtype::f32, shape{rows, k});
        std::size_t at = 0;
        for (const auto& w : ws) {
            std::memcpy(all.span<float>().data() + at, w.span<const float>().data(), w.nbytes());
            at += std::size_t(w.numel());
        }
        g["fold_into"] = target.producer_layer ? target.producer_layer->name : target.node;
        auto found = search.what == scale_search::kind::awq
                         ? search_awq(all, x->second.view(), search, input)
                         : search_smooth_quant(all, x->second.view(), search, input);
        g.update(found.figures);
        const auto& scales = found.scales;
        if (!scales.empty()) {
            // Every weight of the group times diag(s); the producer takes 1/s.
            auto cols = all.span<float>();
            for (std::int64_t row = 0; row < rows; ++row)
                for (std::int64_t j = 0; j < k; ++j)
                    cols[std::size_t(row * k + j)] *= scales[std::size_t(j)];
            for (const auto& name : target.weights)
                for (std::int64_t j = 0; auto& v : m.weight(name).span<float>())
                    v /= scales[std::size_t(j++)];
            if (const auto& up = target.producer_layer) {
                // Output channel j of the producing layer is input channel j of the group (its
                // weights as they are now: a group before may have smoothed its columns).
                tensor w = weight_nk(m, *up);
                auto v = w.span<float>();
                for (std::int64_t j = 0; j < up->n; ++j)
                    for (std::int64_t i = 0; i < up->k; ++i)
                        v[std::size_t(j * up->k + i)] /= scales[std::size_t(j)];
                set_weight_nk(m, *up, w.view());
            }
            at = 0;
            for (std::size_t i = 0; i < group.size(); ++i) {
                const auto n = group[i]->n;
                tensor w(dtype::f32, shape{n, k});
                std::memcpy(w.data(), all.span<const float>().data() + at,
                            std::size_t(n * k) * sizeof(float));
                at += std::size_t(n * k);
                set_weight_nk(m, *group[i], w.view());
            }
        }
        out.push_back(std::move(g));
    }
    return out;
}

} // namespace hone::pipeline
