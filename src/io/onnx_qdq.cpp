// ONNX QDQ form of a model: weights as DequantizeLinear of integer initializers, activations
// through QuantizeLinear → DequantizeLinear pairs (hone/io/qdq.hpp).
#include "hone/io/qdq.hpp"

#include "unique_names.hpp"

#include "hone/core/error.hpp"
#include "hone/core/half.hpp"
#include "hone/model/transforms.hpp"
#include "hone/quantize/quantizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>

namespace hone {

qdq_activation qdq_activation_from_range(tensor_range range, bool seven_bit) {
    if (!std::isfinite(range.lo) || !std::isfinite(range.hi) || range.lo > range.hi)
        fail(status::invalid_argument,
             fmt::format("qdq_activation_from_range: range [{}, {}] is not a finite interval",
                         range.lo, range.hi));
    const float levels = seven_bit ? 127.0f : 255.0f;
    const float lo = std::min(range.lo, 0.0f), hi = std::max(range.hi, 0.0f);
    qdq_activation a;
    a.scale = (hi - lo) / levels;
    if (!(a.scale > 0) || !std::isfinite(a.scale)) a.scale = 1.0f;
    a.zero_point =
        static_cast<std::int32_t>(std::clamp(std::nearbyint(-lo / a.scale), 0.0f, levels));
    a.type = dtype::u8;
    return a;
}

std::map<std::string, qdq_activation, std::less<>>
qdq_activations_from_ranges(const std::map<std::string, tensor_range, std::less<>>& ranges,
                            bool seven_bit) {
    std::map<std::string, qdq_activation, std::less<>> out;
    for (const auto& [name, r] : ranges) {
        try {
            out[name] = qdq_activation_from_range(r, seven_bit);
        } catch (const hone::error& e) {
            fail(e.code(), fmt::format("activation '{}': {}", name, e.what()));
        }
    }
    return out;
}

namespace {

tensor scalar_f32(float v) {
    tensor t(dtype::f32, shape{});
    t.span<float>()[0] = v;
    return t;
}

tensor scalar_zero_point(const qdq_activation& a, const std::string& what) {
    tensor t(a.type, shape{});
    if (a.type == dtype::u8) {
        if (a.zero_point < 0 || a.zero_point > 255)
            fail(status::invalid_argument,
                 fmt::format("to_qdq: activation '{}': u8 zero point {} outside [0, 255]", what,
                             a.zero_point));
        t.span<std::uint8_t>()[0] = static_cast<std::uint8_t>(a.zero_point);
    } else if (a.type == dtype::i8) {
        if (a.zero_point < -128 || a.zero_point > 127)
            fail(status::invalid_argument,
                 fmt::format("to_qdq: activation '{}': i8 zero point {} outside [-128, 127]", what,
                             a.zero_point));
        t.span<std::int8_t>()[0] = static_cast<std::int8_t>(a.zero_point);
    } else {
        fail(
            status::invalid_argument,
            fmt::format("to_qdq: activation '{}': type {} is not u8 or i8", what, name_of(a.type)));
    }
    if (!(a.scale > 0) || !std::isfinite(a.scale))
        fail(
            status::invalid_argument,
            fmt::format("to_qdq: activation '{}': scale {} must be finite and > 0", what, a.scale));
    return t;
}

bool is_layer_op(const node& n) {
    return n.domain.empty() && (n.op_type == "Gemm" || n.op_type == "MatMul" ||
                                n.op_type == "Conv" || n.op_type == "ConvTranspose");
}

int channel_axis_of(const node& n) {
    if (n.op_type == "Gemm") return n.get_int("transB", 0) != 0 ? 0 : 1;
    if (n.op_type == "MatMul") return 1;
    if (n.op_type == "ConvTranspose") return 1; // [C_in, C_out/group, k...]
    return 0;                                   // Conv: output channels
}

// Ops whose output holds input 0's values (or a subset, rearranged): a grid on the input holds
// for the output, and ONNX Runtime runs them on the integers when both sides share the grid.
bool value_preserving(const node& n) {
    static const std::set<std::string> ops{"MaxPool", "Reshape",   "Flatten", "Transpose",
                                           "Squeeze", "Unsqueeze", "Identity"};
    return n.domain.empty() && ops.count(n.op_type) && !n.inputs.empty() && !n.outputs.empty() &&
           (n.op_type != "MaxPool" || n.outputs.size() == 1 || n.outputs[1].empty());
}

// An activation that ONNX Runtime drops in front of a QuantizeLinear whose grid starts at 0
// (its ReluQuantFusion), so the layer before it fuses with that QuantizeLinear. Clip is not
// listed: it is dropped only when its bounds contain the grid's range.
bool drops_into_grid(const node& n) { return n.domain.empty() && n.op_type == "Relu"; }

// The reduction axis (K of a linear layer, input channels of a Conv): where blocks go.
int reduction_axis_of(const node& n) {
    if (n.op_type == "Gemm") return n.get_int("transB", 0) != 0 ? 1 : 0;
    if (n.op_type == "MatMul") return 0;
    return 1; // Conv [O, I/groups, kh, kw]
}

// Opset 18 moved the axes of the Reduce* operators (but ReduceSum, which moved at 13) from an
// attribute to an optional input: a model raised to opset 21 gets them as i64 initializers.
void move_reduce_axes_to_inputs(model& m) {
    static const std::set<std::string> ops{"ReduceMean",   "ReduceMax",       "ReduceMin",
                                           "ReduceProd",   "ReduceL1",        "ReduceL2",
                                           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
    for (auto& n : m.nodes) {
        if (!n.domain.empty() || !ops.count(n.op_type)) continue;
        const auto it = n.attributes.find("axes");
        if (it == n.attributes.end()) continue;
        const auto axes = n.get_ints("axes", {});
        n.attributes.erase(it);
        tensor t(dtype::i64, shape{static_cast<std::int64_t>(axes.size())});
        std::copy(axes.begin(), axes.end(), t.span<std::int64_t>().begin());
        const auto name = m.unique_name(n.name + "_axes");
        m.set_weight(name, std::move(t), weight_origin::created);
        n.inputs.resize(1);
        n.inputs.push_back(name);
    }
}

} // namespace

namespace {

/// Which nodes to_qdq treats as quantized layers, after BatchNormalization folding.
struct layer_plan {
    model m;                         ///< src, BatchNormalization folded where asked
    std::vector<std::size_t> order;  ///< executable node order
    std::set<std::string> layers;    ///< node names of the layers whose weights become integers
    std::map<std::string, int> uses; ///< consumers per value (graph outputs count)
};

layer_plan plan_layers(const model& src, const qdq_options& o) {
    layer_plan p{src.clone(), {}, {}, {}};
    if (o.fold_batch_norm) {
        std::vector<std::string> given;
        for (const auto& [name, q] : o.weights)
            given.push_back(name);
        (void)fold_batch_norm(p.m, given);
    }
    p.order = validate(p.m);
    const std::set<std::string> keep_f32(o.f32_nodes.begin(), o.f32_nodes.end());
    std::map<std::string, int> layer_uses;
    for (const auto& n : p.m.nodes)
        for (std::size_t i = 0; i < n.inputs.size(); ++i) {
            ++p.uses[n.inputs[i]];
            if (i == 1 && is_layer_op(n)) ++layer_uses[n.inputs[i]];
        }
    for (const auto& out : p.m.outputs)
        ++p.uses[out.name];
    for (const auto& n : p.m.nodes) {
        if (!is_layer_op(n) || n.inputs.size() < 2 || keep_f32.count(n.name)) continue;
        const auto& w = n.inputs[1];
        if (!p.m.has_weight(w) || p.uses[w] != layer_uses[w] || o.palettes.count(w)) continue;
        if (o.weights.count(w) || o.quantize_weights) p.layers.insert(n.name);
    }
    return p;
}

const node* single_consumer(const model& m, const std::string& value,
                            const std::map<std::string, int>& uses) {
    const auto u = uses.find(value);
    if (u == uses.end() || u->second != 1) return nullptr;
    for (const auto& n : m.nodes)
        for (const auto& i : n.inputs)
            if (i == value) return &n;
    return nullptr;
}

/// The tensors of `grids` go through QuantizeLinear → DequantizeLinear right after they are
/// made; every consumer reads the dequantized value. A graph output keeps its name (its
/// producer writes "<name>_float" instead), a graph input feeds "<name>_dequantized".
template <class Fresh>
void insert_activation_grids(model& m,
                             const std::map<std::string, qdq_activation, std::less<>>& grids,
                             Fresh& fresh) {
    std::set<std::string> graph_outputs;
    for (const auto& o : m.outputs)
        graph_outputs.insert(o.name);
    std::vector<node> out;
    std::map<std::string, std::string> reads; // consumers: value → its dequantized name
    auto pair_for = [&](const std::string& x, const std::string& source,
                        const std::string& result) {
        const auto& a = grids.find(x)->second;
        const auto zp = scalar_zero_point(a, x);
        const auto sname = fresh(x + "_scale"), zname = fresh(x + "_zero_point");
        const auto qv = fresh(x + "_quantized");
        m.set_weight(sname, scalar_f32(a.scale));
        m.set_weight(zname, tensor::copy_of(zp.view()));
        node q;
        q.name = fresh(x + "_QuantizeLinear");
        q.op_type = "QuantizeLinear";
        q.inputs = {source, sname, zname};
        q.outputs = {qv};
        node d;
        d.name = fresh(x + "_DequantizeLinear");
        d.op_type = "DequantizeLinear";
        d.inputs = {qv, sname, zname};
        d.outputs = {result};
        out.push_back(std::move(q));
        out.push_back(std::move(d));
    };
    for (const auto& in : m.inputs)
        if (grids.count(in.name)) {
            const auto dv = fresh(in.name + "_dequantized");
            pair_for(in.name, in.name, dv);
            reads[in.name] = dv;
        }
    for (auto& n : m.nodes) {
        for (auto& i : n.inputs)
            if (const auto r = reads.find(i); r != reads.end()) i = r->second;
        std::vector<std::pair<std::string, std::string>> pairs; // (source, result)
        for (auto& o : n.outputs) {
            if (o.empty() || !grids.count(o)) continue;
            if (graph_outputs.count(o)) {
                const auto x = o;
                o = fresh(x + "_float");
                pairs.emplace_back(o, x);
            } else {
                const auto dv = fresh(o + "_dequantized");
                pairs.emplace_back(o, dv);
                reads[o] = dv;
            }
        }
        out.push_back(std::move(n));
        for (const auto& [source, result] : pairs) {
            const auto x = graph_outputs.count(result) ? result : source;
            pair_for(x, source, result);
        }
    }
    m.nodes = std::move(out);
}

/// A Conv / ConvTranspose / Gemm bias (constant f32 [N], read by this layer only) whose input
/// has a grid and whose weight is quantized per tensor or per channel becomes INT32
/// round(b / (x_scale · w_scale[c])) through DequantizeLinear (scale x_scale · w_scale, axis 0),
/// the form ONNX Runtime's integer kernels take. Others stay f32.
template <class Fresh>
void quantize_bias(model& m, node& n,
                   const std::map<std::string, qdq_activation, std::less<>>& grids,
                   const std::map<std::string, std::vector<float>>& weight_scales,
                   const std::map<std::string, int>& uses, Fresh& fresh, std::vector<node>& out) {
    if (n.inputs.size() < 3 || n.inputs[2].empty() || n.op_type == "MatMul") return;
    if (n.op_type == "Gemm" &&
        (n.get_float("beta", 1.0f) != 1.0f || n.get_float("alpha", 1.0f) != 1.0f))
        return;
    const auto g = grids.find(n.inputs[0]);
    const auto ws = weight_scales.find(n.inputs[1]);
    const auto& bname = n.inputs[2];
    if (g == grids.end() || ws == weight_scales.end() || !m.has_weight(bname)) return;
    const auto u = uses.find(bname);
    if (u == uses.end() || u->second != 1) return;
    const auto& b = m.weight(bname);
    const auto channels = std::int64_t(ws->second.size());
    if (b.type() != dtype::f32 || b.dims().rank() != 1 || b.numel() != channels) return;
    tensor q(dtype::i32, b.dims()), scale(dtype::f32, b.dims());
    const auto bv = b.span<float>();
    for (std::int64_t c = 0; c < channels; ++c) {
        const float sc = g->second.scale * ws->second[std::size_t(c)];
        const double v = std::nearbyint(double(bv[std::size_t(c)]) / double(sc));
        if (!(sc > 0) || !std::isfinite(sc) || !(std::fabs(v) < 2147483647.0))
            return; // not representable: the bias stays f32
        q.span<std::int32_t>()[std::size_t(c)] = std::int32_t(v);
        scale.span<float>()[std::size_t(c)] = sc;
    }
    const auto qname = fresh(bname + "_quantized"), sname = fresh(bname + "_scale");
    node dq;
    dq.name = fresh(bname + "_DequantizeLinear");
    dq.op_type = "DequantizeLinear";
    dq.inputs = {qname, sname};
    dq.attributes["axis"] = attribute::of_int(0);
    dq.outputs = {bname};
    m.remove_weight(bname);
    m.set_weight(qname, std::move(q));
    m.set_weight(sname, std::move(scale));
    out.push_back(std::move(dq));
}

/// A palettized weight as indices + codebook Gather (qdq_options::palettes), nodes into `out`.
template <class Fresh>
void emit_palette(model& m, const std::string& wname, const palettized_tensor& p, Fresh& fresh,
                  std::vector<node>& out, bool& needs_opset21) {
    if (!m.has_weight(wname))
        fail(status::invalid_argument,
             fmt::format("to_qdq: palette for '{}': the model has no such weight", wname));
    const auto& w = m.weight(wname);
    if (!(p.dims() == w.dims()))
        fail(status::shape_mismatch,
             fmt::format("to_qdq: palette for '{}' has shape {}, the weight {}", wname,
                         p.dims().to_string(), w.dims().to_string()));
    if (p.granularity() != cluster_granularity::per_tensor)
        fail(status::unsupported,
             fmt::format("to_qdq: palette for '{}': only one codebook per tensor can be stored "
                         "as a Gather",
                         wname));
    const auto entries = std::int64_t(p.clusters_used(0));
    tensor codebook(dtype::f32, shape{entries});
    const auto book = tensor::copy_of(p.codebooks().view());
    for (std::int64_t e = 0; e < entries; ++e)
        codebook.span<float>()[std::size_t(e)] = book.type() == dtype::f32
                                                     ? book.span<float>()[std::size_t(e)]
                                                     : to_float(book.view().at<half>({0, e}));
    const auto idx = p.indices(); // u8, the weight's memory order
    const auto src = idx.span<std::uint8_t>();
    const bool nibbles = entries <= 16;
    tensor packed(nibbles ? dtype::u4 : dtype::u8, w.dims());
    auto bytes =
        std::span<std::uint8_t>(static_cast<std::uint8_t*>(packed.data()), packed.nbytes());
    std::fill(bytes.begin(), bytes.end(), std::uint8_t(0));
    for (std::size_t i = 0; i < src.size(); ++i) {
        if (src[i] >= entries)
            fail(status::internal, fmt::format("to_qdq: palette for '{}': index {} of {} entries",
                                               wname, src[i], entries));
        if (nibbles)
            bytes[i / 2] |= std::uint8_t(src[i] << (4 * (i % 2)));
        else
            bytes[i] = src[i];
    }
    const auto iname = fresh(wname + "_indices"), cname = fresh(wname + "_codebook");
    std::string indices = iname;
    if (nibbles) {
        // UINT4 has no Cast to integers before opset 21's DequantizeLinear gives them as floats.
        needs_opset21 = true;
        const auto sname = fresh(wname + "_indices_scale"), zname = fresh(wname + "_indices_zero");
        m.set_weight(sname, scalar_f32(1.0f));
        tensor z(dtype::u4, shape{});
        static_cast<std::uint8_t*>(z.data())[0] = 0;
        m.set_weight(zname, std::move(z));
        node dq;
        dq.name = fresh(wname + "_indices_DequantizeLinear");
        dq.op_type = "DequantizeLinear";
        dq.inputs = {iname, sname, zname};
        dq.outputs = {fresh(wname + "_indices_f32")};
        indices = dq.outputs[0];
        out.push_back(std::move(dq));
    }
    node cast;
    cast.name = fresh(wname + "_indices_Cast");
    cast.op_type = "Cast";
    cast.inputs = {indices};
    cast.outputs = {fresh(wname + "_indices_i64")};
    cast.attributes["to"] = attribute::of_int(7); // INT64
    node gather;
    gather.name = fresh(wname + "_Gather");
    gather.op_type = "Gather";
    gather.inputs = {cname, cast.outputs[0]};
    gather.outputs = {wname};
    gather.attributes["axis"] = attribute::of_int(0);
    m.remove_weight(wname);
    m.set_weight(iname, std::move(packed));
    m.set_weight(cname, std::move(codebook));
    out.push_back(std::move(cast));
    out.push_back(std::move(gather));
}

} // namespace

std::vector<std::string> qdq_activation_tensors(const model& src, const qdq_options& o) {
    const auto p = plan_layers(src, o);
    std::map<std::string, const node*> producer;
    for (const auto& n : p.m.nodes)
        for (const auto& out : n.outputs)
            producer[out] = &n;
    std::vector<std::string> out;
    std::set<std::string> gridded; // calibrated, or holding a calibrated tensor's values
    auto add = [&](const std::string& v) {
        if (v.empty() || gridded.count(v)) return;
        gridded.insert(v);
        out.push_back(v);
    };
    // A tensor holds a gridded tensor's values when value-preserving ops lead to it from one.
    auto holds_grid = [&](std::string v) {
        for (;;) {
            if (gridded.count(v)) return true;
            const auto it = producer.find(v);
            if (it == producer.end() || !value_preserving(*it->second)) return false;
            v = it->second->inputs[0];
        }
    };
    for (const auto i : p.order) {
        const auto& n = p.m.nodes[i];
        if (!p.layers.count(n.name)) continue;
        if (!holds_grid(n.inputs[0])) add(n.inputs[0]);
        std::string y = n.outputs[0];
        if (const auto* c = single_consumer(p.m, y, p.uses); c && drops_into_grid(*c))
            y = c->outputs[0];
        add(y);
    }
    return out;
}

model to_qdq(const model& src, const qdq_options& o) {
    auto p = plan_layers(src, o);
    model& m = p.m;
    if (m.opset < 13) m.opset = 13;
    std::map<std::string, const node*> producer_of;
    for (const auto& n : m.nodes)
        for (const auto& out : n.outputs)
            producer_of[out] = &n;
    // Activation grids: those given, then carried through value-preserving ops.
    auto grids = o.activations;
    if (o.propagate_grids)
        for (const auto i : p.order) {
            const auto& n = m.nodes[i];
            if (!value_preserving(n)) continue;
            const auto g = grids.find(n.inputs[0]);
            if (g != grids.end() && !grids.count(n.outputs[0])) grids[n.outputs[0]] = g->second;
        }
    for (const auto& grid : grids) {
        const auto& name = grid.first;
        const auto& a = grid.second;
        const bool produced = producer_of.count(name) ||
                              std::any_of(m.inputs.begin(), m.inputs.end(),
                                          [&](const value_info& v) { return v.name == name; });
        if (!produced)
            fail(status::invalid_argument,
                 fmt::format("to_qdq: activation '{}' is no graph input or node output of '{}'",
                             name, m.source));
        (void)scalar_zero_point(a, name); // range checks, naming the tensor
    }

    std::vector<node> out;
    bool needs_opset21 = false;
    io_detail::namer fresh{m, {}};
    // Per quantized weight: its per-output-channel scales (per tensor / per channel only), for
    // the int32 bias.
    std::map<std::string, std::vector<float>> weight_scales;
    std::set<std::string> weights_done;

    for (const auto& [wname, palette] : o.palettes)
        emit_palette(m, wname, palette, fresh, out, needs_opset21);
    std::vector<node> nodes;
    for (const auto i : p.order)
        nodes.push_back(m.nodes[i]);
    for (auto n : nodes) {
        if (!p.layers.count(n.name)) {
            out.push_back(std::move(n));
            continue;
        }
        const std::string wname = n.inputs[1];
        if (!weights_done.count(wname) && m.has_weight(wname)) {
            weights_done.insert(wname);
            const auto given = o.weights.find(wname);
            const int axis = channel_axis_of(n);
            quantized_tensor made;
            const quantized_tensor* qt = nullptr;
            if (given != o.weights.end()) {
                qt = &given->second;
                qt->validate(wname);
                if (!(qt->dims == m.weight(wname).dims()))
                    fail(status::shape_mismatch,
                         fmt::format("to_qdq: {}: quantized weight '{}' has shape {}, the model's "
                                     "weight {}",
                                     n.label(), wname, qt->dims.to_string(),
                                     m.weight(wname).dims().to_string()));
            } else if (o.quantize_weights) {
                const auto& wt = m.weight(wname);
                if (wt.type() != dtype::f32)
                    fail(status::invalid_argument,
                         fmt::format("to_qdq: {}: weight '{}' is {}, f32 expected", n.label(),
                                     wname, name_of(wt.type())));
                quantizer_config qc;
                qc.spec = o.weight_spec;
                qc.spec.channel_axis = axis;
                qc.spec.group_axis = reduction_axis_of(n);
                made = quantizer(qc).quantize(wt.view(), wname);
                qt = &made;
            }
            if (qt) {
                const auto& spec = qt->spec;
                // 5…8 bits are stored one per byte (ONNX INT8 / UINT8), 3…4 bits two per byte
                // (INT4 / UINT4, opset 21); 2-bit fields (four per byte) have no ONNX type.
                const auto storage = spec.storage_type();
                if (spec.bits < 3 || (storage != dtype::i8 && storage != dtype::u8 &&
                                      storage != dtype::i4 && storage != dtype::u4))
                    fail(status::unsupported,
                         fmt::format("to_qdq: {}: weight '{}' is {}; ONNX has no type for its "
                                     "{}-bit packing (3…8 bits can be exported)",
                                     n.label(), wname, spec.to_string(), spec.bits));
                const bool per_channel = spec.granularity == quant_granularity::per_channel;
                const bool blocked = spec.granularity == quant_granularity::per_group;
                const int rank = static_cast<int>(qt->dims.rank());
                auto norm = [rank](int a) { return a < 0 ? a + rank : a; };
                const int caxis = per_channel ? norm(spec.channel_axis)
                                  : blocked   ? norm(spec.group_axis)
                                              : 0;
                if (per_channel && caxis != axis)
                    fail(status::invalid_argument,
                         fmt::format("to_qdq: {}: weight '{}' is quantized per channel along axis "
                                     "{}, but this layer's output channels are axis {}",
                                     n.label(), wname, caxis, axis));
                if (blocked || is_packed(storage)) needs_opset21 = true;
                // Scales as f32 (f16 scales widen exactly): a scalar per tensor, [C] per
                // channel, the weight's shape with the blocked axis / block_size per group.
                const auto sv = qt->scale_values();
                tensor scale = per_channel
                                   ? tensor(dtype::f32, shape{static_cast<std::int64_t>(sv.size())})
                               : blocked ? tensor(dtype::f32, scale_shape(spec, qt->dims))
                                         : tensor(dtype::f32, shape{});
                if (static_cast<std::size_t>(scale.numel()) != sv.size())
                    fail(status::internal,
                         fmt::format("to_qdq: weight '{}': {} scales for scale shape {}", wname,
                                     sv.size(), scale.dims().to_string()));
                std::copy(sv.begin(), sv.end(), scale.span<float>().begin());
                const auto qname = fresh(wname + "_quantized");
                const auto sname = fresh(wname + "_scale");
                node dq;
                dq.name = fresh(wname + "_DequantizeLinear");
                dq.op_type = "DequantizeLinear";
                dq.inputs = {qname, sname};
                if (spec.has_zero_points()) {
                    const auto zname = fresh(wname + "_zero_point");
                    auto zp = tensor::copy_of(qt->zero_points.view());
                    if (blocked) {
                        tensor z(zp.type(), scale.dims());
                        if (z.nbytes() != zp.nbytes())
                            fail(status::internal,
                                 fmt::format("to_qdq: weight '{}': zero points of {} bytes for "
                                             "shape {}",
                                             wname, zp.nbytes(), scale.dims().to_string()));
                        std::memcpy(z.data(), zp.data(), zp.nbytes());
                        zp = std::move(z);
                    } else if (!per_channel) {
                        tensor z(zp.type(), shape{});
                        std::memcpy(z.data(), zp.data(), zp.nbytes());
                        zp = std::move(z);
                    }
                    dq.inputs.push_back(zname);
                    m.set_weight(zname, std::move(zp));
                }
                if (per_channel || blocked) dq.attributes["axis"] = attribute::of_int(caxis);
                if (blocked) dq.attributes["block_size"] = attribute::of_int(spec.group_size);
                dq.outputs = {wname};
                m.remove_weight(wname);
                m.set_weight(qname, tensor::copy_of(qt->data.view()));
                m.set_weight(sname, std::move(scale));
                out.push_back(std::move(dq));
                if (!blocked) {
                    const auto channels = std::int64_t(m.weight(qname).dims()[std::size_t(axis)]);
                    auto& ws = weight_scales[wname];
                    for (std::int64_t c = 0; c < channels; ++c)
                        ws.push_back(sv[per_channel ? std::size_t(c) : 0]);
                }
            }
        }
        if (o.quantize_bias) quantize_bias(m, n, grids, weight_scales, p.uses, fresh, out);
        out.push_back(std::move(n));
    }
    m.nodes = std::move(out);
    insert_activation_grids(m, grids, fresh);
    if (needs_opset21 && m.opset < 21) {
        m.opset = 21;
        move_reduce_axes_to_inputs(m);
    }
    (void)validate(m);
    return std::move(m);
}

} // namespace hone
