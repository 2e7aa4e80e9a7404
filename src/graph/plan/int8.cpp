// Planning QDQ int8 chains (exec_precision::int8_static): the values between int8 Convs and the
// Adds of residual blocks stay quantized, as ONNX Runtime's QLinearConv / QLinearAdd chains do,
// instead of going through f32 QuantizeLinear / DequantizeLinear steps.
#include "../executor_impl.hpp"

#include <cmath>
#include <limits>

namespace hone {

// A per-tensor QuantizeLinear / DequantizeLinear with a constant f32 scale (> 0, finite) and a
// constant u8 or i8 zero point (u8 0 when absent): its grid.
bool executor::impl::scalar_grid(const node& qn, work_node::grid& g) const {
    if ((qn.op_type != "QuantizeLinear" && qn.op_type != "DequantizeLinear") ||
        qn.inputs.size() < 2 || qn.inputs[0].empty() || qn.has("output_dtype") ||
        qn.get_int("block_size", 0) != 0)
        return false;
    const auto sv = cst(qn, 1);
    if (!sv || sv->type() != dtype::f32 || sv->numel() != 1 || sv->rank() > 1) return false;
    g.scale = tensor::copy_of(*sv).span<float>()[0];
    g.type = dtype::u8;
    g.zero_point = 0;
    if (has_input(qn, 2)) {
        const auto zv = cst(qn, 2);
        if (!zv || zv->numel() != 1 || zv->rank() > 1 ||
            (zv->type() != dtype::u8 && zv->type() != dtype::i8))
            return false;
        g.type = zv->type();
        const auto zc = tensor::copy_of(*zv);
        g.zero_point = g.type == dtype::u8 ? static_cast<std::int32_t>(zc.span<std::uint8_t>()[0])
                                           : static_cast<std::int32_t>(zc.span<std::int8_t>()[0]);
    }
    return g.scale > 0 && std::isfinite(g.scale);
}

namespace {

// Elementwise operators whose result depends on the element alone (their other inputs, if
// any, constant): a quantized value through them is a table of 256 entries.
bool elementwise_unary(const std::string& op) {
    static const std::set<std::string> ops{
        "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
        "Tanh", "Erf",       "Gelu", "Sqrt",    "Neg",         "Abs",
        "Elu",  "Selu",      "Exp",  "Log",     "Softplus",    "Identity"};
    return ops.count(op) != 0;
}

} // namespace

// Three rewrites, in this order, each only where the values in between are read by nothing
// else and are not kept:
//  1. An int8 Conv reading QuantizeLinear(act(… DequantizeLinear(q))) (act: elementwise
//     operators, possibly none) reads q through a 256-entry table instead, computed at load by
//     running those very nodes on all 256 values of q's type (the same bytes as running them).
//     Conv → Q → DQ → Clip → Q → DQ → Conv thus becomes Conv → table → Conv.
//  2. QuantizeLinear(act?(Add(DequantizeLinear(a), DequantizeLinear(b)))) with act Relu or Clip
//     and a, b of equal shapes: one int8 Add reading a and b, writing the quantized sum.
//  3. QuantizeLinear(y) where y is an int8 Conv's result (no sum, no post-op but ReLU): the Conv
//     writes its result on that grid (kernels::conv2d's quantized dst).
void executor::impl::fuse_int8_chains(std::vector<work_node>& work,
                                      const std::set<std::string>& pinned) {
    std::map<std::string, int> uses;
    std::map<std::string, work_node*> producer;
    auto recount = [&] {
        uses.clear();
        producer.clear();
        for (auto& w : work) {
            if (w.removed) continue;
            for (const auto& i : w.n.inputs)
                ++uses[i];
            if (!w.n.outputs.empty()) producer[w.n.outputs[0]] = &w;
        }
    };
    auto made_by = [&](const std::string& v) -> work_node* {
        const auto it = producer.find(v);
        return it == producer.end() ? nullptr : it->second;
    };
    // Read once, by one node, and not kept: a value a fusion may make disappear.
    auto private_value = [&](const std::string& v) { return uses[v] == 1 && !pinned.count(v); };
    auto constants_after_first = [&](const node& n) {
        for (std::size_t i = 1; i < n.inputs.size(); ++i)
            if (has_input(n, i) && !cst(n, i)) return false;
        return n.outputs.size() == 1;
    };
    auto remove = [&](work_node* f, const std::string& why) {
        f->removed = true;
        report[f->model_index].path = why;
    };
    recount();

    // 1. Tables in front of int8 Convs.
    for (auto& l : work) {
        if (l.removed || !l.act_qdq || l.n.op_type != "Conv") continue;
        const auto q = l.n.inputs[0];
        auto* qc = made_by(q);
        work_node::grid conv_grid;
        if (!qc || !private_value(q) || qc->n.op_type != "QuantizeLinear" ||
            !scalar_grid(qc->n, conv_grid))
            continue;
        std::vector<work_node*> chain{qc}; // from the Conv's QuantizeLinear up
        work_node* dq = nullptr;
        for (auto v = qc->n.inputs[0]; !dq;) {
            auto* p = made_by(v);
            work_node::grid g;
            if (!p || !private_value(v)) break;
            if (p->n.op_type == "DequantizeLinear" && scalar_grid(p->n, g)) {
                dq = p;
            } else if (!elementwise_unary(p->n.op_type) || !constants_after_first(p->n) ||
                       p->n.inputs.empty()) {
                break;
            }
            chain.push_back(p);
            v = p->n.inputs[0];
        }
        if (!dq) continue;
        work_node::grid from;
        scalar_grid(dq->n, from);
        // The chain's nodes, run as their own steps would run them, on all 256 values.
        std::optional<tensor> t(std::in_place, from.type, shape{256});
        for (int b = 0; b < 256; ++b)
            static_cast<std::uint8_t*>(t->data())[b] = static_cast<std::uint8_t>(b);
        std::string names;
        for (auto it = chain.rbegin(); it != chain.rend() && t; ++it) {
            t = run_alone(**it, t->view());
            names += (names.empty() ? "" : " → ") + (*it)->n.op_type;
        }
        if (!t || t->type() != conv_grid.type || t->numel() != 256) continue;
        auto& table = l.input_table.emplace();
        const auto* bytes = static_cast<const std::uint8_t*>(t->data());
        for (std::size_t b = 0; b < 256; ++b) // an i8 grid is the u8 grid shifted by 128
            table[b] = conv_grid.type == dtype::i8 ? bytes[b] ^ 0x80 : bytes[b];
        l.input_table_of = names;
        l.n.inputs[0] = dq->n.inputs[0];
        for (auto* f : chain)
            remove(f, fmt::format("fused into {} (a 256-entry table on its quantized input)",
                                  l.n.label()));
        recount();
    }

    // 2. int8 Adds.
    for (auto& qn : work) {
        work_node::quantized_add qa;
        if (qn.removed || qn.n.op_type != "QuantizeLinear" || !scalar_grid(qn.n, qa.y)) continue;
        auto v = qn.n.inputs[0];
        auto* p = made_by(v);
        if (!p || !private_value(v)) continue;
        work_node* act = nullptr;
        if (p->n.op_type == "Relu" || p->n.op_type == "Clip") {
            qa.clip = true;
            qa.lo = p->n.op_type == "Relu"
                        ? 0.0f
                        : p->n.get_float("min", -std::numeric_limits<float>::infinity());
            qa.hi = p->n.op_type == "Relu"
                        ? std::numeric_limits<float>::infinity()
                        : p->n.get_float("max", std::numeric_limits<float>::infinity());
            auto bound = [&](std::size_t i, float& b) {
                if (!has_input(p->n, i)) return true;
                const auto c = cst(p->n, i);
                if (!c || c->type() != dtype::f32 || c->numel() != 1) return false;
                b = tensor::copy_of(*c).span<float>()[0];
                return true;
            };
            if (p->n.inputs.empty() || p->n.outputs.size() != 1 || !bound(1, qa.lo) ||
                !bound(2, qa.hi) || std::isnan(qa.lo) || std::isnan(qa.hi))
                continue;
            act = p;
            v = p->n.inputs[0];
            p = made_by(v);
            if (!p || !private_value(v)) continue;
        }
        if (p->n.op_type != "Add" || p->n.inputs.size() != 2 || p->n.outputs.size() != 1 ||
            p->n.inputs[0] == p->n.inputs[1])
            continue;
        auto* da = made_by(p->n.inputs[0]);
        auto* db = made_by(p->n.inputs[1]);
        if (!da || !db || da->n.op_type != "DequantizeLinear" ||
            db->n.op_type != "DequantizeLinear" || !scalar_grid(da->n, qa.a) ||
            !scalar_grid(db->n, qa.b) || !private_value(p->n.inputs[0]) ||
            !private_value(p->n.inputs[1]))
            continue;
        const auto* sa = shape_of(da->n.inputs[0]);
        const auto* sb = shape_of(db->n.inputs[0]);
        if (!sa || !sb || *sa != *sb) continue; // equal shapes only (no broadcasting)
        const auto why = fmt::format("fused into {} (int8 Add)", p->n.label());
        p->n.inputs = {da->n.inputs[0], db->n.inputs[0]};
        p->n.outputs[0] = qn.n.outputs[0];
        p->qadd = qa;
        for (auto* f : {da, db, act, &qn})
            if (f) remove(f, why);
        recount();
    }

    // 3. Convs writing their QuantizeLinear's grid.
    for (auto& qn : work) {
        work_node::grid g;
        if (qn.removed || qn.n.op_type != "QuantizeLinear" || !scalar_grid(qn.n, g)) continue;
        const auto y = qn.n.inputs[0];
        auto* c = made_by(y);
        if (!c || !private_value(y) || c->n.op_type != "Conv" || !c->act_qdq || c->output_grid ||
            !c->residual.empty() || !c->post.empty() || c->n.outputs.size() != 1)
            continue;
        c->output_grid = g;
        c->n.outputs[0] = qn.n.outputs[0];
        remove(&qn, fmt::format("fused into {} (it writes its result on this grid)", c->n.label()));
        recount();
    }
}

// Node w compiled as its own step would be, run on x as input 0 with its constant inputs; its
// first output, or nothing when it cannot run so (the fusion asking is then not made).
std::optional<tensor> executor::impl::run_alone(const work_node& w, const_tensor_view x) {
    try {
        auto c = compile(w);
        std::vector<optional_view> in{x};
        for (std::size_t i = 1; i < w.n.inputs.size(); ++i)
            in.push_back(has_input(w.n, i) ? cst(w.n, i) : std::nullopt);
        run_state st;
        const ops::result_scope results(nullptr);
        auto out = c.fn(in, st);
        if (out.empty()) return std::nullopt;
        return std::move(out[0]);
    } catch (const hone::error&) {
        return std::nullopt;
    }
}

} // namespace hone
