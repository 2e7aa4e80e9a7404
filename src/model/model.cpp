#include "hone/model/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <queue>
#include <set>
#include <unordered_map>

namespace hone {

attribute attribute::of_float(float v) {
    attribute a;
    a.type = kind::f;
    a.f = v;
    return a;
}
attribute attribute::of_int(std::int64_t v) {
    attribute a;
    a.type = kind::i;
    a.i = v;
    return a;
}
attribute attribute::of_string(std::string v) {
    attribute a;
    a.type = kind::s;
    a.s = std::move(v);
    return a;
}
attribute attribute::of_floats(std::vector<float> v) {
    attribute a;
    a.type = kind::floats;
    a.floats = std::move(v);
    return a;
}
attribute attribute::of_ints(std::vector<std::int64_t> v) {
    attribute a;
    a.type = kind::ints;
    a.ints = std::move(v);
    return a;
}
attribute attribute::of_strings(std::vector<std::string> v) {
    attribute a;
    a.type = kind::strings;
    a.strings = std::move(v);
    return a;
}
attribute attribute::of_tensor(tensor v) {
    attribute a;
    a.type = kind::t;
    a.t = std::make_shared<const tensor>(std::move(v));
    return a;
}

attribute attribute::of_graph(model v) {
    attribute a;
    a.type = kind::g;
    a.g = std::make_shared<const model>(std::move(v));
    return a;
}

std::string_view name_of(attribute::kind k) noexcept {
    switch (k) {
    case attribute::kind::f: return "f";
    case attribute::kind::i: return "i";
    case attribute::kind::s: return "s";
    case attribute::kind::t: return "t";
    case attribute::kind::floats: return "floats";
    case attribute::kind::ints: return "ints";
    case attribute::kind::strings: return "strings";
    case attribute::kind::g: return "g";
    }
    return "unknown";
}

namespace {
const attribute* find_attr(const node& n, std::string_view name, attribute::kind k) {
    const auto it = n.attributes.find(std::string(name));
    if (it == n.attributes.end()) return nullptr;
    if (it->second.type != k)
        fail(status::format_error,
             fmt::format("{}: attribute '{}' is of kind '{}', expected '{}'", n.label(), name,
                         name_of(it->second.type), name_of(k)));
    return &it->second;
}
} // namespace

bool node::has(std::string_view attr) const { return attributes.count(std::string(attr)) != 0; }
std::int64_t node::get_int(std::string_view attr, std::int64_t fallback) const {
    const auto* a = find_attr(*this, attr, attribute::kind::i);
    return a ? a->i : fallback;
}
float node::get_float(std::string_view attr, float fallback) const {
    const auto* a = find_attr(*this, attr, attribute::kind::f);
    return a ? a->f : fallback;
}
std::string node::get_string(std::string_view attr, std::string fallback) const {
    const auto* a = find_attr(*this, attr, attribute::kind::s);
    return a ? a->s : fallback;
}
std::vector<std::int64_t> node::get_ints(std::string_view attr,
                                         std::vector<std::int64_t> fallback) const {
    const auto* a = find_attr(*this, attr, attribute::kind::ints);
    return a ? a->ints : fallback;
}
std::vector<float> node::get_floats(std::string_view attr, std::vector<float> fallback) const {
    const auto* a = find_attr(*this, attr, attribute::kind::floats);
    return a ? a->floats : fallback;
}
std::string node::label() const { return fmt::format("{} '{}'", op_type, name); }

model model::clone() const {
    model m;
    m.nodes = nodes;
    m.inputs = inputs;
    m.outputs = outputs;
    m.annotations = annotations;
    m.graph_name = graph_name;
    m.producer_name = producer_name;
    m.producer_version = producer_version;
    m.doc = doc;
    m.ir_version = ir_version;
    m.opset = opset;
    m.source_opset = source_opset;
    m.domain_opsets = domain_opsets;
    m.source = source;
    for (const auto& [name, e] : weights_)
        m.weights_.emplace(name, entry{e.value.clone(), e.origin});
    return m;
}

bool model::has_weight(std::string_view name) const {
    return weights_.find(name) != weights_.end();
}

const tensor& model::weight(std::string_view name) const {
    const auto it = weights_.find(name);
    if (it == weights_.end())
        fail(status::not_found, fmt::format("model{}: no weight named '{}'",
                                            source.empty() ? "" : " '" + source + "'", name));
    return it->second.value;
}
tensor& model::weight(std::string_view name) {
    return const_cast<tensor&>(static_cast<const model&>(*this).weight(name));
}
weight_origin model::origin(std::string_view name) const {
    weight(name);
    return weights_.find(name)->second.origin;
}

void model::set_weight(const std::string& name, tensor value, weight_origin from) {
    if (name.empty()) fail(status::invalid_argument, "model::set_weight: empty weight name");
    if (producer(name) != nullptr)
        fail(status::invalid_argument, fmt::format("model::set_weight: '{}' is produced by node {}",
                                                   name, producer(name)->label()));
    for (const auto& in : inputs)
        if (in.name == name)
            fail(status::invalid_argument,
                 fmt::format("model::set_weight: '{}' is a graph input", name));
    weights_.insert_or_assign(name, entry{std::move(value), from});
}

bool model::remove_weight(std::string_view name) {
    const auto it = weights_.find(name);
    if (it == weights_.end()) return false;
    weights_.erase(it);
    return true;
}

std::vector<std::string> model::weight_names() const {
    std::vector<std::string> names;
    names.reserve(weights_.size());
    for (const auto& [name, e] : weights_)
        names.push_back(name);
    return names;
}

std::uint64_t model::weight_bytes() const noexcept {
    std::uint64_t total = 0;
    for (const auto& [name, e] : weights_)
        total += e.value.nbytes();
    return total;
}

const node* model::producer(std::string_view value) const {
    for (const auto& n : nodes)
        for (const auto& o : n.outputs)
            if (o == value) return &n;
    return nullptr;
}

const node* model::find_node(std::string_view name) const {
    for (const auto& n : nodes)
        if (n.name == name) return &n;
    return nullptr;
}

std::string model::unique_name(std::string_view stem) const {
    std::set<std::string, std::less<>> used;
    for (const auto& n : nodes) {
        used.insert(n.name);
        for (const auto& o : n.outputs)
            used.insert(o);
    }
    for (const auto& in : inputs)
        used.insert(in.name);
    for (const auto& [name, e] : weights_)
        used.insert(name);
    std::string candidate(stem);
    for (int k = 1; used.count(candidate) != 0; ++k)
        candidate = fmt::format("{}_{}", stem, k);
    return candidate;
}

std::vector<std::size_t> validate(const model& m) {
    const std::string where = m.source.empty() ? std::string("model") : "'" + m.source + "'";
    auto bad = [&](const std::string& what) { fail(status::format_error, where + ": " + what); };

    // Producers: -1 graph input, -2 weight, ≥ 0 node index.
    std::unordered_map<std::string, std::int64_t> producer;
    for (const auto& in : m.inputs) {
        if (in.name.empty()) bad("a graph input has an empty name");
        if (!producer.emplace(in.name, -1).second)
            bad(fmt::format("graph input '{}' is declared twice", in.name));
        if (m.has_weight(in.name))
            bad(fmt::format("'{}' is both a graph input and a weight", in.name));
    }
    for (const auto& w : m.weight_names())
        producer.emplace(w, -2);
    std::set<std::string, std::less<>> node_names;
    for (std::size_t i = 0; i < m.nodes.size(); ++i) {
        const auto& n = m.nodes[i];
        if (n.name.empty()) bad(fmt::format("node {} ({}) has an empty name", i, n.op_type));
        if (n.op_type.empty()) bad(fmt::format("node '{}' has an empty op_type", n.name));
        if (!node_names.insert(n.name).second)
            bad(fmt::format("node name '{}' is used twice", n.name));
        for (const auto& o : n.outputs) {
            if (o.empty()) continue;
            const auto [it, fresh] = producer.emplace(o, static_cast<std::int64_t>(i));
            if (!fresh) {
                const auto p = it->second;
                bad(fmt::format("value '{}' (output of {}) is already produced by {}", o, n.label(),
                                p == -1   ? std::string("a graph input")
                                : p == -2 ? std::string("a weight")
                                          : m.nodes[static_cast<std::size_t>(p)].label()));
            }
        }
    }
    // Dependencies and a stable topological order (Kahn, smallest index first).
    const std::size_t count = m.nodes.size();
    std::vector<std::vector<std::size_t>> users(count), preds(count);
    std::vector<std::size_t> pending(count, 0);
    for (std::size_t i = 0; i < count; ++i) {
        const auto& n = m.nodes[i];
        for (const auto& in : n.inputs) {
            if (in.empty()) continue;
            const auto it = producer.find(in);
            if (it == producer.end())
                bad(fmt::format("input '{}' of {} is not a graph input, a weight or the output of "
                                "any node",
                                in, n.label()));
            if (it->second >= 0) {
                users[static_cast<std::size_t>(it->second)].push_back(i);
                preds[i].push_back(static_cast<std::size_t>(it->second));
                ++pending[i];
            }
        }
    }
    for (const auto& out : m.outputs)
        if (producer.find(out.name) == producer.end())
            bad(fmt::format("graph output '{}' is not produced by any node, input or weight",
                            out.name));
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t i = 0; i < count; ++i)
        if (pending[i] == 0) ready.push(i);
    std::vector<std::size_t> order;
    order.reserve(count);
    while (!ready.empty()) {
        const auto i = ready.top();
        ready.pop();
        order.push_back(i);
        for (const auto u : users[i])
            if (--pending[u] == 0) ready.push(u);
    }
    if (order.size() != count) {
        // Walk back through unfinished producers until a node repeats: that node is on a cycle.
        std::size_t at = 0;
        while (pending[at] == 0)
            ++at;
        std::vector<char> seen(count, 0);
        while (!seen[at]) {
            seen[at] = 1;
            for (const auto p : preds[at])
                if (pending[p] != 0) {
                    at = p;
                    break;
                }
        }
        bad(fmt::format("the graph has a cycle through {}", m.nodes[at].label()));
    }
    return order;
}

} // namespace hone
