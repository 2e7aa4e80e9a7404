// Integer-operator ONNX forms of a quantized model: dynamic int8 (MatMulInteger / ConvInteger)
// and com.microsoft.MatMulNBits (hone/io/onnx_integer.hpp).
#include "hone/io/onnx_integer.hpp"

#include "unique_names.hpp"

#include "hone/core/error.hpp"
#include "hone/quantize/quantizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace hone {

namespace {

bool is_layer(const node& n) {
    return n.domain.empty() &&
           (n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "Conv") &&
           n.inputs.size() >= 2;
}

// Output-channel axis of the layer's weight (to_qdq's rule).
int out_axis_of(const node& n) {
    if (n.op_type == "Gemm") return n.get_int("transB", 0) != 0 ? 0 : 1;
    if (n.op_type == "MatMul") return 1;
    return 0;
}

tensor f32_vector(std::span<const float> v, shape dims) {
    tensor t(dtype::f32, std::move(dims));
    std::copy(v.begin(), v.end(), t.span<float>().begin());
    return t;
}

using io_detail::namer;

node make_node(std::string name, std::string op, std::vector<std::string> in,
               std::vector<std::string> out) {
    node n;
    n.name = std::move(name);
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

int uses_of(const model& m, const std::string& value) {
    int u = 0;
    for (const auto& n : m.nodes)
        u += static_cast<int>(std::count(n.inputs.begin(), n.inputs.end(), value));
    for (const auto& o : m.outputs)
        u += o.name == value;
    return u;
}

// The layer's bias: beta·C as [N] when C is a constant of N or 1 values; "" + add_c when C is
// a value to add after the product (beta = 1 only).
struct gemm_bias {
    std::vector<float> values; // empty: none
    std::string add;           // a non-constant C
};

gemm_bias bias_of(const model& m, const node& n, std::int64_t nn, const char* fn) {
    gemm_bias b;
    const bool conv = n.op_type == "Conv";
    if (n.op_type == "MatMul" || n.inputs.size() < 3 || n.inputs[2].empty()) return b;
    const auto& c = n.inputs[2];
    const float beta = conv ? 1.0f : n.get_float("beta", 1.0f);
    if (!m.has_weight(c)) {
        if (conv || beta != 1.0f)
            fail(status::unsupported,
                 fmt::format("{}: {}: {} '{}' is not a constant{}", fn, n.label(),
                             conv ? "bias" : "C", c, conv ? "" : " and beta ≠ 1"));
        b.add = c;
        return b;
    }
    const auto& ct = m.weight(c);
    const bool fits =
        ct.type() == dtype::f32 && (ct.numel() == 1 || (ct.numel() == nn && ct.dims().rank() >= 1 &&
                                                        ct.dims()[ct.dims().rank() - 1] == nn));
    if (!fits) {
        if (conv || beta != 1.0f)
            fail(status::unsupported,
                 fmt::format("{}: {}: {} '{}' of shape {} is not [{}]", fn, n.label(),
                             conv ? "bias" : "C", c, ct.dims().to_string(), nn));
        b.add = c;
        return b;
    }
    const auto cv = tensor::copy_of(ct.view());
    const auto s = cv.span<const float>();
    for (std::int64_t j = 0; j < nn; ++j)
        b.values.push_back(beta * s[s.size() == 1 ? 0 : static_cast<std::size_t>(j)]);
    return b;
}

void drop_weight_if_unused(model& m, const std::string& w) {
    if (m.has_weight(w) && uses_of(m, w) == 0) m.remove_weight(w);
}

// The BatchNormalization (default domain, inference, one output, constant f32 [C] parameters)
// that is the only reader of `value`, or nullptr.
const node* batch_norm_after(const model& m, const std::string& value, std::int64_t c) {
    const node* bn = nullptr;
    for (const auto& n : m.nodes)
        for (const auto& i : n.inputs)
            if (i == value) {
                if (bn || n.op_type != "BatchNormalization" || !n.domain.empty()) return nullptr;
                bn = &n;
            }
    for (const auto& o : m.outputs)
        if (o.name == value) return nullptr;
    if (!bn || bn->inputs.size() != 5 || bn->inputs[0] != value ||
        bn->get_int("training_mode", 0) != 0 || bn->outputs.size() != 1)
        return nullptr;
    for (std::size_t i = 1; i < 5; ++i)
        if (!m.has_weight(bn->inputs[i]) || m.weight(bn->inputs[i]).type() != dtype::f32 ||
            m.weight(bn->inputs[i]).numel() != c)
            return nullptr;
    return bn;
}

} // namespace

// ---- dynamic int8 -----------------------------------------------------------------------------

model to_dynamic_int8(const model& src, const dynamic_int8_options& o) {
    constexpr const char* fn = "to_dynamic_int8";
    model m = src.clone();
    if (m.opset < 11) m.opset = 11;
    const std::set<std::string> keep_f32(o.f32_nodes.begin(), o.f32_nodes.end());
    namer fresh{m, {}};
    std::map<std::string, std::array<std::string, 3>> act; // X → {q, scale, zero point}
    std::vector<node> out;
    std::vector<std::string> replaced;

    std::set<std::string> folded; // BatchNormalization nodes folded into a Conv's epilogue
    for (const auto& n : src.nodes) {
        if (folded.count(n.name)) continue;
        const bool candidate = is_layer(n) && !keep_f32.count(n.name) &&
                               m.has_weight(n.inputs[1]) &&
                               m.weight(n.inputs[1]).type() == dtype::f32;
        const auto& wname = candidate ? n.inputs[1] : std::string();
        const auto given = candidate ? o.weights.find(wname) : o.weights.end();
        if (!candidate || (given == o.weights.end() && !o.quantize_weights)) {
            out.push_back(n);
            continue;
        }
        const bool conv = n.op_type == "Conv";
        if (n.op_type == "Gemm" && n.get_int("transA", 0) != 0)
            fail(status::unsupported,
                 fmt::format("{}: {}: transA = 1 is not supported (list the node in f32_nodes)", fn,
                             n.label()));
        const auto& wt = m.weight(wname);
        const int oaxis = out_axis_of(n);
        if (wt.dims().rank() != 2 && !conv)
            fail(status::shape_mismatch, fmt::format("{}: {}: weight '{}' has shape {}, 2-D "
                                                     "expected",
                                                     fn, n.label(), wname, wt.dims().to_string()));
        quantized_tensor made;
        const quantized_tensor* qt = nullptr;
        if (given != o.weights.end()) {
            qt = &given->second;
            qt->validate(wname);
            if (!(qt->dims == wt.dims()))
                fail(
                    status::shape_mismatch,
                    fmt::format("{}: {}: quantized weight '{}' has shape {}, the model's weight {}",
                                fn, n.label(), wname, qt->dims.to_string(), wt.dims().to_string()));
        } else {
            quantizer_config qc;
            qc.spec.channel_axis = oaxis;
            made = quantizer(qc).quantize(wt.view(), wname);
            qt = &made;
        }
        const auto& spec = qt->spec;
        const auto storage = spec.storage_type();
        if (storage != dtype::i8 && storage != dtype::u8)
            fail(status::unsupported,
                 fmt::format("{}: {}: weight '{}' is {}; 5…8-bit weights (one per byte) are "
                             "needed",
                             fn, n.label(), wname, spec.to_string()));
        const bool per_channel = spec.granularity == quant_granularity::per_channel;
        const int rank = static_cast<int>(qt->dims.rank());
        if (spec.granularity == quant_granularity::per_group ||
            (per_channel && (spec.channel_axis + rank) % rank != oaxis))
            fail(status::unsupported,
                 fmt::format("{}: {}: weight '{}' is {}; per tensor or per output channel (axis "
                             "{}) is needed",
                             fn, n.label(), wname, spec.to_string(), oaxis));
        const std::int64_t nn = qt->dims[static_cast<std::size_t>(oaxis)];
        const std::int64_t per = qt->numel() / std::max<std::int64_t>(nn, 1);
        auto q = qt->values();
        auto zp = qt->zero_point_values();
        const auto sv = qt->scale_values();
        const float alpha = n.op_type == "Gemm" ? n.get_float("alpha", 1.0f) : 1.0f;
        std::vector<float> wscale(static_cast<std::size_t>(nn));
        for (std::int64_t c = 0; c < nn; ++c)
            wscale[static_cast<std::size_t>(c)] =
                sv[per_channel ? static_cast<std::size_t>(c) : 0] * alpha;
        if (zp.size() == 1) zp.assign(static_cast<std::size_t>(nn), zp[0]);
        bool has_zp = spec.has_zero_points();
        dtype wtype = storage;
        if (conv) {
            if (has_zp && std::any_of(zp.begin(), zp.end(), [&](int z) { return z != zp[0]; }))
                fail(status::unsupported,
                     fmt::format("{}: {}: weight '{}' has a zero point per channel; ConvInteger "
                                 "in ONNX Runtime takes one",
                                 fn, n.label(), wname));
            if (o.conv_weights_u8 && wtype == dtype::i8) {
                for (auto& v : q)
                    v += 128;
                for (auto& z : zp)
                    z += 128;
                wtype = dtype::u8;
                has_zp = true;
            }
        }
        // Integers in the operator's layout: MatMulInteger's B is [K, N].
        const bool transpose = n.op_type == "Gemm" && oaxis == 0;
        shape qdims = transpose ? shape{qt->dims[1], qt->dims[0]} : qt->dims;
        tensor wq(wtype, qdims);
        auto* wp = static_cast<std::uint8_t*>(wq.data());
        for (std::int64_t i = 0; i < qt->numel(); ++i) {
            const auto dst = transpose ? (i % per) * nn + i / per : i;
            wp[dst] = static_cast<std::uint8_t>(q[static_cast<std::size_t>(i)]);
        }
        auto bias = bias_of(m, n, nn, fn);
        // A BatchNormalization (inference) reading only this Conv's output: its per-channel
        // affine map folds into W_scale and the bias; the integers stay as they are.
        std::string y_out = n.outputs.at(0);
        if (const auto* bn = conv && o.fold_batch_norm && bias.add.empty()
                                 ? batch_norm_after(src, n.outputs.at(0), nn)
                                 : nullptr) {
            std::vector<tensor> p;
            for (std::size_t i = 1; i < 5; ++i)
                p.push_back(tensor::copy_of(m.weight(bn->inputs[i]).view()));
            const double eps = bn->get_float("epsilon", 1e-5f);
            if (bias.values.empty()) bias.values.assign(static_cast<std::size_t>(nn), 0.0f);
            for (std::size_t c = 0; c < static_cast<std::size_t>(nn); ++c) {
                const double sc = p[0].span<const float>()[c] /
                                  std::sqrt(static_cast<double>(p[3].span<const float>()[c]) + eps);
                wscale[c] = static_cast<float>(wscale[c] * sc);
                bias.values[c] =
                    static_cast<float>((bias.values[c] - p[2].span<const float>()[c]) * sc +
                                       p[1].span<const float>()[c]);
            }
            folded.insert(bn->name);
            y_out = bn->outputs.at(0);
            for (std::size_t i = 1; i < 5; ++i)
                replaced.push_back(bn->inputs[i]);
        }

        // The activation's DynamicQuantizeLinear, shared by every layer reading X.
        const auto& x = n.inputs[0];
        auto a = act.find(x);
        if (a == act.end()) {
            const std::array<std::string, 3> names{fresh(x + "_quantized"), fresh(x + "_scale"),
                                                   fresh(x + "_zero_point")};
            out.push_back(make_node(fresh(x + "_DynamicQuantizeLinear"), "DynamicQuantizeLinear",
                                    {x}, {names[0], names[1], names[2]}));
            a = act.emplace(x, names).first;
        }
        const auto qname = fresh(wname + "_quantized"), sname = fresh(wname + "_scale");
        m.set_weight(qname, std::move(wq));
        std::vector<std::int64_t> sdims{nn};
        if (conv)
            for (int d = 2; d < rank; ++d)
                sdims.push_back(1);
        m.set_weight(sname, f32_vector(wscale, shape(std::span<const std::int64_t>(sdims))));
        std::vector<std::string> ins{a->second[0], qname, a->second[2]};
        if (has_zp) {
            const auto zname = fresh(wname + "_zero_point");
            const bool scalar = conv || !per_channel;
            tensor z(wtype, scalar ? shape{} : shape{nn});
            auto* zpp = static_cast<std::uint8_t*>(z.data());
            for (std::int64_t c = 0; c < z.numel(); ++c)
                zpp[c] = static_cast<std::uint8_t>(zp[static_cast<std::size_t>(c)]);
            m.set_weight(zname, std::move(z));
            ins.push_back(zname);
        }
        const auto& y = y_out;
        const auto yi = fresh(y + "_int32"), yf = fresh(y + "_float"),
                   ys = fresh(n.name + "_scales"), ym = fresh(y + "_scaled");
        node integer = make_node(fresh(n.name + (conv ? "_ConvInteger" : "_MatMulInteger")),
                                 conv ? "ConvInteger" : "MatMulInteger", ins, {yi});
        if (conv)
            for (const auto& [k, v] : n.attributes)
                integer.attributes[k] = v;
        out.push_back(std::move(integer));
        node cast = make_node(fresh(n.name + "_Cast"), "Cast", {yi}, {yf});
        cast.attributes["to"] = attribute::of_int(1);
        out.push_back(std::move(cast));
        out.push_back(make_node(fresh(n.name + "_scales_Mul"), "Mul", {a->second[1], sname}, {ys}));
        const bool last_is_mul = bias.values.empty() && bias.add.empty();
        out.push_back(make_node(fresh(n.name + "_Mul"), "Mul", {yf, ys}, {last_is_mul ? y : ym}));
        if (!bias.values.empty()) {
            const auto bname = fresh(n.name + "_bias");
            m.set_weight(bname,
                         f32_vector(bias.values, shape(std::span<const std::int64_t>(sdims))));
            out.push_back(make_node(fresh(n.name + "_bias_Add"), "Add", {ym, bname}, {y}));
        } else if (!bias.add.empty()) {
            out.push_back(make_node(fresh(n.name + "_C_Add"), "Add", {ym, bias.add}, {y}));
        }
        replaced.push_back(wname);
        if (n.inputs.size() > 2 && !n.inputs[2].empty()) replaced.push_back(n.inputs[2]);
    }
    m.nodes = std::move(out);
    for (const auto& w : replaced)
        drop_weight_if_unused(m, w);
    (void)validate(m);
    return m;
}

// ---- MatMulNBits ------------------------------------------------------------------------------

matmul_nbits_weight pack_matmul_nbits(const quantized_tensor& w, int k_axis,
                                      std::int64_t block_size, std::string_view what) {
    w.validate(what);
    const auto& spec = w.spec;
    if (w.dims.rank() != 2 || (k_axis != 0 && k_axis != 1))
        fail(status::unsupported,
             fmt::format("MatMulNBits weight '{}': shape {} with K axis {}; a 2-D weight with K on "
                         "axis 0 or 1 is needed",
                         what, w.dims.to_string(), k_axis));
    const auto storage = spec.storage_type();
    if (storage != dtype::i4 && storage != dtype::u4)
        fail(status::unsupported, fmt::format("MatMulNBits weight '{}' is {}; 3…4-bit weights are "
                                              "needed",
                                              what, spec.to_string()));
    const int n_axis = 1 - k_axis;
    auto norm = [](int a) { return a < 0 ? a + 2 : a; };
    if (spec.granularity == quant_granularity::per_group) {
        if (norm(spec.group_axis) != k_axis)
            fail(status::unsupported,
                 fmt::format("MatMulNBits weight '{}' ({}): groups run along axis {}, K is axis {}",
                             what, spec.to_string(), norm(spec.group_axis), k_axis));
        block_size = spec.group_size;
    } else if (spec.granularity == quant_granularity::per_channel &&
               norm(spec.channel_axis) != n_axis) {
        fail(status::unsupported,
             fmt::format("MatMulNBits weight '{}' ({}): channels on axis {}, N is axis {}", what,
                         spec.to_string(), norm(spec.channel_axis), n_axis));
    }
    if (block_size < 16 || (block_size & (block_size - 1)) != 0)
        fail(status::unsupported,
             fmt::format("MatMulNBits weight '{}': block size {} is not a power of two ≥ 16", what,
                         block_size));
    matmul_nbits_weight r;
    r.k = w.dims[static_cast<std::size_t>(k_axis)];
    r.n = w.dims[static_cast<std::size_t>(n_axis)];
    r.block_size = block_size;
    const auto nb = (r.k + block_size - 1) / block_size, blob = block_size / 2;
    const auto zbytes = (nb + 1) / 2;
    const bool has_zp = spec.has_zero_points();
    const int shift = spec.is_signed ? 8 : 0; // hone's signed int4 → the operator's unsigned
    const auto q = w.values();
    const auto s = w.scale_values();
    const auto z = w.zero_point_values();
    r.b = tensor(dtype::u8, shape{r.n, nb, blob});
    r.scales = tensor(dtype::f32, shape{r.n * nb});
    r.zero_points = tensor(dtype::u8, shape{has_zp ? r.n * zbytes : 0});
    auto* bp = static_cast<std::uint8_t*>(r.b.data());
    auto* zp = static_cast<std::uint8_t*>(r.zero_points.data());
    std::memset(bp, 0, r.b.nbytes());
    if (has_zp) std::memset(zp, 0, r.zero_points.nbytes());
    auto flat = [&](std::int64_t n, std::int64_t k) {
        return k_axis == 1 ? n * r.k + k : k * r.n + n;
    };
    for (std::int64_t n = 0; n < r.n; ++n) {
        for (std::int64_t blk = 0; blk < nb; ++blk) {
            const auto first = flat(n, blk * block_size);
            const auto g = static_cast<std::size_t>(w.group_of(first));
            const int zv = (has_zp ? z[g] : 0) + shift;
            r.scales.span<float>()[static_cast<std::size_t>(n * nb + blk)] = s[g];
            if (has_zp)
                zp[n * zbytes + blk / 2] |= static_cast<std::uint8_t>(zv << (4 * (blk % 2)));
            for (std::int64_t j = 0; j < block_size; ++j) {
                const auto k = blk * block_size + j;
                const int v = k < r.k ? q[static_cast<std::size_t>(flat(n, k))] + shift : zv;
                bp[(n * nb + blk) * blob + j / 2] |= static_cast<std::uint8_t>(v << (4 * (j % 2)));
            }
        }
    }
    return r;
}

quantized_tensor unpack_matmul_nbits(const_tensor_view b, const_tensor_view scales,
                                     std::optional<const_tensor_view> zero_points, std::int64_t k,
                                     std::int64_t n, std::int64_t block_size,
                                     std::string_view what) {
    if (k < 1 || n < 1 || block_size < 2 || block_size % 2 != 0)
        fail(status::format_error,
             fmt::format("{}: K = {}, N = {}, block_size = {} (K, N ≥ 1, an even block_size ≥ 2 "
                         "needed)",
                         what, k, n, block_size));
    const auto nb = (k + block_size - 1) / block_size, blob = block_size / 2;
    if (b.type() != dtype::u8 || !(b.dims() == shape{n, nb, blob}))
        fail(status::shape_mismatch,
             fmt::format("{}: B is {} {}; u8 [{}, {}, {}] expected", what, name_of(b.type()),
                         b.dims().to_string(), n, nb, blob));
    if (scales.type() != dtype::f32 || scales.numel() != n * nb)
        fail(status::shape_mismatch,
             fmt::format("{}: scales are {} {}; f32 with N·n_blocks = {} "
                         "values expected",
                         what, name_of(scales.type()), scales.dims().to_string(), n * nb));
    const auto zbytes = (nb + 1) / 2;
    if (zero_points && (zero_points->type() != dtype::u8 || zero_points->numel() != n * zbytes))
        fail(status::shape_mismatch,
             fmt::format("{}: zero_points are {} {}; u8 with N·⌈n_blocks/2⌉ = {} values expected "
                         "(zero points of A's type are not supported)",
                         what, name_of(zero_points->type()), zero_points->dims().to_string(),
                         n * zbytes));
    const auto bc = tensor::copy_of(b), sc = tensor::copy_of(scales);
    std::optional<tensor> zc;
    if (zero_points) zc = tensor::copy_of(*zero_points);
    const auto kp = nb * block_size;
    const auto* bp = static_cast<const std::uint8_t*>(bc.data());
    std::vector<std::int32_t> q(static_cast<std::size_t>(n * kp)), z;
    for (std::int64_t i = 0; i < n * kp; ++i) {
        const int v = (bp[i / 2] >> (4 * (i % 2))) & 0x0f;
        q[static_cast<std::size_t>(i)] = zero_points ? v : v - 8;
    }
    if (zc) {
        const auto* zp = static_cast<const std::uint8_t*>(zc->data());
        for (std::int64_t r = 0; r < n; ++r)
            for (std::int64_t blk = 0; blk < nb; ++blk)
                z.push_back((zp[r * zbytes + blk / 2] >> (4 * (blk % 2))) & 0x0f);
    }
    quant_spec spec;
    spec.bits = 4;
    spec.is_signed = !zero_points;
    spec.symmetric = !zero_points;
    spec.granularity = quant_granularity::per_group;
    spec.group_axis = 1;
    spec.group_size = block_size;
    return quantized_tensor::from_values(spec, shape{n, kp}, q, sc.span<const float>(), z, what);
}

namespace {

// The 4-bit weight behind an int4 blocked DequantizeLinear (to_qdq's output), in the layer's
// layout, or nullopt when the node is not such a DequantizeLinear.
std::optional<quantized_tensor> qdq_int4_weight(const model& m, const node& d, int k_axis) {
    if (d.op_type != "DequantizeLinear" || !d.domain.empty() || d.inputs.size() < 2 ||
        !m.has_weight(d.inputs[0]) || !m.has_weight(d.inputs[1]))
        return std::nullopt;
    const auto& x = m.weight(d.inputs[0]);
    const auto& s = m.weight(d.inputs[1]);
    const auto block = d.get_int("block_size", 0);
    auto axis = d.get_int("axis", 1);
    if (axis < 0) axis += 2;
    const bool has_zp = d.inputs.size() > 2 && !d.inputs[2].empty();
    if ((x.type() != dtype::i4 && x.type() != dtype::u4) || x.dims().rank() != 2 ||
        s.type() != dtype::f32 || block <= 0 || axis != k_axis ||
        (has_zp && (!m.has_weight(d.inputs[2]) || m.weight(d.inputs[2]).type() != x.type())))
        return std::nullopt;
    quant_spec spec;
    spec.bits = 4;
    spec.is_signed = x.type() == dtype::i4;
    spec.symmetric = spec.is_signed && !has_zp;
    spec.granularity = quant_granularity::per_group;
    spec.group_axis = static_cast<int>(axis);
    spec.group_size = block;
    try {
        quantized_tensor qt;
        qt.spec = spec;
        qt.dims = x.dims();
        qt.data = tensor::copy_of(x.view());
        qt.scales = tensor::copy_of(s.view());
        qt.zero_points = has_zp ? tensor::copy_of(m.weight(d.inputs[2]).view())
                                : tensor(spec.zero_point_type(), shape{0});
        if (!spec.is_signed && !has_zp) {
            // UINT4 without zero points: zero point 0, stored explicitly for hone's u4 spec.
            qt.zero_points = tensor(dtype::u4, s.dims());
            std::memset(qt.zero_points.data(), 0, qt.zero_points.nbytes());
        }
        qt.validate("DequantizeLinear '" + d.name + "'");
        return qt;
    } catch (const hone::error&) {
        return std::nullopt; // a layout hone's quantized_tensor cannot hold: left as QDQ
    }
}

} // namespace

model to_matmul_nbits(const model& src, const matmul_nbits_options& o) {
    constexpr const char* fn = "to_matmul_nbits";
    model m = src.clone();
    const std::set<std::string> keep(o.f32_nodes.begin(), o.f32_nodes.end());
    namer fresh{m, {}};
    std::vector<node> out;
    std::vector<std::string> dropped; // weights / DequantizeLinear outputs possibly unused now
    bool any = false;
    for (const auto& n : src.nodes) {
        const bool linear = n.domain.empty() && (n.op_type == "Gemm" || n.op_type == "MatMul") &&
                            n.inputs.size() >= 2 && !keep.count(n.name);
        if (!linear) {
            out.push_back(n);
            continue;
        }
        const auto& wname = n.inputs[1];
        const int k_axis = n.op_type == "Gemm" && n.get_int("transB", 0) != 0 ? 1 : 0;
        std::optional<quantized_tensor> qdq;
        const quantized_tensor* qt = nullptr;
        const auto given = o.weights.find(wname);
        const node* dq = nullptr;
        if (given != o.weights.end()) {
            if (!m.has_weight(wname))
                fail(status::invalid_argument,
                     fmt::format("{}: {}: '{}' has a 4-bit weight but is not a constant", fn,
                                 n.label(), wname));
            qt = &given->second;
            if (!(qt->dims == m.weight(wname).dims()))
                fail(
                    status::shape_mismatch,
                    fmt::format("{}: {}: quantized weight '{}' has shape {}, the model's weight {}",
                                fn, n.label(), wname, qt->dims.to_string(),
                                m.weight(wname).dims().to_string()));
        } else if (o.from_qdq) {
            dq = src.producer(wname);
            if (dq) qdq = qdq_int4_weight(m, *dq, k_axis);
            const auto bs = qdq ? qdq->spec.group_size : 0;
            if (!qdq || bs < 16 || (bs & (bs - 1)) != 0) {
                out.push_back(n);
                continue;
            }
            qt = &*qdq;
        } else {
            out.push_back(n);
            continue;
        }
        if (n.op_type == "Gemm" &&
            (n.get_int("transA", 0) != 0 || n.get_float("alpha", 1.0f) != 1.0f))
            fail(status::unsupported,
                 fmt::format("{}: {}: transA = 1 or alpha ≠ 1 is not supported (list the node in "
                             "f32_nodes)",
                             fn, n.label()));
        std::string what = fmt::format("{} weight '{}'", n.label(), wname);
        const auto packed = pack_matmul_nbits(*qt, k_axis, o.block_size, what);
        const auto bias = bias_of(m, n, packed.n, fn);
        const auto bname = fresh(wname + "_MatMulNBits_B"),
                   sname = fresh(wname + "_MatMulNBits_scales");
        m.set_weight(bname, tensor::copy_of(packed.b.view()));
        m.set_weight(sname, tensor::copy_of(packed.scales.view()));
        node mm = make_node(fresh(n.name + "_MatMulNBits"), "MatMulNBits",
                            {n.inputs[0], bname, sname}, {});
        mm.domain = "com.microsoft";
        if (packed.has_zero_points()) {
            const auto zname = fresh(wname + "_MatMulNBits_zero_points");
            m.set_weight(zname, tensor::copy_of(packed.zero_points.view()));
            mm.inputs.push_back(zname);
        }
        if (!bias.values.empty()) {
            const auto biname = fresh(n.name + "_bias");
            m.set_weight(biname, f32_vector(bias.values, shape{packed.n}));
            mm.inputs.resize(5);
            mm.inputs.push_back(biname);
        }
        mm.attributes["K"] = attribute::of_int(packed.k);
        mm.attributes["N"] = attribute::of_int(packed.n);
        mm.attributes["bits"] = attribute::of_int(4);
        mm.attributes["block_size"] = attribute::of_int(packed.block_size);
        if (o.accuracy_level != 0)
            mm.attributes["accuracy_level"] = attribute::of_int(o.accuracy_level);
        const auto& y = n.outputs.at(0);
        if (bias.add.empty()) {
            mm.outputs = {y};
            out.push_back(std::move(mm));
        } else {
            const auto yp = fresh(y + "_product");
            mm.outputs = {yp};
            out.push_back(std::move(mm));
            out.push_back(make_node(fresh(n.name + "_C_Add"), "Add", {yp, bias.add}, {y}));
        }
        dropped.push_back(wname);
        if (n.inputs.size() > 2 && !n.inputs[2].empty()) dropped.push_back(n.inputs[2]);
        any = true;
    }
    m.nodes = std::move(out);
    // Drop DequantizeLinear nodes nothing reads any more, then weights nothing reads.
    for (const auto& v : dropped) {
        const auto it = std::find_if(m.nodes.begin(), m.nodes.end(), [&](const node& d) {
            return d.op_type == "DequantizeLinear" && d.domain.empty() && d.outputs.size() == 1 &&
                   d.outputs[0] == v;
        });
        if (it == m.nodes.end() || uses_of(m, v) != 0) continue;
        const auto ins = it->inputs;
        m.nodes.erase(it);
        for (const auto& i : ins)
            if (!i.empty()) drop_weight_if_unused(m, i);
    }
    for (const auto& v : dropped)
        drop_weight_if_unused(m, v);
    if (any) m.domain_opsets["com.microsoft"] = 1;
    (void)validate(m);
    return m;
}

} // namespace hone
