// A small graph builder for executor tests: graph inputs holding their feed tensors,
// constants, nodes, outputs; run by hone::executor (tests/graph/test_ops_*.cpp).
#pragma once

#include "hone/graph/executor.hpp"
#include "hone/model/model.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace ops_test {

/// A deterministic f32 tensor with values in [-2, 2) (a linear congruential sequence).
inline hone::tensor pseudo_random(const hone::shape& dims, std::uint32_t seed) {
    hone::tensor t(hone::dtype::f32, dims);
    std::uint32_t s = seed;
    for (auto& v : t.span<float>()) {
        s = s * 1664525u + 1013904223u;
        v = static_cast<float>(s >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    return t;
}

/// Same dims and the same bytes.
inline bool same_bytes(const hone::tensor& a, const hone::tensor& b) {
    return a.dims() == b.dims() && a.nbytes() == b.nbytes() &&
           std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

/// A node without attributes.
inline hone::node make_node(std::string name, std::string op, std::vector<std::string> in,
                            std::vector<std::string> out) {
    hone::node n;
    n.name = std::move(name);
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

struct graph {
    hone::model m;
    std::vector<hone::tensor> feeds;
    // A graph input holding `t`; the axes listed in `dynamic` are declared dynamic.
    graph& input(const std::string& name, hone::tensor t, std::vector<std::size_t> dynamic = {}) {
        hone::value_info v{name, t.type(), {}, true};
        for (std::size_t d = 0; d < t.dims().rank(); ++d) {
            const bool dyn = std::find(dynamic.begin(), dynamic.end(), d) != dynamic.end();
            v.dims.push_back({dyn ? -1 : t.dims()[d], dyn ? "N" : ""});
        }
        m.inputs.push_back(v);
        feeds.push_back(std::move(t));
        return *this;
    }
    graph& constant(const std::string& name, hone::tensor t) {
        m.set_weight(name, std::move(t));
        return *this;
    }
    graph& node(const std::string& name, const std::string& op, std::vector<std::string> in,
                std::vector<std::string> out, std::map<std::string, hone::attribute> attrs = {}) {
        hone::node n;
        n.name = name;
        n.op_type = op;
        n.inputs = std::move(in);
        n.outputs = std::move(out);
        n.attributes = std::move(attrs);
        m.nodes.push_back(std::move(n));
        return *this;
    }
    graph& output(const std::string& name) {
        m.outputs.push_back({name, hone::dtype::f32, {}, false});
        return *this;
    }
    std::vector<hone::tensor> run(const hone::executor& ex) const {
        std::vector<hone::const_tensor_view> v;
        for (const auto& f : feeds)
            v.push_back(f.view());
        return ex.run(v);
    }
    // Each node's path in the executor's report.
    std::map<std::string, std::string> paths(const hone::executor& ex) const {
        std::map<std::string, std::string> r;
        for (const auto& n : ex.report())
            r[n.node] = n.path;
        return r;
    }
    std::string path(const hone::executor& ex, const std::string& node) const {
        const auto r = paths(ex);
        const auto it = r.find(node);
        return it == r.end() ? "(no such node)" : it->second;
    }
};

} // namespace ops_test
