// SparseGPT (Frantar & Alistarh 2023): OBS reconstruction with lazy blocked updates, adaptive
// mask selection per block, unstructured or N:M, optional joint quantization.
//
// With U the upper Cholesky factor of the dampened H⁻¹ (shared with GPTQ: quantize/hessian.hpp),
// column j of W is finalized as q_j = mask_j ⊙ w_j (then quantized), its error
// e_j = (w_j − q_j) / U_jj is spread over the later columns of the block, w_t −= U_jt·e_j, and
// after the block over all later columns at once, W[:, i2:] −= E · U[i1:i2, i2:] (one product,
// kernels::subtract_product: the same bits on every SIMD tier and at any thread count).
#include "../quantize/hessian.hpp"
#include "common.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/sparsity.hpp"
#include "hone/kernels/subtract_product.hpp"
#include "hone/prune/pruner.hpp"

#include <algorithm>
#include <cmath>

namespace hone {

using namespace prune_detail;
namespace hk = hone::kernels;

namespace {

// Round half to even onto the grid {−qmax…qmax}·scale.
inline float rtn(float w, float scale, float qmax) {
    if (scale <= 0.0f) return w;
    const float q = std::nearbyint(w / scale);
    return std::clamp(q, -qmax, qmax) * scale;
}

// dst [cols, rows] = srcᵀ of a row-major [rows, cols] matrix, in 32×32 tiles.
template <class T> void transpose(const T* src, std::int64_t rows, std::int64_t cols, T* dst) {
    constexpr std::int64_t tile = 32;
#pragma omp parallel for num_threads(hone::num_threads())                                          \
    schedule(static) if (rows * cols > (1 << 18))
    for (std::int64_t r0 = 0; r0 < rows; r0 += tile)
        for (std::int64_t c0 = 0; c0 < cols; c0 += tile)
            for (std::int64_t r = r0; r < std::min(rows, r0 + tile); ++r)
                for (std::int64_t c = c0; c < std::min(cols, c0 + tile); ++c)
                    dst[c * rows + r] = src[r * cols + c];
}

} // namespace

sparsegpt_report prune_sparsegpt(tensor_view weights, const_tensor_view hessian,
                                 const sparsegpt_config& cfg, tensor_view mask,
                                 std::string_view name) {
    constexpr const char* fn = "prune_sparsegpt";
    const matrix w = as_matrix(weights, fn, name);
    const std::int64_t rows = w.rows, K = w.cols;
    const bool nm = cfg.n > 0 || cfg.m > 0;
    if (nm) {
        if (cfg.m < 2 || cfg.m > 32 || cfg.n < 1 || cfg.n >= cfg.m)
            fail(status::invalid_argument,
                 fmt::format("{}: '{}': {}:{} sparsity needs 1 <= N < M <= 32", fn, name, cfg.n,
                             cfg.m));
        if (K % cfg.m != 0)
            fail(status::invalid_argument,
                 fmt::format("{}: '{}' has K = {} inputs, not a multiple of M = {}", fn, name, K,
                             cfg.m));
    }
    const std::int64_t total_pruned =
        nm ? std::int64_t(w.size()) / cfg.m * (cfg.m - cfg.n) : naming(fn, name, [&] {
            return pruned_count(cfg.sparsity, std::int64_t(w.size()), name);
        });
    if (cfg.block_size < 1)
        fail(status::invalid_argument,
             fmt::format("{}: block_size {} must be >= 1", fn, cfg.block_size));
    if (cfg.quant_bits != 0 && (cfg.quant_bits < 2 || cfg.quant_bits > 8))
        fail(status::invalid_argument,
             fmt::format("{}: quant_bits {} must be 0 (off) or 2…8", fn, cfg.quant_bits));
    if (hessian.rank() != 2 || hessian.dims()[0] != K || hessian.dims()[1] != K)
        fail(status::shape_mismatch,
             fmt::format("{}: '{}' has K = {} inputs; the Hessian must be [{}, {}], not {}", fn,
                         name, K, K, K, hessian.dims().to_string()));
    check_no_nan(w, fn, name);
    std::vector<std::uint8_t> scratch;
    const auto mk = mask_bytes(mask, weights.dims(), scratch, fn, name);

    sparsegpt_report rep;
    rep.total = std::int64_t(w.size());
    rep.pruned = total_pruned;
    if (w.size() == 0) return rep;

    const detail::prepared_hessian ph =
        detail::prepare_hessian(hessian, cfg.damp_fraction, {}, name);
    const float* U = ph.inverse_cholesky_upper.data();

    // Dead inputs never reach the output: their weights go to 0 first (and are pruned first).
    for (std::int64_t c = 0; c < K; ++c)
        if (ph.dead[std::size_t(c)])
            for (std::int64_t r = 0; r < rows; ++r)
                w.data[r * K + c] = 0.0f;

    // Joint RTN: symmetric per-row grid from the original row's max |w|.
    const bool rtn_on = cfg.quant_bits > 0 && !cfg.quantize;
    const float qmax = rtn_on ? float((1 << (cfg.quant_bits - 1)) - 1) : 0.0f;
    if (rtn_on) {
        rep.row_scales.resize(std::size_t(rows));
        for (std::int64_t r = 0; r < rows; ++r) {
            float a = 0;
            for (std::int64_t c = 0; c < K; ++c)
                a = std::max(a, std::fabs(w.data[r * K + c]));
            rep.row_scales[std::size_t(r)] = a > 0 ? a / qmax : 0.0f;
        }
    }

    std::int64_t bs = std::min(cfg.block_size, K);
    if (nm) bs = std::max<std::int64_t>(cfg.m, bs / cfg.m * cfg.m); // groups never straddle blocks
    // Sub-blocks inside a block: rank-1 updates within a sub-block, one rank-`sb` update of the
    // rest of the block per sub-block (loads and stores each weight once per sub-block).
    std::int64_t sb = std::min<std::int64_t>(16, bs);
    if (nm) sb = std::max<std::int64_t>(cfg.m, sb / cfg.m * cfg.m);

    // The weights transposed, Wt [K, rows]: a column of W is a contiguous row of Wt, a block of
    // columns a contiguous slice, and the lazy update a contiguous matmul.
    std::vector<float> wt(w.size());
    std::vector<std::uint8_t> mt(w.size(), 1);
    transpose(w.data, rows, K, wt.data());
    std::vector<float> et(std::size_t(bs * rows)); // errors of the block, [b, rows]
    std::vector<float> score, ublk, asub;
    std::vector<double> row_loss(static_cast<std::size_t>(rows), 0.0);
    const double elems_per_col = double(rows);

    for (std::int64_t i1 = 0; i1 < K; i1 += bs) {
        const std::int64_t i2 = std::min(K, i1 + bs), b = i2 - i1;
        float* wb = wt.data() + i1 * rows;
        std::uint8_t* mb = mt.data() + i1 * rows;
        if (!nm) {
            // Adaptive selection over the block: exactly round(s·end) − round(s·begin) entries
            // of least w² / U_jj², ties to the later (column, row).
            const auto cum = [&](std::int64_t cols) {
                return std::int64_t(std::floor(cfg.sparsity * elems_per_col * double(cols) + 0.5));
            };
            const std::int64_t pb = std::min(cum(i2) - cum(i1), b * rows);
            score.resize(std::size_t(b * rows));
            for (std::int64_t j = 0; j < b; ++j) {
                const float d = U[(i1 + j) * K + i1 + j];
                for (std::int64_t r = 0; r < rows; ++r) {
                    const float x = wb[j * rows + r];
                    score[std::size_t(j * rows + r)] = x * x / (d * d);
                }
            }
            naming(fn, name, [&] {
                hk::topk_mask(score, b * rows - pb, hk::score_kind::value,
                              std::span(mb, std::size_t(b * rows)));
            });
        }

        constexpr std::int64_t chunk = 128; // rows per parallel task
        // Column j of the block, rows [r0, r1): choose the N:M mask of its group (first column
        // of a group), the kept (and RTN-quantized) value q into et.
        auto finalize = [&](std::int64_t j, std::int64_t r0, std::int64_t r1) {
            const std::int64_t col = i1 + j;
            if (nm && j % cfg.m == 0) {
                float s[32];
                for (std::int64_t r = r0; r < r1; ++r) {
                    for (int t = 0; t < cfg.m; ++t) {
                        const float d = U[(col + t) * K + col + t];
                        const float x = wb[(j + t) * rows + r];
                        s[t] = x * x / (d * d);
                    }
                    for (int t = 0; t < cfg.m; ++t) { // keep the N largest, ties to the lower
                        int rank = 0;
                        for (int u = 0; u < cfg.m; ++u)
                            rank += s[u] > s[t] || (s[u] == s[t] && u < t);
                        mb[(j + t) * rows + r] = rank < cfg.n ? 1 : 0;
                    }
                }
            }
            const float* wc = wb + j * rows;
            const std::uint8_t* mc = mb + j * rows;
            float* ec = et.data() + j * rows;
            for (std::int64_t r = r0; r < r1; ++r) {
                float q = mc[r] ? wc[r] : 0.0f;
                if (rtn_on && mc[r]) q = rtn(q, rep.row_scales[std::size_t(r)], qmax);
                ec[r] = q; // q for now; the error once a caller's quantizer has run
            }
        };
        // The error of column j, spread over the later columns of its sub-block [.., s2).
        auto spread = [&](std::int64_t j, std::int64_t s2, std::int64_t r0, std::int64_t r1) {
            const std::int64_t col = i1 + j;
            const float d = U[col * K + col];
            float* wc = wb + j * rows;
            float* ec = et.data() + j * rows;
            const std::uint8_t* mc = mb + j * rows;
            for (std::int64_t r = r0; r < r1; ++r) {
                const float q = mc[r] ? ec[r] : 0.0f;
                const float e = (wc[r] - q) / d;
                row_loss[std::size_t(r)] += 0.5 * double(e) * double(e);
                wc[r] = q;
                ec[r] = e;
            }
            for (std::int64_t t = j + 1; t < s2; ++t) {
                const float u = U[col * K + i1 + t];
                float* wn = wb + t * rows;
                for (std::int64_t r = r0; r < r1; ++r)
                    wn[r] -= u * ec[r];
            }
        };
        // After sub-block [s1, s2): every later column t of the block gets Σ_j U_jt·e_j at once,
        // Wt[s2:b] −= U[s1:s2, s2:b]ᵀ · E[s1:s2] (the register-tiled product, per row chunk).
        asub.clear();
        std::vector<std::size_t> a_at;
        for (std::int64_t s1 = 0; s1 < b; s1 += sb) {
            const std::int64_t s2 = std::min(b, s1 + sb);
            a_at.push_back(asub.size());
            for (std::int64_t t = s2; t < b; ++t)
                for (std::int64_t j = s1; j < s2; ++j)
                    asub.push_back(U[(i1 + j) * K + i1 + t]);
        }
        auto update_rest = [&](std::int64_t s1, std::int64_t s2, std::int64_t r0, std::int64_t r1) {
            if (s2 >= b) return;
            const std::size_t at = a_at[std::size_t(s1 / sb)];
            const std::size_t e_at = std::size_t(s1 * rows + r0);
            const std::size_t w_at = std::size_t((i1 + s2) * rows + r0);
            hk::subtract_product(std::span(asub).subspan(at), std::span(et).subspan(e_at),
                                 std::span(wt).subspan(w_at), b - s2, s2 - s1, r1 - r0, rows, rows);
        };
        auto process = [&](std::int64_t r0, std::int64_t r1, bool with_callback) {
            for (std::int64_t s1 = 0; s1 < b; s1 += sb) {
                const std::int64_t s2 = std::min(b, s1 + sb);
                for (std::int64_t j = s1; j < s2; ++j) {
                    finalize(j, r0, r1);
                    if (with_callback)
                        cfg.quantize(i1 + j,
                                     std::span<float>(et.data() + j * rows, std::size_t(rows)));
                    spread(j, s2, r0, r1);
                }
                update_rest(s1, s2, r0, r1);
            }
        };
        // Rows are independent (N:M selection, RTN and updates are per row): row chunks run in
        // parallel with the same arithmetic at any thread count. A caller's column quantizer
        // sees whole columns, so that path runs all rows as one chunk.
        if (cfg.quantize) {
            process(0, rows, true);
        } else {
            const std::int64_t chunks = (rows + chunk - 1) / chunk;
#pragma omp parallel for num_threads(hone::num_threads()) schedule(static) if (chunks > 1)
            for (std::int64_t c = 0; c < chunks; ++c)
                process(c * chunk, std::min(rows, (c + 1) * chunk), false);
        }
        // Lazy update of the later columns: Wt[i2:] −= U[i1:i2, i2:]ᵀ · E[b, rows].
        const std::int64_t rest = K - i2;
        if (rest > 0) {
            ublk.resize(std::size_t(rest * b));
            for (std::int64_t j = 0; j < b; ++j)
                for (std::int64_t c = 0; c < rest; ++c)
                    ublk[std::size_t(c * b + j)] = U[(i1 + j) * K + i2 + c];
            hk::subtract_product(ublk, et, std::span(wt).subspan(std::size_t(i2 * rows)), rest, b,
                                 rows);
        }
    }
    transpose(wt.data(), K, rows, w.data);
    transpose(mt.data(), K, rows, mk.data());
    for (const double l : row_loss)
        rep.loss += l;
    // Pruned weights are exactly +0 (a caller's quantizer cannot bring them back).
    hk::apply_mask(w.span(), mk, w.span());
    rep.threshold = weakest_kept(w.span(), mk);
    return rep;
}

} // namespace hone
