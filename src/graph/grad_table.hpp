// src/graph/grad_table.hpp — the backward pass of each operator the trainer differentiates
// (internal).
//
// An entry parses the node's attributes once (with the executor's parsers, op_table.hpp) and
// returns a function from what the forward saw (its inputs and outputs, as the executor computed
// them) and dL/d(outputs) to dL/d(inputs), through the operator library's backward passes
// (ops/grad.hpp). The trainer (hone/graph/trainable_graph.hpp) runs the executor's plan forward,
// records its values, and walks the nodes backward through these entries.
#pragma once

#include "hone/model/model.hpp"
#include "ops/ops.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace hone::grad_table {

using ops::optional_view;

/// What a backward function sees of one node's forward run.
struct context {
    std::span<const optional_view> in;   ///< the node's inputs (absent optional ones: nullopt)
    std::span<const optional_view> out;  ///< its outputs
    std::span<const optional_view> dout; ///< dL/d(output i); nullopt where none reached it
    std::span<const bool> want;          ///< per input: its gradient is needed
};

/// One tensor per input: dL/d(input i), or a default tensor (shape [0]) where not wanted or not
/// differentiable.
using backward_fn = std::function<std::vector<tensor>(const context&)>;

struct entry {
    /// Parses the node once; throws hone::error (unsupported) naming the node and attribute
    /// for a form that has no backward.
    std::function<backward_fn(const node&)> compile;
    /// The inputs a gradient can flow to (indices); the others (shapes, indices, statistics,
    /// bounds) never get one. every_input: all of them (Concat).
    std::vector<std::size_t> differentiable;
    bool every_input = false;

    bool differentiates(std::size_t input) const {
        return every_input || std::find(differentiable.begin(), differentiable.end(), input) !=
                                  differentiable.end();
    }
};

/// Every operator with a backward pass, by op_type (default ONNX domain).
const std::map<std::string, entry>& standard_backward();

} // namespace hone::grad_table
