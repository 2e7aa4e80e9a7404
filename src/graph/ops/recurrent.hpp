// src/graph/ops/recurrent.hpp — ONNX LSTM and GRU for the graph executor (internal).
//
// The conventions of ops.hpp hold: pure functions over views (any strides), new contiguous f32
// results, errors naming the operator ("ops::lstm: ...") and the argument. ONNX gate orders:
// LSTM i, o, f, c (PyTorch's is i, f, g, o: torch.onnx.export reorders), GRU z, r, h (PyTorch's
// r, z, n). Default activations only (Sigmoid for the gates, Tanh for the cell/hidden
// candidate and the output); the table refuses others.
//
// Shapes (layout 0; layout 1 swaps the first two dims of X and Y and puts the batch first in
// the states: X [B, S, I], Y [B, S, D, H], initial_h / Y_h / initial_c / Y_c [B, D, H]):
//   X [S, B, I], W [D, G·H, I], R [D, G·H, H], B [D, 2·G·H] (W biases then R biases),
//   initial_h, initial_c [D, B, H], P [D, 3·H] (LSTM peepholes i, o, f),
//   Y [S, D, B, H] (the hidden state of every step, each at its own time position),
//   Y_h, Y_c [D, B, H] (the states after the last step processed: t = S − 1 forward, t = 0
//   reverse),
// with G = 4 (LSTM) or 3 (GRU), D = 2 for bidirectional (direction 0 forward, 1 reverse), else
// 1. Absent B, initial states and P are zeros. sequence_lens: every length must equal S
// (shorter sequences: unsupported).
//
// Arithmetic: the input projection X·Wᵀ of all steps at once runs through oneDNN in fixed
// chunks of rows, each on one thread (hone::detail::matmul_rows), so its bytes do not depend
// on the thread count; each step's recurrent product H·Rᵀ is a plain loop accumulating in
// double, parallel over (batch, hidden unit) pairs, each pair computed by one thread. Gate
// math in f32 (sigmoid overflow-safe, std::tanh). `clip` (> 0), when given, clamps the input
// of every activation to [−clip, clip] (as ONNX Runtime: the gates' pre-activations and, for
// LSTM, the cell state before its output Tanh; the state itself is kept unclipped).
#pragma once

#include "ops.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace hone::ops {

enum class rnn_direction { forward, reverse, bidirectional };

struct rnn_params {
    /// 0: from R's last dim; otherwise it must agree with W and R (shape_mismatch).
    std::int64_t hidden_size = 0;
    rnn_direction direction = rnn_direction::forward;
    /// 0: X [S, B, I] (ONNX default); 1: X [B, S, I] (batch first).
    std::int64_t layout = 0;
    /// Bound on the activations' inputs; std::nullopt: none.
    std::optional<float> clip;
    /// GRU only: apply R_h (and its bias) before multiplying by the reset gate.
    bool linear_before_reset = false;
};

/// Multiply-accumulates of one LSTM/GRU run: D·S·B·G·H·(I + H).
HONE_EXPORT double rnn_macs(std::int64_t steps, std::int64_t batch, std::int64_t input,
                            std::int64_t hidden, std::int64_t gates, std::int64_t directions);

/// ONNX LSTM (opset 14, input_forget = 0):
///   i = σ(Xt·Wiᵀ + Ht−1·Riᵀ + Pi⊙Ct−1 + Wbi + Rbi)
///   f = σ(Xt·Wfᵀ + Ht−1·Rfᵀ + Pf⊙Ct−1 + Wbf + Rbf)
///   c = tanh(Xt·Wcᵀ + Ht−1·Rcᵀ + Wbc + Rbc)
///   Ct = f⊙Ct−1 + i⊙c
///   o = σ(Xt·Woᵀ + Ht−1·Roᵀ + Po⊙Ct + Wbo + Rbo)
///   Ht = o⊙tanh(Ct)
/// Returns {Y, Y_h, Y_c}. All inputs f32 except sequence_lens (i32 or i64); dtype_mismatch
/// otherwise; shape_mismatch for shapes that do not agree, naming the input.
HONE_EXPORT std::vector<tensor> lstm(const_tensor_view x, const_tensor_view w, const_tensor_view r,
                                     optional_view b = std::nullopt,
                                     optional_view sequence_lens = std::nullopt,
                                     optional_view initial_h = std::nullopt,
                                     optional_view initial_c = std::nullopt,
                                     optional_view p = std::nullopt, const rnn_params& params = {});

/// ONNX GRU (opset 14):
///   z = σ(Xt·Wzᵀ + Ht−1·Rzᵀ + Wbz + Rbz)
///   r = σ(Xt·Wrᵀ + Ht−1·Rrᵀ + Wbr + Rbr)
///   h = tanh(Xt·Whᵀ + (r⊙Ht−1)·Rhᵀ + Rbh + Wbh)          linear_before_reset = 0
///   h = tanh(Xt·Whᵀ + r⊙(Ht−1·Rhᵀ + Rbh) + Wbh)          linear_before_reset = 1 (PyTorch)
///   Ht = (1 − z)⊙h + z⊙Ht−1
/// Returns {Y, Y_h}. Dtypes and errors as lstm().
HONE_EXPORT std::vector<tensor> gru(const_tensor_view x, const_tensor_view w, const_tensor_view r,
                                    optional_view b = std::nullopt,
                                    optional_view sequence_lens = std::nullopt,
                                    optional_view initial_h = std::nullopt,
                                    const rnn_params& params = {});

} // namespace hone::ops
