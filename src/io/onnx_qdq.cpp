// ONNX QDQ form of a model: weights as DequantizeLinear of integer initializers, activations
// through QuantizeLinear → DequantizeLinear pairs (hone/io/qdq.hpp).
#include "hone/io/qdq.hpp"

#include "hone/core/error.hpp"
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

int channel_axis_of(const node& n) {
    if (n.op_type == "Gemm") return n.get_int("transB", 0) != 0 ? 0 : 1;
    if (n.op_type == "MatMul") return 1;
    return 0; // Conv: output channels
}

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

model to_qdq(const model& src, const qdq_options& o) {
    model m = src.clone();
    if (m.opset < 13) m.opset = 13;
    const std::set<std::string> keep_f32(o.f32_nodes.begin(), o.f32_nodes.end());
    // Weight consumers: a weight read by a non-layer input stays f32 too (besides its DQ).
    std::map<std::string, int> layer_uses, all_uses;
    for (const auto& n : m.nodes)
        for (std::size_t i = 0; i < n.inputs.size(); ++i) {
            ++all_uses[n.inputs[i]];
            if (i == 1 && (n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "Conv"))
                ++layer_uses[n.inputs[i]];
        }

    std::vector<node> out;
    bool needs_opset21 = false;
    std::set<std::string> weights_done;
    std::map<std::string, std::string> act_done; // X → X_dequantized
    std::set<std::string> used_names;
    auto fresh = [&](const std::string& stem) {
        std::string name = m.unique_name(stem);
        for (int k = 1; used_names.count(name); ++k)
            name = m.unique_name(fmt::format("{}_{}", stem, k));
        used_names.insert(name);
        return name;
    };

    for (auto n : m.nodes) {
        const bool layer = (n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "Conv") &&
                           n.domain.empty() && n.inputs.size() >= 2 && !keep_f32.count(n.name);
        if (!layer) {
            out.push_back(std::move(n));
            continue;
        }
        const std::string wname = n.inputs[1];
        if (!weights_done.count(wname) && m.has_weight(wname) &&
            all_uses[wname] == layer_uses[wname]) {
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
                weights_done.insert(wname);
            }
        }
        const auto& x = n.inputs[0];
        const auto act = o.activations.find(x);
        if (act != o.activations.end() && !x.empty()) {
            auto done = act_done.find(x);
            if (done == act_done.end()) {
                const auto zp = scalar_zero_point(act->second, x);
                const auto sname = fresh(x + "_scale"), zname = fresh(x + "_zero_point");
                const auto qv = fresh(x + "_quantized"), dv = fresh(x + "_dequantized");
                m.set_weight(sname, scalar_f32(act->second.scale));
                m.set_weight(zname, tensor::copy_of(zp.view()));
                node q;
                q.name = fresh(x + "_QuantizeLinear");
                q.op_type = "QuantizeLinear";
                q.inputs = {x, sname, zname};
                q.outputs = {qv};
                node d;
                d.name = fresh(x + "_DequantizeLinear");
                d.op_type = "DequantizeLinear";
                d.inputs = {qv, sname, zname};
                d.outputs = {dv};
                out.push_back(std::move(q));
                out.push_back(std::move(d));
                done = act_done.emplace(x, dv).first;
            }
            n.inputs[0] = done->second;
        }
        out.push_back(std::move(n));
    }
    m.nodes = std::move(out);
    if (needs_opset21 && m.opset < 21) {
        m.opset = 21;
        move_reduce_axes_to_inputs(m);
    }
    (void)validate(m);
    return m;
}

} // namespace hone
