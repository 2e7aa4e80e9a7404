// src/graph/ops/math.hpp — elementwise math operators beyond ops.hpp (internal): rounding,
// trigonometry, the remaining activations, comparisons, logic, Mod, PRelu and the variadic
// Min/Max/Sum/Mean. Implemented in math.cpp.
//
// The conventions of ops.hpp hold (ONNX semantics, views in / contiguous tensor out, errors
// naming the operator and argument, OpenMP over output elements with results bit-identical at
// any thread count). In short, for this file:
//  - Unary activations take f32 and return f32 of the same shape; IsNaN/IsInf return bool.
//  - Binary and variadic operators broadcast numpy-style (ONNX multidirectional); operands
//    must share one dtype (dtype_mismatch naming both otherwise).
//  - Integer arithmetic wraps (two's complement); an integer Mod by zero is invalid_argument.
//  - NaN: comparisons with NaN are false (IEEE); Min and Max propagate NaN (numpy's
//    minimum/maximum, the ONNX reference).
#pragma once

#include "ops.hpp"

#include <cstdint>
#include <span>

namespace hone::ops {

// ---- unary f32 → f32 (ONNX opset 13+; x of any shape) ------------------------------------------

HONE_EXPORT tensor reciprocal(const_tensor_view x); ///< 1 / x (±inf for ±0)
HONE_EXPORT tensor floor(const_tensor_view x);
HONE_EXPORT tensor ceil(const_tensor_view x);
/// Nearest integer, halves to even (ONNX Round: 0.5 → 0, 1.5 → 2, −2.5 → −2).
HONE_EXPORT tensor round(const_tensor_view x);
/// −1, 0 or 1 (the sign of ±0 is 0); NaN stays NaN.
HONE_EXPORT tensor sign(const_tensor_view x);
HONE_EXPORT tensor sin(const_tensor_view x);
HONE_EXPORT tensor cos(const_tensor_view x);
HONE_EXPORT tensor tan(const_tensor_view x);
HONE_EXPORT tensor atan(const_tensor_view x);

/// ONNX Elu: x ≥ 0 ? x : alpha·(e^x − 1) (default alpha 1).
HONE_EXPORT tensor elu(const_tensor_view x, float alpha = 1.0f);
/// ONNX Selu: gamma·(x > 0 ? x : alpha·(e^x − 1)); defaults are the ONNX constants
/// (alpha 1.67326319217681884765625, gamma 1.05070102214813232421875).
HONE_EXPORT tensor selu(const_tensor_view x, float alpha = 1.67326319217681884765625f,
                        float gamma = 1.05070102214813232421875f);
/// ONNX Celu (opset 12): max(0, x) + min(0, alpha·(e^(x/alpha) − 1)). alpha = 0 is
/// invalid_argument (the formula divides by it).
HONE_EXPORT tensor celu(const_tensor_view x, float alpha = 1.0f);
/// ln(1 + e^x), computed without overflow (x + ln(1 + e^−x) for x > 0).
HONE_EXPORT tensor softplus(const_tensor_view x);
/// x / (1 + |x|).
HONE_EXPORT tensor softsign(const_tensor_view x);
/// ONNX Mish (opset 18): x · tanh(softplus(x)).
HONE_EXPORT tensor mish(const_tensor_view x);
/// ONNX ThresholdedRelu: x > alpha ? x : 0 (default alpha 1); NaN gives 0 (the comparison is
/// false, as in the ONNX reference).
HONE_EXPORT tensor thresholded_relu(const_tensor_view x, float alpha = 1.0f);

// ---- predicates (f32 → bool) and Not (bool → bool) ----------------------------------------------

HONE_EXPORT tensor is_nan(const_tensor_view x);
/// ONNX IsInf (opset 10): true for +inf when detect_positive, for −inf when detect_negative.
HONE_EXPORT tensor is_inf(const_tensor_view x, bool detect_negative = true,
                          bool detect_positive = true);
/// ONNX Not: x bool; any non-zero byte reads as true.
HONE_EXPORT tensor logical_not(const_tensor_view x);

// ---- binary (numpy broadcasting) ---------------------------------------------------------------

enum class compare_op { less, greater, less_or_equal, greater_or_equal };
/// ONNX Less, Greater, LessOrEqual (opset 12+), GreaterOrEqual: bool tensor; a and b of the same
/// dtype, f32, i32 or i64.
HONE_EXPORT tensor compare(compare_op op, const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor less(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor greater(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor less_or_equal(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor greater_or_equal(const_tensor_view a, const_tensor_view b);

enum class logical_op { logical_and, logical_or, logical_xor };
/// ONNX And, Or, Xor: a and b bool (dtype_mismatch otherwise); bool result.
HONE_EXPORT tensor logical(logical_op op, const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor logical_and(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor logical_or(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor logical_xor(const_tensor_view a, const_tensor_view b);

/// ONNX Mod (opset 13): a and b of the same dtype, f32, i32 or i64.
///  - fmod = false (the default): integer remainder with the sign of the divisor (Python's %:
///    −7 mod 3 = 2, 7 mod −3 = −2). ONNX requires fmod = 1 for floats: f32 with fmod = false
///    is invalid_argument.
///  - fmod = true: C's fmod, the sign of the dividend (−7 fmod 3 = −1), for floats and integers.
/// An integer divisor of 0 is invalid_argument; a float one gives NaN.
HONE_EXPORT tensor mod(const_tensor_view a, const_tensor_view b, bool fmod = false);

/// ONNX PRelu (opset 16): x ≥ 0 ? x : slope·x; slope broadcast unidirectionally to x's shape
/// (shape_mismatch otherwise), so the result has x's shape. f32.
HONE_EXPORT tensor prelu(const_tensor_view x, const_tensor_view slope);

// ---- variadic (1..N inputs, all broadcast numpy-style to one shape) ----------------------------

/// ONNX Min / Max (opset 13): elementwise over all inputs; f32, i32 or i64 (one dtype). NaN
/// propagates. One input: a copy.
HONE_EXPORT tensor min(std::span<const const_tensor_view> inputs);
HONE_EXPORT tensor max(std::span<const const_tensor_view> inputs);
/// ONNX Sum: f32 summed in double (one rounding per element), i32/i64 wrapping.
HONE_EXPORT tensor sum(std::span<const const_tensor_view> inputs);
/// ONNX Mean: f32 only; the sum in double divided by the number of inputs.
HONE_EXPORT tensor mean(std::span<const const_tensor_view> inputs);

} // namespace hone::ops
