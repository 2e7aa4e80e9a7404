// hone/graph/executor.hpp — runs a hone::model: fp32 reference semantics, optional int8 paths.
//
// Everything that can be decided once is decided at construction ("configure once, run many"):
// - the node order (hone::validate), and every node's attributes: an operator hone cannot run
//   (unknown op_type, other domain, unsupported mode) is an error at construction naming the
//   node(s), never a failure half-way through a run;
// - constant folding: a node whose inputs are all constants runs once, at load. Shape
//   subgraphs (Shape → Gather → Unsqueeze → Concat → Reshape, ...) fold too when the dims they
//   read are static; dims that are dynamic (e.g. the batch) are tracked symbolically, so a
//   Reshape to [batch, −1] built from Shape(x)[0] becomes Reshape(x, [0, −1]) without any shape
//   arithmetic at run time;
// - optimizations: Conv + BatchNormalization folded into the Conv's weights and bias (inference
//   mode), MatMul + Add of a constant [N] bias fused into one linear kernel, and a Relu after a
//   Conv/Gemm/MatMul fused into it as a post-op; a Conv on the oneDNN kernel also takes a
//   residual Add (f32, oneDNN's sum post-op) and the activation after it (LeakyRelu, Clip,
//   HardSigmoid, HardSwish, Sigmoid, Tanh, Gelu, x·Sigmoid(x), x·HardSigmoid(x)) as eltwise
//   post-ops (fuse_conv_activations). A value that an optimization removes can no longer be
//   observed: list it in `keep` to prevent that;
// - kernels: Gemm/MatMul with constant weights run through hone::kernels::linear (oneDNN,
//   weights reordered once); 2-D Conv with constant weights through hone::kernels::conv2d;
//   everything else through hone's operator library (ONNX semantics).
//
// Packed weights (executor_options::int4_weights / palettized_weights): a Gemm/MatMul whose
// weight is listed runs the kernel layer's int4 or palettized matmul on it ("int4 weight-only
// linear", "palettized linear" in report()).
//
// QDQ models (hone/io/qdq.hpp): QuantizeLinear / DequantizeLinear run with ONNX semantics; a
// DequantizeLinear of constant integers folds at load into f32 weights; with precision ≠ f32 a
// per-tensor QuantizeLinear → DequantizeLinear pair (u8/i8, constant scale and zero point)
// feeding a Gemm/MatMul/Conv is fused into it, which then runs int8 with exactly that activation
// grid ("int8 QDQ linear" / "int8 QDQ conv2d"), with or without activation_ranges.
// A Conv on the oneDNN kernel so fused reads the quantized value itself. Beyond that, with
// precision ≠ f32 the values between int8 layers stay quantized (each rewrite only where the
// values in between are read by nothing else and not kept; report() names each):
//  - Conv → QuantizeLinear: the Conv writes its result on that grid ("result written u8"; the
//    one rewrite that may differ from the operators: by one step, where result / scale lies
//    within float rounding of a half step — see hone/kernels/conv.hpp);
//  - DequantizeLinear → elementwise operators of that value with scalar constants (Clip, Relu,
//    x·HardSigmoid(x), …) → QuantizeLinear: a 256-entry byte table computed at load by those
//    nodes' own kernels (same bytes), in front of the one Conv reading it or as a step ("int8
//    table"); without the QuantizeLinear, a table of 256 floats;
//  - Add(DequantizeLinear(a), DequantizeLinear(b)) (→ Relu/Clip) → QuantizeLinear, equal
//    shapes: one int8 Add on a and b ("int8 Add", same bytes).
// Values are held in whatever layout the chain holds (NHWC between oneDNN convolutions).
//
// int8 (precision ≠ f32): Gemm/MatMul with constant weights run as u8 activations × s8
// per-output-channel weights (hone::kernels::linear), either with activation scales computed
// per call (int8_dynamic) or fixed from calibrated ranges (int8_static, `activation_ranges`
// keyed by the name of the layer's input value). 2-D Convs need static ranges (int8_static);
// without one they stay f32. `reduce_range` (default on CPUs whose int8 pairs saturate, see
// hone/kernels/gemm.hpp) uses 7-bit activations for linear layers so the arithmetic is exact
// without splitting. report() says, per node, which path it took.
//
// Layouts (conv_nhwc): a value that only oneDNN-kernel Convs (as input or fused residual
// addend), 2-D MaxPool/AveragePool, GlobalAveragePool/GlobalMaxPool and per-channel
// Add/Sub/Mul/Div (x [N, C, H, W] with an [N, C, 1, 1] operand: squeeze-excitation) read, made by
// such a Conv, pool or per-channel op and neither a graph output nor kept, is held NHWC — the
// layout oneDNN 2.6's convolutions run on AVX-512 — so a chain of convolutions (with their folded
// BatchNormalization, fused activations and residual Adds, and the pooling and excitation
// between them) reorders only at its edges: where it starts from a graph input or another
// operator, and before an operator that needs NCHW (Flatten, Concat, ...; a pool or per-channel
// op transposes its own result then, a global pool's [N, C, 1, 1] is the same bytes either way).
// report() says ", NHWC in, NHWC out" per Conv and "(NHWC)" per pool or per-channel op;
// last_run_reorders() counts the layout reorders of the run. Weights are reordered once, at load.
// Results are the same bytes with or without it; observers still see NCHW values.
//
// Buffers: each run() in progress has a pool of buffers kept from earlier runs; the oneDNN
// conv / linear layers and most operators (elementwise, pooling, Softmax and the
// normalizations, data movement, quantization) write their results into them, and every value's
// buffer returns there after its last use, so a run at a shape seen before allocates nothing for
// those (last_run_allocations()). The reference kernels (ConvTranspose, MatMulInteger,
// ConvInteger, the reductions, Resize, some indexing operators) still allocate their results.
//
// Thread safety: run() is const and may be called concurrently.
#pragma once

#include "hone/cluster/clusterer.hpp"
#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/runner.hpp"
#include "hone/model/model.hpp"
#include "hone/quantize/quantized_tensor.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hone {

enum class exec_precision {
    f32 = 0,          ///< fp32 everywhere
    int8_dynamic = 1, ///< int8 Gemm/MatMul, activation scale per call
    int8_static = 2,  ///< int8 Gemm/MatMul/Conv with calibrated activation ranges
};

/// A calibrated activation range [lo, hi] (the grid always contains 0).
struct tensor_range {
    float lo = 0;
    float hi = 0;
};

struct executor_options {
    bool fold_constants = true;  ///< run all-constant nodes (and shape subgraphs) at load
    bool fold_batch_norm = true; ///< Conv + BatchNormalization → Conv
    bool fuse_relu = true;       ///< Conv/Gemm/MatMul + Relu → one kernel with a ReLU post-op
    /// Conv (on the oneDNN kernel) + its activation → one kernel with oneDNN eltwise post-ops:
    /// LeakyRelu, Clip, HardSigmoid, HardSwish, Sigmoid, Tanh, Gelu, x·Sigmoid(x) (SiLU) and
    /// x·HardSigmoid(x) (HardSwish as exporters write it); report(): "+ fused <activation>".
    bool fuse_conv_activations = true;
    /// Values passed only between Convs on the oneDNN kernel (as input or residual addend),
    /// pools and per-channel elementwise ops are held NHWC, the layout oneDNN's convolutions use
    /// on AVX-512: no reorder between them.
    /// Observers still see NCHW; results are the same either way (reorders only move values).
    bool conv_nhwc = true;
    exec_precision precision = exec_precision::f32;
    /// int8_static: ranges of the inputs of Gemm/MatMul/Conv, by value name.
    std::map<std::string, tensor_range, std::less<>> activation_ranges;
    /// 7-bit activations for int8 linear layers (-1: when this CPU's int8 pairs saturate).
    int reduce_range = -1;
    /// Values that must stay observable (never fused away).
    std::vector<std::string> keep;
    /// Nodes (by name) that stay f32 whatever the precision.
    std::vector<std::string> f32_nodes;
    /// Packed weights, by the model's weight name (input B of a Gemm, or of a MatMul with a
    /// constant rank-2 B): that layer runs weight-only on the packed form, activations f32,
    /// whatever the precision. Both kinds are always laid out [N, K] (output channels first,
    /// nn.Linear's layout): the weight itself for Gemm transB=1, its transpose for Gemm
    /// transB=0 and MatMul ([K, N] in the model). The model's f32 weight only gives the shape.
    /// int4: a quantized_tensor that to_int4_weights() accepts (4 bits, per group along K,
    /// signed symmetric or unsigned) → kernels::int4_matmul. Palettized: a palettized_tensor
    /// along axis 0 (per tensor, channel or group) → kernels::palettized_matmul. Errors at
    /// construction: a name that is no such layer's weight (invalid_argument), other dims
    /// (shape_mismatch), a form the kernels cannot take (unsupported), Gemm alpha ≠ 1.
    std::map<std::string, std::shared_ptr<const quantized_tensor>, std::less<>> int4_weights;
    std::map<std::string, std::shared_ptr<const palettized_tensor>, std::less<>> palettized_weights;
    /// int4 QDQ weights (opset 21, hone/io/qdq.hpp): a DequantizeLinear of a constant
    /// INT4/UINT4 [*, *] blocked along K (even block_size, f32 scales; INT4 without zero points
    /// or with zero ones, UINT4 with any) whose output only Gemm (transA = 0, alpha = 1) /
    /// MatMul layers read as B runs those layers on kernels::int4_matmul with exactly the
    /// model's integers, as if listed in int4_weights (report(): "int4 weight-only linear" for
    /// the layer, "int4 weights ... of the consuming layer(s)" for the DequantizeLinear).
    /// false, or any other form: the DequantizeLinear folds into fp32 weights at load.
    bool qdq_int4_kernel = true;
};

/// What happened to one node of the model.
struct node_report {
    std::string node;    ///< node name
    std::string op_type; ///< ONNX operator
    std::string path;    ///< e.g. "f32 oneDNN linear", "int8 dynamic linear (7-bit activations)",
                         ///< "folded at load", "fused into Conv 'conv1'"
};

/// The operators the executor runs, as "<op_type>" for the default ONNX domain and
/// "<domain>.<op_type>" for others (com.microsoft.MatMulNBits), sorted. If is listed: it runs
/// when its condition is known at load (the taken branch is inlined).
HONE_EXPORT std::vector<std::string> supported_operators();

class HONE_EXPORT executor {
public:
    /// Plans `m` (see the file comment). The executor copies what it needs: `m` may be
    /// destroyed afterwards. Throws unsupported naming every node it cannot run, format_error
    /// for a malformed graph or attribute (naming the node), shape_mismatch for constants of
    /// the wrong shape.
    explicit executor(const model& m, const executor_options& options = {});
    ~executor();
    executor(executor&&) noexcept;
    executor& operator=(executor&&) noexcept;

    /// Graph inputs (in model order) and outputs.
    const std::vector<value_info>& inputs() const noexcept;
    const std::vector<value_info>& outputs() const noexcept;

    /// Called with each value a run produces, in execution order (node outputs as named in
    /// the model; inputs are not repeated). The view is valid only during the call.
    using observer = std::function<void(const std::string& name, const_tensor_view value)>;

    /// Runs the graph: one input per graph input, in order (dtype and rank as declared, static
    /// dims checked: shape_mismatch / dtype_mismatch naming the input). Returns the graph
    /// outputs in order. Errors from a node name it.
    std::vector<tensor> run(std::span<const const_tensor_view> inputs,
                            const observer& observe = {}) const;
    /// Single-input convenience form.
    std::vector<tensor> run(const_tensor_view input, const observer& observe = {}) const;
    /// Runs and returns the requested values by name (graph outputs or intermediate values);
    /// not_found naming a value that this plan never produces (see observable()).
    std::map<std::string, tensor> run_observed(std::span<const const_tensor_view> inputs,
                                               std::span<const std::string> names) const;

    /// Values a run produces (observable by name), in execution order.
    std::vector<std::string> observable() const;
    /// The value of a constant the plan's steps read (an initializer, or a value folded at
    /// load) by its model name; nullptr when no step reads a constant of that name. Valid while
    /// the executor lives. (The trainer reads the constants a backward pass needs here.)
    const tensor* constant(const std::string& name) const noexcept;
    /// One entry per model node, in model order.
    const std::vector<node_report>& report() const noexcept;
    /// The report as text, one node per line.
    std::string report_text() const;
    /// Multiply-accumulate work of the GEMM/conv layers for one sample, ×2 (ops), measured
    /// on the last run (0 before any run).
    double ops_per_sample() const noexcept;
    /// True when at least one layer runs in int8.
    bool uses_int8() const noexcept;
    /// Bytes of the constants the plan holds (weights as the kernels store them, approximate).
    std::uint64_t plan_bytes() const noexcept;
    /// Buffers the last run() had to allocate for the values it computed (the others are
    /// reused from earlier runs: each run() in progress has a pool of the buffers values free
    /// after their last use). 0 when a run repeats a shape already seen; graph outputs, which
    /// the caller keeps, are not counted, nor are the results of the reference kernels that
    /// allocate their own (see "Buffers" above).
    std::uint64_t last_run_allocations() const noexcept;
    /// Layout reorders in the last run(): src, dst or residual addend between the layout a
    /// tensor is held in and the one oneDNN's convolution chose, and the transposes of pools
    /// and per-channel ops whose NHWC result a reader needs in NCHW.
    std::uint64_t last_run_reorders() const noexcept;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// `inputs` [batch, ...] viewed in the declared shape of a graph input when its rank differs and
/// its per-sample element count matches the declared (static) dims (e.g. [N, 784] → [N, 1, 28,
/// 28]); otherwise `inputs` itself. `keep` holds a contiguous copy when one was needed.
HONE_EXPORT const_tensor_view as_declared(const value_info& declared, const_tensor_view inputs,
                                          std::optional<tensor>& keep);

/// hone's executor as a validation runner (hone/graph/runner.hpp): one graph input, one
/// graph output. Inputs f32 [batch, ...] whose per-sample element count matches the model's
/// input are reshaped to it (e.g. [N, 784] → [N, 1, 28, 28]).
class HONE_EXPORT graph_runner final : public runner {
public:
    graph_runner(const model& m, const executor_options& options = {}, std::string name = {});
    std::string name() const override { return name_; }
    tensor run(const_tensor_view inputs) override;
    std::uint64_t model_bytes() const override { return bytes_; }
    work work_per_sample() const override;
    const executor& plan() const noexcept { return exec_; }

private:
    executor exec_;
    std::string name_;
    std::uint64_t bytes_;
};

} // namespace hone
