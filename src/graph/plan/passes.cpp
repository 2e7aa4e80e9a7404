// Planning passes over the work list: activation fusion into Convs, NHWC layouts, int4 QDQ
// weights.
#include "../executor_impl.hpp"

#include <cmath>
#include <limits>

namespace hone {

// ---- planning -------------------------------------------------------------------------------

// Activations after a Conv that runs on the oneDNN kernel become eltwise post-ops of it: Relu,
// LeakyRelu, Clip (constant finite bounds), HardSigmoid (linear, then clip to [0, 1]),
// HardSwish, Sigmoid, Tanh, Gelu, and the patterns x·Sigmoid(x) (SiLU → swish) and
// x·HardSigmoid(x) with alpha 1/6, beta 1/2 (HardSwish). The fused nodes' values can no longer be
// observed (listing them in `keep` prevents the fusion).
void executor::impl::fuse_conv_activations(std::vector<work_node>& work,
                                           const std::set<std::string>& pinned) {
    using kernels::conv_activation;
    using kernels::conv_post_op;
    value_index index;
    auto& uses = index.uses;
    auto& producer = index.producer;
    auto recount = [&] { index.recount(work); };
    recount();
    // Conv + Add(conv, r) → the Conv with r summed in (f32 layers only; r of the Conv output's
    // inferred shape and computed before the Conv runs), so the activations below follow it.
    if (options.precision == exec_precision::f32) {
        std::map<std::string, std::size_t> position; // value → index of its producer in work
        for (std::size_t k = 0; k < work.size(); ++k)
            if (!work[k].removed)
                for (const auto& o : work[k].n.outputs)
                    position[o] = k;
        for (auto& a : work) {
            if (a.removed || a.n.op_type != "Add" || a.n.inputs.size() != 2 ||
                a.n.outputs.size() != 1 || a.n.inputs[0] == a.n.inputs[1])
                continue;
            for (std::size_t side = 0; side < 2; ++side) {
                const auto& x = a.n.inputs[side];
                const auto& r = a.n.inputs[1 - side];
                const auto pit = producer.find(x);
                if (pit == producer.end()) continue;
                auto* c = pit->second;
                if (c->n.op_type != "Conv" || uses[x] != 1 || pinned.count(x) || c->relu ||
                    !c->post.empty() || !c->residual.empty() || !conv_on_kernel(c->n))
                    continue;
                const auto* xs = shape_of(x);
                const auto* rs = shape_of(r);
                if (!xs || !rs || *xs != *rs || xs->size() != 4 ||
                    std::count(xs->begin() + 1, xs->end(), -1) != 0 || is_const(r))
                    continue;
                const auto rp = position.find(r);
                const auto cp = position.find(x);
                const bool ready =
                    rp == position.end() // a graph input
                        ? std::any_of(inputs.begin(), inputs.end(),
                                      [&](const value_info& v) { return v.name == r; })
                        : rp->second < cp->second;
                if (!ready) continue;
                c->residual = r;
                c->n.inputs.resize(3);
                c->n.inputs.push_back(r);
                c->n.outputs[0] = a.n.outputs[0];
                a.removed = true;
                report[a.model_index].path =
                    fmt::format("fused into {} (oneDNN sum post-op)", c->n.label());
                recount();
                break;
            }
        }
    }
    auto constant_float = [&](const node& n, std::size_t i, float& v) {
        const auto c = cst(n, i);
        if (!c || c->type() != dtype::f32 || c->numel() != 1) return false;
        v = tensor::copy_of(*c).span<float>()[0];
        return true;
    };
    for (auto& a : work) {
        if (a.removed || a.n.inputs.empty() || a.n.outputs.size() != 1 || a.n.outputs[0].empty())
            continue;
        const auto& op = a.n.op_type;
        const auto x = a.n.inputs[0];
        const auto pit = producer.find(x);
        if (pit == producer.end()) continue;
        auto* c = pit->second;
        if (c->n.op_type != "Conv" || pinned.count(x) || !conv_on_kernel(c->n)) continue;
        std::vector<conv_post_op> post;
        std::string name = op;
        work_node* mul = nullptr; // the Mul of x·act(x)
        if (uses[x] == 2 && (op == "Sigmoid" || op == "HardSigmoid") &&
            !pinned.count(a.n.outputs[0]) && uses[a.n.outputs[0]] == 1) {
            const bool hs = op == "HardSigmoid";
            if (hs && (a.n.get_float("alpha", 0.2f) != 1.0f / 6.0f ||
                       a.n.get_float("beta", 0.5f) != 0.5f))
                continue;
            for (auto& m : work)
                if (!m.removed && m.n.op_type == "Mul" && m.n.inputs.size() == 2 &&
                    ((m.n.inputs[0] == x && m.n.inputs[1] == a.n.outputs[0]) ||
                     (m.n.inputs[1] == x && m.n.inputs[0] == a.n.outputs[0])))
                    mul = &m;
            if (!mul) continue;
            post.push_back({hs ? conv_activation::hardswish : conv_activation::swish, 1.0f, 0.0f});
            name = hs ? "HardSwish (x·HardSigmoid(x))" : "SiLU (x·Sigmoid(x))";
        } else if (uses[x] != 1) {
            continue;
        } else if (op == "Relu") {
            post.push_back({conv_activation::relu, 0.0f, 0.0f});
        } else if (op == "LeakyRelu") {
            post.push_back({conv_activation::relu, a.n.get_float("alpha", 0.01f), 0.0f});
        } else if (op == "Clip") {
            float lo = a.n.get_float("min", -std::numeric_limits<float>::infinity());
            float hi = a.n.get_float("max", std::numeric_limits<float>::infinity());
            if ((has_input(a.n, 1) && !constant_float(a.n, 1, lo)) ||
                (has_input(a.n, 2) && !constant_float(a.n, 2, hi)) || !std::isfinite(lo) ||
                !std::isfinite(hi) || lo > hi)
                continue;
            post.push_back({conv_activation::clip, lo, hi});
        } else if (op == "HardSigmoid") {
            post.push_back({conv_activation::linear, a.n.get_float("alpha", 0.2f),
                            a.n.get_float("beta", 0.5f)});
            post.push_back({conv_activation::clip, 0.0f, 1.0f});
        } else if (op == "HardSwish") {
            post.push_back({conv_activation::hardswish, 0.0f, 0.0f});
        } else if (op == "Sigmoid") {
            post.push_back({conv_activation::logistic, 0.0f, 0.0f});
        } else if (op == "Tanh") {
            post.push_back({conv_activation::tanh, 0.0f, 0.0f});
        } else if (op == "Gelu") {
            const auto approx = a.n.get_string("approximate", "none");
            if (approx != "none" && approx != "tanh") continue;
            post.push_back(
                {approx == "tanh" ? conv_activation::gelu_tanh : conv_activation::gelu_erf, 0, 0});
        } else {
            continue;
        }
        c->post.insert(c->post.end(), post.begin(), post.end());
        c->post_names.push_back(name);
        a.removed = true;
        report[a.model_index].path = fmt::format("fused into {} (oneDNN post-op)", c->n.label());
        c->n.outputs[0] = a.n.outputs[0];
        if (mul) {
            mul->removed = true;
            report[mul->model_index].path =
                fmt::format("fused into {} (oneDNN post-op)", c->n.label());
            c->n.outputs[0] = mul->n.outputs[0];
        }
        recount();
    }
}

// How a node takes part in NHWC chains (plan_conv_layouts).
executor::impl::nhwc_role executor::impl::role_of(const work_node& w) const {
    const auto& n = w.n;
    if (w.removed || !n.domain.empty() || n.inputs.empty() || n.outputs.empty() ||
        n.outputs[0].empty())
        return nhwc_role::none;
    const auto& op = n.op_type;
    if (op == "Conv") return conv_on_kernel(n) ? nhwc_role::conv : nhwc_role::none;
    const auto* in = shape_of(n.inputs[0]);
    if (!in || in->size() != 4) return nhwc_role::none;
    if (w.float_table || (op == "QuantizeLinear" && w.table)) // tables (plan/int8.cpp)
        return nhwc_role::unary;
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") return nhwc_role::global_pool;
    if (op == "MaxPool" || op == "AveragePool")
        return n.get_ints("kernel_shape", {}).size() == 2 && n.get_int("storage_order", 0) == 0 &&
                       (n.outputs.size() == 1 || n.outputs[1].empty())
                   ? nhwc_role::pool
                   : nhwc_role::none;
    static const std::set<std::string> unary{"Relu",      "LeakyRelu", "Sigmoid", "HardSigmoid",
                                             "HardSwish", "Tanh",      "Erf",     "Gelu",
                                             "Sqrt",      "Clip",      "Identity"};
    if (unary.count(op) && n.outputs.size() == 1) return nhwc_role::unary;
    work_node::grid g; // per-tensor quantization and tables: elementwise too
    if ((op == "QuantizeLinear" || op == "DequantizeLinear") && n.outputs.size() == 1 &&
        scalar_grid(n, g))
        return nhwc_role::unary;
    if (op == "Pad" && n.outputs.size() == 1 && n.inputs.size() <= 3 && !n.has("pads") &&
        n.get_string("mode", "constant") == "constant") { // all-zero pads (exporters write them
        const auto pads = cst(n, 1);                      // before AveragePool): a copy
        if (!pads || pads->type() != dtype::i64) return nhwc_role::none;
        const auto p = tensor::copy_of(*pads);
        const auto v = p.span<const std::int64_t>();
        return std::all_of(v.begin(), v.end(), [](std::int64_t e) { return e == 0; })
                   ? nhwc_role::unary
                   : nhwc_role::none;
    }
    if (op == "BatchNormalization")
        return n.outputs.size() == 1 && n.get_int("training_mode", 0) == 0 &&
                       n.inputs.size() == 5 && is_const(n.inputs[1]) && is_const(n.inputs[2]) &&
                       is_const(n.inputs[3]) && is_const(n.inputs[4])
                   ? nhwc_role::batch_norm
                   : nhwc_role::none;
    if (per_channel_operand(n) >= 0) return nhwc_role::per_channel;
    auto all_4d_values = [&] {
        return std::all_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& v) {
            const auto* d = shape_of(v);
            return !v.empty() && !is_const(v) && d && *d == *in;
        });
    };
    if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && n.inputs.size() == 2)
        return all_4d_values() ? nhwc_role::elementwise : nhwc_role::none;
    if (op == "Concat" && n.has("axis")) {
        const auto axis = n.get_int("axis", 0);
        const bool on_channels = axis == 1 || axis == -3;
        const bool ranks = std::all_of(n.inputs.begin(), n.inputs.end(), [&](const auto& v) {
            const auto* d = shape_of(v);
            return !v.empty() && !is_const(v) && d && d->size() == 4;
        });
        return on_channels && ranks ? nhwc_role::concat : nhwc_role::none;
    }
    return nhwc_role::none;
}

// Values held NHWC ([N, H, W, C], the layout oneDNN 2.6's convolutions choose on AVX-512), so
// that chains of convolutions — with their folded BatchNormalization, fused activations and
// residual Adds, and the pooling, activations, normalization, excitation and concatenation
// between them — run without reorders. A value is held NHWC when it is neither a graph output
// nor kept, its producer can write NHWC and every reader can read it so:
//  - a oneDNN-kernel Conv writes NHWC and reads it as input 0 or as the fused residual addend;
//  - 2-D pools, unary activations, BatchNormalization and per-channel Add/Sub/Mul/Div (an
//    [N, C, 1, 1] operand: squeeze-excitation) read their [N, C, H, W] operand NHWC, and write
//    NHWC when they read it so;
//  - Concat on the channel axis and Add/Sub/Mul/Div of equal shapes need all their inputs NHWC
//    (then they write NHWC);
//  - global pools read NHWC (their [N, C, 1, 1] is the same bytes in both layouts).
// Found as the largest such set: start from every candidate and drop values until each one's
// producer and readers agree (a fixpoint). A node that reads NHWC but whose result must be NCHW
// transposes its result (work_node::transpose_result). Returns the values held NHWC.
std::set<std::string> executor::impl::plan_conv_layouts(std::vector<work_node>& work,
                                                        const std::set<std::string>& pinned) {
    using kernels::conv_layout;
    std::map<std::string, std::vector<std::pair<work_node*, std::size_t>>> readers;
    std::map<std::string, work_node*> producer;
    std::map<const work_node*, nhwc_role> role;
    for (auto& w : work) {
        if (w.removed) continue;
        role[&w] = role_of(w);
        for (std::size_t i = 0; i < w.n.inputs.size(); ++i)
            if (!w.n.inputs[i].empty()) readers[w.n.inputs[i]].push_back({&w, i});
        if (!w.n.outputs.empty() && !w.n.outputs[0].empty()) producer[w.n.outputs[0]] = &w;
    }
    std::set<std::string> held;
    for (const auto& [v, p] : producer) {
        const auto r = role.at(p);
        if (r != nhwc_role::none && r != nhwc_role::global_pool && !pinned.count(v) &&
            readers.count(v))
            held.insert(v);
    }
    auto all_held = [&](const work_node& w) {
        return std::all_of(w.n.inputs.begin(), w.n.inputs.end(),
                           [&](const std::string& v) { return held.count(v) != 0; });
    };
    // The input a node reads NHWC when it reads one (its [N, C, H, W] operand).
    auto main_input = [&](const work_node& w) -> std::size_t {
        return role.at(&w) == nhwc_role::per_channel
                   ? static_cast<std::size_t>(per_channel_operand(w.n))
                   : 0;
    };
    auto writes_nhwc = [&](const work_node& w) {
        switch (role.at(&w)) {
        case nhwc_role::conv: return true;
        case nhwc_role::concat:
        case nhwc_role::elementwise: return all_held(w);
        case nhwc_role::none:
        case nhwc_role::global_pool: return false;
        default: return held.count(w.n.inputs[main_input(w)]) != 0;
        }
    };
    auto reads_nhwc = [&](const work_node& w, std::size_t i, const std::string& v) {
        switch (role.at(&w)) {
        case nhwc_role::conv: return i == 0 || (i == 3 && w.residual == v);
        case nhwc_role::concat:
        case nhwc_role::elementwise: return all_held(w);
        case nhwc_role::none: return false;
        default: return i == main_input(w);
        }
    };
    for (bool changed = true; changed;) {
        changed = false;
        for (auto it = held.begin(); it != held.end();) {
            const auto& v = *it;
            const auto& rs = readers.at(v);
            const bool ok = writes_nhwc(*producer.at(v)) &&
                            std::all_of(rs.begin(), rs.end(), [&](const auto& r) {
                                return reads_nhwc(*r.first, r.second, v);
                            });
            if (ok) {
                ++it;
            } else {
                it = held.erase(it);
                changed = true;
            }
        }
    }
    for (const auto& v : held) {
        producer.at(v)->layouts.dst = conv_layout::nhwc;
        for (const auto& [r, i] : readers.at(v)) {
            const bool addend = role.at(r) == nhwc_role::conv && i == 3;
            (addend ? r->layouts.addend : r->layouts.src) = conv_layout::nhwc;
        }
    }
    for (auto& w : work)
        if (!w.removed) {
            const auto r = role.at(&w);
            w.transpose_result = r != nhwc_role::conv && r != nhwc_role::global_pool &&
                                 w.layouts.src == conv_layout::nhwc &&
                                 w.layouts.dst != conv_layout::nhwc;
        }
    return held;
}

// Add/Sub/Mul/Div of a value x [N, C, H, W] (H·W > 1) and a per-(n, c) operand [N, C, 1, 1]
// (squeeze-excitation's scale), shapes as inferred: the position of x, or −1.
int executor::impl::per_channel_operand(const node& n) const {
    const auto& op = n.op_type;
    if (!n.domain.empty() || n.inputs.size() != 2 || n.outputs.size() != 1 ||
        (op != "Add" && op != "Sub" && op != "Mul" && op != "Div"))
        return -1;
    const auto* a = shape_of(n.inputs[0]);
    const auto* b = shape_of(n.inputs[1]);
    if (!a || !b || a->size() != 4 || b->size() != 4) return -1;
    for (int xi = 0; xi < 2; ++xi) {
        const auto& x = xi ? *b : *a;
        const auto& c = xi ? *a : *b;
        if (c[2] == 1 && c[3] == 1 && c[1] == x[1] && x[1] > 0 && c[0] == x[0] &&
            !(x[2] == 1 && x[3] == 1))
            return xi;
    }
    return -1;
}

namespace {
std::int32_t nibble_at(const std::uint8_t* p, std::int64_t i, bool is_signed) {
    const std::uint8_t b = p[i / 2];
    const int v = (i & 1) ? (b >> 4) : (b & 0x0f);
    return is_signed && v >= 8 ? v - 16 : v;
}
} // namespace

// DequantizeLinear(x: INT4/UINT4 constant [*, *], scale f32, zero point, axis, block_size) whose
// output is only the constant weight B of Gemm/MatMul layers, blocked along their K axis: the
// layers run kernels::int4_matmul on those very integers (an int4_weights entry, transposed to
// [N, K] when the model holds [K, N]). Anything else (signed with a non-zero zero point, odd
// block, a consumer that is not such a layer, alpha ≠ 1) keeps the fp32 fold.
void executor::impl::map_qdq_int4(const model& mdl) {
    if (!options.qdq_int4_kernel) return;
    std::map<std::string, std::vector<std::pair<const node*, std::size_t>>> users;
    for (const auto& n : mdl.nodes)
        for (std::size_t i = 0; i < n.inputs.size(); ++i)
            if (!n.inputs[i].empty()) users[n.inputs[i]].push_back({&n, i});
    std::set<std::string> pinned(options.keep.begin(), options.keep.end());
    for (const auto& o : mdl.outputs)
        pinned.insert(o.name);
    for (std::size_t idx = 0; idx < mdl.nodes.size(); ++idx) {
        const auto& d = mdl.nodes[idx];
        if (d.op_type != "DequantizeLinear" || !d.domain.empty() || d.inputs.size() < 2 ||
            d.outputs.size() != 1 || d.outputs[0].empty())
            continue;
        const auto& out = d.outputs[0];
        const auto block = d.get_int("block_size", 0);
        const auto x = cst(d, 0), sc = cst(d, 1), zp = cst(d, 2);
        if (block <= 0 || block % 2 != 0 || !x || !sc || x->rank() != 2 ||
            (x->type() != dtype::i4 && x->type() != dtype::u4) || sc->type() != dtype::f32 ||
            (has_input(d, 2) && (!zp || zp->type() != x->type())) ||
            options.int4_weights.count(out) || options.palettized_weights.count(out) ||
            pinned.count(out) || !users.count(out))
            continue;
        // Every consumer: a Gemm (transA = 0, alpha = 1) or MatMul reading it as B, with the
        // blocks along its K axis; all agree on the layout.
        int k_axis = -1;
        bool ok = true;
        for (const auto& [u, pos] : users.at(out)) {
            int ka = -1;
            if (u->domain.empty() && u->op_type == "Gemm" && pos == 1 &&
                u->get_int("transA", 0) == 0 && u->get_float("alpha", 1.0f) == 1.0f)
                ka = u->get_int("transB", 0) != 0 ? 1 : 0;
            else if (u->domain.empty() && u->op_type == "MatMul" && pos == 1)
                ka = 0;
            ok &= ka >= 0 && !f32_nodes.count(u->name) && (k_axis < 0 || k_axis == ka);
            k_axis = ka;
        }
        auto axis = d.get_int("axis", 1);
        if (axis < 0) axis += 2;
        if (!ok || axis != k_axis) continue;
        const std::int64_t r0 = x->dims()[0], r1 = x->dims()[1];
        const std::int64_t nn = k_axis == 1 ? r0 : r1, kk = k_axis == 1 ? r1 : r0;
        // Scale (and zero point) exactly x's shape with the K axis divided by block_size.
        const shape want = k_axis == 1 ? shape{nn, kk / block} : shape{kk / block, nn};
        if (kk % block != 0 || !(sc->dims() == want) || (zp && !(zp->dims() == want))) continue;
        const bool is_signed = x->type() == dtype::i4;
        const auto xc = tensor::copy_of(*x), sv = tensor::copy_of(*sc);
        std::optional<tensor> zc;
        if (zp) zc = tensor::copy_of(*zp);
        const auto* xp = static_cast<const std::uint8_t*>(xc.data());
        const auto* zpp = zc ? static_cast<const std::uint8_t*>(zc->data()) : nullptr;
        const auto groups = kk / block;
        std::vector<std::int32_t> q(static_cast<std::size_t>(nn * kk));
        std::vector<float> s(static_cast<std::size_t>(nn * groups));
        std::vector<std::int32_t> z(s.size(), 0);
        bool any_zp = false;
        for (std::int64_t n = 0; n < nn; ++n) {
            for (std::int64_t k = 0; k < kk; ++k) {
                const auto src = k_axis == 1 ? n * kk + k : k * nn + n; // row-major in x
                q[static_cast<std::size_t>(n * kk + k)] = nibble_at(xp, src, is_signed);
            }
            for (std::int64_t g = 0; g < groups; ++g) {
                const auto src = k_axis == 1 ? n * groups + g : g * nn + n; // scale's layout
                s[static_cast<std::size_t>(n * groups + g)] =
                    sv.span<const float>()[static_cast<std::size_t>(src)];
                const auto zv = zpp ? nibble_at(zpp, src, is_signed) : 0;
                z[static_cast<std::size_t>(n * groups + g)] = zv;
                any_zp |= zv != 0;
            }
        }
        if (is_signed && any_zp) continue; // the kernel takes signed symmetric only
        quant_spec spec;
        spec.bits = 4;
        spec.is_signed = is_signed;
        spec.symmetric = is_signed; // unsigned: affine, the model's zero points (0 if absent)
        spec.granularity = quant_granularity::per_group;
        spec.group_axis = 1;
        spec.group_size = block;
        try {
            auto qt = std::make_shared<const quantized_tensor>(quantized_tensor::from_values(
                spec, shape{nn, kk}, q, s, z, "DequantizeLinear '" + d.name + "'"));
            (void)qt->to_int4_weights(); // the kernel's own checks
            options.int4_weights.emplace(out, std::move(qt));
            qdq_int4.emplace(out, idx);
        } catch (const hone::error&) {
            // A form the int4 kernel cannot take: the fp32 fold runs it.
        }
    }
}

} // namespace hone
