// executor::impl::build: the plan from a model (folding, fusions, compiling the steps).
#include "../executor_impl.hpp"

#include <cmath>
#include <limits>

namespace hone {

namespace {
// A step that reads NHWC whose result a reader needs NCHW: its output 0 transposed, the NHWC
// buffer given back to the run's pool.
kernel_fn transposed_to_nchw(kernel_fn fn) {
    return [fn = std::move(fn)](std::span<const optional_view> in, run_state& st) {
        auto out = fn(in, st);
        const std::int64_t nchw[] = {0, 3, 1, 2};
        tensor nhwc = std::exchange(out.at(0), ops::transpose(out.at(0).view(), nchw));
        if (st.pool) st.pool->give(std::move(nhwc));
        ++st.reorders;
        return out;
    };
}
} // namespace

void executor::impl::build(const model& mdl) {
    m = &mdl;
    inputs = mdl.inputs;
    outputs = mdl.outputs;
    reduce_range = options.reduce_range < 0 ? (kernels::int8_pairs_saturate() ? 1 : 0)
                                            : (options.reduce_range != 0 ? 1 : 0);
    f32_nodes.insert(options.f32_nodes.begin(), options.f32_nodes.end());
    const std::string where = mdl.source.empty() ? "model" : "model '" + mdl.source + "'";
    const auto order = validate(mdl);

    std::vector<std::string> unsupported;
    std::function<void(const model&, const std::string&)> check_ops = [&](const model& g,
                                                                          const std::string& in) {
        for (const auto& n : g.nodes) {
            if (n.domain == "com.microsoft"
                    ? n.op_type != "MatMulNBits"
                    : (!n.domain.empty() ||
                       (!supported_ops().count(n.op_type) && !is_table_op(n) && n.op_type != "If")))
                unsupported.push_back(
                    in + (n.domain.empty() ? n.label()
                                           : fmt::format("{} (domain '{}')", n.label(), n.domain)));
            for (const auto& [key, a] : n.attributes)
                if (a.type == attribute::kind::g && a.g) check_ops(*a.g, in + n.name + "/");
        }
    };
    check_ops(mdl, "");
    if (!unsupported.empty()) {
        std::string list;
        for (const auto& u : unsupported)
            list += (list.empty() ? "" : ", ") + u;
        fail(status::unsupported,
             fmt::format("{}: {} node(s) with operators the executor cannot run: {}", where,
                         unsupported.size(), list));
    }
    report.resize(mdl.nodes.size());
    for (std::size_t i = 0; i < mdl.nodes.size(); ++i)
        report[i] = {mdl.nodes[i].name, mdl.nodes[i].op_type, ""};

    for (const auto& name : mdl.weight_names()) {
        const auto& t = mdl.weight(name);
        constv[name] = t.view();
        shapes[name] = {t.dims().dims().begin(), t.dims().dims().end()};
    }
    for (const auto& in : mdl.inputs) {
        if (!in.has_shape) continue;
        std::vector<std::int64_t> s;
        for (const auto& d : in.dims)
            s.push_back(d.is_static() ? d.size : -1);
        shapes[in.name] = s;
    }

    map_qdq_int4(mdl);

    auto named = [&](const node& n, auto&& body) {
        try {
            return body();
        } catch (const hone::error& e) {
            fail(e.code(), fmt::format("{}: {}: {}", where, n.label(), e.what()));
        }
    };

    // Pass 1: constants, shape arithmetic, shape inference. An If whose condition is known
    // here is replaced by the nodes of the branch it takes.
    std::vector<work_node> work;
    std::function<void(const node&, std::size_t)> visit = [&](const node& n, std::size_t idx) {
        if (n.op_type == "If" && n.domain.empty()) {
            named(n, [&] {
                inline_if(n, visit);
                return 0;
            });
            report[idx].path = fmt::format(
                "inlined at load ({} taken)",
                tensor::copy_of(*cst(n, 0)).span<bool>()[0] ? "then_branch" : "else_branch");
            return;
        }
        if (n.op_type == "Constant") {
            if (n.outputs.size() != 1 || !n.has("value") ||
                n.attributes.at("value").type != attribute::kind::t || !n.attributes.at("value").t)
                fail(status::unsupported,
                     fmt::format("{}: {}: only a tensor 'value' is supported", where, n.label()));
            set_const(n.outputs[0], n.attributes.at("value").t->clone());
            report[idx].path = "constant";
            return;
        }
        if (options.fold_constants && named(n, [&] { return fold_partial(n); })) {
            report[idx].path = "folded at load (shape arithmetic)";
            return;
        }
        const bool all_const =
            !n.inputs.empty() && std::all_of(n.inputs.begin(), n.inputs.end(),
                                             [&](const std::string& s) { return is_const(s); });
        if (options.fold_constants && all_const) {
            named(n, [&] {
                work_node w;
                w.n = n;
                w.model_index = idx;
                f32_nodes.insert(n.name); // constants fold in fp32 whatever the precision
                auto c = compile(w);
                std::vector<optional_view> in;
                for (std::size_t i = 0; i < n.inputs.size(); ++i)
                    in.push_back(cst(n, i));
                run_state st;
                auto outs = c.fn(in, st);
                for (std::size_t k = 0; k < n.outputs.size() && k < outs.size(); ++k)
                    if (!n.outputs[k].empty()) set_const(n.outputs[k], std::move(outs[k]));
                return 0;
            });
            report[idx].path = "folded at load (constant inputs)";
            return;
        }
        named(n, [&] {
            infer(n);
            return 0;
        });
        work_node w;
        w.n = n;
        w.model_index = idx;
        if (n.op_type == "Reshape" && n.get_int("allowzero", 0) == 0 && has_input(n, 1) &&
            partial.count(n.inputs[1])) {
            const auto& p = partial.at(n.inputs[1]);
            std::vector<std::int64_t> v;
            bool ok = true;
            for (std::size_t k = 0; k < p.size() && ok; ++k) {
                if (p[k].known)
                    v.push_back(p[k].value);
                else if (p[k].of == n.inputs[0] && p[k].dim == static_cast<std::int64_t>(k))
                    v.push_back(0);
                else
                    ok = false;
            }
            if (ok) {
                const auto name = unique(n.name + "_shape");
                set_const(name, ops::from_int64_vector(v));
                w.n.inputs[1] = name;
                named(n, [&] {
                    infer(w.n);
                    return 0;
                });
            }
        }
        work.push_back(std::move(w));
    };
    for (const auto idx : order)
        visit(mdl.nodes[idx], idx);

    // Pass 2: Conv + BatchNormalization, Conv/Gemm/MatMul + Relu.
    std::set<std::string> pinned(options.keep.begin(), options.keep.end());
    for (const auto& o : outputs)
        pinned.insert(o.name);
    auto uses_of = [&] {
        std::map<std::string, int> uses;
        for (const auto& w : work)
            if (!w.removed)
                for (const auto& i : w.n.inputs)
                    ++uses[i];
        return uses;
    };
    auto producer_of = [&](const std::string& value) -> work_node* {
        for (auto& w : work)
            if (!w.removed && !w.n.outputs.empty() && w.n.outputs[0] == value) return &w;
        return nullptr;
    };
    if (options.fold_batch_norm) {
        auto uses = uses_of();
        for (auto& bn : work) {
            if (bn.removed || bn.n.op_type != "BatchNormalization") continue;
            if (bn.n.get_int("training_mode", 0) != 0 || bn.n.inputs.size() < 5) continue;
            bool extra = false;
            for (std::size_t k = 1; k < bn.n.outputs.size(); ++k)
                extra |= !bn.n.outputs[k].empty();
            const auto& x = bn.n.inputs[0];
            auto* conv = producer_of(x);
            if (extra || !conv || conv->n.op_type != "Conv" || conv->relu || !conv->post.empty() ||
                uses[x] != 1 || pinned.count(x))
                continue;
            const auto w = cst(conv->n, 1);
            const bool has_b = has_input(conv->n, 2);
            const auto b = cst(conv->n, 2);
            if (!w || w->type() != dtype::f32 || w->rank() < 3 || (has_b && !b)) continue;
            const auto oc = w->dims()[0];
            std::vector<tensor> p;
            bool ok = true;
            for (std::size_t k = 1; k < 5 && ok; ++k) {
                const auto v = cst(bn.n, k);
                ok = v && v->type() == dtype::f32 && v->numel() == oc;
                if (ok) p.push_back(tensor::copy_of(*v));
            }
            if (!ok || (b && (b->type() != dtype::f32 || b->numel() != oc))) continue;
            const float eps = bn.n.get_float("epsilon", 1e-5f);
            auto nw = tensor::copy_of(*w);
            tensor nb(dtype::f32, shape{oc});
            std::optional<tensor> ob;
            if (b) ob = tensor::copy_of(*b);
            const auto per = nw.numel() / std::max<std::int64_t>(oc, 1);
            auto wv = nw.span<float>();
            for (std::int64_t c = 0; c < oc; ++c) {
                const auto cc = static_cast<std::size_t>(c);
                const double s = static_cast<double>(p[0].span<float>()[cc]) /
                                 std::sqrt(static_cast<double>(p[3].span<float>()[cc]) + eps);
                for (std::int64_t k = 0; k < per; ++k)
                    wv[static_cast<std::size_t>(c * per + k)] =
                        static_cast<float>(wv[static_cast<std::size_t>(c * per + k)] * s);
                const double bias = ob ? ob->span<float>()[cc] : 0.0;
                nb.span<float>()[cc] = static_cast<float>((bias - p[2].span<float>()[cc]) * s +
                                                          p[1].span<float>()[cc]);
            }
            const auto wn = unique(conv->n.name + "_bn_weight");
            set_const(wn, std::move(nw));
            const auto bname = unique(conv->n.name + "_bn_bias");
            set_const(bname, std::move(nb));
            conv->n.inputs.resize(3);
            conv->n.inputs[1] = wn;
            conv->n.inputs[2] = bname;
            conv->n.outputs[0] = bn.n.outputs[0];
            bn.removed = true;
            report[bn.model_index].path = fmt::format("folded into Conv '{}'", conv->n.name);
            uses = uses_of();
        }
    }
    if (options.precision != exec_precision::f32) {
        // QuantizeLinear → DequantizeLinear (per tensor, constant scale and zero point, u8 or
        // i8) feeding input 0 of a Gemm/MatMul/Conv: the layer runs int8 on that grid. A Conv
        // on the oneDNN kernel reads the quantized value itself (an i8 grid through a table onto
        // u8); a Gemm/MatMul reads the f32 value and quantizes it. The pair disappears when
        // nothing else reads its values.
        auto uses = uses_of();
        auto same_grid = [&](const node& q, const node& dq, work_node::grid& g) {
            work_node::grid g2;
            return scalar_grid(q, g) && scalar_grid(dq, g2) && g.scale == g2.scale &&
                   g.zero_point == g2.zero_point && g.type == g2.type;
        };
        for (auto& l : work) {
            if (l.removed || l.n.inputs.empty() || f32_nodes.count(l.n.name) ||
                (l.n.op_type != "Gemm" && l.n.op_type != "MatMul" && l.n.op_type != "Conv"))
                continue;
            const auto wv = cst(l.n, 1);
            if (!wv || wv->type() != dtype::f32) continue;
            if (l.n.op_type == "Gemm" && l.n.get_int("transA", 0) != 0) continue;
            const bool conv = l.n.op_type == "Conv";
            if (conv && !conv_on_kernel(l.n)) continue; // the reference Conv reads f32
            if (options.int4_weights.count(l.n.inputs[1]) ||
                options.palettized_weights.count(l.n.inputs[1]))
                continue; // weight-only layers keep their f32 activations
            auto* d = producer_of(l.n.inputs[0]);
            if (!d || d->n.op_type != "DequantizeLinear" || d->n.get_int("block_size", 0) != 0)
                continue;
            auto* qn = producer_of(d->n.inputs[0]);
            if (!qn || qn->n.op_type != "QuantizeLinear" || qn->n.has("output_dtype") ||
                qn->n.get_int("block_size", 0) != 0)
                continue;
            work_node::grid g;
            if (!same_grid(qn->n, d->n, g)) continue;
            l.act_qdq = true;
            l.act_scale = g.scale;
            // An i8 grid is the u8 grid shifted by 128: the same real values.
            l.act_zero_point = g.type == dtype::i8 ? g.zero_point + 128 : g.zero_point;
            const auto dq_out = d->n.outputs[0], q_out = qn->n.outputs[0];
            if (conv) {
                l.n.inputs[0] = q_out;
                if (g.type == dtype::i8) {
                    l.table.emplace();
                    for (int b = 0; b < 256; ++b) // byte b holds the i8 value (int8_t)b
                        (*l.table)[static_cast<std::size_t>(b)] =
                            static_cast<std::uint8_t>(b ^ 0x80);
                    l.table_of = "i8 grid";
                }
            } else {
                l.n.inputs[0] = qn->n.inputs[0];
            }
            uses = uses_of();
            if (uses[dq_out] == 0 && !pinned.count(dq_out)) {
                d->removed = true;
                report[d->model_index].path =
                    fmt::format("fused into {} (activation grid)", l.n.label());
                uses = uses_of();
                if (uses[q_out] == 0 && !pinned.count(q_out)) {
                    qn->removed = true;
                    report[qn->model_index].path =
                        fmt::format("fused into {} (activation grid)", l.n.label());
                }
            }
            uses = uses_of();
        }
    }
    if (options.fuse_relu) {
        // MatMul (constant weights [K, N]) + Add (a constant of N values) → linear with a bias.
        auto uses = uses_of();
        for (auto& a : work) {
            if (a.removed || a.n.op_type != "Add" || a.n.inputs.size() != 2) continue;
            for (int side = 0; side < 2; ++side) {
                const auto& x = a.n.inputs[static_cast<std::size_t>(side)];
                const auto& c = a.n.inputs[static_cast<std::size_t>(1 - side)];
                auto* p = producer_of(x);
                const auto cv = constv.find(c);
                if (!p || p->n.op_type != "MatMul" || !p->bias.empty() || p->relu || uses[x] != 1 ||
                    pinned.count(x) || cv == constv.end())
                    continue;
                const auto wv = cst(p->n, 1);
                const auto* xs = shape_of(p->n.inputs[0]);
                if (!wv || wv->rank() != 2 || wv->type() != dtype::f32 || !xs || xs->size() < 2 ||
                    cv->second.type() != dtype::f32 || cv->second.numel() != wv->dims()[1] ||
                    cv->second.rank() < 1 || cv->second.rank() > xs->size())
                    continue;
                // The constant must broadcast only along the last axis: [1, ..., 1, N].
                bool last_only = true;
                for (std::size_t d = 0; d + 1 < cv->second.rank(); ++d)
                    last_only &= cv->second.dims()[d] == 1;
                if (!last_only) continue;
                p->bias = c;
                p->n.outputs[0] = a.n.outputs[0];
                a.removed = true;
                report[a.model_index].path = fmt::format("fused into {} (bias)", p->n.label());
                uses = uses_of();
                break;
            }
        }
        for (auto& r : work) {
            if (r.removed || r.n.op_type != "Relu" || r.n.inputs.empty()) continue;
            const auto& x = r.n.inputs[0];
            auto* p = producer_of(x);
            if (!p || p->relu || uses[x] != 1 || pinned.count(x) ||
                (p->n.op_type != "Conv" && p->n.op_type != "Gemm" && p->n.op_type != "MatMul"))
                continue;
            p->relu = true;
            p->n.outputs[0] = r.n.outputs[0];
            r.removed = true;
            report[r.model_index].path = fmt::format("fused into {}", p->n.label());
        }
    }

    if (options.fuse_conv_activations) fuse_conv_activations(work, pinned);
    if (options.precision != exec_precision::f32) fuse_int8_chains(work, pinned);

    // Pass 3: drop nodes nothing needs any more (e.g. a Shape whose users all folded).
    std::set<std::string> needed(pinned.begin(), pinned.end());
    for (auto it = work.rbegin(); it != work.rend(); ++it) {
        if (it->removed) continue;
        const bool used = std::any_of(it->n.outputs.begin(), it->n.outputs.end(),
                                      [&](const std::string& o) { return needed.count(o) != 0; });
        if (!used) {
            it->removed = true;
            report[it->model_index].path = "removed (its outputs are not needed after folding)";
            continue;
        }
        needed.insert(it->n.inputs.begin(), it->n.inputs.end());
    }

    const auto nhwc = options.conv_nhwc ? plan_conv_layouts(work, pinned) : std::set<std::string>{};

    // Pass 4: slots and kernels.
    std::map<std::string, int> slot;
    auto slot_of = [&](const std::string& name) {
        const auto it = slot.find(name);
        if (it != slot.end()) return it->second;
        const int s = static_cast<int>(slot_names.size());
        slot.emplace(name, s);
        slot_names.push_back(name);
        constants.emplace_back();
        return s;
    };
    for (const auto& in : inputs)
        input_slots.push_back(slot_of(in.name));
    auto need_const = [&](const std::string& name, int s) {
        if (constants[static_cast<std::size_t>(s)]) return;
        const auto o = owned.find(name);
        if (o != owned.end())
            constants[static_cast<std::size_t>(s)] = std::move(o->second), owned.erase(o);
        else
            constants[static_cast<std::size_t>(s)] = tensor::copy_of(constv.at(name));
        bytes += constants[static_cast<std::size_t>(s)]->nbytes();
    };
    for (const auto& w : work) {
        if (w.removed) continue;
        auto c = named(w.n, [&] { return compile(w); });
        const bool kernel_holds_weights = c.path.find("linear (") != std::string::npos ||
                                          c.path.find("conv2d") != std::string::npos ||
                                          c.path.find("conv_op") != std::string::npos;
        if (w.layouts.src == kernels::conv_layout::nhwc && w.n.op_type != "Conv" &&
            c.path.find("NHWC") == std::string::npos)
            c.path += " (NHWC)";
        if (w.transpose_result) {
            c.fn = transposed_to_nchw(std::move(c.fn));
            c.path += ", result transposed to NCHW";
        }
        report[w.model_index].path = c.path;
        int8 |= c.int8;
        bytes += c.bytes;
        step st{w.n.name, w.n.op_type, {}, {}, std::move(c.fn), {}};
        for (std::size_t i = 0; i < w.n.inputs.size(); ++i) {
            const auto& name = w.n.inputs[i];
            const bool addend = !w.residual.empty() && i == 3;
            if (name.empty() || (kernel_holds_weights && i > 0 && !addend)) {
                st.in.push_back(-1);
                continue;
            }
            const int s = slot_of(name);
            if (constv.count(name)) need_const(name, s);
            st.in.push_back(s);
        }
        for (const auto& o : w.n.outputs)
            st.out.push_back(o.empty() ? -1 : slot_of(o));
        steps.push_back(std::move(st));
    }
    for (const auto& o : outputs) {
        const int s = slot_of(o.name);
        if (constv.count(o.name)) need_const(o.name, s);
        output_slots.push_back(s);
    }
    std::string unused;
    for (const auto& [name, p] : options.int4_weights)
        if (!packed_used.count(name) && !qdq_int4.count(name))
            unused += (unused.empty() ? "'" : ", '") + name + "'";
    for (const auto& [name, idx] : qdq_int4)
        if (packed_used.count(name))
            report[idx].path = fmt::format("int4 weights '{}' of the consuming layer(s) "
                                           "(int4 blocked DequantizeLinear on the int4 "
                                           "weight-only kernel)",
                                           name);
    for (const auto& [name, p] : options.palettized_weights)
        if (!packed_used.count(name)) unused += (unused.empty() ? "'" : ", '") + name + "'";
    if (!unused.empty())
        fail(status::invalid_argument,
             fmt::format("{}: packed weight(s) {} are not the constant weight of any Gemm/MatMul "
                         "that runs on a kernel",
                         where, unused));
    slot_nhwc.assign(slot_names.size(), 0);
    for (std::size_t s = 0; s < slot_names.size(); ++s)
        slot_nhwc[s] = nhwc.count(slot_names[s]) ? 1 : 0;
    std::vector<int> last(slot_names.size(), -1);
    for (std::size_t k = 0; k < steps.size(); ++k)
        for (const auto s : steps[k].in)
            if (s >= 0) last[static_cast<std::size_t>(s)] = static_cast<int>(k);
    std::set<int> keep_slots(output_slots.begin(), output_slots.end());
    for (auto& st : steps) // a graph output leaves with the caller: it never returns to a pool
        st.pooled = st.out.size() == 1 && st.out[0] >= 0 && !keep_slots.count(st.out[0]);
    for (std::size_t s = 0; s < last.size(); ++s)
        if (last[s] >= 0 && !constants[s] && !keep_slots.count(static_cast<int>(s)))
            steps[static_cast<std::size_t>(last[s])].release.push_back(static_cast<int>(s));
    constv.clear();
    owned.clear();
    shapes.clear();
    partial.clear();
    m = nullptr;
}

} // namespace hone
