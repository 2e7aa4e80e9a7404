// Load-time shape inference (best effort) and folding of shape subgraphs and known Ifs.
#include "../executor_impl.hpp"

#include <algorithm>
#include <set>

namespace hone {

namespace {

bool is_unary(const std::string& op) {
    static const std::set<std::string> u{
        "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish",  "Tanh", "Erf", "Sqrt",
        "Gelu", "Identity",  "Dropout", "Softmax",     "LogSoftmax", "Clip", "Cast"};
    return u.count(op) != 0;
}

std::vector<std::int64_t> ints_of(const_tensor_view v, const char* op, const char* what) {
    return ops::to_int64_vector(v, op, what);
}

using op_table::parse_auto_pad;

} // namespace

// ---- shape inference (best effort, for folding shape subgraphs) ---------------------------------

void executor::impl::infer(const node& n) {
    const auto& op = n.op_type;
    auto in = [&](std::size_t i) -> const std::vector<std::int64_t>* {
        return has_input(n, i) ? shape_of(n.inputs[i]) : nullptr;
    };
    auto set = [&](std::vector<std::int64_t> s) {
        if (!n.outputs.empty() && !n.outputs[0].empty()) shapes[n.outputs[0]] = std::move(s);
    };
    const auto* x = in(0);
    if (is_table_op(n)) {
        const auto& e = op_table::standard_ops().at(op);
        if (!e.infer) return;
        const auto outs = e.infer(table_context(n));
        for (std::size_t k = 0; k < outs.size() && k < n.outputs.size(); ++k)
            if (!n.outputs[k].empty() && !outs[k].empty()) shapes[n.outputs[k]] = outs[k];
        return;
    }
    if (is_unary(op) || op == "BatchNormalization" || op == "LayerNormalization" ||
        op == "QuantizeLinear" || op == "DequantizeLinear") {
        if (x) set(*x);
    } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" ||
               op == "Equal") {
        const auto* y = in(1);
        if (!x || !y) return;
        const auto r = std::max(x->size(), y->size());
        std::vector<std::int64_t> s(r, -1);
        for (std::size_t k = 0; k < r; ++k) {
            const auto a = k + x->size() >= r ? (*x)[k + x->size() - r] : 1;
            const auto b = k + y->size() >= r ? (*y)[k + y->size() - r] : 1;
            s[k] = a == 1 ? b : b == 1 ? a : (a == b ? a : -1);
            if (a == -1 || b == -1) s[k] = (a == 1 ? b : b == 1 ? a : (a == b ? a : -1));
        }
        set(s);
    } else if (op == "DynamicQuantizeLinear") {
        if (x) set(*x);
    } else if (op == "MatMulInteger" || op == "MatMulNBits") {
        const auto* b = in(1);
        const auto nn =
            op == "MatMulNBits" ? n.get_int("N", -1) : (b && b->size() == 2 ? (*b)[1] : -1);
        if (!x || x->empty() || nn < 0) return;
        auto s = *x;
        s.back() = nn;
        set(s);
    } else if (op == "Gemm") {
        const auto* b = in(1);
        if (!x || !b || x->size() != 2 || b->size() != 2) return;
        const auto mm = n.get_int("transA", 0) ? (*x)[1] : (*x)[0];
        const auto nn = n.get_int("transB", 0) ? (*b)[0] : (*b)[1];
        set({mm, nn});
    } else if (op == "MatMul") {
        const auto* b = in(1);
        if (!x || !b || x->size() < 2 || b->size() != 2) return;
        auto s = *x;
        s.back() = (*b)[1];
        set(s);
    } else if (op == "Conv" || op == "ConvInteger" || op == "MaxPool" || op == "AveragePool") {
        if (!x || x->size() < 3) return;
        std::vector<std::int64_t> s = {(*x)[0], -1};
        std::vector<std::int64_t> kernel = n.get_ints("kernel_shape", {});
        if (op == "Conv" || op == "ConvInteger") {
            const auto* wsh = in(1);
            if (!wsh || wsh->size() != x->size()) return;
            s[1] = (*wsh)[0];
            if (kernel.empty()) kernel.assign(wsh->begin() + 2, wsh->end());
        } else {
            s[1] = (*x)[1];
        }
        const auto k = x->size() - 2;
        if (kernel.size() != k) return;
        const auto strides = n.get_ints("strides", std::vector<std::int64_t>(k, 1));
        const auto dil = n.get_ints("dilations", std::vector<std::int64_t>(k, 1));
        const auto pads = n.get_ints("pads", std::vector<std::int64_t>(2 * k, 0));
        const auto ap = parse_auto_pad(n);
        const bool ceil_mode = n.get_int("ceil_mode", 0) != 0;
        if (strides.size() != k || dil.size() != k || pads.size() != 2 * k) return;
        for (std::size_t d = 0; d < k; ++d) {
            const auto len = (*x)[2 + d];
            if (len < 0 || strides[d] < 1) {
                s.push_back(-1);
                continue;
            }
            if (ap == ops::auto_pad::same_upper || ap == ops::auto_pad::same_lower) {
                s.push_back((len + strides[d] - 1) / strides[d]);
                continue;
            }
            const auto p = ap == ops::auto_pad::valid ? 0 : pads[d] + pads[d + k];
            const auto span = len + p - dil[d] * (kernel[d] - 1) - 1;
            if (span < 0) return;
            auto o = span / strides[d] + 1;
            if (ceil_mode && span % strides[d] != 0) {
                ++o;
                if ((o - 1) * strides[d] >= len + (ap == ops::auto_pad::valid ? 0 : pads[d])) --o;
            }
            s.push_back(o);
        }
        set(s);
    } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
        if (!x || x->size() < 3) return;
        auto s = *x;
        std::fill(s.begin() + 2, s.end(), 1);
        set(s);
    } else if (op == "Flatten") {
        if (!x) return;
        auto axis = n.get_int("axis", 1);
        const auto r = static_cast<std::int64_t>(x->size());
        if (axis < 0) axis += r;
        if (axis < 0 || axis > r) return;
        std::int64_t a = 1, b = 1;
        for (std::int64_t k = 0; k < r; ++k) {
            auto& t = k < axis ? a : b;
            t = (t < 0 || (*x)[k] < 0) ? -1 : t * (*x)[k];
        }
        set({a, b});
    } else if (op == "Reshape") {
        const auto target = cst(n, 1);
        if (!target) return;
        auto req = ints_of(*target, "Reshape", "shape");
        const bool allowzero = n.get_int("allowzero", 0) != 0;
        std::vector<std::int64_t> s(req.size(), -1);
        std::int64_t known = 1;
        int infer_at = -1;
        bool unknown = false;
        for (std::size_t k = 0; k < req.size(); ++k) {
            if (req[k] == 0 && !allowzero)
                s[k] = x && k < x->size() ? (*x)[k] : -1;
            else if (req[k] == -1)
                infer_at = static_cast<int>(k);
            else
                s[k] = req[k];
            if (static_cast<int>(k) != infer_at) {
                if (s[k] < 0)
                    unknown = true;
                else
                    known *= s[k];
            }
        }
        if (infer_at >= 0 && x && !unknown && known > 0) {
            std::int64_t total = 1;
            for (const auto d : *x)
                total = (total < 0 || d < 0) ? -1 : total * d;
            if (total >= 0) s[static_cast<std::size_t>(infer_at)] = total / known;
        }
        set(s);
    } else if (op == "Transpose") {
        if (!x) return;
        auto perm = n.get_ints("perm", {});
        if (perm.empty())
            for (std::size_t k = 0; k < x->size(); ++k)
                perm.push_back(static_cast<std::int64_t>(x->size() - 1 - k));
        if (perm.size() != x->size()) return;
        std::vector<std::int64_t> s;
        for (const auto p : perm) {
            if (p < 0 || p >= static_cast<std::int64_t>(x->size())) return;
            s.push_back((*x)[static_cast<std::size_t>(p)]);
        }
        set(s);
    } else if (op == "Concat") {
        if (!x) return;
        auto s = *x;
        auto axis = n.get_int("axis", 0);
        if (axis < 0) axis += static_cast<std::int64_t>(s.size());
        if (axis < 0 || axis >= static_cast<std::int64_t>(s.size())) return;
        std::int64_t total = 0;
        for (std::size_t i = 0; i < n.inputs.size(); ++i) {
            const auto* y = in(i);
            if (!y || y->size() != s.size()) return;
            const auto d = (*y)[static_cast<std::size_t>(axis)];
            total = (total < 0 || d < 0) ? -1 : total + d;
        }
        s[static_cast<std::size_t>(axis)] = total;
        set(s);
    } else if (op == "Unsqueeze" || op == "Squeeze") {
        const auto axes_v = cst(n, 1);
        if (!x || (!axes_v && op == "Unsqueeze")) return;
        const auto axes =
            axes_v ? ints_of(*axes_v, op.c_str(), "axes") : std::vector<std::int64_t>{};
        try {
            std::vector<std::int64_t> probe(x->size());
            for (std::size_t k = 0; k < x->size(); ++k)
                probe[k] = (*x)[k] < 0 ? 2 : (*x)[k];
            if (op == "Squeeze" && axes.empty()) return;
            const auto r = op == "Unsqueeze" ? ops::unsqueeze_shape(shape(probe), axes)
                                             : ops::squeeze_shape(shape(probe), axes);
            // Map dims back: the non-inserted ones keep their (possibly unknown) sizes.
            std::vector<std::int64_t> s(r.dims().begin(), r.dims().end());
            std::size_t src = 0;
            const auto rank_out = static_cast<std::int64_t>(s.size());
            std::set<std::int64_t> ax;
            for (auto a : axes)
                ax.insert(a < 0 ? a + (op == "Unsqueeze" ? rank_out
                                                         : static_cast<std::int64_t>(x->size()))
                                : a);
            if (op == "Unsqueeze") {
                for (std::int64_t k = 0; k < rank_out; ++k)
                    s[static_cast<std::size_t>(k)] = ax.count(k) ? 1 : (*x)[src++];
            } else {
                s.clear();
                for (std::int64_t k = 0; k < static_cast<std::int64_t>(x->size()); ++k)
                    if (!ax.count(k)) s.push_back((*x)[static_cast<std::size_t>(k)]);
            }
            set(s);
        } catch (const hone::error&) {
        }
    } else if (op == "Gather") {
        const auto* idx = in(1);
        if (!x || !idx) return;
        auto axis = n.get_int("axis", 0);
        if (axis < 0) axis += static_cast<std::int64_t>(x->size());
        if (axis < 0 || axis >= static_cast<std::int64_t>(x->size())) return;
        std::vector<std::int64_t> s(x->begin(), x->begin() + axis);
        s.insert(s.end(), idx->begin(), idx->end());
        s.insert(s.end(), x->begin() + axis + 1, x->end());
        set(s);
    } else if (op == "Shape") {
        if (!x) return;
        auto r = static_cast<std::int64_t>(x->size());
        auto start = n.get_int("start", 0), end = n.get_int("end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        start = std::clamp<std::int64_t>(start, 0, r);
        end = std::clamp<std::int64_t>(end, 0, r);
        set({std::max<std::int64_t>(0, end - start)});
    }
}

op_table::context executor::impl::table_context(const node& n) const {
    return {n, n.op_type, [this, &n](std::size_t i) { return cst(n, i); },
            [this, &n](std::size_t i) -> const op_table::partial_shape* {
                return has_input(n, i) ? shape_of(n.inputs[i]) : nullptr;
            }};
}

// An If whose condition is known at load: the taken branch's constants become constants, its
// nodes are visited (as "<If>/<node>" in the report) and Identity nodes carry its outputs to the
// If's. ONNX requires branch names not to shadow the enclosing graph's.
void executor::impl::inline_if(const node& n,
                               const std::function<void(const node&, std::size_t)>& visit) {
    const auto cond = cst(n, 0);
    if (!cond)
        fail(status::unsupported,
             fmt::format("condition '{}' is computed at run time; hone runs an If only when its "
                         "condition is known at load (a constant, or shape arithmetic on fixed "
                         "dimensions)",
                         n.inputs.empty() ? std::string() : n.inputs[0]));
    if (cond->type() != dtype::boolean || cond->numel() != 1)
        fail(status::invalid_argument,
             fmt::format("condition '{}' must be one bool, it is {} {}", n.inputs[0],
                         name_of(cond->type()), cond->dims().to_string()));
    const bool taken = tensor::copy_of(*cond).span<bool>()[0];
    const char* which = taken ? "then_branch" : "else_branch";
    const auto it = n.attributes.find(which);
    if (it == n.attributes.end() || it->second.type != attribute::kind::g || !it->second.g)
        fail(status::format_error, fmt::format("attribute '{}' must be a graph", which));
    const model& body = *it->second.g;
    if (body.outputs.size() != n.outputs.size())
        fail(status::format_error, fmt::format("{} has {} outputs, the If {}", which,
                                               body.outputs.size(), n.outputs.size()));
    for (const auto& name : body.weight_names()) {
        if (is_const(name) || shapes.count(name))
            fail(status::format_error,
                 fmt::format("{}: constant '{}' shadows a value of the enclosing graph", which,
                             name));
        set_const(name, body.weight(name).clone());
    }
    auto add = [&](const node& b) {
        report.push_back({n.name + "/" + b.name, b.op_type, ""});
        visit(b, report.size() - 1);
    };
    for (const auto& b : body.nodes)
        add(b);
    for (std::size_t k = 0; k < body.outputs.size(); ++k) {
        if (n.outputs[k].empty()) continue;
        node id;
        id.name = fmt::format("{}_output_{}", which, k);
        id.op_type = "Identity";
        id.inputs = {body.outputs[k].name};
        id.outputs = {n.outputs[k]};
        add(id);
    }
}

// Shape subgraphs with dynamic dims: track 1-D integer values element by element.
bool executor::impl::fold_partial(const node& n) {
    const auto& op = n.op_type;
    auto p_of = [&](std::size_t i) -> std::optional<std::vector<pdim>> {
        if (!has_input(n, i)) return std::nullopt;
        const auto it = partial.find(n.inputs[i]);
        if (it != partial.end()) return it->second;
        if (const auto c = cst(n, i)) {
            if ((c->type() != dtype::i64 && c->type() != dtype::i32) || c->rank() > 1)
                return std::nullopt;
            std::vector<pdim> v;
            for (const auto x : ints_of(*c, op.c_str(), "input"))
                v.push_back({true, x, {}, -1});
            return v;
        }
        return std::nullopt;
    };
    std::optional<std::vector<pdim>> result;
    bool scalar = false;
    if (op == "Shape") {
        const auto* x = has_input(n, 0) ? shape_of(n.inputs[0]) : nullptr;
        if (!x) return false;
        const auto r = static_cast<std::int64_t>(x->size());
        auto start = n.get_int("start", 0), end = n.get_int("end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        start = std::clamp<std::int64_t>(start, 0, r);
        end = std::clamp<std::int64_t>(end, 0, r);
        std::vector<pdim> v;
        for (auto k = start; k < end; ++k) {
            const auto d = (*x)[static_cast<std::size_t>(k)];
            v.push_back(d >= 0 ? pdim{true, d, {}, -1} : pdim{false, 0, n.inputs[0], k});
        }
        result = v;
    } else if (op == "Gather") {
        const auto data = p_of(0);
        const auto idx = cst(n, 1);
        if (!data || !idx || n.get_int("axis", 0) != 0 || idx->rank() > 1) return false;
        const auto ids = ints_of(*idx, "Gather", "indices");
        const auto size = static_cast<std::int64_t>(data->size());
        std::vector<pdim> v;
        for (auto i : ids) {
            if (i < 0) i += size;
            if (i < 0 || i >= size) return false;
            v.push_back((*data)[static_cast<std::size_t>(i)]);
        }
        result = v;
        scalar = idx->rank() == 0;
    } else if (op == "Unsqueeze") {
        const auto it = partial.find(has_input(n, 0) ? n.inputs[0] : std::string());
        const auto axes = cst(n, 1);
        if (it == partial.end() || !axes || !shape_of(n.inputs[0]) ||
            !shape_of(n.inputs[0])->empty())
            return false;
        const auto a = ints_of(*axes, "Unsqueeze", "axes");
        if (a.size() != 1 || (a[0] != 0 && a[0] != -1)) return false;
        result = it->second;
    } else if (op == "Concat") {
        if (n.get_int("axis", 0) != 0 && n.get_int("axis", 0) != -1) return false;
        std::vector<pdim> v;
        bool any_partial = false;
        for (std::size_t i = 0; i < n.inputs.size(); ++i) {
            const auto p = p_of(i);
            if (!p) return false;
            any_partial |= partial.count(n.inputs[i]) != 0;
            v.insert(v.end(), p->begin(), p->end());
        }
        if (!any_partial) return false;
        result = v;
    } else if (op == "Cast") {
        const auto it = partial.find(has_input(n, 0) ? n.inputs[0] : std::string());
        const auto to = n.get_int("to", 0);
        if (it == partial.end() || (to != 7 && to != 6)) return false;
        result = it->second;
    } else {
        return false;
    }
    if (!result) return false;
    const auto& out = n.outputs.at(0);
    const bool all_known =
        std::all_of(result->begin(), result->end(), [](const pdim& d) { return d.known; });
    if (all_known && options.fold_constants) {
        std::vector<std::int64_t> values;
        for (const auto& d : *result)
            values.push_back(d.value);
        auto t = ops::from_int64_vector(values);
        if (scalar) {
            tensor s(dtype::i64, shape{});
            s.span<std::int64_t>()[0] = values.at(0);
            t = std::move(s);
        }
        set_const(out, std::move(t));
        return true;
    }
    if (scalar)
        shapes[out] = {};
    else
        shapes[out] = {static_cast<std::int64_t>(result->size())};
    partial[out] = std::move(*result);
    return false;
}

} // namespace hone
