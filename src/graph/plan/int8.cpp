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

// Elementwise operators: with scalar constants besides the one quantized value they read, the
// result depends on the element alone, so a quantized value through them is a table of 256
// entries.
bool elementwise_unary(const std::string& op) {
    static const std::set<std::string> ops{
        "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
        "Tanh", "Erf",       "Gelu", "Sqrt",    "Neg",         "Abs",
        "Elu",  "Selu",      "Exp",  "Log",     "Softplus",    "Identity"};
    return ops.count(op) != 0;
}

bool elementwise_binary(const std::string& op) {
    return op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
}

} // namespace

// Four rewrites, in this order, each only where the values in between are read by nothing
// else and are not kept:
//  1. QuantizeLinear(f(DequantizeLinear(q))), f elementwise operators of that one value and
//     scalar constants (none, Clip, HardSigmoid, x·HardSigmoid(x), …), becomes a 256-entry
//     table on q, computed at load by running those very nodes on all 256 values of q's type
//     (the same bytes as running them); when one int8 Conv alone reads the result, the table
//     moves into the Conv. Conv → Q → DQ → Clip → Q → DQ → Conv thus becomes
//     Conv → table → Conv. Elementwise operators on a DequantizeLinear's value whose result
//     stays f32 become a table of 256 floats the same way. (Same bytes: each element goes
//     through the same arithmetic; only a transcendental activation whose kernel computes a
//     vector body and a scalar tail differently could differ in the last bit.)
//  2. MaxPool between a DequantizeLinear and a QuantizeLinear runs on the bytes (then a table
//     onto the output grid).
//  3. QuantizeLinear(act?(Add(DequantizeLinear(a), DequantizeLinear(b)))) with act Relu or Clip
//     and a, b of equal shapes: one int8 Add reading a and b, writing the quantized sum.
//  4. QuantizeLinear(y) where y is an int8 Conv's result (no sum, no post-op but ReLU): the Conv
//     writes its result on that grid (kernels::conv2d's quantized dst).
void executor::impl::fuse_int8_chains(std::vector<work_node>& work,
                                      const std::set<std::string>& pinned) {
    value_index index;
    auto& readers = index.readers;
    auto recount = [&] { index.recount(work); };
    auto made_by = [&](const std::string& v) { return index.made_by(v); };
    // Read once, by one node, and not kept: a value a fusion may make disappear.
    auto private_value = [&](const std::string& v) {
        return index.uses[v] == 1 && !pinned.count(v);
    };
    auto remove = [&](work_node* f, const std::string& why) {
        f->removed = true;
        report[f->model_index].path = why;
    };
    recount();

    // 1. Tables: QuantizeLinear nodes of f(DequantizeLinear(q)), then into int8 Convs.
    // The elementwise nodes from one DequantizeLinear up to `last` (inclusive): scalar constants
    // besides, nothing read from outside but the DequantizeLinear's value, nothing in between
    // read from outside. Empty when there is no such set.
    auto elementwise_from_dq = [&](work_node& last, work_node*& dq) {
        std::set<const work_node*> members{&last};
        dq = nullptr;
        bool ok = true;
        std::vector<std::string> todo{last.n.inputs[0]};
        if (last.n.op_type != "QuantizeLinear")
            for (std::size_t i = 1; ok && i < last.n.inputs.size(); ++i)
                if (has_input(last.n, i) && !cst(last.n, i)) todo.push_back(last.n.inputs[i]);
        std::set<std::string> seen;
        while (ok && !todo.empty()) {
            const auto v = todo.back();
            todo.pop_back();
            if (!seen.insert(v).second) continue;
            auto* p = made_by(v);
            work_node::grid g;
            ok = p && !pinned.count(v) && p->n.outputs.size() == 1 && members.size() < 16;
            if (!ok) break;
            members.insert(p);
            if (p->n.op_type == "DequantizeLinear" && scalar_grid(p->n, g)) {
                ok = !dq || dq == p;
                dq = p;
                continue;
            }
            ok = elementwise_unary(p->n.op_type) || elementwise_binary(p->n.op_type);
            for (std::size_t i = 0; ok && i < p->n.inputs.size(); ++i) {
                if (!has_input(p->n, i)) continue;
                if (const auto c = cst(p->n, i))
                    ok = c->numel() == 1; // the same for every element
                else
                    todo.push_back(p->n.inputs[i]);
            }
        }
        for (const auto* member : members) // nothing outside reads a value in between
            if (ok && member != &last)
                for (const auto* r : readers[member->n.outputs[0]])
                    ok &= members.count(r) != 0;
        if (!ok || !dq) members.clear();
        return members;
    };
    // The members run in plan order as their own steps would run, on all 256 values of the
    // DequantizeLinear's input type: `last`'s 256 results (nothing when one cannot run so).
    auto on_all_bytes = [&](const std::set<const work_node*>& members, const work_node& dq,
                            const work_node& last, std::string& names) -> std::optional<tensor> {
        work_node::grid from;
        scalar_grid(dq.n, from);
        std::map<std::string, tensor> values;
        auto& in = values.emplace(dq.n.inputs[0], tensor(from.type, shape{256})).first->second;
        for (int b = 0; b < 256; ++b)
            static_cast<std::uint8_t*>(in.data())[b] = static_cast<std::uint8_t>(b);
        for (const auto& w : work) {
            if (!members.count(&w)) continue;
            auto t = run_alone(w, values);
            if (!t) return std::nullopt;
            values.insert_or_assign(w.n.outputs[0], std::move(*t));
            names += (names.empty() ? "" : " → ") + w.n.op_type;
        }
        auto out = values.find(last.n.outputs[0]);
        if (out == values.end() || out->second.numel() != 256) return std::nullopt;
        return std::move(out->second);
    };
    // `last` becomes the table of `members`: it reads what their DequantizeLinear read.
    auto become_table = [&](work_node& last, const std::set<const work_node*>& members,
                            const work_node& dq, const std::string& names) {
        last.table_of = names;
        last.n.inputs = {dq.n.inputs[0]};
        const auto why = fmt::format("fused into {} (a 256-entry table)", last.n.label());
        for (auto& w : work)
            if (&w != &last && members.count(&w)) remove(&w, why);
        recount();
    };
    for (auto& qc : work) {
        work_node::grid to;
        if (qc.removed || qc.n.op_type != "QuantizeLinear" || !scalar_grid(qc.n, to)) continue;
        work_node* dq = nullptr;
        const auto members = elementwise_from_dq(qc, dq);
        std::string names;
        const auto out = members.empty() ? std::nullopt : on_all_bytes(members, *dq, qc, names);
        if (!out || out->type() != to.type) continue;
        std::array<std::uint8_t, 256> table;
        std::copy_n(static_cast<const std::uint8_t*>(out->data()), 256, table.begin());
        // Read by one int8 Conv alone: the table moves into it (onto its u8 grid).
        const auto& q = qc.n.outputs[0];
        const auto& rs = readers[q];
        auto* conv = rs.size() == 1 && private_value(q) ? const_cast<work_node*>(rs[0]) : nullptr;
        if (conv && conv->act_qdq && conv->n.op_type == "Conv" && conv->n.inputs[0] == q) {
            for (auto& b : table) // an i8 grid is the u8 grid shifted by 128
                b = to.type == dtype::i8 ? b ^ 0x80 : b;
            conv->table = table;
            conv->table_of = names;
            conv->n.inputs[0] = dq->n.inputs[0];
            const auto why = fmt::format("fused into {} (a 256-entry table on its quantized input)",
                                         conv->n.label());
            for (auto& w : work)
                if (members.count(&w)) remove(&w, why);
            recount();
        } else { // this QuantizeLinear becomes the table
            qc.table = table;
            qc.output_grid = to;
            become_table(qc, members, *dq, names);
        }
    }
    // Elementwise operators on a DequantizeLinear's value whose f32 result stays f32 (read by
    // pools, per-channel products, …): one table of 256 floats, the last node from the end.
    for (auto it = work.rbegin(); it != work.rend(); ++it) {
        auto& last = *it;
        if (last.removed || last.n.inputs.empty() || last.n.outputs.size() != 1 ||
            (!elementwise_unary(last.n.op_type) && !elementwise_binary(last.n.op_type)))
            continue;
        work_node* dq = nullptr;
        const auto members = elementwise_from_dq(last, dq);
        std::string names;
        const auto out = members.empty() ? std::nullopt : on_all_bytes(members, *dq, last, names);
        if (!out || out->type() != dtype::f32) continue;
        auto& table = last.float_table.emplace();
        std::copy_n(static_cast<const float*>(out->data()), 256, table.begin());
        become_table(last, members, *dq, names);
    }

    // 2. MaxPool between DequantizeLinear and QuantizeLinear: on the bytes (the max commutes with
    // DequantizeLinear, scale > 0), then the table DQ → Q from the input grid to the output's.
    // Only where every window holds an input position (pads below the kernel, no ceil_mode,
    // dilation 1), so no −inf can reach the QuantizeLinear.
    for (auto& pool : work) {
        const auto& pn = pool.n;
        if (pool.removed || pn.op_type != "MaxPool" || pn.inputs.empty() ||
            pn.get_int("storage_order", 0) != 0 || pn.get_int("ceil_mode", 0) != 0 ||
            (pn.outputs.size() > 1 && !pn.outputs[1].empty()) ||
            pn.get_string("auto_pad", "NOTSET") != "NOTSET")
            continue;
        const auto k = pn.get_ints("kernel_shape", {});
        const auto pads = pn.get_ints("pads", std::vector<std::int64_t>(4, 0));
        const auto dil = pn.get_ints("dilations", {1, 1});
        bool ok =
            k.size() == 2 && pads.size() == 4 && dil.size() == 2 && dil[0] == 1 && dil[1] == 1;
        for (std::size_t i = 0; ok && i < 4; ++i)
            ok = pads[i] >= 0 && pads[i] < k[i % 2];
        auto* dq = ok ? made_by(pn.inputs[0]) : nullptr;
        work_node::grid from, to;
        if (!dq || dq->n.op_type != "DequantizeLinear" || !scalar_grid(dq->n, from) ||
            !private_value(pn.inputs[0]) || !private_value(pn.outputs[0]))
            continue;
        const auto& rs = readers[pn.outputs[0]];
        auto* q = rs.size() == 1 ? const_cast<work_node*>(rs[0]) : nullptr;
        if (!q || q->n.op_type != "QuantizeLinear" || !scalar_grid(q->n, to) ||
            from.type != to.type) // the pooled bytes keep the input's type
            continue;
        std::map<std::string, tensor> values;
        auto& in = values.emplace(dq->n.inputs[0], tensor(from.type, shape{256})).first->second;
        for (int b = 0; b < 256; ++b)
            static_cast<std::uint8_t*>(in.data())[b] = static_cast<std::uint8_t>(b);
        auto real = run_alone(*dq, values); // the 256 values, then onto the output grid
        if (!real) continue;
        values.insert_or_assign(pn.outputs[0], std::move(*real));
        const auto out = run_alone(*q, values);
        if (!out || out->type() != to.type || out->numel() != 256) continue;
        auto& table = pool.table.emplace();
        std::copy_n(static_cast<const std::uint8_t*>(out->data()), 256, table.begin());
        pool.output_grid = to;
        pool.n.inputs[0] = dq->n.inputs[0];
        pool.n.outputs[0] = q->n.outputs[0];
        const auto why = fmt::format("fused into {} (pooled on quantized values)", pool.n.label());
        remove(dq, why);
        remove(q, why);
        recount();
    }

    // 3. int8 Adds.
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

    // 4. Convs writing their QuantizeLinear's grid.
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

// Node w compiled as its own step would be and run on `values` (by name) and its constant
// inputs: its first output, or nothing when it cannot run so (the fusion asking is then not
// made).
std::optional<tensor> executor::impl::run_alone(const work_node& w,
                                                const std::map<std::string, tensor>& values) {
    try {
        auto c = compile(w);
        std::vector<optional_view> in;
        for (std::size_t i = 0; i < w.n.inputs.size(); ++i) {
            const auto v = values.find(w.n.inputs[i]);
            if (v != values.end())
                in.emplace_back(v->second.view());
            else if (has_input(w.n, i) && !cst(w.n, i))
                return std::nullopt; // a value from outside
            else
                in.push_back(has_input(w.n, i) ? cst(w.n, i) : std::nullopt);
        }
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
