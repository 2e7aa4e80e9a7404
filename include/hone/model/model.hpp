// hone/model/model.hpp — a neural-network graph and its weights, independent of any file format.
//
// A model is a list of nodes (ONNX-style: name, op_type, domain, named inputs and outputs,
// attributes), the graph inputs and outputs with their element types and shapes (dynamic
// dimensions carry a name, e.g. "batch"), and the weights: constant tensors addressed by the
// value name the nodes use. Readers (hone/io/onnx.hpp) fill it whatever the file did with the
// constants (initializers, Constant nodes, external data files); writers give them back.
//
// Node semantics follow the ONNX operator set `opset` of the default domain. hone's ONNX reader
// normalizes operators whose attributes became inputs before opset 13 (Clip min/max, Squeeze /
// Unsqueeze axes, Slice starts…, Pad pads, Split split, ReduceSum axes, Dropout ratio,
// Upsample → Resize, Softmax's 2-D coercion), so a model always holds the opset ≥ 13 forms;
// `source_opset` remembers what the file said.
//
// Names: every value (graph input, weight, node output) has exactly one producer; node names
// are unique and never empty (the reader names anonymous nodes "<op_type>_<index>").
// validate() checks all of that and returns the nodes in an order that runs them.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

/// One dimension of a graph input or output: a fixed size (≥ 0), or a dynamic one (size −1)
/// optionally named by `param` ("batch", "sequence").
struct dimension {
    std::int64_t size = -1;
    std::string param;
    bool is_static() const noexcept { return size >= 0; }
};

/// Name, element type and shape of a graph input, output or annotated intermediate value.
/// has_shape = false: the file did not state the shape (rank unknown).
struct value_info {
    std::string name;
    dtype type = dtype::f32;
    std::vector<dimension> dims;
    bool has_shape = true;
};

class model;

/// An attribute value, as ONNX has them (sparse tensors and type protos are not supported).
/// kind::g is a subgraph (If's then_branch/else_branch): a model holding the body's nodes, its
/// outputs, its own constants as weights, and no inputs — its nodes may read values of the
/// enclosing graph by name (ONNX's outer-scope references).
struct HONE_EXPORT attribute {
    enum class kind { f = 0, i = 1, s = 2, t = 3, floats = 4, ints = 5, strings = 6, g = 7 };
    kind type = kind::i;
    float f = 0;
    std::int64_t i = 0;
    std::string s;
    std::shared_ptr<const tensor> t; ///< kind::t (e.g. ConstantOfShape's value)
    std::vector<float> floats;
    std::vector<std::int64_t> ints;
    std::vector<std::string> strings;
    std::shared_ptr<const model> g; ///< kind::g

    static attribute of_float(float v);
    static attribute of_int(std::int64_t v);
    static attribute of_string(std::string v);
    static attribute of_floats(std::vector<float> v);
    static attribute of_ints(std::vector<std::int64_t> v);
    static attribute of_strings(std::vector<std::string> v);
    static attribute of_tensor(tensor v);
    static attribute of_graph(model v);
};

/// "f", "i", "s", "t", "floats", "ints", "strings", "g".
HONE_EXPORT std::string_view name_of(attribute::kind k) noexcept;

/// One operation. An empty input name is an omitted optional input (ONNX convention).
struct HONE_EXPORT node {
    std::string name;
    std::string op_type;
    std::string domain; ///< "" is the default ONNX domain ("ai.onnx")
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    std::map<std::string, attribute> attributes;

    bool has(std::string_view attr) const;
    /// Typed attribute getters: the value, or `fallback` when absent. Throw format_error naming
    /// the node and the attribute when it is present with another kind.
    std::int64_t get_int(std::string_view attr, std::int64_t fallback) const;
    float get_float(std::string_view attr, float fallback) const;
    std::string get_string(std::string_view attr, std::string fallback) const;
    std::vector<std::int64_t> get_ints(std::string_view attr,
                                       std::vector<std::int64_t> fallback) const;
    std::vector<float> get_floats(std::string_view attr, std::vector<float> fallback) const;
    /// "Gemm 'fc1'" — how errors name the node.
    std::string label() const;
};

/// Where a weight came from in the file it was read from.
enum class weight_origin {
    initializer = 0,   ///< graph initializer with data in the file
    constant_node = 1, ///< a Constant node's value
    external = 2,      ///< ONNX external data (a side file)
    created = 3,       ///< made by hone (normalization, optimization, user code)
};

class HONE_EXPORT model {
public:
    model() = default;
    model(model&&) noexcept = default;
    model& operator=(model&&) noexcept = default;
    model(const model&) = delete;
    model& operator=(const model&) = delete;
    /// A deep copy (weights included).
    model clone() const;

    std::vector<node> nodes;
    std::vector<value_info> inputs;      ///< graph inputs that are not weights, in file order
    std::vector<value_info> outputs;     ///< graph outputs, in file order
    std::vector<value_info> annotations; ///< shapes the file gave for intermediate values

    std::string graph_name;
    std::string producer_name;
    std::string producer_version;
    std::string doc;
    std::int64_t ir_version = 8;
    std::int64_t opset = 13;        ///< default-domain opset the nodes follow
    std::int64_t source_opset = 13; ///< default-domain opset of the file it was read from
    /// Opsets of other domains ("com.microsoft" → 1, ...).
    std::map<std::string, std::int64_t> domain_opsets;
    /// Where the model was read from ("" when built in memory): errors name it.
    std::string source;

    // ---- weights (name-addressable) ---------------------------------------------------------
    bool has_weight(std::string_view name) const;
    /// The weight; throws not_found naming it.
    const tensor& weight(std::string_view name) const;
    tensor& weight(std::string_view name);
    weight_origin origin(std::string_view name) const;
    /// Adds or replaces a weight. Throws invalid_argument for an empty name or one that a node
    /// or graph input already produces.
    void set_weight(const std::string& name, tensor value,
                    weight_origin from = weight_origin::created);
    /// Removes a weight; returns false when there was none.
    bool remove_weight(std::string_view name);
    /// Names in ascending order.
    std::vector<std::string> weight_names() const;
    std::size_t weight_count() const noexcept { return weights_.size(); }
    /// Bytes of all weights.
    std::uint64_t weight_bytes() const noexcept;

    /// The node producing `value`, or nullptr (graph input, weight, unknown).
    const node* producer(std::string_view value) const;
    /// The node named `name`, or nullptr.
    const node* find_node(std::string_view name) const;

    /// A value name not used yet, built from `stem` ("stem", "stem_1", ...).
    std::string unique_name(std::string_view stem) const;

private:
    struct entry {
        tensor value;
        weight_origin origin = weight_origin::created;
    };
    std::map<std::string, entry, std::less<>> weights_;
};

/// Checks that the graph is well formed and returns node indices in an executable order (a
/// stable topological order: file order wherever it is already valid). Throws format_error
/// naming the model's source and the node or value: an empty or duplicate node name, a value
/// produced twice (by two nodes, or a node and a graph input/weight), a node input that nothing
/// produces, a graph output nothing produces, a cycle (naming a node on it).
HONE_EXPORT std::vector<std::size_t> validate(const model& m);

} // namespace hone
