// hone/retrain/loss.hpp — training losses and their gradients with respect to the model's
// outputs (f32, contiguous). Each returns the loss (a mean, as stated) and dL/d(its input) in
// the input's shape, computed in double.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>

namespace hone {

struct loss_result {
    double loss = 0; ///< mean over the batch (or the positions / elements, as stated)
    tensor dlogits;  ///< dL/d(input), the input's shape
};

/// Mean cross-entropy of logits [B, K] against labels (B entries in 0 … K−1).
HONE_EXPORT loss_result cross_entropy_loss(const_tensor_view logits,
                                           std::span<const std::int64_t> labels);

/// Knowledge distillation: alpha·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha)·CE(s, labels),
/// mean over the rows. Logits [B, K]; with alpha = 1 (no labels) any rank ≥ 1 [..., K], the
/// mean then over every row of K (a language model's positions: KL on its logits). labels may be
/// empty only when alpha = 1.
HONE_EXPORT loss_result distillation_loss(const_tensor_view student_logits,
                                          const_tensor_view teacher_logits,
                                          std::span<const std::int64_t> labels,
                                          float temperature = 4.0f, float alpha = 1.0f);

/// A language model's next-token cross-entropy: logits [B, T, V] at position t predict token
/// t + 1 of tokens [B, T] (row-major, each in 0 … V−1); mean over the B·(T − 1) predictions
/// (the last position predicts nothing: its gradient is 0). Its exp is the perplexity.
HONE_EXPORT loss_result next_token_loss(const_tensor_view logits,
                                        std::span<const std::int64_t> tokens);

/// Mean squared error Σ(s − t)²/N over the N elements of two values of one shape (layer-wise
/// distillation: a student's intermediate activation against the teacher's).
HONE_EXPORT loss_result mse_loss(const_tensor_view student, const_tensor_view target);

} // namespace hone
