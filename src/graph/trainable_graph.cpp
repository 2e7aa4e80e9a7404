// trainable_graph: the executor's plan run forward with every value recorded, then the nodes
// walked backward through grad_table's entries (see hone/graph/trainable_graph.hpp).
#include "hone/graph/trainable_graph.hpp"

#include "grad_table.hpp"
#include "hone/core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace hone {

namespace {

// Operators whose outputs carry no gradient (integers, booleans, shapes, indices).
const std::set<std::string, std::less<>>& non_differentiable() {
    static const std::set<std::string, std::less<>> s{
        "Shape", "Size",  "Equal", "Less",   "Greater", "LessOrEqual", "GreaterOrEqual",  "Not",
        "And",   "Or",    "Xor",   "ArgMax", "ArgMin",  "NonZero",     "ConstantOfShape", "Range",
        "IsNaN", "IsInf", "Floor", "Ceil",   "Round",   "Sign",        "Constant",        "OneHot"};
    return s;
}

// Inputs of an operator that are its trainable parameters when they are f32 initializers.
bool parameter_input(const node& n, std::size_t i, const tensor& w) {
    const auto& op = n.op_type;
    if (op == "Gemm" || op == "Conv") return i >= 1;
    if (op == "MatMul") return true;
    if (op == "BatchNormalization" || op == "LayerNormalization") return i == 1 || i == 2;
    if (op == "Gather") return i == 0;
    if (op == "Add" || op == "Mul") return w.numel() > 1;
    return false;
}

// The u8 grid of a range for `bits`: scale, zero point, and the Clip bounds of its levels.
struct grid {
    float scale = 1, lo = 0, hi = 0;
    std::uint8_t zero_point = 0;
};
grid grid_of(float lo, float hi, int bits) {
    const float levels = float((1 << bits) - 1);
    grid g;
    g.scale = hi > lo ? (hi - lo) / levels : 1.0f;
    const float zp = std::clamp(std::nearbyint(-lo / g.scale), 0.0f, levels);
    g.zero_point = std::uint8_t(zp);
    g.lo = (0.0f - zp) * g.scale;
    g.hi = (levels - zp) * g.scale;
    return g;
}

// A fake-quant point's key: its layer's name (or first output when unnamed).
std::string layer_key(const node& n) { return n.name.empty() ? n.outputs[0] : n.name; }

// The fake-quant nodes inserted in front of a layer's activation input: value names.
struct fake_quant_point {
    std::string input;                     // the value fake-quantized (model name)
    std::string output;                    // the Clip's output the layer reads instead
    std::string scale, zero_point, lo, hi; // run-time inputs
    bool range_set = false;
    float range_lo = 0, range_hi = 0; // the EMA range
    grid used;                        // the grid of the last forward
};

} // namespace

struct trainable_graph::impl {
    std::string input, output;
    std::vector<node> nodes; // the training model's nodes, in execution order
    std::vector<grad_table::backward_fn> backward_of; // per node (empty: no gradient flows)
    std::set<std::string, std::less<>> depends;       // values a trainable weight flows into
    std::vector<std::string> params;
    std::map<std::string, tensor, std::less<>> weights; // trainable, as the forward uses them
    std::map<std::string, tensor, std::less<>> grads;
    std::map<std::string, tensor, std::less<>> values; // the last saved forward
    std::unique_ptr<executor> plain;                   // the model's forward
    std::unique_ptr<executor> quantized;               // with activation fake-quant
    std::vector<fake_quant_point> fq;
    std::map<std::string, std::size_t, std::less<>> fq_by_layer; // by layer_key()
    model train_model; // weights as inputs (kept to build the fake-quant plan)
    int act_bits = 0;
    bool training = true;
    bool saved = false;

    const executor& active() const { return act_bits ? *quantized : *plain; }

    // A value a backward needs: recorded, a trainable weight, or a constant of the plan.
    std::optional<const_tensor_view> lookup(const std::string& name) const {
        if (name.empty()) return std::nullopt;
        if (auto it = values.find(name); it != values.end()) return it->second.view();
        if (auto it = weights.find(name); it != weights.end()) return it->second.view();
        if (const tensor* c = active().constant(name)) return c->view();
        return std::nullopt;
    }

    std::vector<const_tensor_view> run_inputs(const_tensor_view x) const;
    void build_fake_quant();
    void init_ranges(const_tensor_view x);
};

std::vector<const_tensor_view> trainable_graph::impl::run_inputs(const_tensor_view x) const {
    std::vector<const_tensor_view> in{x};
    for (const auto& p : params)
        in.push_back(weights.at(p).view());
    return in;
}

trainable_graph::trainable_graph(const model& m, const std::vector<std::string>& frozen)
    : impl_(std::make_unique<impl>()) {
    auto& s = *impl_;
    const auto order = validate(m);
    if (m.inputs.size() != 1 || m.outputs.size() != 1)
        fail(status::unsupported,
             fmt::format("trainable_graph: the model must have one input and one output (has {} "
                         "and {})",
                         m.inputs.size(), m.outputs.size()));
    s.input = m.inputs[0].name;
    s.output = m.outputs[0].name;
    const std::set<std::string> frozen_set(frozen.begin(), frozen.end());
    const auto& table = grad_table::standard_backward();
    for (std::size_t i : order)
        s.nodes.push_back(m.nodes[i]);
    for (const node& n : s.nodes)
        for (std::size_t i = 0; i < n.inputs.size(); ++i) {
            const auto& name = n.inputs[i];
            if (name.empty() || !m.has_weight(name) || frozen_set.count(name) ||
                s.weights.count(name))
                continue;
            const tensor& w = m.weight(name);
            if (w.type() != dtype::f32 || !parameter_input(n, i, w)) continue;
            s.params.push_back(name);
            s.weights.emplace(name, w.clone());
            s.grads.emplace(name, tensor(dtype::f32, w.dims()));
        }
    // The training model: the trainable weights become run-time inputs.
    s.train_model = m.clone();
    for (const auto& p : s.params) {
        value_info v{p, dtype::f32, {}, true};
        for (auto d : s.weights.at(p).dims().dims())
            v.dims.push_back(dimension{d, {}});
        s.train_model.inputs.push_back(std::move(v));
        s.train_model.remove_weight(p);
    }
    // Where gradients flow, and a backward pass for every node they flow through.
    s.depends.insert(s.params.begin(), s.params.end());
    std::vector<std::string> missing;
    s.backward_of.resize(s.nodes.size());
    for (std::size_t k = 0; k < s.nodes.size(); ++k) {
        const node& n = s.nodes[k];
        if (non_differentiable().count(n.op_type)) continue;
        const auto e =
            n.domain.empty() || n.domain == "ai.onnx" ? table.find(n.op_type) : table.end();
        bool flows = false;
        for (std::size_t i = 0; i < n.inputs.size(); ++i)
            flows |=
                s.depends.count(n.inputs[i]) && (e == table.end() || e->second.differentiates(i));
        if (!flows) continue;
        if (e == table.end()) {
            missing.push_back(n.label());
            continue;
        }
        try {
            s.backward_of[k] = e->second.compile(n);
        } catch (const error& err) {
            fail(err.code(), fmt::format("trainable_graph: {}", err.what()));
        }
        for (const auto& o : n.outputs)
            if (!o.empty()) s.depends.insert(o);
    }
    if (!missing.empty())
        fail(status::unsupported,
             fmt::format("trainable_graph: no backward pass for {}", fmt::join(missing, ", ")));
    executor_options o;
    o.fold_batch_norm = false;
    o.fuse_relu = false;
    o.fuse_conv_activations = false;
    o.conv_nhwc = false;
    for (const node& n : s.nodes)
        for (const auto& out : n.outputs)
            if (!out.empty()) o.keep.push_back(out);
    s.plain = std::make_unique<executor>(s.train_model, o);
}

trainable_graph::~trainable_graph() = default;
trainable_graph::trainable_graph(trainable_graph&&) noexcept = default;
trainable_graph& trainable_graph::operator=(trainable_graph&&) noexcept = default;

const std::vector<std::string>& trainable_graph::parameters() const { return impl_->params; }

tensor& trainable_graph::weight(const std::string& name) {
    auto it = impl_->weights.find(name);
    if (it == impl_->weights.end())
        fail(status::not_found, "trainable_graph: no trainable weight '" + name + "'");
    return it->second;
}
const tensor& trainable_graph::weight(const std::string& name) const {
    return const_cast<trainable_graph*>(this)->weight(name);
}
const tensor& trainable_graph::gradient(const std::string& name) const {
    auto it = impl_->grads.find(name);
    if (it == impl_->grads.end())
        fail(status::not_found, "trainable_graph: '" + name + "' is not a trainable weight");
    return it->second;
}

const executor& trainable_graph::plan() const { return impl_->active(); }

// Fake-quant points: input 0 of each Gemm/MatMul/Conv that is computed (not a weight), each
// rewired through QuantizeLinear → DequantizeLinear → Clip with run-time grid inputs.
void trainable_graph::impl::build_fake_quant() {
    model qm = train_model.clone();
    std::vector<node> nodes_out;
    std::set<std::string> weight_inputs(params.begin(), params.end());
    fq.clear();
    fq_by_layer.clear();
    for (node n : qm.nodes) {
        const bool layer = n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "Conv";
        if (layer && !n.inputs.empty() && !qm.has_weight(n.inputs[0]) &&
            !weight_inputs.count(n.inputs[0])) {
            const std::string stem = layer_key(n);
            fake_quant_point p;
            p.input = n.inputs[0];
            p.scale = stem + "#fq_scale";
            p.zero_point = stem + "#fq_zero_point";
            p.lo = stem + "#fq_lo";
            p.hi = stem + "#fq_hi";
            p.output = stem + "#fq";
            const auto add = [&](const char* op, std::vector<std::string> in, std::string out) {
                node q;
                q.name = out;
                q.op_type = op;
                q.inputs = std::move(in);
                q.outputs = {std::move(out)};
                nodes_out.push_back(std::move(q));
            };
            add("QuantizeLinear", {p.input, p.scale, p.zero_point}, stem + "#fq_q");
            add("DequantizeLinear", {stem + "#fq_q", p.scale, p.zero_point}, stem + "#fq_dq");
            add("Clip", {stem + "#fq_dq", p.lo, p.hi}, p.output);
            n.inputs[0] = p.output;
            for (const auto& name : {p.scale, p.lo, p.hi})
                qm.inputs.push_back(value_info{name, dtype::f32, {}, true});
            qm.inputs.push_back(value_info{p.zero_point, dtype::u8, {}, true});
            fq_by_layer.emplace(stem, fq.size());
            fq.push_back(std::move(p));
        }
        nodes_out.push_back(std::move(n));
    }
    qm.nodes = std::move(nodes_out);
    executor_options o;
    o.fold_batch_norm = false;
    o.fuse_relu = false;
    o.fuse_conv_activations = false;
    o.conv_nhwc = false;
    for (const node& n : qm.nodes)
        for (const auto& out : n.outputs)
            if (!out.empty()) o.keep.push_back(out);
    quantized = std::make_unique<executor>(qm, o);
}

void trainable_graph::set_activation_fake_quant(int bits) {
    if (bits != 0 && (bits < 2 || bits > 8))
        fail(status::invalid_argument, "trainable_graph: activation bits must be 0 or 2…8");
    auto& s = *impl_;
    if (bits && !s.quantized) s.build_fake_quant();
    s.act_bits = bits;
    s.values.clear(); // the other plan's values
    s.saved = false;
}
void trainable_graph::set_training(bool training) { impl_->training = training; }

namespace {

void min_max(const_tensor_view v, float& lo, float& hi) {
    const tensor c = tensor::copy_of(v);
    lo = 0;
    hi = 0;
    for (float x : c.span<float>()) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
    }
}

} // namespace

// First training batch with fake-quant on: ranges from the plain forward's values.
void trainable_graph::impl::init_ranges(const_tensor_view x) {
    std::map<std::string, std::vector<std::size_t>> wanted;
    for (std::size_t i = 0; i < fq.size(); ++i)
        if (!fq[i].range_set) wanted[fq[i].input].push_back(i);
    if (wanted.empty()) return;
    auto in = run_inputs(x);
    const auto observe = [&](const std::string& name, const_tensor_view v) {
        const auto it = wanted.find(name);
        if (it == wanted.end()) return;
        float lo, hi;
        min_max(v, lo, hi);
        for (std::size_t i : it->second) {
            fq[i].range_lo = lo;
            fq[i].range_hi = hi;
            fq[i].range_set = true;
        }
    };
    if (wanted.count(input)) observe(input, x);
    plain->run(in, observe);
}

tensor trainable_graph::forward(const_tensor_view input, bool save) {
    auto& s = *impl_;
    std::optional<tensor> reshaped;
    const const_tensor_view x = as_declared(s.plain->inputs()[0], input, reshaped);
    s.saved = false;
    if (!save) s.values.clear();
    if (s.act_bits) s.init_ranges(x);
    auto in = s.run_inputs(x);
    std::vector<tensor> grid_values;
    if (s.act_bits) {
        grid_values.reserve(4 * s.fq.size());
        for (auto& p : s.fq) {
            const grid g = p.used = grid_of(p.range_lo, p.range_hi, s.act_bits);
            for (float v : {g.scale, g.lo, g.hi}) {
                grid_values.emplace_back(dtype::f32, shape{});
                grid_values.back().span<float>()[0] = v;
            }
            grid_values.emplace_back(dtype::u8, shape{});
            grid_values.back().span<std::uint8_t>()[0] = g.zero_point;
        }
        // The executor's inputs: x, the weights, then per point scale, lo, hi, zero point.
        for (const auto& t : grid_values)
            in.push_back(t.view());
    }
    std::map<std::string, std::pair<float, float>> batch_ranges;
    // A value keeps its buffer from the last step when its shape is the same (no fresh pages).
    const auto record = [&](const std::string& name, const_tensor_view v) {
        auto it = s.values.find(name);
        if (it != s.values.end() && it->second.type() == v.type() && it->second.dims() == v.dims())
            copy(v, it->second.view());
        else
            s.values.insert_or_assign(name, tensor::copy_of(v));
    };
    const auto observe = [&](const std::string& name, const_tensor_view v) {
        if (save) record(name, v);
        if (s.act_bits && s.training)
            for (const auto& p : s.fq)
                if (p.input == name && !batch_ranges.count(name)) {
                    float lo, hi;
                    min_max(v, lo, hi);
                    batch_ranges[name] = {lo, hi};
                }
    };
    if (save) record(s.input, x);
    if (s.act_bits && s.training) observe(s.input, x);
    auto out = s.active().run(in, observe);
    for (auto& p : s.fq)
        if (auto it = batch_ranges.find(p.input); it != batch_ranges.end()) {
            p.range_lo = 0.9f * p.range_lo + 0.1f * it->second.first;
            p.range_hi = 0.9f * p.range_hi + 0.1f * it->second.second;
        }
    s.saved = save;
    return std::move(out[0]);
}

const tensor& trainable_graph::value(const std::string& name) const {
    auto it = impl_->values.find(name);
    if (it == impl_->values.end())
        fail(status::not_found,
             fmt::format("trainable_graph: value '{}' was not computed by the last saved forward",
                         name));
    return it->second;
}

void trainable_graph::backward(const_tensor_view doutput) {
    const seed s{impl_->output, doutput};
    backward(std::span<const seed>(&s, 1));
}

namespace {

void add_into(tensor& dst, const tensor& src) {
    auto d = dst.span<float>();
    auto g = src.span<float>();
    for (std::size_t i = 0; i < d.size(); ++i)
        d[i] += g[i];
}

} // namespace

void trainable_graph::backward(std::span<const seed> seeds) {
    auto& s = *impl_;
    if (!s.saved)
        fail(status::invalid_argument, "trainable_graph: backward() needs a forward(x, save=true)");
    for (auto& [name, g] : s.grads)
        std::fill(g.span<float>().begin(), g.span<float>().end(), 0.0f);
    std::map<std::string, tensor, std::less<>> dv; // gradients of values still to propagate
    auto accumulate = [&](const std::string& name, tensor&& g) {
        if (g.numel() == 0) return; // none (or nothing to add)
        if (auto w = s.grads.find(name); w != s.grads.end()) {
            add_into(w->second, g);
            return;
        }
        if (!s.depends.count(name)) return;
        auto it = dv.find(name);
        if (it == dv.end())
            dv.emplace(name, std::move(g));
        else
            add_into(it->second, g);
    };
    for (const auto& sd : seeds) {
        const tensor& v = value(sd.name);
        if (!(sd.gradient.dims() == v.dims()) || sd.gradient.type() != dtype::f32)
            fail(status::shape_mismatch,
                 fmt::format("trainable_graph: dL/d'{}' has shape {}, the value {}", sd.name,
                             sd.gradient.dims().to_string(), v.dims().to_string()));
        accumulate(sd.name, tensor::copy_of(sd.gradient));
    }
    const auto& layers = s.act_bits ? s.fq_by_layer : decltype(s.fq_by_layer){};
    for (std::size_t k = s.nodes.size(); k-- > 0;) {
        const node& n = s.nodes[k];
        if (!s.backward_of[k]) continue;
        std::vector<std::optional<const_tensor_view>> in, out, dout;
        std::vector<std::optional<tensor>> douts; // owners of dout
        bool any = false;
        for (const auto& o : n.outputs) {
            douts.emplace_back();
            if (auto it = dv.find(o); it != dv.end()) {
                douts.back() = std::move(it->second);
                dv.erase(it);
                any = true;
            }
        }
        if (!any) continue;
        for (std::size_t i = 0; i < n.outputs.size(); ++i) {
            out.push_back(s.lookup(n.outputs[i]));
            dout.push_back(douts[i] ? std::optional<const_tensor_view>(douts[i]->view())
                                    : std::nullopt);
        }
        // A layer behind a fake-quant point read the point's output (its input 0): the STE
        // passes that input's gradient to the value quantized, inside the grid's range only.
        const std::vector<std::string>& inputs = n.inputs;
        std::vector<const fake_quant_point*> points(inputs.size(), nullptr);
        if (auto f = layers.find(layer_key(n)); f != layers.end()) points[0] = &s.fq[f->second];
        std::vector<char> want(inputs.size());
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            in.push_back(s.lookup(points[i] ? points[i]->output : inputs[i]));
            want[i] = s.depends.count(points[i] ? points[i]->input : inputs[i]) != 0;
        }
        const auto wants =
            std::span<const bool>(reinterpret_cast<const bool*>(want.data()), want.size());
        std::vector<tensor> g;
        try {
            g = s.backward_of[k]({in, out, dout, wants});
        } catch (const error& e) {
            fail(e.code(), fmt::format("trainable_graph: {} backward: {}", n.label(), e.what()));
        }
        for (std::size_t i = 0; i < inputs.size() && i < g.size(); ++i) {
            if (!want[i]) continue;
            if (const auto* p = points[i]) {
                const tensor x = tensor::copy_of(*s.lookup(p->input));
                const auto xs = x.span<float>();
                auto d = g[i].span<float>();
                for (std::size_t j = 0; j < d.size(); ++j)
                    if (xs[j] < p->used.lo || xs[j] > p->used.hi) d[j] = 0.0f;
                accumulate(p->input, std::move(g[i]));
            } else {
                accumulate(inputs[i], std::move(g[i]));
            }
        }
    }
}

void trainable_graph::write_back(model& m) const {
    for (const auto& name : impl_->params) {
        if (!m.has_weight(name))
            fail(status::not_found,
                 "trainable_graph::write_back: the model has no weight '" + name + "'");
        const weight_origin o = m.origin(name);
        m.set_weight(name, impl_->weights.at(name).clone(), o);
    }
}

} // namespace hone
