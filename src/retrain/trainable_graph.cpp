// trainable_graph: forward with saved activations, backward in reverse node order.
#include "hone/core/error.hpp"
#include "hone/retrain/backward.hpp"
#include "hone/retrain/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace hone {

using namespace retrain;

namespace {

enum class op {
    gemm,
    matmul,
    conv,
    add,
    relu,
    leaky_relu,
    sigmoid,
    tanh_,
    gelu,
    softmax,
    log_softmax,
    max_pool,
    average_pool,
    global_average_pool,
    flatten,
    reshape,
    batch_norm,
    identity,
};

struct tnode {
    const node* src = nullptr;
    op kind = op::identity;
    gemm_attrs gemm{};
    conv2d_attrs conv{};
    pool2d_attrs pool{};
    float alpha = 0.01f;
    float epsilon = 1e-5f;
    std::int64_t axis = -1;
    bool gelu_tanh = false;
    // activation fake-quant range (Gemm/MatMul/Conv input 0)
    bool range_set = false;
    float lo = 0, hi = 0;
};

std::array<std::int64_t, 2> pair_of(const node& n, const char* attr, std::int64_t fallback) {
    auto v = n.get_ints(attr, {});
    if (v.empty()) return {fallback, fallback};
    if (v.size() != 2)
        fail(status::unsupported, n.label() + ": attribute " + attr +
                                      " must have 2 values (only 2-D spatial ops train)");
    return {v[0], v[1]};
}

std::array<std::int64_t, 4> pads_of(const node& n) {
    const std::string ap = n.get_string("auto_pad", "NOTSET");
    if (ap != "NOTSET" && ap != "VALID")
        fail(status::unsupported,
             n.label() + ": auto_pad " + ap + " is not supported for training (use explicit pads)");
    auto v = n.get_ints("pads", {});
    if (v.empty() || ap == "VALID") return {0, 0, 0, 0};
    if (v.size() != 4) fail(status::unsupported, n.label() + ": pads must have 4 values (2-D)");
    return {v[0], v[1], v[2], v[3]};
}

const std::set<std::string>& supported_ops() {
    static const std::set<std::string> s{"Gemm",
                                         "MatMul",
                                         "Conv",
                                         "Add",
                                         "Relu",
                                         "LeakyRelu",
                                         "Sigmoid",
                                         "Tanh",
                                         "Gelu",
                                         "Softmax",
                                         "LogSoftmax",
                                         "MaxPool",
                                         "AveragePool",
                                         "GlobalAveragePool",
                                         "Flatten",
                                         "Reshape",
                                         "BatchNormalization",
                                         "Identity",
                                         "Dropout"};
    return s;
}

tnode parse(const node& n) {
    tnode t;
    t.src = &n;
    const std::string& o = n.op_type;
    if (o == "Gemm") {
        t.kind = op::gemm;
        t.gemm.alpha = n.get_float("alpha", 1.0f);
        t.gemm.beta = n.get_float("beta", 1.0f);
        t.gemm.trans_a = n.get_int("transA", 0) != 0;
        t.gemm.trans_b = n.get_int("transB", 0) != 0;
    } else if (o == "MatMul") {
        t.kind = op::matmul;
    } else if (o == "Conv") {
        t.kind = op::conv;
        t.conv.strides = pair_of(n, "strides", 1);
        t.conv.dilations = pair_of(n, "dilations", 1);
        t.conv.pads = pads_of(n);
        t.conv.group = n.get_int("group", 1);
    } else if (o == "Add") {
        t.kind = op::add;
    } else if (o == "Relu") {
        t.kind = op::relu;
    } else if (o == "LeakyRelu") {
        t.kind = op::leaky_relu;
        t.alpha = n.get_float("alpha", 0.01f);
    } else if (o == "Sigmoid") {
        t.kind = op::sigmoid;
    } else if (o == "Tanh") {
        t.kind = op::tanh_;
    } else if (o == "Gelu") {
        t.kind = op::gelu;
        t.gelu_tanh = n.get_string("approximate", "none") == "tanh";
    } else if (o == "Softmax" || o == "LogSoftmax") {
        t.kind = o == "Softmax" ? op::softmax : op::log_softmax;
        t.axis = n.get_int("axis", -1);
    } else if (o == "MaxPool" || o == "AveragePool") {
        t.kind = o == "MaxPool" ? op::max_pool : op::average_pool;
        t.pool.kernel = pair_of(n, "kernel_shape", 0);
        t.pool.strides = pair_of(n, "strides", 1);
        t.pool.pads = pads_of(n);
        t.pool.count_include_pad = n.get_int("count_include_pad", 0) != 0;
        if (n.get_int("ceil_mode", 0) != 0)
            fail(status::unsupported, n.label() + ": ceil_mode is not supported for training");
        const auto d = pair_of(n, "dilations", 1);
        if (d[0] != 1 || d[1] != 1)
            fail(status::unsupported, n.label() + ": pooling dilations are not supported");
        if (n.outputs.size() > 1 && !n.outputs[1].empty())
            fail(status::unsupported, n.label() + ": the Indices output is not supported");
    } else if (o == "GlobalAveragePool") {
        t.kind = op::global_average_pool;
    } else if (o == "Flatten") {
        t.kind = op::flatten;
        t.axis = n.get_int("axis", 1);
    } else if (o == "Reshape") {
        t.kind = op::reshape;
        if (n.get_int("allowzero", 0) != 0)
            fail(status::unsupported, n.label() + ": allowzero is not supported");
    } else if (o == "BatchNormalization") {
        t.kind = op::batch_norm;
        t.epsilon = n.get_float("epsilon", 1e-5f);
        if (n.get_int("training_mode", 0) != 0)
            fail(status::unsupported, n.label() + ": training_mode BN is not supported (frozen)");
    } else {
        t.kind = op::identity; // Identity, Dropout (inference)
    }
    return t;
}

shape flatten_shape(const shape& in, std::int64_t axis) {
    const auto r = std::int64_t(in.rank());
    if (axis < 0) axis += r;
    std::int64_t a = 1, b = 1;
    for (std::int64_t i = 0; i < r; ++i)
        (i < axis ? a : b) *= in[std::size_t(i)];
    return shape{a, b};
}

shape reshape_target(const shape& in, const tensor& spec, const std::string& who) {
    if (spec.type() != dtype::i64)
        fail(status::dtype_mismatch, who + ": the shape input must be int64");
    std::vector<std::int64_t> d(spec.span<std::int64_t>().begin(), spec.span<std::int64_t>().end());
    std::int64_t known = 1, infer = -1;
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (d[i] == 0) {
            if (i >= in.rank())
                fail(status::shape_mismatch, who + ": 0 in the shape beyond the input rank");
            d[i] = in[i];
        }
        if (d[i] == -1)
            infer = std::int64_t(i);
        else
            known *= d[i];
    }
    if (infer >= 0) d[std::size_t(infer)] = known ? in.numel() / known : 0;
    shape s(std::span<const std::int64_t>(d.data(), d.size()));
    if (s.numel() != in.numel())
        fail(status::shape_mismatch,
             who + ": cannot reshape " + in.to_string() + " to " + s.to_string());
    return s;
}

tensor with_shape(tensor&& t, const shape& s) {
    tensor r(dtype::f32, s);
    std::copy(t.span<float>().begin(), t.span<float>().end(), r.span<float>().begin());
    return r;
}

void fake_quant_range(std::span<const float> x, float& lo, float& hi) {
    lo = 0;
    hi = 0;
    for (float v : x) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
}

} // namespace

struct trainable_graph::impl {
    std::vector<node> nodes; // copies, execution order
    std::vector<tnode> plan;
    std::map<std::string, tensor, std::less<>> weights;
    std::set<std::string, std::less<>> trainable;
    std::vector<std::string> params;
    std::map<std::string, tensor, std::less<>> grads;
    std::map<std::string, tensor, std::less<>> acts;
    std::string input, output;
    int act_bits = 0;
    bool training = true;
    bool saved = false;

    const tensor& value(const std::string& name) const {
        if (auto it = weights.find(name); it != weights.end()) return it->second;
        if (auto it = acts.find(name); it != acts.end()) return it->second;
        fail(status::not_found, "trainable_graph: value '" + name + "' was not computed");
    }

    tensor fake_quant(tnode& t, const tensor& x) {
        auto xs = x.span<float>();
        if (training || !t.range_set) {
            float lo, hi;
            fake_quant_range(xs, lo, hi);
            if (!t.range_set) {
                t.lo = lo;
                t.hi = hi;
                t.range_set = true;
            } else {
                t.lo = 0.9f * t.lo + 0.1f * lo;
                t.hi = 0.9f * t.hi + 0.1f * hi;
            }
        }
        const float levels = float((1 << act_bits) - 1);
        const float scale = t.hi > t.lo ? (t.hi - t.lo) / levels : 1.0f;
        const float zp = std::nearbyint(-t.lo / scale);
        tensor q(dtype::f32, x.dims());
        auto qs = q.span<float>();
        for (std::size_t i = 0; i < xs.size(); ++i) {
            const float v = std::clamp(std::nearbyint(xs[i] / scale) + zp, 0.0f, levels);
            qs[i] = (v - zp) * scale;
        }
        return q;
    }
};

trainable_graph::trainable_graph(const model& m, const std::vector<std::string>& frozen)
    : impl_(std::make_unique<impl>()) {
    auto& s = *impl_;
    const auto order = validate(m);
    if (m.inputs.size() != 1 || m.outputs.size() != 1)
        fail(status::unsupported, "trainable_graph: the model must have one input and one "
                                  "output (has " +
                                      std::to_string(m.inputs.size()) + " and " +
                                      std::to_string(m.outputs.size()) + ")");
    s.input = m.inputs[0].name;
    s.output = m.outputs[0].name;
    std::string unsupported;
    for (std::size_t i : order) {
        const node& n = m.nodes[i];
        if (!n.domain.empty() && n.domain != "ai.onnx")
            unsupported +=
                (unsupported.empty() ? "" : ", ") + n.label() + " (domain " + n.domain + ")";
        else if (!supported_ops().count(n.op_type))
            unsupported += (unsupported.empty() ? "" : ", ") + n.label();
    }
    if (!unsupported.empty())
        fail(status::unsupported, "trainable_graph: no backward pass for " + unsupported);
    s.nodes.reserve(order.size());
    for (std::size_t i : order)
        s.nodes.push_back(m.nodes[i]);
    for (const node& n : s.nodes)
        s.plan.push_back(parse(n));
    for (const auto& name : m.weight_names())
        s.weights.emplace(name, m.weight(name).clone());
    std::set<std::string> frozen_set(frozen.begin(), frozen.end());
    auto mark = [&](const std::string& name) {
        if (name.empty() || !s.weights.count(name) || frozen_set.count(name) ||
            s.trainable.count(name))
            return;
        if (s.weights.at(name).type() != dtype::f32) return;
        s.trainable.insert(name);
        s.params.push_back(name);
    };
    for (const tnode& t : s.plan) {
        const node& n = *t.src;
        switch (t.kind) {
        case op::gemm:
        case op::conv:
        case op::matmul:
        case op::add:
            for (const auto& in : n.inputs)
                mark(in);
            break;
        case op::batch_norm:
            if (n.inputs.size() != 5) fail(status::format_error, n.label() + ": expected 5 inputs");
            mark(n.inputs[1]);
            mark(n.inputs[2]);
            break;
        default: break;
        }
    }
    for (const auto& p : s.params) {
        tensor g(dtype::f32, s.weights.at(p).dims());
        std::fill(g.span<float>().begin(), g.span<float>().end(), 0.0f);
        s.grads.emplace(p, std::move(g));
    }
}

trainable_graph::~trainable_graph() = default;
trainable_graph::trainable_graph(trainable_graph&&) noexcept = default;
trainable_graph& trainable_graph::operator=(trainable_graph&&) noexcept = default;

const std::vector<std::string>& trainable_graph::parameters() const { return impl_->params; }

tensor& trainable_graph::weight(const std::string& name) {
    auto it = impl_->weights.find(name);
    if (it == impl_->weights.end())
        fail(status::not_found, "trainable_graph: no weight '" + name + "'");
    return it->second;
}
const tensor& trainable_graph::weight(const std::string& name) const {
    auto it = impl_->weights.find(name);
    if (it == impl_->weights.end())
        fail(status::not_found, "trainable_graph: no weight '" + name + "'");
    return it->second;
}
const tensor& trainable_graph::gradient(const std::string& name) const {
    auto it = impl_->grads.find(name);
    if (it == impl_->grads.end() || !impl_->trainable.count(name))
        fail(status::not_found, "trainable_graph: '" + name + "' is not a trainable weight");
    return it->second;
}

void trainable_graph::set_activation_fake_quant(int bits) {
    if (bits != 0 && (bits < 2 || bits > 8))
        fail(status::invalid_argument, "trainable_graph: activation bits must be 0 or 2…8");
    impl_->act_bits = bits;
}
void trainable_graph::set_training(bool training) { impl_->training = training; }

tensor trainable_graph::forward(const_tensor_view x, bool save) {
    auto& s = *impl_;
    if (x.type() != dtype::f32)
        fail(status::dtype_mismatch, "trainable_graph: input '" + s.input + "' must be f32");
    s.acts.clear();
    s.saved = false;
    s.acts.emplace(s.input, tensor::copy_of(x));
    for (tnode& t : s.plan) {
        const node& n = *t.src;
        auto in = [&](std::size_t i) -> const tensor& {
            if (i >= n.inputs.size() || n.inputs[i].empty())
                fail(status::format_error, n.label() + ": input " + std::to_string(i) + " missing");
            return s.value(n.inputs[i]);
        };
        auto opt = [&](std::size_t i) -> const_tensor_view {
            if (i >= n.inputs.size() || n.inputs[i].empty()) return {};
            return s.value(n.inputs[i]).view();
        };
        auto quantized_input = [&]() -> const tensor& {
            if (s.act_bits == 0 || s.weights.count(n.inputs[0])) return in(0);
            const std::string key = n.name + "#fq";
            s.acts.insert_or_assign(key, s.fake_quant(t, in(0)));
            return s.acts.at(key);
        };
        tensor y;
        try {
            switch (t.kind) {
            case op::gemm: y = gemm_forward(quantized_input(), in(1), opt(2), t.gemm); break;
            case op::matmul:
                if (in(0).dims().rank() != 2 || in(1).dims().rank() != 2)
                    fail(status::unsupported, "only 2-D MatMul trains");
                y = gemm_forward(quantized_input(), in(1), {}, {});
                break;
            case op::conv:
                if (in(1).dims().rank() != 4) fail(status::unsupported, "only 2-D Conv trains");
                y = conv2d_forward(quantized_input(), in(1), opt(2), t.conv);
                break;
            case op::add: y = add_forward(in(0), in(1)); break;
            case op::relu: y = relu_forward(in(0)); break;
            case op::leaky_relu: y = leaky_relu_forward(in(0), t.alpha); break;
            case op::sigmoid: y = sigmoid_forward(in(0)); break;
            case op::tanh_: y = tanh_forward(in(0)); break;
            case op::gelu: y = gelu_forward(in(0), t.gelu_tanh); break;
            case op::softmax: y = softmax_forward(in(0), t.axis); break;
            case op::log_softmax: y = log_softmax_forward(in(0), t.axis); break;
            case op::max_pool: y = max_pool2d_forward(in(0), t.pool); break;
            case op::average_pool: y = average_pool2d_forward(in(0), t.pool); break;
            case op::global_average_pool: y = global_average_pool_forward(in(0)); break;
            case op::flatten:
                y = with_shape(tensor::copy_of(in(0)), flatten_shape(in(0).dims(), t.axis));
                break;
            case op::reshape:
                y = with_shape(tensor::copy_of(in(0)),
                               reshape_target(in(0).dims(), in(1), n.label()));
                break;
            case op::batch_norm:
                y = batch_norm_forward(in(0), in(1), in(2), in(3), in(4), t.epsilon);
                break;
            case op::identity: y = tensor::copy_of(in(0)); break;
            }
        } catch (const error& e) {
            fail(e.code(), n.label() + ": " + e.what());
        }
        s.acts.insert_or_assign(n.outputs[0], std::move(y));
    }
    tensor out = tensor::copy_of(s.value(s.output));
    if (!save) s.acts.clear();
    s.saved = save;
    return out;
}

void trainable_graph::backward(const_tensor_view doutput) {
    auto& s = *impl_;
    if (!s.saved)
        fail(status::invalid_argument, "trainable_graph: backward() needs a forward(x, save=true)");
    for (auto& [name, g] : s.grads)
        if (s.trainable.count(name))
            std::fill(g.span<float>().begin(), g.span<float>().end(), 0.0f);
    std::map<std::string, tensor, std::less<>> dv; // activation gradients
    if (!(doutput.dims() == s.value(s.output).dims()))
        fail(status::shape_mismatch, "trainable_graph: dL/d'" + s.output + "' has shape " +
                                         doutput.dims().to_string() + ", the output " +
                                         s.value(s.output).dims().to_string());
    dv.emplace(s.output, tensor::copy_of(doutput));
    auto accumulate = [&](const std::string& name, tensor&& g) {
        if (name.empty() || name == s.input) return;
        if (s.weights.count(name)) {
            if (!s.trainable.count(name)) return;
            auto& dst = s.grads.at(name);
            auto d = dst.span<float>();
            auto src = g.span<float>();
            for (std::size_t i = 0; i < d.size(); ++i)
                d[i] += src[i];
            return;
        }
        auto it = dv.find(name);
        if (it == dv.end()) {
            dv.emplace(name, std::move(g));
        } else {
            auto d = it->second.span<float>();
            auto src = g.span<float>();
            for (std::size_t i = 0; i < d.size(); ++i)
                d[i] += src[i];
        }
    };
    auto needs = [&](const std::string& name) {
        return !name.empty() && name != s.input &&
               (!s.weights.count(name) || s.trainable.count(name));
    };
    for (std::size_t k = s.plan.size(); k-- > 0;) {
        tnode& t = s.plan[k];
        const node& n = *t.src;
        auto it = dv.find(n.outputs[0]);
        if (it == dv.end()) continue;
        const tensor dy = std::move(it->second);
        dv.erase(it);
        auto in = [&](std::size_t i) -> const tensor& { return s.value(n.inputs[i]); };
        auto has = [&](std::size_t i) { return i < n.inputs.size() && !n.inputs[i].empty(); };
        // activation fake-quant: quantized input for dW, STE mask for dX
        auto act_in = [&]() -> const tensor& {
            if (auto q = s.acts.find(n.name + "#fq"); q != s.acts.end()) return q->second;
            return in(0);
        };
        auto ste = [&](tensor&& dx) -> tensor {
            if (!s.acts.count(n.name + "#fq")) return std::move(dx);
            auto x = in(0).span<float>();
            auto d = dx.span<float>();
            for (std::size_t i = 0; i < d.size(); ++i)
                if (x[i] < t.lo || x[i] > t.hi) d[i] = 0.0f;
            return std::move(dx);
        };
        try {
            switch (t.kind) {
            case op::gemm:
            case op::matmul: {
                const bool c = t.kind == op::gemm && has(2);
                auto g =
                    gemm_backward(act_in(), in(1), dy, t.kind == op::gemm ? t.gemm : gemm_attrs{},
                                  c, c ? in(2).dims() : shape{});
                if (needs(n.inputs[0])) accumulate(n.inputs[0], ste(std::move(g.da)));
                accumulate(n.inputs[1], std::move(g.db));
                if (c) accumulate(n.inputs[2], std::move(g.dc));
                break;
            }
            case op::conv: {
                const bool b = has(2);
                auto g = conv2d_backward(act_in(), in(1), dy, t.conv, b);
                if (needs(n.inputs[0])) accumulate(n.inputs[0], ste(std::move(g.dx)));
                accumulate(n.inputs[1], std::move(g.dw));
                if (b) accumulate(n.inputs[2], std::move(g.dbias));
                break;
            }
            case op::add:
                for (std::size_t i = 0; i < 2; ++i)
                    if (needs(n.inputs[i]))
                        accumulate(n.inputs[i], reduce_to_shape(dy, in(i).dims()));
                break;
            case op::relu: accumulate(n.inputs[0], relu_backward(in(0), dy)); break;
            case op::leaky_relu:
                accumulate(n.inputs[0], leaky_relu_backward(in(0), dy, t.alpha));
                break;
            case op::sigmoid:
                accumulate(n.inputs[0], sigmoid_backward(s.value(n.outputs[0]), dy));
                break;
            case op::tanh_:
                accumulate(n.inputs[0], tanh_backward(s.value(n.outputs[0]), dy));
                break;
            case op::gelu: accumulate(n.inputs[0], gelu_backward(in(0), dy, t.gelu_tanh)); break;
            case op::softmax:
                accumulate(n.inputs[0], softmax_backward(s.value(n.outputs[0]), dy, t.axis));
                break;
            case op::log_softmax:
                accumulate(n.inputs[0], log_softmax_backward(s.value(n.outputs[0]), dy, t.axis));
                break;
            case op::max_pool:
                accumulate(n.inputs[0], max_pool2d_backward(in(0), dy, t.pool));
                break;
            case op::average_pool:
                accumulate(n.inputs[0], average_pool2d_backward(in(0).dims(), dy, t.pool));
                break;
            case op::global_average_pool:
                accumulate(n.inputs[0], global_average_pool_backward(in(0).dims(), dy));
                break;
            case op::flatten:
            case op::reshape:
            case op::identity: accumulate(n.inputs[0], reshape_backward(dy, in(0).dims())); break;
            case op::batch_norm: {
                auto g = batch_norm_frozen_backward(in(0), in(1), in(3), in(4), dy, t.epsilon);
                accumulate(n.inputs[0], std::move(g.dx));
                accumulate(n.inputs[1], std::move(g.dscale));
                accumulate(n.inputs[2], std::move(g.dbias));
                break;
            }
            }
        } catch (const error& e) {
            fail(e.code(), n.label() + " backward: " + e.what());
        }
    }
}

void trainable_graph::write_back(model& m) const {
    for (const auto& [name, w] : impl_->weights) {
        if (!impl_->trainable.count(name)) continue;
        if (!m.has_weight(name))
            fail(status::not_found,
                 "trainable_graph::write_back: the model has no weight '" + name + "'");
        const weight_origin o = m.origin(name);
        m.set_weight(name, w.clone(), o);
    }
}

} // namespace hone
