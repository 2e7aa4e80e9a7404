// SparseGPT (Frantar & Alistarh 2023): OBS reconstruction with lazy blocked updates, adaptive
// mask selection per block, unstructured or N:M, optional joint quantization.
//
// With U the upper Cholesky factor of the dampened H⁻¹ (shared with GPTQ: quantize/hessian.hpp),
// column j of W is finalized as q_j = mask_j ⊙ w_j (then quantized), its error
// e_j = (w_j − q_j) / U_jj is spread over the later columns of the block, w_t −= U_jt·e_j, and
// after the block over all later columns at once, W[:, i2:] −= E · U[i1:i2, i2:] (one matmul).
#include "../quantize/hessian.hpp"
#include "common.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/kernels/sparsity.hpp"
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

    std::vector<float> wt(static_cast<std::size_t>(bs * rows)); // block, transposed: [bs, rows]
    std::vector<float> et(static_cast<std::size_t>(bs * rows)); // errors, transposed
    std::vector<std::uint8_t> mt(static_cast<std::size_t>(bs * rows)); // block mask, transposed
    std::vector<float> score;
    std::vector<double> row_loss(std::size_t(rows), 0.0);
    std::vector<float> err(static_cast<std::size_t>(rows * bs)), ublk, upd;
    const double elems_per_col = double(rows);

    for (std::int64_t i1 = 0; i1 < K; i1 += bs) {
        const std::int64_t i2 = std::min(K, i1 + bs), b = i2 - i1;
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t j = 0; j < b; ++j)
                wt[std::size_t(j * rows + r)] = w.data[r * K + i1 + j];
        std::fill(mt.begin(), mt.end(), std::uint8_t(1));
        if (!nm) {
            // Adaptive selection over the block: exactly round(s·end) − round(s·begin) entries.
            const auto cum = [&](std::int64_t cols) {
                return std::int64_t(std::floor(cfg.sparsity * elems_per_col * double(cols) + 0.5));
            };
            const std::int64_t pb = std::min(cum(i2) - cum(i1), b * rows);
            score.resize(std::size_t(b * rows));
            for (std::int64_t j = 0; j < b; ++j) {
                const float d = U[(i1 + j) * K + i1 + j];
                for (std::int64_t r = 0; r < rows; ++r) {
                    const float x = wt[std::size_t(j * rows + r)];
                    score[std::size_t(j * rows + r)] = x * x / (d * d);
                }
            }
            naming(fn, name, [&] {
                hk::topk_mask(score, b * rows - pb, hk::score_kind::value,
                              std::span(mt).first(std::size_t(b * rows)));
            });
        }

        // Column loop. Rows are independent (N:M selection, RTN and updates are per row), so
        // row chunks run in parallel with identical arithmetic at any thread count. A caller's
        // column quantizer sees whole columns, so that path runs the columns one by one.
        auto finalize = [&](std::int64_t j, std::int64_t r0, std::int64_t r1) {
            const std::int64_t col = i1 + j;
            if (nm && j % cfg.m == 0) {
                float s[32];
                for (std::int64_t r = r0; r < r1; ++r) {
                    for (int t = 0; t < cfg.m; ++t) {
                        const float d = U[(col + t) * K + col + t];
                        const float x = wt[std::size_t((j + t) * rows + r)];
                        s[t] = x * x / (d * d);
                    }
                    // keep the N largest, ties to the lower column
                    for (int t = 0; t < cfg.m; ++t) {
                        int rank = 0;
                        for (int u = 0; u < cfg.m; ++u)
                            rank += s[u] > s[t] || (s[u] == s[t] && u < t);
                        mt[std::size_t((j + t) * rows + r)] = rank < cfg.n ? 1 : 0;
                    }
                }
            }
            float* wc = wt.data() + j * rows;
            float* ec = et.data() + j * rows;
            const std::uint8_t* mc = mt.data() + j * rows;
            for (std::int64_t r = r0; r < r1; ++r) {
                float q = mc[r] ? wc[r] : 0.0f;
                if (rtn_on && mc[r]) q = rtn(q, rep.row_scales[std::size_t(r)], qmax);
                ec[r] = q; // q for now; the error after a caller's quantizer has run
            }
        };
        auto spread = [&](std::int64_t j, std::int64_t r0, std::int64_t r1) {
            const std::int64_t col = i1 + j;
            const float d = U[col * K + col];
            float* wc = wt.data() + j * rows;
            float* ec = et.data() + j * rows;
            const std::uint8_t* mc = mt.data() + j * rows;
            for (std::int64_t r = r0; r < r1; ++r) {
                const float q = mc[r] ? ec[r] : 0.0f;
                const float e = (wc[r] - q) / d;
                row_loss[std::size_t(r)] += 0.5 * double(e) * double(e);
                wc[r] = q;
                ec[r] = e;
            }
            for (std::int64_t t = j + 1; t < b; ++t) {
                const float u = U[col * K + i1 + t];
                float* wn = wt.data() + t * rows;
                for (std::int64_t r = r0; r < r1; ++r)
                    wn[r] -= u * ec[r];
            }
        };
        if (cfg.quantize) {
            for (std::int64_t j = 0; j < b; ++j) {
                finalize(j, 0, rows);
                cfg.quantize(i1 + j, std::span<float>(et.data() + j * rows, std::size_t(rows)));
                spread(j, 0, rows);
            }
        } else {
            constexpr std::int64_t chunk = 256;
            const std::int64_t chunks = (rows + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
            for (std::int64_t c = 0; c < chunks; ++c) {
                const std::int64_t r0 = c * chunk, r1 = std::min(rows, r0 + chunk);
                for (std::int64_t j = 0; j < b; ++j) {
                    finalize(j, r0, r1);
                    spread(j, r0, r1);
                }
            }
        }
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t j = 0; j < b; ++j) {
                w.data[r * K + i1 + j] = wt[std::size_t(j * rows + r)];
                mk[std::size_t(r * K + i1 + j)] = mt[std::size_t(j * rows + r)];
                err[std::size_t(r * b + j)] = et[std::size_t(j * rows + r)];
            }
        // Lazy update of the later columns: W[:, i2:] −= E[rows, b] · U[i1:i2, i2:].
        const std::int64_t rest = K - i2;
        if (rest > 0) {
            ublk.resize(std::size_t(b * rest));
            for (std::int64_t j = 0; j < b; ++j)
                std::copy_n(U + (i1 + j) * K + i2, rest, ublk.data() + j * rest);
            upd.resize(std::size_t(rows * rest));
            hk::matmul_f32(err.data(), ublk.data(), upd.data(), rows, b, rest,
                           hk::weight_layout::k_by_n, nullptr);
#pragma omp parallel for schedule(static) if (rows * rest > (1 << 16))
            for (std::int64_t r = 0; r < rows; ++r) {
                float* dst = w.data + r * K + i2;
                const float* u = upd.data() + r * rest;
                for (std::int64_t c = 0; c < rest; ++c)
                    dst[c] -= u[c];
            }
        }
    }
    for (const double l : row_loss)
        rep.loss += l;
    // Pruned weights are exactly +0 (a caller's quantizer cannot bring them back).
    hk::apply_mask(w.span(), mk, w.span());
    rep.threshold = weakest_kept(w.span(), mk);
    return rep;
}

} // namespace hone
