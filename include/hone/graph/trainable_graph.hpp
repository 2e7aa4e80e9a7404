// hone/graph/trainable_graph.hpp — a hone::model trained on the executor's own operators.
//
// The forward pass is hone::executor's plan of the model (hone/graph/executor.hpp) with the
// trainable weights fed as run-time inputs and every value kept observable (no BN folding,
// activation fusion or layout change: each node's output is recorded as ONNX defines it). So
// training, validation and the deployed model compute through the same operators. backward()
// walks that recorded tape in reverse node order through each operator's backward pass (the
// operator library's, src/graph/ops/grad.hpp), giving dL/dW for every trainable weight.
//
// Operators with a backward pass: Gemm, MatMul (batched, broadcast), Conv (1-D to 3-D, groups
// and depthwise, any padding), Add, Sub, Mul, Div, Pow, Relu, LeakyRelu, Sigmoid, Tanh, Gelu,
// HardSigmoid, HardSwish, Clip, Erf, Sqrt, Exp, Log, Neg, Reciprocal, Abs, Sin, Cos, Softplus, Elu,
// Softmax, LogSoftmax, MaxPool / AveragePool (1-D to 3-D, ceil_mode, dilations),
// GlobalAveragePool, BatchNormalization (inference statistics frozen; scale and bias train),
// LayerNormalization, ReduceMean, ReduceSum, Reshape, Flatten, Squeeze, Unsqueeze, Transpose,
// Concat, Split, Slice, Gather (embeddings), Pad (constant), Expand, Where, Cast (f32), Identity,
// Dropout (inference). Operators whose outputs are not differentiable (Shape, comparisons,
// integer and index computations) run forward only. Any other operator that a trainable weight's
// value flows through is named in a hone::error(unsupported) when the graph is built; anything
// the executor cannot run is its error.
//
// Trainable: the f32 weights (initializers) a Gemm, MatMul, Conv, BatchNormalization or
// LayerNormalization reads as a parameter, the tables a Gather reads (embeddings), and the
// f32 weights of more than one element an Add or Mul reads (biases, RMSNorm gains); not `frozen`
// ones. BN statistics, shapes, indices and scalar constants stay constants.
//
// One graph input (f32, or integer token ids) and one graph output.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/executor.hpp"
#include "hone/model/model.hpp"

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hone {

class HONE_EXPORT trainable_graph {
public:
    /// Builds from m (its weights are copied). `frozen` weights get no gradient. Throws
    /// unsupported naming every node on a trainable weight's path without a backward pass.
    explicit trainable_graph(const model& m, const std::vector<std::string>& frozen = {});
    ~trainable_graph();
    trainable_graph(trainable_graph&&) noexcept;
    trainable_graph& operator=(trainable_graph&&) noexcept;

    /// Trainable weight names, in node order.
    const std::vector<std::string>& parameters() const;
    /// A trainable weight as the forward uses it (change it in place between steps).
    tensor& weight(const std::string& name);
    const tensor& weight(const std::string& name) const;
    /// dL/dW of the last backward() (zeros before).
    const tensor& gradient(const std::string& name) const;

    /// Fake-quantizes the activation inputs of Gemm/MatMul/Conv to `bits` (0 = off; 2…8):
    /// QuantizeLinear → DequantizeLinear (→ Clip below 8 bits) on a per-tensor asymmetric grid
    /// from a range [lo, hi] ∋ 0 per input. The range starts at the first training batch's
    /// min/max and then follows an EMA (momentum 0.9) of the batch min/max, updated after each
    /// training forward (the forward uses the range of the batches before it, as the deployed
    /// model uses fixed ranges). Backward: straight-through inside the range, 0 outside.
    void set_activation_fake_quant(int bits);
    /// Training (default): fake-quant ranges update. Off: they stay fixed.
    void set_training(bool training);

    /// Runs the graph on x (the graph input; [N, 784] samples are viewed as a declared [N, 1,
    /// 28, 28], see as_declared) and returns the graph output. save = true keeps every value
    /// for backward() and value().
    tensor forward(const_tensor_view x, bool save = true);
    /// A value the last saved forward computed (the input or a node output), by model name.
    const tensor& value(const std::string& name) const;

    /// Backpropagates dL/doutput through the saved forward; fills gradient().
    void backward(const_tensor_view doutput);
    /// A gradient of the loss with respect to one computed value (the graph output or an
    /// intermediate value, as for layer-wise distillation).
    struct seed {
        std::string name;
        const_tensor_view gradient;
    };
    /// Backpropagates from several values at once (their gradients add up).
    void backward(std::span<const seed> seeds);

    /// The executor's plan of the forward (report() says each node's path).
    const executor& plan() const;

    /// Copies every trainable weight into m (m must have them: the model the graph was built
    /// from).
    void write_back(model& m) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace hone
