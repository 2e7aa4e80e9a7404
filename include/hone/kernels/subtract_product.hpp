// hone/kernels/subtract_product.hpp — C −= A·B for the small, skinny products of OBS updates.
//
// The lazy and the in-block updates of SparseGPT (W[:, later] −= E·U[block, later], with the
// block's k = 16 … 128 errors) are products with a short inner dimension k and long m, n. This
// kernel computes them with one fixed arithmetic, so that a pruned layer has the same bytes on
// every SIMD tier and at any thread count (oneDNN's f32 GEMM promises neither):
//
//   for every element:  acc = 0;  acc = acc + A[i, j] · B[j, x]  for j = 0, 1, …, k − 1;
//                       C[i, x] = C[i, x] − acc
//
// in f32, each product and each sum rounded on its own (round to nearest even): no fused
// multiply-add, no reassociation, no blocking over k. The scalar reference, the AVX2 tiles
// (4 rows × 16 columns) and the AVX-512 tiles (4 × 32) all evaluate exactly this expression —
// the family is compiled with -ffp-contract=off — so the results are bit-identical across tiers;
// threads split the columns into panels, never an element's sum, so they are bit-identical at
// any thread count too. Why not fused multiply-adds everywhere (one rounding fewer per step)?
// Measured with bench_kernels (BM_subtract_product, one run): FMA tiles would be about 1.1×
// faster on AVX2 and 1.25–1.4× on AVX-512, but the scalar reference would then need std::fma per
// element — a libm call without -mfma, 0.6 GFLOP/s against 9–13 for the plain reference (and a
// software emulation on CPUs without FMA, exactly those left on the scalar tier).
//
// Special values follow IEEE arithmetic of that expression: a NaN or an infinity in a row of A
// or a column of B reaches the elements it touches (inf − inf and 0 · inf give NaN). The bits of
// a NaN's payload are not promised; everything else is, including the sign of zero (an element
// whose products are all zero becomes C − (+0)) and subnormals (no flush to zero).
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>
#include <span>

namespace hone::kernels {

/// C[m, n] −= A[m, k] · B[k, n] as above. A is row-major and contiguous (m·k entries); row j of
/// B starts at b[j·ldb], row i of C at c[i·ldc] (ldb, ldc ≥ n). m, k or n may be 0: C is then
/// left untouched. C must not overlap A or B. Throws invalid_argument for a negative size or a
/// leading dimension below n, out_of_range when a span is too short for its matrix, and
/// invalid_argument when C overlaps A or B.
HONE_EXPORT void subtract_product(std::span<const float> a, std::span<const float> b,
                                  std::span<float> c, std::int64_t m, std::int64_t k,
                                  std::int64_t n, std::int64_t ldb, std::int64_t ldc);

/// Contiguous form: B is [k, n] and C [m, n] (ldb = ldc = n).
HONE_EXPORT void subtract_product(std::span<const float> a, std::span<const float> b,
                                  std::span<float> c, std::int64_t m, std::int64_t k,
                                  std::int64_t n);

} // namespace hone::kernels
