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

// Values that only oneDNN-kernel Convs (as input 0 or as the fused residual addend), 2-D pools
// (input 0) and per-channel Add/Sub/Mul/Div (the [N, C, H, W] operand; the other is [N, C, 1, 1],
// as in squeeze-excitation) read, made by such a Conv or by a pool or per-channel op that reads
// NHWC, and not graph outputs or kept, are held NHWC: the layout oneDNN's convolutions choose on
// AVX-512, so a chain of them (with their fused BatchNormalization, activations and residual
// Adds, and the pooling and excitation between them) runs without reorders; everything else
// stays NCHW. A pool or per-channel op reading NHWC whose result goes elsewhere transposes its
// result; a global pool's [N, C, 1, 1] is the same bytes in both layouts. Returns the values
// held NHWC.
std::set<std::string> executor::impl::plan_conv_layouts(std::vector<work_node>& work,
                                                        const std::set<std::string>& pinned) {
    using kernels::conv_layout;
    std::map<std::string, std::vector<std::pair<work_node*, std::size_t>>> readers;
    for (auto& w : work)
        if (!w.removed)
            for (std::size_t i = 0; i < w.n.inputs.size(); ++i)
                if (!w.n.inputs[i].empty()) readers[w.n.inputs[i]].push_back({&w, i});
    auto on_kernel = [&](const work_node& w) {
        return w.n.op_type == "Conv" && conv_on_kernel(w.n);
    };
    auto is_global = [](const work_node& w) {
        return w.n.op_type == "GlobalAveragePool" || w.n.op_type == "GlobalMaxPool";
    };
    auto is_pool = [&](const work_node& w) {
        if (!w.n.domain.empty() || w.n.inputs.empty()) return false;
        const auto* in = shape_of(w.n.inputs[0]);
        if (!in || in->size() != 4) return false;
        if (is_global(w)) return true;
        const bool windowed = w.n.op_type == "MaxPool" || w.n.op_type == "AveragePool";
        return windowed && w.n.get_ints("kernel_shape", {}).size() == 2 &&
               w.n.get_int("storage_order", 0) == 0 &&
               (w.n.outputs.size() == 1 || w.n.outputs[1].empty());
    };
    auto scale_operand = [&](const work_node& w) { return per_channel_operand(w.n); };
    std::set<std::string> held;
    for (auto& w : work) { // in execution order: a reader's input is decided before the reader
        if (w.removed || w.n.outputs.size() < 1) continue;
        const bool producer =
            on_kernel(w) || ((scale_operand(w) >= 0 || (is_pool(w) && !is_global(w))) &&
                             w.layouts.src == conv_layout::nhwc);
        if (!producer) continue;
        const auto& v = w.n.outputs[0];
        const auto it = readers.find(v);
        if (v.empty() || pinned.count(v) || it == readers.end()) continue;
        const bool ok = std::all_of(it->second.begin(), it->second.end(), [&](const auto& r) {
            if (is_pool(*r.first)) return r.second == 0;
            if (scale_operand(*r.first) >= 0)
                return r.second == static_cast<std::size_t>(scale_operand(*r.first));
            return on_kernel(*r.first) &&
                   (r.second == 0 || (r.second == 3 && r.first->residual == v));
        });
        if (!ok) continue;
        w.layouts.dst = conv_layout::nhwc;
        for (const auto& r : it->second) {
            const bool addend = on_kernel(*r.first) && r.second == 3;
            (addend ? r.first->layouts.addend : r.first->layouts.src) = conv_layout::nhwc;
        }
        held.insert(v);
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
