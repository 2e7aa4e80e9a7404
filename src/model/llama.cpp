// LLaMA-family decoder blocks as hone graphs (hone/model/llama.hpp).
#include "hone/model/llama.hpp"

#include "hone/core/error.hpp"
#include "hone/graph/executor.hpp"
#include "hone/kernels/gemm.hpp"

#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>

namespace hone {

using json = nlohmann::json;

// ---- config.json --------------------------------------------------------------------------

namespace {

std::int64_t positive_int(const json& j, const char* field, std::string_view source,
                          std::optional<std::int64_t> fallback = std::nullopt) {
    if (!j.contains(field) || j[field].is_null()) {
        if (fallback) return *fallback;
        fail(status::format_error, fmt::format("{}: field '{}' missing", source, field));
    }
    const json& v = j[field];
    if (!v.is_number_integer() || v.get<std::int64_t>() <= 0)
        fail(status::format_error, fmt::format("{}: field '{}' must be a positive integer, got {}",
                                               source, field, v.dump()));
    return v.get<std::int64_t>();
}

double positive_number(const json& j, const char* field, std::string_view source, double fallback) {
    if (!j.contains(field) || j[field].is_null()) return fallback;
    const json& v = j[field];
    if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
        fail(status::format_error, fmt::format("{}: field '{}' must be a positive number, got {}",
                                               source, field, v.dump()));
    return v.get<double>();
}

} // namespace

llama_config llama_config::parse(std::string_view json_text, std::string_view source) {
    const json j = json::parse(json_text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        fail(status::format_error, fmt::format("{}: not a JSON object", source));
    const std::string type = j.value("model_type", std::string());
    if (type != "llama" && type != "mistral")
        fail(status::unsupported,
             fmt::format("{}: model_type '{}' is not a LLaMA-family decoder (llama, mistral)",
                         source, type));
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
        fail(status::unsupported, fmt::format("{}: rope_scaling {} is not implemented", source,
                                              j["rope_scaling"].dump()));
    llama_config c;
    c.vocab_size = positive_int(j, "vocab_size", source);
    c.hidden_size = positive_int(j, "hidden_size", source);
    c.intermediate_size = positive_int(j, "intermediate_size", source);
    c.num_hidden_layers = positive_int(j, "num_hidden_layers", source);
    c.num_attention_heads = positive_int(j, "num_attention_heads", source);
    c.num_key_value_heads = positive_int(j, "num_key_value_heads", source, c.num_attention_heads);
    if (c.hidden_size % c.num_attention_heads != 0)
        fail(status::format_error,
             fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {}", source,
                         c.hidden_size, c.num_attention_heads));
    c.head_dim = positive_int(j, "head_dim", source, c.hidden_size / c.num_attention_heads);
    if (c.head_dim % 2 != 0)
        fail(status::format_error, fmt::format("{}: head_dim {} is odd", source, c.head_dim));
    if (c.num_attention_heads % c.num_key_value_heads != 0)
        fail(status::format_error,
             fmt::format("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}",
                         source, c.num_attention_heads, c.num_key_value_heads));
    c.rms_norm_eps = positive_number(j, "rms_norm_eps", source, 1e-6);
    c.rope_theta = positive_number(j, "rope_theta", source, 10000.0);
    c.max_position_embeddings = positive_int(j, "max_position_embeddings", source, 2048);
    if (j.contains("tie_word_embeddings")) {
        if (!j["tie_word_embeddings"].is_boolean())
            fail(status::format_error,
                 fmt::format("{}: field 'tie_word_embeddings' must be true or false", source));
        c.tie_word_embeddings = j["tie_word_embeddings"].get<bool>();
    }
    return c;
}

// ---- names --------------------------------------------------------------------------------

std::string llama_weight_name(std::int64_t layer, llama_linear which) {
    static constexpr const char* parts[] = {
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
    return fmt::format("model.layers.{}.{}.weight", layer, parts[int(which)]);
}

std::string llama_norm_name(std::int64_t layer, bool attention) {
    return fmt::format("model.layers.{}.{}.weight", layer,
                       attention ? "input_layernorm" : "post_attention_layernorm");
}

std::string llama_head_name(const llama_config& config) {
    return config.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
}

// ---- stages: small graphs, at most one weight matrix each -------------------------------------

namespace {

// Builds a graph node by node; constants become weights.
struct graph_builder {
    model m;
    int counter = 0;

    graph_builder() {
        m.opset = 17;
        m.source_opset = 17;
    }
    std::string op(const std::string& type, std::vector<std::string> inputs,
                   std::string output = {}, std::map<std::string, attribute> attrs = {}) {
        node n;
        n.name = fmt::format("{}_{}", type, counter++);
        n.op_type = type;
        n.inputs = std::move(inputs);
        if (output.empty()) output = n.name + "_out";
        n.outputs = {output};
        n.attributes = std::move(attrs);
        m.nodes.push_back(std::move(n));
        return output;
    }
    std::string ints(const std::vector<std::int64_t>& values) {
        tensor t(dtype::i64, shape{std::int64_t(values.size())});
        std::copy(values.begin(), values.end(), t.span<std::int64_t>().begin());
        const std::string name = fmt::format("const_{}", counter++);
        m.set_weight(name, std::move(t));
        return name;
    }
    std::string scalar(float value) {
        tensor t(dtype::f32, shape{1});
        t.span<float>()[0] = value;
        const std::string name = fmt::format("const_{}", counter++);
        m.set_weight(name, std::move(t));
        return name;
    }
    void input(const std::string& name, std::vector<dimension> dims) {
        m.inputs.push_back(value_info{name, dtype::f32, std::move(dims)});
    }
    void output(const std::string& name) {
        m.outputs.push_back(value_info{name, dtype::f32, {}, false});
    }
};

std::vector<dimension> activation_dims(std::int64_t width) {
    return {dimension{-1, "batch"}, dimension{-1, "seq"}, dimension{width, {}}};
}

void check_shape(const tensor& t, const std::string& name, const shape& want) {
    if (t.type() != dtype::f32 || t.dims() != want)
        fail(status::shape_mismatch,
             fmt::format("weight '{}': expected f32 {}, got {} {}", name, want.to_string(),
                         name_of(t.type()), t.dims().to_string()));
}

tensor run_stage(const model& m, std::vector<const_tensor_view> inputs) {
    const executor ex(m);
    return std::move(ex.run(inputs).at(0));
}

// x / sqrt(mean(x²) + eps) · weight
tensor rms_norm(const llama_config& c, const llama_weights& weights, const std::string& name,
                const_tensor_view x) {
    graph_builder g;
    tensor w = weights(name);
    check_shape(w, name, shape{c.hidden_size});
    g.m.set_weight(name, std::move(w));
    g.input("x", activation_dims(c.hidden_size));
    const std::string sq = g.op("Mul", {"x", "x"});
    const std::string ms =
        g.op("ReduceMean", {sq}, {},
             {{"axes", attribute::of_ints({-1})}, {"keepdims", attribute::of_int(1)}});
    const std::string rs = g.op("Sqrt", {g.op("Add", {ms, g.scalar(float(c.rms_norm_eps))})});
    g.op("Mul", {g.op("Div", {"x", rs}), name}, "y");
    g.output("y");
    return run_stage(g.m, {x});
}

// x · Wᵀ (+ residual), W [out, in] from the hook or the weights. The GEMM kernel the executor
// uses for MatMul (kernels::linear) packs W on construction; W itself is dropped before the
// product runs, so the packed copy is the only one left.
tensor linear(const llama_weights& weights, const llama_linear_hook& hook, const std::string& name,
              std::int64_t out, std::int64_t in, const_tensor_view x,
              const_tensor_view residual = {}) {
    tensor gathered; // a contiguous copy only when x is strided
    if (!x.is_contiguous()) gathered = tensor::copy_of(x);
    const std::span<const float> input =
        x.is_contiguous() ? x.span<float>() : gathered.span<float>();
    const kernels::linear layer = [&] {
        const tensor w = hook ? hook(name, x) : weights(name);
        check_shape(w, name, shape{out, in});
        kernels::linear_params p;
        p.k = in;
        p.n = out;
        p.first_rows = x.dims().numel() / in; // one packed layout: the one this run uses
        return kernels::linear(p, w.span<float>());
    }();
    const std::int64_t rows = x.dims().numel() / in;
    tensor y(dtype::f32, shape{x.dims()[0], x.dims()[1], out});
    layer.run(input.data(), y.span<float>().data(), rows);
    if (residual.rank() > 0) {
        tensor r_copy;
        if (!residual.is_contiguous()) r_copy = tensor::copy_of(residual);
        auto d = y.span<float>();
        const auto a = residual.is_contiguous() ? residual.span<float>() : r_copy.span<float>();
        if (a.size() != d.size())
            fail(status::shape_mismatch,
                 fmt::format("llama: {}: residual {} for an output of {}", name,
                             residual.dims().to_string(), y.dims().to_string()));
        for (std::size_t i = 0; i < d.size(); ++i)
            d[i] += a[i];
    }
    return y;
}

// x [batch, heads, seq, head_dim] · cos + rotate_half(x) · sin
std::string rope(graph_builder& g, const std::string& x, std::int64_t head_dim) {
    const std::int64_t h = head_dim / 2;
    const std::string axes = g.ints({-1});
    const std::string first = g.op("Slice", {x, g.ints({0}), g.ints({h}), axes});
    const std::string second = g.op("Slice", {x, g.ints({h}), g.ints({head_dim}), axes});
    const std::string rotated =
        g.op("Concat", {g.op("Neg", {second}), first}, {}, {{"axis", attribute::of_int(-1)}});
    return g.op("Add", {g.op("Mul", {x, "cos"}), g.op("Mul", {rotated, "sin"})});
}

// Causal grouped-query attention of the projected q [b, s, heads·d], k and v [b, s, kv·d].
tensor attention(const llama_config& c, const llama_positions& pos, const_tensor_view q,
                 const_tensor_view k, const_tensor_view v) {
    const std::int64_t hd = c.head_dim, nh = c.num_attention_heads, nkv = c.num_key_value_heads;
    graph_builder g;
    g.input("q", activation_dims(nh * hd));
    g.input("k", activation_dims(nkv * hd));
    g.input("v", activation_dims(nkv * hd));
    g.input("cos", {dimension{-1, "seq"}, dimension{hd, {}}});
    g.input("sin", {dimension{-1, "seq"}, dimension{hd, {}}});
    g.input("mask", {dimension{-1, "rep_seq"}, dimension{-1, "seq"}});
    auto heads = [&](const std::string& x, std::int64_t count) {
        const std::string r = g.op("Reshape", {x, g.ints({0, 0, count, hd})});
        return g.op("Transpose", {r}, {}, {{"perm", attribute::of_ints({0, 2, 1, 3})}});
    };
    const std::string qr = rope(g, heads("q", nh), hd);
    const std::string kr = rope(g, heads("k", nkv), hd);
    const std::string vh = heads("v", nkv);
    // Without repeating K and V: the rep query heads of KV head g are consecutive, so
    // [b, heads, s, d] → [b, kv_heads, rep·s, d] stacks them along the rows.
    const std::string qg = g.op("Reshape", {qr, g.ints({0, nkv, -1, hd})});
    const std::string kt =
        g.op("Transpose", {kr}, {}, {{"perm", attribute::of_ints({0, 1, 3, 2})}});
    const std::string scores =
        g.op("Mul", {g.op("MatMul", {qg, kt}), g.scalar(float(1.0 / std::sqrt(double(hd))))});
    const std::string probs =
        g.op("Softmax", {g.op("Add", {scores, "mask"})}, {}, {{"axis", attribute::of_int(-1)}});
    const std::string o = g.op("Reshape", {g.op("MatMul", {probs, vh}), g.ints({0, nh, -1, hd})});
    const std::string ot = g.op("Transpose", {o}, {}, {{"perm", attribute::of_ints({0, 2, 1, 3})}});
    g.op("Reshape", {ot, g.ints({0, 0, nh * hd})}, "y");
    g.output("y");
    return run_stage(g.m, {q, k, v, pos.cos.view(), pos.sin.view(), pos.mask.view()});
}

// silu(gate) · up
tensor swiglu(std::int64_t width, const_tensor_view gate, const_tensor_view up) {
    graph_builder g;
    g.input("gate", activation_dims(width));
    g.input("up", activation_dims(width));
    g.op("Mul", {g.op("Mul", {"gate", g.op("Sigmoid", {"gate"})}), "up"}, "y");
    g.output("y");
    return run_stage(g.m, {gate, up});
}

} // namespace

tensor llama_run_block(const llama_config& c, std::int64_t layer, const llama_weights& weights,
                       const_tensor_view hidden, const llama_positions& pos,
                       const llama_linear_hook& hook) {
    if (layer < 0 || layer >= c.num_hidden_layers)
        fail(status::out_of_range,
             fmt::format("llama_run_block: layer {} of {}", layer, c.num_hidden_layers));
    const std::int64_t H = c.hidden_size, I = c.intermediate_size;
    const std::int64_t q_width = c.num_attention_heads * c.head_dim;
    const std::int64_t kv_width = c.num_key_value_heads * c.head_dim;
    auto lin = [&](llama_linear which, std::int64_t out, std::int64_t in, const_tensor_view x,
                   const_tensor_view residual = {}) {
        return linear(weights, hook, llama_weight_name(layer, which), out, in, x, residual);
    };
    tensor h;
    {
        const tensor n1 = rms_norm(c, weights, llama_norm_name(layer, true), hidden);
        const tensor q = lin(llama_linear::q_proj, q_width, H, n1.view());
        const tensor k = lin(llama_linear::k_proj, kv_width, H, n1.view());
        const tensor v = lin(llama_linear::v_proj, kv_width, H, n1.view());
        const tensor attn = attention(c, pos, q.view(), k.view(), v.view());
        h = lin(llama_linear::o_proj, H, q_width, attn.view(), hidden);
    }
    const tensor n2 = rms_norm(c, weights, llama_norm_name(layer, false), h.view());
    tensor act;
    {
        const tensor gate = lin(llama_linear::gate_proj, I, H, n2.view());
        const tensor up = lin(llama_linear::up_proj, I, H, n2.view());
        act = swiglu(I, gate.view(), up.view());
    }
    return lin(llama_linear::down_proj, H, I, act.view(), h.view());
}

tensor llama_final_norm(const llama_config& c, const llama_weights& weights,
                        const_tensor_view hidden) {
    return rms_norm(c, weights, "model.norm.weight", hidden);
}

tensor llama_run_head(const llama_config& c, const llama_weights& weights, const_tensor_view hidden,
                      const llama_linear_hook& hook) {
    const tensor n = llama_final_norm(c, weights, hidden);
    return linear(weights, hook, llama_head_name(c), c.vocab_size, c.hidden_size, n.view());
}

llama_positions llama_position_inputs(const llama_config& c, std::int64_t seq) {
    if (seq <= 0)
        fail(status::invalid_argument,
             fmt::format("llama_position_inputs: sequence length {} (must be > 0)", seq));
    const std::int64_t hd = c.head_dim, half = hd / 2;
    const std::int64_t rep = c.num_attention_heads / c.num_key_value_heads;
    llama_positions p{tensor(dtype::f32, shape{seq, hd}), tensor(dtype::f32, shape{seq, hd}),
                      tensor(dtype::f32, shape{rep * seq, seq})};
    auto cs = p.cos.span<float>();
    auto sn = p.sin.span<float>();
    // As HF computes them, in f32: inv_freq = 1 / theta^(2i / head_dim); angle = pos · inv_freq.
    for (std::int64_t i = 0; i < half; ++i) {
        const float inv = 1.0f / std::pow(float(c.rope_theta), float(2 * i) / float(hd));
        for (std::int64_t t = 0; t < seq; ++t) {
            const float angle = float(t) * inv;
            for (const std::int64_t col : {i, i + half}) {
                cs[std::size_t(t * hd + col)] = std::cos(angle);
                sn[std::size_t(t * hd + col)] = std::sin(angle);
            }
        }
    }
    auto m = p.mask.span<float>();
    const float masked = -std::numeric_limits<float>::infinity();
    for (std::int64_t r = 0; r < rep * seq; ++r)
        for (std::int64_t j = 0; j < seq; ++j)
            m[std::size_t(r * seq + j)] = j <= r % seq ? 0.0f : masked;
    return p;
}

tensor llama_embed(const_tensor_view embedding, const_tensor_view tokens) {
    if (embedding.type() != dtype::f32 || embedding.rank() != 2)
        fail(status::dtype_mismatch, "llama_embed: the embedding must be f32 [vocab, hidden]");
    if (tokens.type() != dtype::i64 || tokens.rank() != 2)
        fail(status::dtype_mismatch, "llama_embed: tokens must be i64 [batch, seq]");
    const tensor table = tensor::copy_of(embedding), ids = tensor::copy_of(tokens);
    const std::int64_t vocab = embedding.dims()[0], H = embedding.dims()[1];
    const std::int64_t batch = tokens.dims()[0], seq = tokens.dims()[1];
    tensor out(dtype::f32, shape{batch, seq, H});
    const auto t = table.span<float>();
    const auto id = ids.span<std::int64_t>();
    auto o = out.span<float>();
    for (std::int64_t i = 0; i < batch * seq; ++i) {
        const std::int64_t v = id[std::size_t(i)];
        if (v < 0 || v >= vocab)
            fail(status::invalid_argument,
                 fmt::format("llama_embed: token {} at sequence {} position {} is outside the "
                             "vocabulary of {}",
                             v, i / seq, i % seq, vocab));
        std::copy_n(t.begin() + v * H, H, o.begin() + i * H);
    }
    return out;
}

tensor llama_forward(const llama_config& c, const llama_weights& weights,
                     const_tensor_view tokens) {
    tensor hidden = llama_embed(weights("model.embed_tokens.weight").view(), tokens);
    const llama_positions pos = llama_position_inputs(c, tokens.dims()[1]);
    for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer)
        hidden = llama_run_block(c, layer, weights, hidden.view(), pos);
    return llama_run_head(c, weights, hidden.view());
}

} // namespace hone
