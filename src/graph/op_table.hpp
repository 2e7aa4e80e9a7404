// src/graph/op_table.hpp — operators the executor runs through a table (internal).
//
// The executor's own compile step handles the layers it plans specially (Gemm, MatMul, Conv
// with their int8/int4/packed paths, QDQ, BN folding). Every other operator can be an entry
// here: a compile function that parses the node's attributes (and constant inputs) once and
// returns a kernel, and optionally a shape function used by load-time shape inference. Each
// operator family adds its entries from its own file (`add_*_ops`), so adding an operator does
// not touch the executor.
#pragma once

#include "hone/model/model.hpp"
#include "ops/ops.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hone::op_table {

using ops::optional_view;

/// Dims of a value as known at load: −1 for a dimension not known yet.
using partial_shape = std::vector<std::int64_t>;

/// What a compile or shape function sees of one node.
struct context {
    const node& n;
    /// The operator's name, to start messages with ("LSTM: attribute 'layout' is 2"); the
    /// executor prefixes the model and the node's label to every error.
    std::string label;
    /// Input i when it is a constant (initializer or folded at load); std::nullopt when the
    /// input is absent or computed at run time.
    std::function<optional_view(std::size_t)> constant;
    /// Input i's dims as inferred at load, or nullptr when unknown or absent.
    std::function<const partial_shape*(std::size_t)> shape;
};

/// A compiled operator: inputs in node order (absent optional inputs as std::nullopt) → one
/// tensor per node output. `macs` accumulates multiply-accumulates for the hardware figures
/// (leave it for operators whose work is not multiply-accumulate).
using kernel = std::function<std::vector<tensor>(std::span<const optional_view> in, double& macs)>;

struct entry {
    /// Parses attributes once; throws hone::error (status::unsupported / invalid_argument)
    /// naming the attribute for what the operator cannot run.
    std::function<kernel(const context&)> compile;
    /// Output dims inferred at load (one per output; empty vector = unknown); may be empty.
    std::function<std::vector<partial_shape>(const context&)> infer;
    /// The report's label of the implementation, e.g. "ops::pad".
    std::string path;
};

using table = std::map<std::string, entry>;

/// Every table-driven operator of the default ONNX domain, by op_type.
const table& standard_ops();

/// Wraps a function of the inputs returning one tensor as a kernel.
template <class F> kernel one_output(F f) {
    return [f](std::span<const optional_view> in, double&) {
        std::vector<tensor> out;
        out.push_back(f(in));
        return out;
    };
}

/// Input i, or an invalid_argument error naming it when it is absent.
const_tensor_view required(std::span<const optional_view> in, std::size_t i, const char* op);

/// ONNX's auto_pad attribute; format_error naming the node for a value ONNX does not have.
ops::auto_pad parse_auto_pad(const node& n);
/// kernel_shape, strides, pads, dilations and auto_pad of a Conv/pool-like node.
ops::spatial_params parse_spatial(const node& n);

// The attributes of the operators the executor plans itself, parsed once for it and for the
// trainer's backward passes (grad_table.hpp). Errors name the node.
ops::gemm_params parse_gemm(const node& n); ///< alpha, beta, transA, transB
ops::conv_params parse_conv(const node& n); ///< spatial attributes and group
/// MaxPool / AveragePool: spatial attributes (kernel_shape required), ceil_mode,
/// count_include_pad; storage_order 1 and an Indices output are unsupported.
ops::pool_params parse_pool(const node& n);
/// Gelu's approximate: "none" or "tanh".
ops::gelu_approximation parse_gelu(const node& n);
/// Resize's attributes (opset 11–19; antialias, axes and keep_aspect_ratio_policy other than
/// stretch are unsupported); the scales and sizes come at run time (with_resize_inputs).
ops::resize_params parse_resize(const node& n);
/// p with Resize's inputs 2 (scales, f32) and 3 (sizes) read, where given and not empty.
ops::resize_params with_resize_inputs(ops::resize_params p, std::span<const optional_view> in);

// Each operator family registers its entries (one file each, src/graph/table_*.cpp).
void add_math_ops(table& t);      // elementwise math, reductions, normalizations
void add_indexing_ops(table& t);  // Pad, Split, Tile, Range, Trilu, TopK, ... (indexing)
void add_recurrent_ops(table& t); // LSTM, GRU
void add_integer_ops(table& t);   // QLinearConv, QLinearMatMul (already-quantized models)

} // namespace hone::op_table
