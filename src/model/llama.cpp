// LLaMA-family decoder blocks as hone graphs (hone/model/llama.hpp).
#include "hone/model/llama.hpp"

#include "hone/core/error.hpp"
#include "hone/graph/executor.hpp"

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

std::string llama_linear_input(llama_linear which) {
    switch (which) {
    case llama_linear::q_proj:
    case llama_linear::k_proj:
    case llama_linear::v_proj: return "attn_norm";
    case llama_linear::o_proj: return "attn_out";
    case llama_linear::gate_proj:
    case llama_linear::up_proj: return "mlp_norm";
    case llama_linear::down_proj: return "mlp_act";
    }
    return {};
}

// ---- graphs -------------------------------------------------------------------------------

namespace {

// Builds a graph node by node; constants become weights.
struct graph_builder {
    model m;
    int counter = 0;

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
};

tensor checked(const llama_weights& weights, const std::string& name, const shape& want) {
    tensor t = weights(name);
    if (t.type() != dtype::f32 || t.dims() != want)
        fail(status::shape_mismatch,
             fmt::format("weight '{}': expected f32 {}, got {} {}", name, want.to_string(),
                         name_of(t.type()), t.dims().to_string()));
    return t;
}

// [out, in] → [in, out], the MatMul weight layout.
tensor transposed(const tensor& w) {
    const std::int64_t rows = w.dims()[0], cols = w.dims()[1];
    tensor out(dtype::f32, shape{cols, rows});
    const auto s = w.span<float>();
    auto d = out.span<float>();
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
            d[std::size_t(j * rows + i)] = s[std::size_t(i * cols + j)];
    return out;
}

std::string rms_norm(graph_builder& g, const std::string& x, const std::string& weight_name,
                     tensor weight, float eps, const std::string& out) {
    g.m.set_weight(weight_name, std::move(weight));
    const std::string sq = g.op("Mul", {x, x});
    const std::string ms =
        g.op("ReduceMean", {sq}, {},
             {{"axes", attribute::of_ints({-1})}, {"keepdims", attribute::of_int(1)}});
    const std::string rs = g.op("Sqrt", {g.op("Add", {ms, g.scalar(eps)})});
    return g.op("Mul", {g.op("Div", {x, rs}), weight_name}, out);
}

std::string linear(graph_builder& g, const std::string& x, const std::string& weight_name,
                   const tensor& weight, const std::string& out = {}) {
    g.m.set_weight(weight_name, transposed(weight));
    return g.op("MatMul", {x, weight_name}, out);
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

value_info activation(const std::string& name, std::int64_t width) {
    return value_info{
        name, dtype::f32, {dimension{-1, "batch"}, dimension{-1, "seq"}, dimension{width, {}}}};
}

} // namespace

model llama_block_graph(const llama_config& c, std::int64_t layer, const llama_weights& weights) {
    if (layer < 0 || layer >= c.num_hidden_layers)
        fail(status::out_of_range,
             fmt::format("llama_block_graph: layer {} of {}", layer, c.num_hidden_layers));
    const std::int64_t hd = c.head_dim, nh = c.num_attention_heads, nkv = c.num_key_value_heads;
    const std::int64_t H = c.hidden_size, I = c.intermediate_size;
    const float eps = float(c.rms_norm_eps);
    auto w = [&](llama_linear which, std::int64_t out, std::int64_t in) {
        return checked(weights, llama_weight_name(layer, which), shape{out, in});
    };

    graph_builder g;
    g.m.graph_name = fmt::format("llama block {}", layer);
    g.m.opset = 17;
    g.m.source_opset = 17;
    g.m.inputs = {activation("hidden", H),
                  value_info{"cos", dtype::f32, {dimension{-1, "seq"}, dimension{hd, {}}}},
                  value_info{"sin", dtype::f32, {dimension{-1, "seq"}, dimension{hd, {}}}},
                  value_info{"mask", dtype::f32, {dimension{-1, "rep_seq"}, dimension{-1, "seq"}}}};
    g.m.outputs = {activation("hidden_out", H)};

    const std::string n1 = rms_norm(g, "hidden", llama_norm_name(layer, true),
                                    checked(weights, llama_norm_name(layer, true), shape{H}), eps,
                                    llama_linear_input(llama_linear::q_proj));
    auto heads = [&](llama_linear which, std::int64_t count) {
        const std::string y =
            linear(g, n1, llama_weight_name(layer, which), w(which, count * hd, H));
        const std::string r = g.op("Reshape", {y, g.ints({0, 0, count, hd})});
        return g.op("Transpose", {r}, {}, {{"perm", attribute::of_ints({0, 2, 1, 3})}});
    };
    const std::string q = rope(g, heads(llama_linear::q_proj, nh), hd);
    const std::string k = rope(g, heads(llama_linear::k_proj, nkv), hd);
    const std::string v = heads(llama_linear::v_proj, nkv);
    // Grouped-query attention without repeating K and V: the rep query heads of KV head g are
    // consecutive, so [b, heads, s, d] → [b, kv_heads, rep·s, d] stacks them along the rows.
    const std::string qg = g.op("Reshape", {q, g.ints({0, nkv, -1, hd})});
    const std::string kt = g.op("Transpose", {k}, {}, {{"perm", attribute::of_ints({0, 1, 3, 2})}});
    const std::string scores =
        g.op("Mul", {g.op("MatMul", {qg, kt}), g.scalar(float(1.0 / std::sqrt(double(hd))))});
    const std::string probs =
        g.op("Softmax", {g.op("Add", {scores, "mask"})}, {}, {{"axis", attribute::of_int(-1)}});
    const std::string o = g.op("Reshape", {g.op("MatMul", {probs, v}), g.ints({0, nh, -1, hd})});
    const std::string ot = g.op("Transpose", {o}, {}, {{"perm", attribute::of_ints({0, 2, 1, 3})}});
    const std::string attn =
        g.op("Reshape", {ot, g.ints({0, 0, nh * hd})}, llama_linear_input(llama_linear::o_proj));
    const std::string h =
        g.op("Add", {"hidden", linear(g, attn, llama_weight_name(layer, llama_linear::o_proj),
                                      w(llama_linear::o_proj, H, nh * hd))});

    const std::string n2 = rms_norm(g, h, llama_norm_name(layer, false),
                                    checked(weights, llama_norm_name(layer, false), shape{H}), eps,
                                    llama_linear_input(llama_linear::gate_proj));
    const std::string gate = linear(g, n2, llama_weight_name(layer, llama_linear::gate_proj),
                                    w(llama_linear::gate_proj, I, H));
    const std::string up = linear(g, n2, llama_weight_name(layer, llama_linear::up_proj),
                                  w(llama_linear::up_proj, I, H));
    const std::string act = g.op("Mul", {g.op("Mul", {gate, g.op("Sigmoid", {gate})}), up},
                                 llama_linear_input(llama_linear::down_proj));
    const std::string down = linear(g, act, llama_weight_name(layer, llama_linear::down_proj),
                                    w(llama_linear::down_proj, H, I));
    g.op("Add", {h, down}, "hidden_out");
    return std::move(g.m);
}

model llama_head_graph(const llama_config& c, const llama_weights& weights) {
    graph_builder g;
    g.m.graph_name = "llama head";
    g.m.opset = 17;
    g.m.source_opset = 17;
    g.m.inputs = {activation("hidden", c.hidden_size)};
    g.m.outputs = {activation("logits", c.vocab_size)};
    const std::string n = rms_norm(g, "hidden", "model.norm.weight",
                                   checked(weights, "model.norm.weight", shape{c.hidden_size}),
                                   float(c.rms_norm_eps), "final_norm");
    const std::string head = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    linear(g, n, head, checked(weights, head, shape{c.vocab_size, c.hidden_size}), "logits");
    return std::move(g.m);
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
    for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
        const executor block(llama_block_graph(c, layer, weights));
        const const_tensor_view inputs[] = {hidden.view(), pos.cos.view(), pos.sin.view(),
                                            pos.mask.view()};
        hidden = std::move(block.run(inputs).at(0));
    }
    const executor head(llama_head_graph(c, weights));
    return std::move(head.run(hidden.view()).at(0));
}

} // namespace hone
